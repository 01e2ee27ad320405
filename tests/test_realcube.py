"""`sar-helpers realcube`: real mosaics indexed from a STAC API, tested offline against a
local API (tests/stac_api.py) that serves the test cube's files as Digital Earth Africa
serves the real ones."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sar_helpers.cubes.localcube.server import server_folder
from sar_helpers.cubes.realcube.cube import RealCube
from sar_helpers.tools.cli import main

from helpers import PUBLISHED, REPO, TUTORIAL_BBOX, TUTORIAL_QUERY, realcube_ids, run_cli
from helpers import realcube_up as up
from helpers import realcube_up_arguments as up_arguments

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube


def test_up_indexes_the_catalogs_items_and_reads_pixels_on_demand(scratch, api, cube):
    folder = scratch / "real"
    first = up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "2015-2022")
    assert first.returncode == 0, first.stderr
    assert "16 items found, 16 indexed, 0 already there." in first.stdout
    again = up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "2015-2022")
    assert "16 items found, 0 indexed, 16 already there." in again.stdout
    more = up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "2007", "--product", "alos_palsar_mosaic")
    assert "2 items found, 2 indexed" in more.stdout and len(realcube_ids(folder)) == 18
    assert not (folder / "data").exists()  # nothing downloaded: pixels stay on the server

    with RealCube(folder).datacube() as dc:
        definition = dc.index.products.get_by_name("alos_palsar_mosaic").definition
        assert definition == json.loads(json.dumps(_published("alos_palsar_mosaic")))
        dataset = dc.find_datasets(product="alos_palsar_mosaic", time="2017", x=(31.95, 31.96), y=(30.4, 30.41))[0]
        assert dataset.metadata.platform == "ALOS/ALOS-2"
        assert dataset.measurements["hh"]["path"].startswith(api.bucket_url)
        ds = dc.load(product="alos_palsar_mosaic", measurements=["hh", "date"], time=("2015", "2022"), **TUTORIAL_QUERY)
    local = cube.datacube().load(product="alos_palsar_mosaic", measurements=["hh"], time="2017", **TUTORIAL_QUERY)
    assert dict(ds.sizes) == {"time": 8, "latitude": 810, "longitude": 900}
    assert np.isin(ds.hh.sel(time="2017").values, local.hh.values).mean() > 0.99  # the same files, read over HTTP
    ranged = [r for r in api.requests() if r["path"].endswith(".tif") and r["range"]]
    assert ranged, "GDAL read the COGs by byte ranges"

    import sar_helpers as sar

    table = sar.observation_dates(ds)
    for _, row in table.iterrows():
        assert (str(row.earliest.date()), str(row.latest.date())) == PUBLISHED[row.mosaic]


def _published(name):
    from sar_helpers.products import get_product

    return get_product(name).published_definition()


def test_a_report_runs_on_the_real_data_cube(scratch, api, monkeypatch, tmp_path):
    folder = scratch / "real"
    assert up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "2020-2022").returncode == 0
    monkeypatch.setenv("SAR_REALCUBE_DIR", str(folder))
    monkeypatch.delenv("ODC_CONFIG_PATH", raising=False)
    html = tmp_path / "real.html"
    notebook = str(REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.ipynb")
    code = main(["report", notebook, "--cube", "real", "--time", "2020", "2022", "--quiet", "-o", str(html)])
    assert code == 0 and html.exists()
    cells = json.loads(html.with_suffix(".ipynb").read_text())["cells"]
    printed = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    assert "{'time': 3, 'latitude': 810, 'longitude': 900}" in printed
    assert "'eo:platform': 'ALOS/ALOS-2'" in "".join(
        "".join(o["data"]["text/plain"]) for c in cells if c["cell_type"] == "code" for o in c["outputs"] if "data" in o
    )


def test_download_copies_the_files_for_offline_work(scratch, api):
    folder = scratch / "real"
    result = up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "1996", "--product", "jers_sar_mosaic", "--download")
    assert result.returncode == 0, result.stderr
    assert "2 items found, 2 indexed, 0 already there, 8 files downloaded." in result.stdout
    files = sorted(p.relative_to(folder / "data").as_posix() for p in (folder / "data").rglob("*.tif"))
    assert files[0] == "jers_sar_mosaic/1996/N31E031/N31E031_96_sl_HH.tif" and len(files) == 8
    api.stop()  # the server is gone: the cube reads its own copies
    with RealCube(folder).datacube() as dc:
        jers = dc.load(product="jers_sar_mosaic", measurements=["hh"], time="1996", **TUTORIAL_QUERY)
    assert dict(jers.sizes) == {"time": 1, "latitude": 810, "longitude": 900} and int(jers.hh.max()) > 0


def test_a_killed_up_is_finished_by_the_next_without_duplicates(scratch, api, cube):
    folder = scratch / "real"
    api.set_delay(0.5)  # every file takes a while: there is time to kill the download half way
    args = ["--bbox", *TUTORIAL_BBOX, "--years", "2021-2022", "--download"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sar_helpers", *up_arguments(folder, api, *args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
    )
    deadline = time.monotonic() + 120
    while not list((folder / "data").rglob("*.tif")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert list((folder / "data").rglob("*.tif")), "the kill came after the first file"
    api.set_delay(0)
    result = up(folder, api, *args)
    assert result.returncode == 0, result.stderr
    assert len(realcube_ids(folder)) == 4 and not list(folder.rglob("*.partial-*"))
    for path in (folder / "data").rglob("*.tif"):
        product, year, tile, name = path.relative_to(folder / "data").parts
        assert path.read_bytes() == (cube.data / product / tile / year / name).read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small filesystem, which needs root")
def test_a_full_disk_during_download_ends_in_one_sentence(scratch, api):
    small = scratch / "small"
    small.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(small)], check=True)
    try:
        result = up(small / "real", api, "--bbox", *TUTORIAL_BBOX, "--years", "2022", "--download")
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert "The disk is full" in result.stderr and "Free some space and run the same command again" in result.stderr
        assert not list(small.rglob("*.partial-*"))
        deleted = run_cli("realcube", "delete", "--dir", str(small / "real"))
        assert deleted.returncode == 0 and not server_folder(small / "real").exists(), deleted.stderr
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--years", "2012"], "alos_palsar_mosaic has no mosaics for 2012; its years are 2007"),
        (["--years", "2007", "--product", "sentinel1"], "Unknown product 'sentinel1'"),
        (["--catalog", "http://127.0.0.1:9/stac"], "Cannot reach the STAC catalog at http://127.0.0.1:9/stac"),
        (
            ["--bbox", "10", "5", "10.1", "5.1"],
            "The catalog holds no alos_palsar_mosaic over 10.0 5.0 10.1 5.1 in 2022",
        ),
        (["--bbox", "32", "30", "31", "31"], "west < east"),
    ],
)
def test_bad_requests_end_in_one_sentence(scratch, api, args, message):
    folder = scratch / "real"
    result = up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "2022", *args)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    assert not folder.exists(), "a refused request touches nothing"


def test_a_catalog_that_is_not_a_stac_api_is_named(scratch, api):
    for path, message in (("/page", "does not answer as a STAC API"), ("/static", "not a STAC API with item search")):
        result = run_cli(
            "realcube",
            "up",
            "--dir",
            str(scratch / "real"),
            "--catalog",
            api.root + path,
            "--bbox",
            *TUTORIAL_BBOX,
            "--quiet",
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert message in result.stderr


def test_status_config_and_kernel(scratch, api, tmp_path):
    folder = scratch / "real"
    assert run_cli("realcube", "config", "--dir", str(folder)).returncode == 1
    assert up(folder, api, "--bbox", *TUTORIAL_BBOX, "--years", "2022").returncode == 0
    status = run_cli("realcube", "status", "--dir", str(folder)).stdout
    assert "Real-data datacube in" in status and "alos_palsar_mosaic: 2 datasets" in status and "2022: 2" in status
    assert run_cli("realcube", "config", "--dir", str(folder)).stdout.strip() == str(folder / "datacube.conf")
    assert run_cli("realcube", "down", "--dir", str(folder)).stdout.strip() == "Server stopped; data kept."


@pytest.mark.network
def test_digital_earth_africas_real_catalog(tmp_path):
    """Needs the internet: SAR_NETWORK_TESTS=1 .venv/bin/python -m pytest -m network tests/test_realcube.py"""
    folder = tmp_path / "real"
    folder.parent.chmod(0o755)
    result = run_cli("realcube", "up", "--dir", str(folder), "--bbox", *TUTORIAL_BBOX, "--years", "2020", timeout=900)
    assert result.returncode == 0, result.stderr
    with RealCube(folder).datacube() as dc:
        ds = dc.load(product="alos_palsar_mosaic", measurements=["hh"], time="2020", **TUTORIAL_QUERY)
    assert ds.sizes["time"] == 1 and int(ds.hh.max()) > 0


def test_notebooks_04_and_05_run_unchanged_on_a_real_cube_over_forest(scratch, api, monkeypatch, tmp_path):
    """The forested area indexed as Digital Earth Africa serves it (no forest/non-forest map there):
    the change and forest lessons run unchanged, find loss, and say they have no reference."""
    folder = scratch / "real"
    assert up(folder, api, "--bbox", "25.30", "0.40", "25.50", "0.55", "--years", "2007-2010").returncode == 0
    monkeypatch.setenv("SAR_REALCUBE_DIR", str(folder))
    monkeypatch.delenv("ODC_CONFIG_PATH", raising=False)
    html = tmp_path / "forest.html"
    notebook = str(REPO / "notebooks" / "04_change_detection.ipynb")
    assert main(["report", notebook, "--cube", "real", "--quiet", "-o", str(html)]) == 0
    cells = json.loads(html.with_suffix(".ipynb").read_text())["cells"]
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
    printed = "".join("".join(o.get("text", "")) for o in outputs)
    assert "No alos_fnf_mosaic map for 2007 and 2010 here" in printed
    tables = "".join("".join(o["data"]["text/plain"]) for o in outputs if "text/plain" in o.get("data", {}))
    decrease = next(line for line in tables.splitlines() if line.startswith("decrease"))
    assert 15 < float(decrease.split()[-1]) < 35  # km², as on the test cube itself
    forest = tmp_path / "forest05.html"
    notebook = str(REPO / "notebooks" / "05_forest_monitoring.ipynb")
    assert main(["report", notebook, "--cube", "real", "--quiet", "-o", str(forest)]) == 0
    cells = json.loads(forest.with_suffix(".ipynb").read_text())["cells"]
    printed = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    assert "No jers_sar_mosaic data" in printed and "choose biomass_years among [2007, 2008, 2009, 2010]" in printed
    assert "No alos_fnf_mosaic here: the agreement cannot be measured on this datacube." in printed
