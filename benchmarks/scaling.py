"""How the analysis scales, measured against the physical floor, in one run.

    .venv/bin/python benchmarks/scaling.py [--tile-dir DIR]

1. Load floor: the tutorial dc.load against reading the same windows straight from
   the GeoTIFFs with rasterio (no datacube). Target: at most 1.3x.
2. Whole tile N31E031, 12 years: the lazy pipeline of notebook 03 (yearly statistics,
   built-up area, log-ratio, in one pass) on a local Dask cluster, against the
   published tutorial's eager load-and-convert on as many years as fit; peak resident
   memory (target: under 1.5 GB for ours), where the worker threads' time goes, and the
   throughput against the decode floor: rasterio decoding the same whole files in a
   process per core. The floor is measured alone (with the single-core rate beside it)
   and again before each run of the pipeline, in the same child process, so that on a
   shared machine a neighbour who slows the pipeline shows in the floor too; the ratio
   is the best run over the larger of the two floors (never the smaller: a floor
   measured in a slow moment must not flatter the pipeline). The pipeline runs on
   two cluster shapes, so the choice is visible: threads (``sar.get_client()``'s
   default, one worker process with a thread per core) and processes (a worker process
   per core with one thread each, talking over mutual TLS on 127.0.0.1).
3. How cost grows: time and peak memory for 1, 4 and 12 years, and for a quarter,
   half and whole tile, with the fitted slope.

The pipeline runs as notebook 03 runs it (the three results persisted on the cluster in
one pass, then gathered); its time runs from connecting to the datacube and querying it
to the last result. What a session pays once whatever the load (starting the cluster, the imports
of datacube's index drivers that its first connection makes, loading the compiled
counting loops from numba's cache) is reported apart. The reading of the chunks is also
measured alone, with datacube's reader and with ours. The last line is
``ratio to the decode floor: R``.

The whole tile is generated on first use into --tile-dir (default /tmp/sar-tile-cube,
about 1.5 GB, a few minutes). Each measured run is a fresh process, so peak memory is
its own (the process and any children, sampled every 0.1 s).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import psutil

#: The tile's own footprint: its pixel edges lie half a pixel north of the whole degree
#: (DE Africa's grid), so query a tenth of a pixel inside them to get exactly its 4,500 x 4,500.
PIXEL = 1 / 4500
TILE = dict(x=(31.0 + PIXEL / 10, 32.0 - PIXEL / 10), y=(30.0 + PIXEL * 0.6, 31.0 + PIXEL * 0.4))
TUTORIAL = dict(x=(31.90, 32.10), y=(30.37, 30.55))
YEARS = [2007, 2008, 2009, 2010, *range(2015, 2023)]
#: One chunk per tile and year, a whole number of the COGs' 512 x 512 blocks.
CHUNKS = {"time": 1, "latitude": 4608, "longitude": 4608}
#: Runs of the pipeline in one session: the best is its steady state.
RUNS = 3


class PeakMemory:
    """Peak of the summed resident memory of this process and all its descendants (but ``exclude``)."""

    def __init__(self, interval: float = 0.1, exclude: frozenset[int] = frozenset()):
        self.peak = 0
        self._exclude = exclude
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)

    def _sample(self, interval):
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                if process.pid in self._exclude:
                    continue
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- single runs (child processes)


def task_group(key) -> str:
    """The step of the pipeline a dask task belongs to, from its key (an unknown name is shown as it is)."""
    name = (key[0] if isinstance(key, tuple) else key).rsplit("-", 1)[0]
    if name.startswith("dc_load_"):
        return f"read {name.removeprefix('dc_load_')} (datacube's reader)"
    if name.startswith("sar-read-"):
        return f"read {name.removeprefix('sar-read-')} (decoded into the chunk)"
    if name.startswith("log-ratio"):
        return "log-ratio"
    if name.startswith(("sum", "split_counts", "area_of_rows")):
        return "DN histograms and bright pixels"
    if name.startswith("finalize"):
        return "gathering the results"
    return name


def load_kernels() -> None:
    """Load the compiled counting loops (from numba's cache) by running each once."""
    from sar_helpers.analysis import kernels

    image, mask = np.zeros((2, 2), dtype=np.uint16), np.zeros((2, 2), dtype=np.uint8)
    keep, table = kernels.class_table((255,)), np.zeros(2**16, dtype=np.float32)
    kernels.count_values_and_above([image, image], mask, keep, 1.0)
    kernels.difference_of_lookups(image, mask, image, mask, keep, table, table)


def processes_client():
    """A local cluster of a single-threaded worker process per core. Processes talk over TCP,
    so the cluster listens on 127.0.0.1 with mutual TLS from a key made for this session:
    another user of the machine reaches the port but cannot connect."""
    from distributed import Client, LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    cores = os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=cores,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        protocol="tls://",
        security=security,
        dashboard_address=None,
        memory_limit=int(psutil.virtual_memory().total * 0.8 / cores),
    )
    client = Client(cluster, security=security)
    client.run(load_kernels)
    return client


