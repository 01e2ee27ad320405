"""Lazy loads whose chunks are decoded straight into their arrays.

``dc.load(..., dask_chunks=...)`` reads each chunk by filling it with no-data,
decoding the file into a second array, building a validity mask and copying
through it: about 1.4 times the decode alone, the larger part of a whole-tile
analysis's overhead. Where a chunk's files are local GeoTIFFs on the load's own
pixel grid (the products' native grid, as the tutorials load them), the tasks
made here decode each file's window straight into the chunk instead.

GeoTIFFs behind an http(s) URL (a real cube's) are read the same way, but all of a
chunk's files at once in a pool of threads shared by the process, and on a Dask
worker the task leaves the worker's thread pool while it waits (``secede``): the
waits of many chunks overlap instead of each holding one of a few threads, so a
load pays a few round trips, not a few per file. Left alone, a worker would then
read every chunk it is given at once; the chunks a worker's reads hold at once are
kept within a quarter of its memory limit (:data:`IN_FLIGHT_SHARE`), and a read
beyond it waits, out of the thread pool, for earlier reads to be pasted.

Any other chunk (reprojected, another resolution, another format, several files
overlapping) is read by datacube's own ``fuse_lazy``, so the result is always the
array ``dc.load`` gives, bit for bit (``tests/test_reading.py``); only the tasks
that make it change.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import dask.array as dsa
import numpy as np
import rasterio
import rasterio.errors
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from datacube import Datacube
from datacube.api.core import fuse_lazy
from datacube.utils.rio import activate_from_config
from odc.geo import wh_
from odc.geo.geobox import GeoBox, GeoboxTiles
from odc.geo.overlap import compute_reproject_roi
from odc.geo.roi import roi_is_empty, roi_is_full
from rasterio.windows import Window

from sar_helpers.errors import LocalFileUnreadable, RemoteFileUnreadable, local_file_message, remote_file_message

from .bandfiles import BandFile, band_file, file_location

#: dc.load options that change how chunks are read: with any of them, datacube reads.
READ_OPTIONS = {"resampling", "fuse_func", "skip_broken_datasets", "patch_url", "driver", "progress_cbk"}

#: Files behind a URL read at once by one process (each: its size, its header, one merged range).
REMOTE_FILES_AT_ONCE = 128

#: The share of a Dask worker's memory limit that chunks being read from URLs may hold at once.
IN_FLIGHT_SHARE = 0.25

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class _InFlight:
    """The bytes this process's remote reads hold, kept within a budget: reads go in the order they
    asked (on a worker, the order of the tasks' priorities, so that what one result needs is read
    together), each once its bytes fit or once it is the only one (a chunk larger than the budget
    is still read)."""

    def __init__(self):
        self._held = 0
        self._asked = self._admitted = 0
        self._changed = threading.Condition()
        self.most = 0  #: the most bytes held at once (what tests and benchmarks look at)

    def take(self, nbytes: int, budget: int) -> None:
        with self._changed:
            turn, self._asked = self._asked, self._asked + 1
            self._changed.wait_for(
                lambda: self._admitted == turn and (self._held == 0 or self._held + nbytes <= budget)
            )
            self._admitted += 1
            self._held += nbytes
            self.most = max(self.most, self._held)
            self._changed.notify_all()

    def give_back(self, nbytes: int) -> None:
        with self._changed:
            self._held -= nbytes
            self._changed.notify_all()


IN_FLIGHT = _InFlight()


def _worker_budget() -> int | None:
    """The bytes this Dask worker's remote reads may hold at once; None off a worker or without a limit."""
    if "distributed" not in sys.modules:  # no worker without it; an eager load is spared its import (0.3 s)
        return None
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        if getattr(thread_state, "execution_state", None) is None:
            return None
        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError):
        return None
    return int(limit * IN_FLIGHT_SHARE) if limit else None


def _plain(measurement) -> bool:
    """Can this band's chunks be pasted: integer pixels, a no-data value, nearest resampling, 2-D?"""
    return (
        np.dtype(measurement.dtype).kind in "ui"
        and measurement.nodata is not None
        and measurement.get("resampling_method", "nearest") == "nearest"
        and "extra_dim" not in measurement
    )


