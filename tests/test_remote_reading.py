"""Reading a real cube over HTTP from the latency-faithful stand-in (tests/stac_api.py): what a
file costs in requests, all of a load's files read at once with the arrays of datacube's own
reader, bit for bit, and that the stand-in's latency and bandwidth are what it says."""

import subprocess
import sys
import threading
import time

import dask
import numpy as np
import pytest
import xarray as xr

import sar_helpers as sar
from sar_helpers.cubes.realcube.cube import RealCube
from sar_helpers.loading import reading

from helpers import TUTORIAL_BBOX, assert_band_files_are_bandinfos
from helpers import realcube_up as up

pytestmark = pytest.mark.cube

QUERY = {"x": (31.90, 32.10), "y": (30.37, 30.55), "time": "2017"}
BANDS = ["hh", "hv", "mask", "date"]
YEARS = {**QUERY, "time": ("2015", "2022")}  # 8 years x 2 tiles x 4 bands: 64 files


def requests_per_file(api, load) -> float:
    before = len(api.requests())
    ds = load()
    made = [r for r in api.requests()[before:] if r["path"].startswith("/deafrica-input-datasets/")]
    files = {r["path"] for r in made if r["path"].endswith(".tif")}
    assert ds.sizes["time"] == 1
    return len(made) / len(files)


