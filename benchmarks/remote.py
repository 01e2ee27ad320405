"""Reading a real cube over the network: the tutorial's query against the floor, at 50 and 200 ms a request.

    .venv/bin/python benchmarks/remote.py

The test cube's files are served as Digital Earth Africa's bucket by tests/stac_api.py on
127.0.0.1, which waits the given latency before answering each request to the bucket (a miss
too; many at once, as a bucket does) and counts them; a real cube (``RealCube.up``) indexes them.
For each latency, each measure in a fresh process (GDAL's caches empty):

1. floor: every window the query needs, from every file, read at once (a thread per file,
   rasterio, the kernels' GDAL settings);
2. ``dc.load`` without chunks, as notebooks 01 and 02 and the seed do, in a plain environment
   (GDAL's defaults; 50 ms only: at 200 ms it takes minutes);
3. the same ``dc.load`` with the project's kernels' GDAL settings (``REMOTE_READING``);
4. ``sar.load_mosaics`` without chunks (eager: every file read at once);
5. ``sar.load_mosaics`` with chunks, computed on ``sar.get_client()``'s local cluster (a thread a
   core; the reads leave the worker's threads while they wait);
6. the same on a ``dask scheduler`` with 1 and with 2 ``dask worker`` processes of one thread each,
   started separately (tests/clusters.py; mutual TLS), so every pixel also travels from a worker
   to the kernel.

The floor and ``sar.load_mosaics`` (4, 5) are each the best of three runs (``BEST_OF_THREE``),
the others one. Every load is timed from the query on (the datacube connected before, as a
notebook's first cell does once; the floor's query is not timed either). It prints seconds, the ratio to the floor, and
every request to the bucket per file, and the throughput in MiB of loaded pixels a second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from sar_helpers.loading.remote import REMOTE_READING  # noqa: E402

from stac_api import BUCKET  # noqa: E402

BBOX = (31.90, 30.37, 32.10, 30.55)
QUERY = {"x": (31.90, 32.10), "y": (30.37, 30.55), "time": ("2007", "2022")}
BANDS = ["hh", "hv", "mask", "date"]
CHUNKS = {"time": 1, "latitude": 1024, "longitude": 1024}
LATENCIES = (0.05, 0.2)
#: Measures taken as the best of three fresh processes: the floor and what is held against it the
#: same way (a run of 96 threads on 2 shared cores varies by a quarter); the others once.
BEST_OF_THREE = {"floor", "load_mosaics, eager", "load_mosaics, lazy"}


def _windows(config: str) -> list[tuple[str, tuple]]:
    """(url, bounds) of every file the query reads."""
    import datacube

    with datacube.Datacube(config=config) as dc:
        datasets = dc.find_datasets(product="alos_palsar_mosaic", **QUERY)
    west, south, east, north = BBOX
    return [(ds.measurements[b]["path"], (west, south, east, north)) for ds in datasets for b in BANDS]


def floor(config: str) -> float:
    import rasterio
    from rasterio.windows import from_bounds

    windows = _windows(config)
    os.environ.update(REMOTE_READING)  # for the whole process, as the kernels set it

    def read(task):
        url, bounds = task
        with rasterio.open(url) as src:
            return src.read(1, window=from_bounds(*bounds, transform=src.transform), boundless=False).size

    start = time.perf_counter()
    with ThreadPoolExecutor(len(windows)) as pool:
        list(pool.map(read, windows))
    return time.perf_counter() - start


def _connected(config: str):
    """The datacube, connected before the clock starts, as a notebook's first cell connects once."""
    import datacube

    dc = datacube.Datacube(config=config)
    dc.list_products()  # the index drivers imported and the database reached
    return dc


def plain(config: str, kernel: bool = True) -> float:
    if kernel:
        os.environ.update(REMOTE_READING)  # as the project's kernels set it
    dc = _connected(config)
    start = time.perf_counter()
    dc.load(product="alos_palsar_mosaic", measurements=BANDS, **QUERY)
    return time.perf_counter() - start


def eager(config: str) -> float:
    import sar_helpers as sar

    dc = _connected(config)
    start = time.perf_counter()
    sar.load_mosaics(dc, "alos_palsar_mosaic", BANDS, **QUERY)
    return time.perf_counter() - start


def lazy(config: str) -> float:
    import sar_helpers as sar

    return _timed_lazy_load(sar.get_client(), config)


