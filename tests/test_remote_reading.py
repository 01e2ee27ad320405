"""Reading a real cube over HTTP from the latency-faithful stand-in (tests/stac_api.py): what a
file costs in requests, and that the stand-in's latency and bandwidth are what it says."""

import time

import numpy as np
import pytest

import sar_helpers as sar
from sar_helpers.cubes.realcube.cube import RealCube

from helpers import TUTORIAL_BBOX
from helpers import realcube_up as up

pytestmark = pytest.mark.cube

QUERY = {"x": (31.90, 32.10), "y": (30.37, 30.55), "time": "2017"}


def requests_per_file(api, load) -> float:
    before = len(api.requests())
    ds = load()
    made = [r for r in api.requests()[before:] if r["path"].startswith("/deafrica-input-datasets/")]
    files = {r["path"] for r in made if r["path"].endswith(".tif")}
    assert ds.sizes["time"] == 1
    return len(made) / len(files)


def test_load_mosaics_opens_remote_files_without_listing_folders(scratch, api, monkeypatch):
    """GDAL's defaults ask the bucket for the folder and side-car files of every file opened."""
    folder = scratch / "real"
    assert up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "2017").returncode == 0
    with RealCube(folder).datacube() as dc:
        monkeypatch.setenv("GDAL_DISABLE_READDIR_ON_OPEN", "FALSE")  # GDAL's default, said out loud
        plain = requests_per_file(api, lambda: dc.load(product="alos_palsar_mosaic", measurements=["hh"], **QUERY))
        monkeypatch.delenv("GDAL_DISABLE_READDIR_ON_OPEN")
        ours = requests_per_file(api, lambda: sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh"], **QUERY))
    assert plain > 10 and ours <= 5, (plain, ours)  # measured: about 15 and 5


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