def warm_session(config: str, shape: str = "threads"):
    """What a session pays once, before any load: the local cluster, the index drivers that
    the first Datacube imports, and the compiled counting loops (loaded from numba's cache)."""
    import datacube

    import sar_helpers as sar

    client = sar.get_client() if shape == "threads" else processes_client()
    datacube.Datacube(config=config).close()
    load_kernels()
    return client


def run_ours(config: str, x, y, years: int, shape: str = "threads", files: list[str] | None = None) -> dict:
    """The pipeline RUNS times in one session; the best run is its steady state, the first is
    reported too. With ``files``, each run follows a floor pass over them (whole-file decodes, a
    process per core, the processes started before the cluster and left out of the peak): the
    floor and the pipeline alternate, so on a shared machine both meet the same neighbours."""
    import dask
    import datacube
    from distributed import get_task_stream, wait

    import sar_helpers as sar

    time_range = (str(YEARS[0]), str(YEARS[years - 1]))
    runs, streams, floors = [], [], []
    floor_pixels = 0
    pool = ProcessPoolExecutor(os.cpu_count() or 1) if files else None
    if pool is not None:
        list(pool.map(decode, files[: os.cpu_count() or 1]))  # start the processes, import rasterio
    pool_pids = frozenset(child.pid for child in psutil.Process().children(recursive=True))
    with PeakMemory(exclude=pool_pids) as memory:
        start = time.perf_counter()
        client = warm_session(config, shape)
        session_start = time.perf_counter() - start
        for _ in range(RUNS):
            if pool is not None:
                start = time.perf_counter()
                floor_pixels = sum(pool.map(decode, files))
                floors.append(time.perf_counter() - start)
            start = time.perf_counter()
            with datacube.Datacube(config=config) as dc:
                ds = sar.load_mosaics(
                    dc, "alos_palsar_mosaic", ["hh", "hv", "mask"], x=x, y=y, time=time_range, dask_chunks=CHUNKS
                )
            sar.check_chunks(ds, client)
            results = list(sar.histograms_and_built_up_area(ds))
            if years > 1:
                results.append(sar.log_ratio(ds, YEARS[0], YEARS[years - 1]))
            with get_task_stream(client) as stream:
                # As notebook 03: persist the results on the cluster (one pass: they share their
                # reads), wait for them, then gather them.
                persisted = client.persist(results)
                wait(persisted)
                histograms, *_ = dask.compute(*persisted)
            sar.yearly_backscatter(ds, histograms)
            runs.append(time.perf_counter() - start)
            streams.append(stream.data)
        sar.release(client)
    if pool is not None:
        pool.shutdown()
    best = int(np.argmin(runs))
    busy: dict[str, float] = {}
    for task in streams[best]:
        for part in task["startstops"]:
            if part["action"] == "compute":
                group = task_group(task["key"])
                busy[group] = busy.get(group, 0.0) + part["stop"] - part["start"]
    pixels = ds.sizes["time"] * ds.sizes["latitude"] * ds.sizes["longitude"]
    return {
        "seconds": runs[best],
        "first_seconds": runs[0],
        "session_seconds": session_start,
        "peak_bytes": memory.peak,
        "pixels": pixels,
        "busy": busy,
        "floor_rate": floor_pixels / 3 / 1e6 / min(floors) if floors else None,
    }