def _timed_lazy_load(client, config: str) -> float:
    """Seconds of the lazy load computed on ``client``'s cluster, which is released afterwards."""
    import sar_helpers as sar

    dc = _connected(config)
    start = time.perf_counter()
    sar.load_mosaics(dc, "alos_palsar_mosaic", BANDS, dask_chunks=CHUNKS, **QUERY).load()
    seconds = time.perf_counter() - start
    sar.release(client)
    return seconds


def on_separate_workers(config: str, workers: int) -> float:
    """The lazy load computed on ``workers`` separately started worker processes (not timed: their start)."""
    import dask

    import sar_helpers as sar

    from clusters import separate_cluster, shared_folder

    with shared_folder() as folder, separate_cluster(folder, sys.executable, None, workers) as (address, tls):
        with dask.config.set(tls):
            client = sar.get_client(address)
        client.wait_for_workers(workers, timeout=120)
        return _timed_lazy_load(client, config)


def loaded_bytes(config: str) -> int:
    """The bytes of pixels the query loads, from a lazy ``dc.load``'s shape (nothing read; unlike
    ``sar.load_mosaics``, it leaves this process's environment, which the measures inherit, alone)."""
    with _connected(config) as dc:
        return dc.load(product="alos_palsar_mosaic", measurements=BANDS, dask_chunks=CHUNKS, **QUERY).nbytes


MEASURES = {
    "floor": floor,
    "dc.load, GDAL's defaults": lambda config: plain(config, kernel=False),
    "dc.load": plain,
    "load_mosaics, eager": eager,
    "load_mosaics, lazy": lazy,
    "lazy, 1 separate worker": lambda config: on_separate_workers(config, 1),
    "lazy, 2 separate workers": lambda config: on_separate_workers(config, 2),
}


def _requests(api) -> int:
    """Every request the bucket has had (the server's log), misses included."""
    return sum(1 for line in api.log.read_text().splitlines() if BUCKET in line)


def child(kind: str, config: str) -> float:
    command = [sys.executable, __file__, "--child", kind, config]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextmanager
def real_cube_over_http(data: Path, bbox: tuple, years) -> Iterator[tuple]:
    """(the stand-in, a config path): a real cube (``RealCube.up``) of ``bbox`` and ``years`` whose
    files are ``data``'s, served as the bucket by tests/stac_api.py on 127.0.0.1; both removed after."""
    from sar_helpers.cubes.localcube.server import EmbeddedServer, server_folder
    from sar_helpers.cubes.realcube.cube import RealCube

    from stac_api import StacApi

    scratch = Path(tempfile.mkdtemp(prefix="sar-bench-"))
    api = StacApi(data, scratch / "requests.jsonl")
    try:
        real = RealCube(scratch / "real")
        real.up(bbox, years, catalog=api.catalog, url_replace=[tuple(api.url_replace.split("=", 1))], progress=False)
        yield api, str(real.config_path)
    finally:
        api.stop()
        EmbeddedServer(server_folder(scratch / "real")).remove()
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    from sar_helpers.cubes.testcube.cube import TestCube

    cube = TestCube(os.environ.get("SAR_TESTCUBE_DIR", REPO / ".testcube"))
    cube.up(progress=False)
    with real_cube_over_http(cube.data, BBOX, None) as (api, config):
        files, loaded = len(_windows(config)), loaded_bytes(config)
        print(
            f"The tutorial's query: {files} files (12 years x 2 tiles x {len(BANDS)} bands), "
            f"{loaded / 2**20:.1f} MiB of pixels, over HTTP from 127.0.0.1"
        )
        for latency in LATENCIES:
            api.set_delay(latency)
            print(f"\n{latency * 1000:.0f} ms a request:")
            base = None
            kinds = [k for k in MEASURES if latency < 0.1 or k != "dc.load, GDAL's defaults"]
            for kind in kinds:
                before = _requests(api)
                api.stats(reset=True)
                runs = 3 if kind in BEST_OF_THREE else 1
                seconds = min(child(kind, config) for _ in range(runs))
                before += (runs - 1) * (_requests(api) - before) // runs
                stats, requests = api.stats(), _requests(api) - before
                stats["bytes"] //= runs
                base = base or seconds
                print(
                    f"   {kind:24} {seconds:7.2f} s  {seconds / base:5.2f} x the floor  "
                    f"{requests / files:5.2f} requests and {stats['bytes'] / files / 1024:6.1f} KiB a file  "
                    f"{loaded / 2**20 / seconds:6.1f} MiB/s"
                )


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        print(json.dumps(MEASURES[sys.argv[2]](sys.argv[3])))
    else:
        main()