def _overlaps(a: tuple, b: tuple) -> bool:
    return all(s.start < t.stop and t.start < s.stop for s, t in zip(a, b))


def _placement(src, band: BandFile, geobox: GeoBox):
    """(band index, the file's no-data, where it lands in the chunk, the window to read); None if the
    file misses the chunk; False if it must be resampled or flipped (datacube's reader does that)."""
    reproject = compute_reproject_roi(GeoBox(wh_(src.width, src.height), src.transform, src.crs), geobox, ttol=0.9)
    if roi_is_empty(reproject.roi_dst):
        return None
    linear = reproject.transform.linear
    if not reproject.paste_ok or linear is None or linear.a < 0 or linear.e < 0:
        return False
    index = band.band or 1
    window = None if roi_is_full(reproject.roi_src, src.shape) else Window.from_slices(*reproject.roi_src)
    return index, src.nodatavals[index - 1], reproject.roi_dst, window


def _fetch(url: str, band: BandFile, geobox: GeoBox, out: np.ndarray | None = None, nodata=None):
    """A remote file's placement (as :func:`_placement`) and its window's pixels. With ``out``, the
    chunk of which this file is the only one, pixels whose no-data is ``nodata`` are decoded into
    it and None is returned in their place."""
    activate_from_config()  # the GDAL settings the user gave datacube, in this thread as datacube's reader does
    try:
        with rasterio.open(url, sharing=False) as src:
            placement = _placement(src, band, geobox)
            if not placement:
                return placement, None
            index, file_nodata, roi, window = placement
            if out is not None and (file_nodata is None or file_nodata == nodata):
                if not roi_is_full(roi, out.shape[1:]):
                    out.fill(nodata)
                src.read(index, window=window, out=out[0][roi])
                return placement, None
            return placement, src.read(index, window=window)
    except rasterio.errors.RasterioIOError as err:  # GDAL has retried what it could (REMOTE_READING)
        message = remote_file_message(url, err)
    # Raised here, without GDAL's exception as its context: that one cannot be unpickled, and a Dask
    # worker would send a bare Exception in this one's place (the message keeps GDAL's words).
    raise RemoteFileUnreadable(message)


def _open_local(path: Path):
    """A local file, open; a file this process cannot see or read (a worker elsewhere, another user)
    is :class:`LocalFileUnreadable`, a damaged one rasterio's error."""
    try:
        return rasterio.open(path, sharing=False)
    except rasterio.errors.RasterioIOError:
        if os.access(path, os.R_OK):
            raise
    raise LocalFileUnreadable(local_file_message(str(path)))  # outside the handler, as in _fetch


