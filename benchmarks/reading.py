"""Where the whole-tile pipeline loses to the decode floor: the same decodes, one variant at a time.

    .venv/bin/python benchmarks/reading.py [--tile-dir DIR]

Every variant decodes the same files, whole: the tile N31E031's hh, hv and mask of 12 years
(36 COGs of 4,500 x 4,500, the tile ``benchmarks/scaling.py`` generates), on every core, in a
fresh process, best of 3 passes after a warm-up. For each: the wall time, the ratio to the
floor (the first variant), the CPU time the decodes took (user and system, summed over the
files, per pass), and the minor page faults per file: more CPU for the same decodes is work
added (page faults, TLB shootdowns); the same CPU in more wall time is waiting (a lock).

1. processes: a process per core, each file into a new array (the floor ``scaling.py`` uses);
2. threads: a thread per core in one process, each file into a new array (what the lazy
   pipeline's tasks do);
3. threads, reused buffers: each thread decodes every file into one array of its own,
   written once before (no fresh memory, no page faults on it);
4. threads, glibc keeps freed memory: ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``
   at 1 GiB, so freed arrays and GDAL's blocks are reused, not unmapped;
5. threads, GDAL's block cache at 16 MiB (default: 5 % of the memory);
6. processes, reused buffers: the floor without fresh memory.

Then, from those decodes to notebook 03's pipeline, one step at a time (each in a fresh
process, best of 3 runs after a warm-up; the load's graph is built before the clock starts):

7. the chunks' reads, a thread pool: ``read_chunk`` on the 36 chunks of ``sar.load_mosaics``
   (one chunk per tile and year, so each reads one whole file), a thread per core;
8. the chunks' reads, Dask tasks: the same calls as tasks on ``sar.get_client()``'s cluster;
9. the chunks' reads, a Dask graph: the lazy load itself, each chunk reduced to one pixel;
10. notebook 03's work, a thread pool: the reads, each year's DN counts (hh, hv) and the
    2007-2022 log-ratio, in the simplest schedule there is: the reads queued on a thread per
    core, the counting and the log-ratio in the main thread as each year's chunks arrive;
11. notebook 03's work, Dask: the same results from the lazy graph, persisted and gathered as
    the notebook does (what ``scaling.py`` times, without the load and the summaries).

For these: wall time, ratio to the floor, and the process's CPU time (user, system).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
from scaling import CHUNKS, TILE, YEARS, load_kernels, tile_files, whole_tile

PASSES = 3
GIB = str(2**30)
VARIANTS = {
    "processes": ({}, "processes", False),
    "threads": ({}, "threads", False),
    "threads, reused buffers": ({}, "threads", True),
    "threads, glibc keeps freed memory": (
        {"MALLOC_MMAP_THRESHOLD_": GIB, "MALLOC_TRIM_THRESHOLD_": GIB},
        "threads",
        False,
    ),
    "threads, GDAL block cache 16 MiB": ({"GDAL_CACHEMAX": "16"}, "threads", False),
    "processes, reused buffers": ({}, "processes", True),
}

_buffers = threading.local()


def decode(path: str, reuse: bool) -> tuple[int, float, float, int]:
    """Decode one whole file on one core: (pixels, user s, system s, minor faults) of this thread."""
    import rasterio

    before = resource.getrusage(resource.RUSAGE_THREAD)
    with rasterio.Env(GDAL_NUM_THREADS=1), rasterio.open(path) as src:
        if reuse:
            key = (src.count, src.height, src.width, src.dtypes[0])
            buffers = getattr(_buffers, "by_shape", None)
            if buffers is None:
                buffers = _buffers.by_shape = {}
            if key not in buffers:
                buffers[key] = np.ones((src.height, src.width), dtype=src.dtypes[0])  # written: faulted in
            pixels = src.read(1, out=buffers[key]).size
        else:
            pixels = src.read(1).size
    after = resource.getrusage(resource.RUSAGE_THREAD)
    return (
        pixels,
        after.ru_utime - before.ru_utime,
        after.ru_stime - before.ru_stime,
        after.ru_minflt - before.ru_minflt,
    )


def run_variant(kind: str, reuse: bool, files: list[str]) -> dict:
    cores = os.cpu_count() or 1
    pool: Executor = ProcessPoolExecutor(cores) if kind == "processes" else ThreadPoolExecutor(cores)
    with pool:
        list(pool.map(decode, files[:cores], [reuse] * cores))  # start the workers, import rasterio
        passes = []
        for _ in range(PASSES):
            start = time.perf_counter()
            results = list(pool.map(decode, files, [reuse] * len(files)))
            passes.append((time.perf_counter() - start, results))
    seconds, results = min(passes, key=lambda p: p[0])
    return {
        "seconds": seconds,
        "pixels": sum(r[0] for r in results),
        "user": sum(r[1] for r in results),
        "system": sum(r[2] for r in results),
        "faults_per_file": sum(r[3] for r in results) / len(results),
    }


STEPS = {
    "the chunks' reads, a thread pool": "pool-reads",
    "the chunks' reads, Dask tasks": "dask-reads",
    "the chunks' reads, a Dask graph": "dask-graph",
    "notebook 03's work, a thread pool": "pool-work",
    "notebook 03's work, Dask": "dask-work",
}


def lazy_tile(config: str):
    """The tile's 12 years of hh, hv and mask, lazy, as notebook 03 loads them; and its read tasks."""
    import datacube

    import sar_helpers as sar

    with datacube.Datacube(config=config) as dc:
        ds = sar.load_mosaics(
            dc, "alos_palsar_mosaic", ["hh", "hv", "mask"], time=("2007", "2022"), dask_chunks=CHUNKS, **TILE
        )
    reads = {}
    for band in ("hh", "hv", "mask"):
        for key, task in dict(ds[band].data.__dask_graph__()).items():
            if isinstance(key, tuple) and str(key[0]).startswith("sar-read-"):
                reads[(band, key[1])] = task
    return ds, reads