def test_load_mosaics_opens_remote_files_without_listing_folders(real_cube, api, monkeypatch):
    """GDAL's defaults ask the bucket for the folder and side-car files of every file opened."""
    dc = real_cube("2017")
    monkeypatch.setenv("GDAL_DISABLE_READDIR_ON_OPEN", "FALSE")  # GDAL's default, said out loud
    plain = requests_per_file(api, lambda: dc.load(product="alos_palsar_mosaic", measurements=["hh"], **QUERY))
    monkeypatch.delenv("GDAL_DISABLE_READDIR_ON_OPEN")
    ours = requests_per_file(api, lambda: sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh"], **QUERY))
    assert plain > 10 and ours < 5, (plain, ours)  # its size, its header, its blocks (GDAL's defaults: 13)


def test_the_stand_in_waits_and_paces_as_asked(scratch, api):
    import requests

    path = api.bucket_url + "alos_palsar_mosaic/2017/N31E031/N31E031_17_sl_HH_F02DAR.tif"
    api.set_delay(0.3)
    api.set_bandwidth(200_000)
    api.stats(reset=True)
    start = time.perf_counter()
    body = requests.get(path, timeout=30).content
    seconds = time.perf_counter() - start
    stats = api.stats()
    assert seconds >= 0.3 + len(body) / 200_000 * 0.9, seconds
    assert stats["requests"] == 1 and stats["bytes"] == len(body) > 0
    miss = time.perf_counter()
    assert requests.get(api.bucket_url + "alos_palsar_mosaic/2017/N31E031/none.tif", timeout=30).status_code == 404
    assert time.perf_counter() - miss >= 0.3  # a miss costs its round trip too
    api.set_delay(0)
    api.set_bandwidth(0)
    assert np.frombuffer(body[:4], np.uint8).tolist()[:2] in ([73, 73], [77, 77])  # a TIFF, whole


def test_an_eager_load_leaves_dask_distributed_unimported(real_cube, scratch):
    """Off a Dask worker the reads need nothing of distributed, whose import (0.3 s) would hold
    the interpreter while the first files are asked for. (And a real cube's band files are read
    from its documents as datacube's BandInfo reads them.)"""
    assert_band_files_are_bandinfos(real_cube("2017").find_datasets(product="alos_palsar_mosaic"))
    script = (
        "import sys, datacube, sar_helpers as sar\n"
        f"dc = datacube.Datacube(config={str(RealCube(scratch / 'real-2017').config_path)!r})\n"
        f"ds = sar.load_mosaics(dc, 'alos_palsar_mosaic', ['hh', 'mask'], **{QUERY!r})\n"
        "print(int(ds.hh.max()) > 0, 'distributed' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"], done.stdout


@pytest.fixture
def real_cube(scratch, api):
    """``real_cube(years)``: a real cube of the tutorial's area over the stand-in, connected."""
    opened = []

    def connected(years: str):
        folder = scratch / f"real-{years}"
        assert up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", years).returncode == 0
        opened.append(RealCube(folder).datacube())
        return opened[-1]

    yield connected
    for dc in opened:
        dc.close()


def _requests_per_file(api, since: int) -> dict[str, list[tuple[str, str | None]]]:
    """(method, byte range) of every request to each file since the ``since``-th request."""
    per_file: dict[str, list] = {}
    for request in api.requests()[since:]:
        if request["path"].endswith(".tif"):
            per_file.setdefault(request["path"], []).append((request["method"], request["range"]))
    return per_file


def assert_same(ours, plain):
    xr.testing.assert_identical(
        ours.drop_vars(["platform", "instrument", "launchdate"]).drop_attrs(), plain.drop_attrs()
    )


def test_an_eager_load_reads_every_file_at_once(real_cube, api, fallbacks):
    real = real_cube("2015-2022")
    since = len(api.requests())
    api.set_delay(0.2)
    ours = sar.load_mosaics(real, "alos_palsar_mosaic", BANDS, **YEARS)  # first: GDAL has cached nothing yet
    requests = _requests_per_file(api, since)
    api.set_delay(0)
    plain = real.load(product="alos_palsar_mosaic", measurements=BANDS, **YEARS)  # datacube's reader
    assert_same(ours, plain)
    assert not isinstance(ours.hh.data, dask.array.Array)
    assert fallbacks == []  # every chunk read by our reader
    assert len(requests) == 64
    for made in requests.values():  # its size, its header, the blocks of its window (at once): nothing re-read
        ranges = [r for method, r in made if method == "GET"]
        assert [method for method, _ in made].count("HEAD") == 1 and len(set(ranges)) == len(ranges) == len(made) - 1
        assert ranges[0].startswith("bytes=0-"), made


def lazy_on_the_local_cluster(real, api, on_client=lambda client: None):
    """The 8 years loaded lazily by ``sar.load_mosaics`` on ``get_client()``'s local cluster (its worker
    in this process) at 50 ms a request, after ``on_client(client)``; checked equal to datacube's
    own reader's arrays."""
    chunks = {"time": 1, "latitude": 512, "longitude": 512}  # 4 chunks a step, two across the seam of the tiles
    plain = real.load(product="alos_palsar_mosaic", measurements=BANDS, dask_chunks=chunks, **YEARS)
    with dask.config.set(scheduler="synchronous"):
        plain = plain.compute()
    client = sar.get_client(n_workers=2)
    try:
        on_client(client)
        api.set_delay(0.05)
        ours = sar.load_mosaics(real, "alos_palsar_mosaic", BANDS, dask_chunks=chunks, **YEARS).compute()
        api.set_delay(0)
    finally:
        sar.release(client)
    assert_same(ours, plain)


def test_a_lazy_load_on_the_local_cluster_reads_the_same_arrays(real_cube, api, fallbacks):
    lazy_on_the_local_cluster(real_cube("2015-2022"), api, lambda client: api.stats(reset=True))
    assert fallbacks == []
    # The worker's two threads waited for many files at once: the reads left its thread pool while they waited.
    assert api.stats()["most_at_once"] > 8


def test_a_server_that_answers_503_is_asked_again(real_cube, api):
    dc = real_cube("2017")
    clean = sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh"], **QUERY)
    api.set_hostile("unavailable", "4")  # each file's first four requests for blocks: 503
    again = sar.load_mosaics(dc, "alos_palsar_mosaic", ["hv"], **QUERY)  # files GDAL has not cached
    api.set_hostile("none")
    refused = [
        r for r in api.requests() if "_HV_" in r["path"] and r["range"] and not r["range"].startswith("bytes=0-")
    ]
    assert len(refused) > 2 * 4  # two files, each asked again after its 503s
    plain = dc.load(product="alos_palsar_mosaic", measurements=["hh", "hv"], **QUERY)
    np.testing.assert_array_equal(again.hv.values, plain.hv.values)
    np.testing.assert_array_equal(clean.hh.values, plain.hh.values)


@pytest.mark.parametrize("mode", ["unavailable", "truncated"])
def test_a_file_the_server_keeps_failing_is_named_in_one_sentence(real_cube, api, mode):
    dc = real_cube("2017")
    api.set_hostile(mode, "always")
    with pytest.raises(sar.RemoteFileUnreadable) as failure:
        sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh"], **QUERY)  # never wrong pixels: an error
    api.set_hostile("none")
    message = str(failure.value)
    assert message.startswith(f"The file {api.bucket_url}alos_palsar_mosaic/2017/N31E03")
    assert "\n" not in message and message.count(". ") == 0 and "realcube up --download" in message


def test_a_workers_reads_hold_no_more_than_their_budget(real_cube, api, fallbacks, monkeypatch):
    """Reads leave the worker's threads while they wait, so a worker would read every chunk it is
    given at once; what they hold is kept within a share of the worker's memory limit instead."""
    budget = 2 * 2**20  # room for one chunk across the seam of the tiles: (2 files + 1) x 512 x 512 x 2 bytes

    def small_budget(client):  # its worker runs in this process: IN_FLIGHT is this one's
        limit = next(iter(client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit).values()))
        monkeypatch.setattr(reading, "IN_FLIGHT_SHARE", budget / limit)
        monkeypatch.setattr(reading.IN_FLIGHT, "most", 0)

    lazy_on_the_local_cluster(real_cube("2015-2022"), api, small_budget)
    assert fallbacks == []
    assert 512 * 512 * 2 < reading.IN_FLIGHT.most <= budget


def test_reads_wait_their_turn_until_their_bytes_fit():
    in_flight, admitted = reading._InFlight(), []

    def take(name, nbytes):
        in_flight.take(nbytes, budget=10)
        admitted.append(name)

    in_flight.take(6, budget=10)
    waiting = [threading.Thread(target=take, args=args) for args in (("second", 6), ("third", 1))]
    for thread in waiting:
        thread.start()
        time.sleep(0.2)  # the second asks first
    assert admitted == []  # the second does not fit; the third, which would, waits its turn
    in_flight.give_back(6)
    for thread in waiting:
        thread.join(10)
    assert admitted == ["second", "third"] and in_flight.most == 7
    in_flight.give_back(7)
    in_flight.take(25, budget=10)  # alone, a read larger than the budget goes
    assert in_flight.most == 25
