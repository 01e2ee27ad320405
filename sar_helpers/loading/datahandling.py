"""Loading mosaics with the metadata that says which satellite made each one.

``dc.load`` returns pixels only. Which satellite made each time step decides which
launch date its ``date`` band counts from and which calibration applies. For these
products the mosaic's year tells (:func:`sar_helpers.checks.platforms`), so plain
``dc.load`` output is enough; :func:`add_platform` copies the datasets' own metadata on
as well, and then the two are checked against each other.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import xarray as xr

from sar_helpers.checks import check_query, no_data_message, platforms, require_not_empty
from sar_helpers.errors import DatabaseUnavailable, database_down_message, is_database_lost
from sar_helpers.products import get_product

from .bandfiles import behind_urls
from .reading import READ_OPTIONS, decode_into_chunks, read_at_once
from .remote import REMOTE_READING


def add_platform(ds: xr.Dataset, datasets: Iterable) -> xr.Dataset:
    """Copy the datasets' satellite metadata onto a load.

    The helpers do not need it (a mosaic's year names its satellite), but with it they check the
    year against the metadata (:func:`platforms`).

    Parameters
    ----------
    ds : xarray.Dataset
        A ``dc.load`` of one mosaic product.
    datasets : iterable of datacube.model.Dataset
        The datasets the load used (``dc.find_datasets`` with the same query).

    Returns
    -------
    xarray.Dataset
        ``ds`` with ``platform``, ``instrument`` and (where the datasets give it) ``launchdate``
        coordinates along ``time``, and the attribute ``product``.
    """
    require_not_empty(ds)
    by_time: dict[np.datetime64, set[tuple[str, str, str]]] = defaultdict(set)
    products = set()
    for dataset in datasets:
        label = np.datetime64(dataset.center_time.replace(tzinfo=None), "ns")
        launch = str(dataset.metadata_doc.get("properties", {}).get("launchdate", ""))
        by_time[label].add((dataset.metadata.platform or "", dataset.metadata.instrument or "", launch))
        products.add(dataset.product.name)
    if len(products) > 1:
        raise ValueError(
            f"The datasets come from several products ({', '.join(sorted(products))}); load one product at a time."
        )
    found_per_step = []
    for label in ds.time.values:
        found = by_time.get(np.datetime64(label, "ns"), set())
        if len(found) != 1:
            what = "no dataset" if not found else f"datasets of {len(found)} platforms"
            raise ValueError(
                f"Time step {np.datetime_as_string(label, unit='D')} has {what} among those given; "
                "pass the datasets of the same query to add_platform (dc.find_datasets(product=..., x=..., y=..., time=...))."
            )
        found_per_step.append(found.pop())
    labels, instruments, launches = (list(column) for column in zip(*found_per_step))
    out = ds.assign_coords(platform=("time", labels), instrument=("time", instruments))
    if all(launches):
        out = out.assign_coords(launchdate=("time", launches))
    out.attrs["product"] = products.pop()
    platforms(out)  # the metadata agrees with the years, or a clear error
    return out


#: dc.load options that are not search terms for dc.find_datasets.
_LOAD_ONLY_OPTIONS = {
    "output_crs",
    "resolution",
    "resampling",
    "align",
    "dask_chunks",
    "group_by",
    "like",
    "fuse_func",
    "progress_cbk",
    "skip_broken_datasets",
    "driver",
    "patch_url",
    "limit",
}


def load_mosaics(dc, product: str, measurements: Sequence[str] | None = None, **query) -> xr.Dataset:
    """``dc.load`` of one SAR mosaic product, with :func:`add_platform` applied.

    A lazy load (``dask_chunks``) on the product's own grid has its chunks decoded straight into
    their arrays (``sar_helpers/loading/reading.py``): the same values, bit for bit, read faster.
    Files behind a URL (a real cube's) are read many at once, lazy or eager: where ``dc.load``
    without chunks opens them one after another and waits for each, an eager load here reads them
    all together and waits a few round trips.
    Sets the GDAL settings for files behind a URL (``REMOTE_READING``: no folder listing or
    side-car probes on open, a 128 MiB cache of downloaded bytes, three retries) in the
    environment, each unless it is set.

    Parameters
    ----------
    dc : datacube.Datacube
        An open datacube.
    product : str
        ``alos_palsar_mosaic``, ``jers_sar_mosaic`` or ``alos_fnf_mosaic``.
    measurements : sequence of str, optional
        Bands to load (``hh``, ``hv``, ``mask``, ``date``, ``linci``; ``fnf``); all by default.
    **query
        Whatever ``dc.load`` takes: ``x``, ``y``, ``time``, ``dask_chunks``, ``output_crs``, ...

    Returns
    -------
    xarray.Dataset
        The DNs as stored (uint16 backscatter, uint8 mask, uint16 days since launch), one time step
        per mosaic; lazy with ``dask_chunks``.

    Raises
    ------
    ValueError
        An unknown band (the product's bands are named), or a query that finds no data (what to
        check is said).
    DatabaseUnavailable
        The datacube's database cannot be reached (one sentence, no driver traceback).
    """
    known = get_product(product)
    if measurements is not None:
        unknown = [m for m in measurements if m not in known.bands]
        if unknown:
            raise ValueError(
                f"{product} has no band {', '.join(map(repr, unknown))}; its bands are {', '.join(known.bands)}."
            )
    check_query(query)
    for name, value in REMOTE_READING.items():  # files behind a URL: see REMOTE_READING
        os.environ.setdefault(name, value)
    search = {k: v for k, v in query.items() if k not in _LOAD_ONLY_OPTIONS}
    try:
        datasets = dc.find_datasets(product=product, **search)
    except Exception as err:
        if is_database_lost(err):
            raise DatabaseUnavailable(database_down_message(err)) from None
        raise
    if not datasets:
        raise ValueError(no_data_message(product, query))
    reproject = reproject_options(query.pop("output_crs", None), query.pop("resolution", None))
    ours = not reproject and not READ_OPTIONS & query.keys()  # on the product's grid, read as dc.load reads
    names = list(measurements or known.bands)
    at_once = ours and "dask_chunks" not in query and behind_urls(datasets, names)
    chunks = {"dask_chunks": {"time": 1}} if at_once else {}  # eager, files behind URLs: read all at once
    ds = dc.load(datasets=datasets, measurements=measurements, **query, **reproject, **chunks)
    if ours and ("dask_chunks" in query or at_once):
        bands = datasets[0].product.lookup_measurements(list(map(str, ds.data_vars)))  # no second query
        ds = read_at_once(ds, datasets, bands) if at_once else decode_into_chunks(ds, datasets, bands)
    return add_platform(ds, datasets)


def reproject_options(output_crs: str | None = None, resolution=None) -> dict:
    """The ``dc.load`` options that reproject to ``output_crs`` at ``resolution``.

    Parameters
    ----------
    output_crs : str, optional
        A CRS such as ``"EPSG:6933"``; None keeps the product's own pixels.
    resolution : float or (float, float), optional
        One number (square pixels) or a (y, x) pair such as (-25, 25), in the CRS's units.
        Needed with ``output_crs``.

    Returns
    -------
    dict
        ``output_crs`` and ``resolution`` for ``dc.load``; empty for the product's own pixels.
    """
    if output_crs is None:
        if resolution is not None:
            raise ValueError("resolution needs output_crs: give both to reproject, or neither for the native grid.")
        return {}
    if resolution is None:
        raise ValueError(
            f"output_crs={output_crs!r} needs a resolution too, e.g. resolution=(-25, 25) for 25 m pixels."
        )
    import pyproj
    from odc.geo import Resolution, resyx_

    try:
        pyproj.CRS.from_user_input(output_crs)
    except pyproj.exceptions.CRSError:
        raise ValueError(
            f"output_crs={output_crs!r} is not a coordinate reference system pyproj knows, "
            "e.g. EPSG:6933 (equal area) or EPSG:32636 (UTM 36N)."
        ) from None
    if isinstance(resolution, Resolution):
        return {"output_crs": output_crs, "resolution": resolution}
    values = [resolution] if isinstance(resolution, (int, float)) else list(resolution)
    if len(values) not in (1, 2) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v != 0 for v in values
    ):
        raise ValueError(
            f"resolution must be one finite, non-zero number or a (y, x) pair like (-25, 25); got {resolution!r}."
        )
    if len(values) == 1:
        return {"output_crs": output_crs, "resolution": values[0]}
    y, x = values
    return {"output_crs": output_crs, "resolution": resyx_(y, x)}