def _read(task) -> np.ndarray:
    function, *args = task
    return function(*args)


def _first_pixel(block: np.ndarray) -> np.ndarray:
    return block[:, :1, :1]


def run_step(step: str, config: str) -> dict:
    """One of steps 7-11: best of PASSES runs after a warm-up, with the process's CPU time."""
    import dask
    from distributed import wait

    import sar_helpers as sar
    from sar_helpers.analysis import kernels

    ds, reads = lazy_tile(config)
    cores = os.cpu_count() or 1
    keep = kernels.class_table((50, 255))
    table = np.zeros(2**16, dtype=np.float32)
    load_kernels()
    client = sar.get_client() if step.startswith("dask") else None
    pool = ThreadPoolExecutor(cores)

    def pool_work():
        pending = {key: pool.submit(_read, task) for key, task in sorted(reads.items(), key=lambda kv: kv[0][1])}
        kept = {}
        for year in range(len(YEARS)):
            hh, hv, mask = (pending.pop((band, year)).result()[0] for band in ("hh", "hv", "mask"))
            kernels.count_values_and_above([hh, hv], mask, keep, 3000.0)
            if year in (0, len(YEARS) - 1):
                kept[year] = (hh, mask)
        (after, after_mask), (before, before_mask) = kept[len(YEARS) - 1], kept[0]
        kernels.difference_of_lookups(after, after_mask, before, before_mask, keep, table, table)

    def dask_work():
        results = [*sar.histograms_and_built_up_area(ds), sar.log_ratio(ds, YEARS[0], YEARS[-1])]
        persisted = client.persist(results)
        wait(persisted)
        dask.compute(*persisted)

    run = {
        "pool-reads": lambda: list(pool.map(lambda task: _read(task).nbytes, reads.values())),
        "dask-reads": lambda: client.gather(client.map(lambda task: _read(task).nbytes, list(reads.values()))),
        "dask-graph": lambda: dask.compute(
            *(ds[b].data.map_blocks(_first_pixel, chunks=(1, 1, 1)) for b in ds.data_vars)
        ),
        "pool-work": pool_work,
        "dask-work": dask_work,
    }[step]
    run()
    passes = []
    for _ in range(PASSES):
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        passes.append((seconds, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime))
    if client is not None:
        sar.release(client)
    pool.shutdown()
    seconds, user, system = min(passes)
    pixels = len(YEARS) * ds.sizes["latitude"] * ds.sizes["longitude"]
    return {"seconds": seconds, "user": user, "system": system, "pixels": pixels * 3}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tile-dir", default="/tmp/sar-tile-cube")
    args = parser.parse_args()
    cube = whole_tile(args.tile_dir)
    files = [str(path) for path in tile_files(cube.data)]
    print(
        f"\n{len(files)} files, whole, on {os.cpu_count()} cores; best of {PASSES} passes, each variant in a fresh process"
    )
    print(f"{'variant':36} {'wall s':>7} {'MP/s':>7} {'ratio':>6} {'user s':>7} {'sys s':>6} {'faults/file':>12}")
    floor = None
    for name, (env, kind, reuse) in VARIANTS.items():
        command = [sys.executable, __file__, "--child", json.dumps([kind, reuse, files])]
        done = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ, **env})
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rate = result["pixels"] / 3 / 1e6 / result["seconds"]  # megapixels of the 3-band stack
        floor = floor or rate
        print(
            f"{name:36} {result['seconds']:7.2f} {rate:7.1f} {rate / floor:6.2f} {result['user']:7.2f} "
            f"{result['system']:6.2f} {result['faults_per_file']:12.0f}"
        )
    print(f"\nFrom the decodes to notebook 03's pipeline; best of {PASSES} runs, each step in a fresh process")
    print(f"{'step':36} {'wall s':>7} {'MP/s':>7} {'ratio':>6} {'user s':>7} {'sys s':>6}")
    for name, step in STEPS.items():
        command = [sys.executable, __file__, "--step", json.dumps([step, str(cube.config_path)])]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rate = result["pixels"] / 3 / 1e6 / result["seconds"]
        print(
            f"{name:36} {result['seconds']:7.2f} {rate:7.1f} {rate / floor:6.2f} {result['user']:7.2f} {result['system']:6.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        kind, reuse, files = json.loads(sys.argv[2])
        print(json.dumps(run_variant(kind, reuse, files)))
    elif len(sys.argv) == 3 and sys.argv[1] == "--step":
        print(json.dumps(run_step(*json.loads(sys.argv[2]))))
    else:
        main()