def run_reads(config: str, x, y, years: int, reader: str) -> dict:
    """Only read the pipeline's chunks (summed, so nothing is kept), with datacube's reader
    (a plain dc.load) or ours (load_mosaics): what each leaves for the analysis. Best of RUNS."""
    import dask
    import datacube

    import sar_helpers as sar

    time_range = (str(YEARS[0]), str(YEARS[years - 1]))
    client = warm_session(config)
    query = dict(x=x, y=y, time=time_range, dask_chunks=CHUNKS)
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        with datacube.Datacube(config=config) as dc:
            if reader == "datacube":
                ds = dc.load(product="alos_palsar_mosaic", measurements=["hh", "hv", "mask"], **query)
            else:
                ds = sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh", "hv", "mask"], **query)
        dask.compute(*(ds[band].sum() for band in ("hh", "hv", "mask")))
        runs.append(time.perf_counter() - start)
    sar.release(client)
    return {"seconds": min(runs), "pixels": ds.sizes["time"] * ds.sizes["latitude"] * ds.sizes["longitude"]}


def run_published(config: str, x, y, years: int) -> dict:
    import datacube

    time_range = (str(YEARS[0]), str(YEARS[years - 1]))
    with PeakMemory() as memory:
        start = time.perf_counter()
        with datacube.Datacube(config=config) as dc:
            ds = dc.load(product="alos_palsar_mosaic", x=x, y=y, time=time_range, measurements=["hh", "hv", "mask"])
        ds["hh_db"] = 10 * np.log10(ds.hh.where(ds.mask.isin([50, 255])) ** 2) - 83.0
        ds["hv_db"] = 10 * np.log10(ds.hv.where(ds.mask.isin([50, 255])) ** 2) - 83.0
        ds["hvhh_db"] = ds["hv_db"] - ds["hh_db"]
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_bytes": memory.peak,
        "pixels": ds.sizes["time"] * ds.sizes["latitude"] * ds.sizes["longitude"],
    }


def child(kind: str, config: str, x, y, years: int, *extra) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps([kind, config, list(x), list(y), years, *extra])]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- floors


def load_floor(config: str, data: Path) -> tuple[float, float]:
    """(dc.load seconds, rasterio seconds), best of 3, for the tutorial query."""
    import datacube
    import rasterio
    from rasterio.windows import from_bounds

    bands = {"hh": "sl_HH", "hv": "sl_HV", "mask": "mask", "date": "date"}
    dc = datacube.Datacube(config=config)

    def with_datacube():
        return dc.load(product="alos_palsar_mosaic", time=("2007", "2022"), measurements=list(bands), **TUTORIAL)

    geobox = with_datacube().odc.geobox
    west, south, east, north = geobox.boundingbox
    height, width = geobox.shape

    def with_rasterio():
        out = {}
        for band, stem in bands.items():
            stack = []
            for year in YEARS:
                image = None
                for path in sorted(data.glob(f"alos_palsar_mosaic/*/{year}/*_{stem}*.tif")):
                    with rasterio.open(path) as src:
                        window = from_bounds(west, south, east, north, src.transform).round_offsets().round_lengths()
                        part = src.read(1, window=window, boundless=True, fill_value=0)[:height, :width]
                        image = part if image is None else np.where(part != 0, part, image)
                stack.append(image)
            out[band] = np.stack(stack)
        return out

    def best(func):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
        return min(times)

    try:
        return best(with_datacube), best(with_rasterio)
    finally:
        dc.close()


def whole_tile(folder: str):
    """The test cube of the whole tile N31E031 x YEARS in ``folder``, generated on first use."""
    from sar_helpers.cubes.testcube.cube import TestCube

    cube = TestCube(folder)
    print(f"Generating the whole tile N31E031 in {cube.folder} if needed ...", flush=True)
    cube.up(bbox=(31.0, 30.0, 32.0, 31.0), years=set(YEARS), progress=False)
    return cube


