"""Fixtures: the project's test datacube, and scratch cubes in throw-away folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sar_helpers.localcube.server import EmbeddedServer, server_folder
from sar_helpers.testcube.cube import TestCube

REPO = Path(__file__).resolve().parents[1]
TUTORIAL_QUERY = dict(x=(31.90, 32.10), y=(30.37, 30.55))
#: A small box across the seam of tiles N31E031 and N31E032, for scratch cubes.
SMALL_BBOX = (31.99, 30.45, 32.01, 30.47)


def pytest_collection_modifyitems(config, items):
    """Tests that need the internet run only when asked: SAR_NETWORK_TESTS=1."""
    if os.environ.get("SAR_NETWORK_TESTS") == "1":
        return
    offline = pytest.mark.skip(reason="needs the internet; run with SAR_NETWORK_TESTS=1 when online")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(offline)


@pytest.fixture(scope="session")
def cube() -> TestCube:
    """The project's test datacube (built by `make setup`; built or repaired here if needed)."""
    cube = TestCube(TestCube.default_dir())
    cube.up(progress=False)
    os.environ["ODC_CONFIG_PATH"] = str(cube.config_path)
    return cube


@pytest.fixture(scope="session")
def dc(cube):
    return cube.datacube(app="sar-helpers-tests")


@pytest.fixture(scope="session")
def published_config(cube) -> Path:
    """The test cube's files indexed with Digital Earth Africa's product definitions verbatim."""
    return cube.index_as_published()


@pytest.fixture(scope="session")
def published_dc(published_config):
    import datacube

    return datacube.Datacube(config=str(published_config), app="sar-helpers-tests")


@pytest.fixture
def scratch(request) -> Path:
    """An empty private folder for cubes; their servers are stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="sarcube-test-"))
    yield folder
    for config in folder.rglob("datacube.conf"):
        EmbeddedServer(server_folder(config.parent)).remove()
    shutil.rmtree(folder, ignore_errors=True)


#: Run as root without the right to ignore file permissions (root may write anywhere).
_NO_DAC_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
    "--",
]


def run_cli(*args: str, obey_permissions: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `sar-helpers ARGS` in a new process; ``obey_permissions`` matters only to root."""
    prefix = _NO_DAC_OVERRIDE if obey_permissions and os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "sar_helpers.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


@pytest.fixture(scope="session")
def tutorial(dc):
    """The published tutorial's ALOS/ALOS-2 load, with platforms."""
    from sar_helpers import load_mosaics

    return load_mosaics(dc, "alos_palsar_mosaic", ["hh", "hv", "mask", "date"], time=("2007", "2022"), **TUTORIAL_QUERY)


@pytest.fixture(scope="session")
def tutorial_lazy(dc):
    from sar_helpers import load_mosaics

    return load_mosaics(
        dc, "alos_palsar_mosaic", ["hh", "hv", "mask", "date"], time=("2007", "2022"),
        dask_chunks={"time": 1, "latitude": 400, "longitude": 400}, **TUTORIAL_QUERY,
    )


@pytest.fixture(scope="session")
def jers(dc):
    from sar_helpers import load_mosaics

    return load_mosaics(dc, "jers_sar_mosaic", ["hh", "mask", "date"], time="1996", **TUTORIAL_QUERY)


@pytest.fixture(scope="session")
def figures() -> Path:
    """Where tests save the PNGs they draw, for a person to look at."""
    folder = REPO / "build" / "test-figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def synthetic(values, satellite="ALOS", band="hh", mask=None, platform_label=None):
    """A tiny dataset shaped like a plain dc.load: values (time, y, x), labelled with
    mid-year times of ``satellite``'s mosaic years; ``platform_label`` adds a platform
    coordinate as add_platform would (e.g. Digital Earth Africa's "ALOS/ALOS-2")."""
    import numpy as np
    import xarray as xr

    from sar_helpers.products import PLATFORMS

    values = np.asarray(values, dtype=np.uint16)
    t, h, w = values.shape
    years = PLATFORMS[satellite].years[:t]
    coords = {
        "time": np.array([f"{year}-07-02" for year in years], dtype="datetime64[ns]"),
        "latitude": 30.5 - np.arange(h) * 0.000222222222222,
        "longitude": 32.0 + np.arange(w) * 0.000222222222222,
    }
    if platform_label is not None:
        coords["platform"] = ("time", [platform_label] * t)
    data = {band: (("time", "latitude", "longitude"), values)}
    if mask is not None:
        data["mask"] = (("time", "latitude", "longitude"), np.asarray(mask, dtype=np.uint8))
    return xr.Dataset(data, coords=coords)