def _fetch_all(wanted: list[tuple[str, BandFile]], geobox: GeoBox, nbytes: int, *into) -> tuple[list, int]:
    """:func:`_fetch` of every remote file at once, and the bytes taken from :data:`IN_FLIGHT`'s
    budget, which the caller gives back once the chunk is made. On a Dask worker the task leaves
    the worker's thread pool while it waits, first for ``nbytes`` to fit the budget, then for the files.
    ``into``: :func:`_fetch`'s ``out`` and ``nodata``, for a chunk of one file."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(REMOTE_FILES_AT_ONCE, thread_name_prefix="sar-remote-read")
    budget = _worker_budget()
    if budget is None:
        return [f.result() for f in [_pool.submit(_fetch, url, band, geobox, *into) for url, band in wanted]], 0
    from distributed import rejoin, secede

    secede()  # the worker runs other tasks (other chunks' reads, what uses them) on its threads meanwhile
    try:
        IN_FLIGHT.take(nbytes, budget)
        try:
            return [
                f.result() for f in [_pool.submit(_fetch, url, band, geobox, *into) for url, band in wanted]
            ], nbytes
        except BaseException:
            IN_FLIGHT.give_back(nbytes)
            raise
    finally:
        rejoin()


def _paste(datasets: Sequence, geobox: GeoBox, measurement) -> np.ndarray | None:
    """The chunk, decoded straight from its files; None where datacube must read it."""
    nodata = np.dtype(measurement.dtype).type(measurement.nodata)
    bands = [band_file(dataset, measurement.name) for dataset in datasets]
    locations = [file_location(band) for band in bands]
    if any(location is None for location in locations):
        return None
    remote = [(location, band) for location, band in zip(locations, bands) if isinstance(location, str)]
    out = np.empty((1, *geobox.shape), dtype=measurement.dtype)
    into = (out, nodata) if len(locations) == 1 else ()  # a chunk of one file: decoded in place
    fetched, held = _fetch_all(remote, geobox, (len(remote) + 1) * out.nbytes, *into) if remote else ([], 0)
    try:
        return _paste_into(out, locations, bands, iter(fetched), geobox, nodata)
    finally:
        if held:
            IN_FLIGHT.give_back(held)


def _paste_into(out: np.ndarray, locations: list, bands: list[BandFile], fetched, geobox: GeoBox, nodata):
    """The chunk ``out``, from the files at ``locations``: local ones opened here, remote ones ``fetched``."""
    written: list[tuple] = []
    for location, band in zip(locations, bands):
        if isinstance(location, str):
            placement, pixels = next(fetched)
            if placement and pixels is None:  # decoded into ``out`` already
                written.append(placement[2])
                continue
            src = None
        else:
            src = _open_local(cast(Path, location))  # None returned above
            placement, pixels = _placement(src, band, geobox), None
        try:
            if placement is False:
                return None
            if placement is None:
                continue
            index, file_nodata, roi, window = placement
            source_nodata = nodata if file_nodata is None else file_nodata
            if not written and not roi_is_full(roi, tuple(geobox.shape)):
                out.fill(nodata)
            target = out[0][roi]
            if source_nodata == nodata and not any(_overlaps(roi, other) for other in written):
                if src is not None:
                    src.read(index, window=window, out=target)  # the chunk is still no-data here
                else:
                    target[...] = pixels
            else:
                if src is not None:
                    pixels = src.read(index, window=window)
                np.copyto(target, pixels, where=(target == nodata) & (pixels != source_nodata))
            written.append(roi)
        finally:
            if src is not None:
                src.close()
    if not written:
        out.fill(nodata)
    return out


def read_chunk(datasets: Sequence, geobox: GeoBox, measurement) -> np.ndarray:
    """One (1, y, x) chunk of one band and time step, as ``datacube.api.core.fuse_lazy`` makes it."""
    pasted = _paste(datasets, geobox, measurement) if _plain(measurement) else None
    if pasted is not None:
        return pasted
    return fuse_lazy(datasets, geobox, measurement, prepend_dims=1)


def _grid_tiles(geobox: GeoBox, chunks: tuple[tuple[int, ...], ...]) -> GeoboxTiles | None:
    """The chunks' geoboxes, if the (y, x) chunks are the regular tiling dc.load makes."""
    tiles = GeoboxTiles(geobox, (chunks[0][0], chunks[1][0]))
    if tuple(tiles.shape.yx) != (len(chunks[0]), len(chunks[1])):
        return None
    for iy, height in enumerate(chunks[0]):
        for ix, width in enumerate(chunks[1]):
            if tiles.chunk_shape((iy, ix)).yx != (height, width):
                return None
    return tiles


def _chunk_reads(ds: xr.Dataset, datasets: Sequence, measurements: Mapping) -> dict:
    """For each band of ``ds`` (a lazy ``dc.load`` of ``datasets``) whose chunks :func:`read_chunk`
    can make: its chunks and, per chunk (time step, y, x), the arguments of :func:`read_chunk`.
    ``measurements`` are the product's, by band name. Bands that are not lazy, or whose chunks are
    not one time step each on the load's grid, are left out."""
    geobox = ds.odc.geobox
    steps = Datacube.group_datasets(datasets, "time")
    if geobox is None or "time" not in ds.dims or not np.array_equal(steps.time.values, ds.time.values):
        return {}
    extents = [dataset.extent for dataset in datasets]
    position = {id(dataset): i for i, dataset in enumerate(datasets)}
    groups = [[position[id(dataset)] for dataset in group] for group in steps.values]
    plans: dict = {}  # per chunking of the grid: the tiles, and each step's datasets per tile
    reads = {}
    for name, band in ds.data_vars.items():
        measurement = measurements.get(str(name))
        chunks = band.chunks
        if measurement is None or chunks is None or band.dims[0] != "time" or band.ndim != 3 or set(chunks[0]) != {1}:
            continue
        if chunks[1:] not in plans:
            plans[chunks[1:]] = _plan(geobox, chunks[1:], groups, extents)
        tiles, per_step = plans[chunks[1:]]
        if tiles is None:
            continue
        reads[name] = (
            chunks,
            {
                (step, iy, ix): ([datasets[i] for i in by_tile.get((iy, ix), [])], tiles[iy, ix], measurement)
                for step, by_tile in enumerate(per_step)
                for iy, ix in np.ndindex(*tiles.shape.yx)
            },
        )
    return reads