def tile_files(data: Path) -> list[Path]:
    return [
        p
        for year in YEARS
        for stem in ("sl_HH", "sl_HV", "mask")
        for p in data.glob(f"alos_palsar_mosaic/N31E031/{year}/*_{stem}*.tif")
    ]


def decode(path: Path) -> int:
    """Decode one whole file with rasterio on one core; its pixel count."""
    import rasterio

    with rasterio.Env(GDAL_NUM_THREADS=1), rasterio.open(path) as src:
        return src.read(1).size


def decode_rates(data: Path) -> tuple[float, float]:
    """(single-core, all-core) rate of decoding the tile's hh, hv and mask files whole, each in a
    process of its own, in megapixels of the stack per second (all three bands decoded per
    pixel); best of 3 each. The all-core rate is the floor."""
    files = tile_files(data)
    rates = []
    for workers in (1, os.cpu_count() or 1):
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(decode, files[:workers]))  # start the processes, import rasterio
            best = math.inf
            for _ in range(3):
                start = time.perf_counter()
                pixels = sum(pool.map(decode, files))
                best = min(best, time.perf_counter() - start)
        rates.append(pixels / 3 / 1e6 / best)
    return rates[0], rates[1]


# --------------------------------------------------------------------------- main


def slope(sizes, values) -> float:
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def main() -> None:
    from sar_helpers.cubes.testcube.cube import TestCube

    parser = argparse.ArgumentParser()
    parser.add_argument("--tile-dir", default="/tmp/sar-tile-cube")
    args = parser.parse_args()

    project = TestCube()
    project.up(progress=False)
    tile_cube = whole_tile(args.tile_dir)
    config = str(tile_cube.config_path)
    mib = 2**20

    with_dc, with_rio = load_floor(str(project.config_path), project.data)
    print("\n1. Load floor (tutorial query, 12 x 811 x 900, 4 bands, best of 3)")
    print(
        f"   dc.load {with_dc:.2f} s, rasterio windows {with_rio:.2f} s: ratio {with_dc / with_rio:.2f}x (target <= 1.3x)"
    )

    print("\n2. Whole tile N31E031 (4,500 x 4,500), hh/hv/mask")
    single, parallel = decode_rates(tile_cube.data)
    cores = os.cpu_count() or 1
    print(
        f"   decode floor, alone: rasterio decoding the whole files, a process per core: {parallel:.1f} MP/s on {cores} "
        f"cores ({single:.1f} MP/s on 1 core, so {parallel / single / cores:.0%} of {cores} x 1 core)"
    )
    files = [str(path) for path in tile_files(tile_cube.data)]
    ours = child("ours", config, TILE["x"], TILE["y"], 12, "threads", files)
    ours_rate = ours["pixels"] / 1e6 / ours["seconds"]
    floor = max(parallel, ours["floor_rate"])
    print(
        f"   ours, lazy, threads (sar.get_client(): one worker, a thread per core), 12 years: {ours['seconds']:.2f} s, "
        f"best of {RUNS} in one session (the first {ours['first_seconds']:.2f} s; + {ours['session_seconds']:.1f} s once "
        f"per session: the cluster, the index drivers' imports, the compiled loops), peak "
        f"{ours['peak_bytes'] / mib:.0f} MiB (target < 1536 MiB), {ours_rate:.1f} MP/s"
    )
    print(
        f"   the floor decoded before each of those runs: {ours['floor_rate']:.1f} MP/s; the floor is the larger of the "
        f"two: {floor:.1f} MP/s, so ours is {ours_rate / floor:.2f} of it"
    )
    shaped = child("ours", config, TILE["x"], TILE["y"], 12, "processes", files)
    shaped_rate = shaped["pixels"] / 1e6 / shaped["seconds"]
    print(
        f"   ours, lazy, processes (a worker process per core, one thread each, mutual TLS): {shaped['seconds']:.2f} s, "
        f"best of {RUNS} (the first {shaped['first_seconds']:.2f} s; + {shaped['session_seconds']:.1f} s once), peak "
        f"{shaped['peak_bytes'] / mib:.0f} MiB, {shaped_rate:.1f} MP/s; the floor before each run "
        f"{shaped['floor_rate']:.1f} MP/s; {shaped_rate / max(parallel, shaped['floor_rate']):.2f} of the larger floor"
    )
    for reader, what in (
        ("datacube", "datacube's reader (plain dc.load)"),
        ("ours", "decoded into the chunks (load_mosaics)"),
    ):
        reads = child("reads", config, TILE["x"], TILE["y"], 12, reader)
        reads_rate = reads["pixels"] / 1e6 / reads["seconds"]
        print(
            f"   reading the same chunks and nothing else, {what}: {reads['seconds']:.2f} s, {reads_rate:.1f} MP/s, "
            f"{reads_rate / floor:.2f} of the floor (measured with ours, threads)"
        )
    total = sum(ours["busy"].values())
    print(
        f"   where the worker threads' time goes ({total:.1f} core-seconds in tasks, {total / cores / ours['seconds']:.0%} "
        f"of the {cores} cores over the run):"
    )
    busiest = sorted(ours["busy"].items(), key=lambda item: -item[1])[:8]
    for group, seconds in [(g, s) for g, s in busiest if s >= 0.005]:
        print(f"     {group:45} {seconds:5.2f} s  {seconds / total:4.0%}")
    eager = {}
    for years in (1, 2, 4):
        eager[years] = child("published", config, TILE["x"], TILE["y"], years)
        print(
            f"   published tutorial, eager, {years:2d} year(s): {eager[years]['seconds']:.1f} s, peak {eager[years]['peak_bytes'] / mib:.0f} MiB"
        )
    per_year = (eager[4]["peak_bytes"] - eager[1]["peak_bytes"]) / 3
    print(
        f"   published, extrapolated to 12 years: about {(eager[1]['peak_bytes'] + 11 * per_year) / mib:.0f} MiB "
        f"({per_year / mib:.0f} MiB more per year) against ours {ours['peak_bytes'] / mib:.0f} MiB"
    )

    print("\n3. How cost grows (ours)")
    by_years = {n: (ours if n == 12 else child("ours", config, TILE["x"], TILE["y"], n)) for n in (1, 4, 12)}
    for n, run in by_years.items():
        print(f"   {n:2d} years, whole tile: {run['seconds']:6.1f} s, peak {run['peak_bytes'] / mib:5.0f} MiB")
    print(
        f"   slope of time against years: {slope(list(by_years), [r['seconds'] for r in by_years.values()]):.2f} "
        f"(1.0 = linear); of memory: {slope(list(by_years), [r['peak_bytes'] for r in by_years.values()]):.2f}"
    )
    areas = {"quarter": 0.5, "half": math.sqrt(0.5), "whole": 1.0}
    by_area = {}
    for name, side in areas.items():
        x = (TILE["x"][0], TILE["x"][0] + side * (TILE["x"][1] - TILE["x"][0]))  # from the tile's north-west corner
        y = (TILE["y"][1] - side * (TILE["y"][1] - TILE["y"][0]), TILE["y"][1])
        by_area[name] = ours if name == "whole" else child("ours", config, x, y, 12)
        print(
            f"   {name:7} tile, 12 years: {by_area[name]['seconds']:6.1f} s, peak {by_area[name]['peak_bytes'] / mib:5.0f} MiB"
        )
    sizes = [side**2 for side in areas.values()]
    print(
        f"   slope of time against area: {slope(sizes, [r['seconds'] for r in by_area.values()]):.2f}; "
        f"of memory: {slope(sizes, [r['peak_bytes'] for r in by_area.values()]):.2f}"
    )
    print(f"\nratio to the decode floor: {ours_rate / floor:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        kind, config, x, y, years, *extra = json.loads(sys.argv[2])
        result = {"ours": run_ours, "reads": run_reads, "published": run_published}[kind](
            config, tuple(x), tuple(y), years, *extra
        )
        print(json.dumps(result))
    else:
        main()