def decode_into_chunks(ds: xr.Dataset, datasets: Sequence, measurements: Mapping) -> xr.Dataset:
    """``ds`` (a lazy ``dc.load`` of ``datasets``) with its bands' chunks read by :func:`read_chunk`.

    ``measurements`` are the product's, by band name. Bands that are not lazy, or
    whose chunks are not one time step each on the load's grid, are left as they are.
    """
    replaced = {}
    for name, (chunks, reads) in _chunk_reads(ds, datasets, measurements).items():
        band = ds[name]
        key = f"sar-read-{name}-{tokenize(band.data.name, measurements[str(name)].name)}"
        graph: dict = {(key, *index): (read_chunk, *arguments) for index, arguments in reads.items()}
        data = dsa.Array(HighLevelGraph.from_collections(key, graph), key, chunks=chunks, dtype=band.dtype)
        replaced[name] = band.copy(data=data)
    return ds.assign(replaced)


def _plan(geobox: GeoBox, chunks: tuple, groups: list[list[int]], extents: list) -> tuple:
    """(the chunks' geoboxes, for each time step the positions of its datasets per chunk), or (None, None)."""
    tiles = _grid_tiles(geobox, chunks)
    if tiles is None:
        return None, None
    per_step = []
    for group in groups:
        by_tile: dict[tuple[int, int], list[int]] = {}
        for i in group:
            for tile in tiles.tiles(extents[i]):
                by_tile.setdefault(tile, []).append(i)
        per_step.append(by_tile)
    return tiles, per_step


def read_at_once(ds: xr.Dataset, datasets: Sequence, measurements: Mapping) -> xr.Dataset:
    """``ds`` (a lazy ``dc.load`` of ``datasets``, one chunk per time step) read into numpy arrays,
    every chunk at once, each in a thread of its own that waits on the network, not on the cores,
    and is copied into its place in the result as it arrives (no second copy of the whole load). Bands whose chunks
    :func:`read_chunk` cannot make are computed by Dask's threads."""
    reads = _chunk_reads(ds, datasets, measurements)
    arrays = {name: np.empty(band.shape, band.dtype) for name, band in ds.data_vars.items()}
    jobs = [
        (arrays[name], _chunk_slices(chunks, index), arguments)
        for name, (chunks, by_chunk) in reads.items()
        for index, arguments in by_chunk.items()
    ]
    others = [name for name in arrays if name not in reads]
    if jobs:
        with ThreadPoolExecutor(min(REMOTE_FILES_AT_ONCE, len(jobs)), thread_name_prefix="sar-chunk") as pool:
            chunks = [pool.submit(read_chunk, *arguments) for _, _, arguments in jobs]
            for (array, where, _), chunk in zip(jobs, chunks):
                array[where] = chunk.result()
    if others:
        dsa.store(
            [ds[name].data for name in others], [arrays[name] for name in others], lock=False, scheduler="threads"
        )
    return ds.assign({name: ds[name].copy(data=array) for name, array in arrays.items()})


def _chunk_slices(chunks: tuple[tuple[int, ...], ...], index: tuple[int, ...]) -> tuple[slice, ...]:
    """Where chunk ``index`` of an array chunked as ``chunks`` lies in it."""
    starts = [sum(sizes[:i]) for sizes, i in zip(chunks, index)]
    return tuple(slice(start, start + sizes[i]) for start, sizes, i in zip(starts, chunks, index))
