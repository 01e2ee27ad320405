"""Fixtures: the project's test datacube, and scratch cubes in throw-away folders."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sar_helpers.cubes.localcube.server import EmbeddedServer, server_folder
from sar_helpers.cubes.testcube.cube import TestCube
from sar_helpers.loading import reading
from sar_helpers.loading.remote import REMOTE_READING

from helpers import REPO, TUTORIAL_QUERY

# GDAL's cache of downloaded bytes, as the project's kernels size it: GDAL reads the setting once, at
# the process's first read over HTTP, which may be any test's.
os.environ.setdefault("CPL_VSIL_CURL_CACHE_SIZE", REMOTE_READING["CPL_VSIL_CURL_CACHE_SIZE"])

#: Fixtures that start the embedded PostgreSQL: a test using one needs the cube.
CUBE_FIXTURES = {
    "cube",
    "dc",
    "published_config",
    "published_dc",
    "tutorial",
    "tutorial_lazy",
    "jers",
    "scratch",
    "module_scratch",
}


def pytest_collection_modifyitems(config, items):
    """Mark what needs the database (a cube fixture, or the notebooks nbval re-runs) with
    ``cube``, so ``pytest -m "not cube and not e2e"`` runs the unit tests alone; tests that
    need the internet run only when asked (SAR_NETWORK_TESTS=1)."""
    offline = pytest.mark.skip(reason="needs the internet; run with SAR_NETWORK_TESTS=1 when online")
    for item in items:
        if CUBE_FIXTURES & set(getattr(item, "fixturenames", ())) or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.cube)
        if "network" in item.keywords and os.environ.get("SAR_NETWORK_TESTS") != "1":
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


@contextmanager
def cube_folder():
    """An empty private folder for cubes; their servers are stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="sarcube-test-"))
    try:
        yield folder
    finally:
        for config in folder.rglob("datacube.conf"):
            EmbeddedServer(server_folder(config.parent)).remove()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def stand_in(cube, folder: Path):
    """A STAC API on 127.0.0.1 serving the test cube's files as Digital Earth Africa's (tests/stac_api.py)."""
    from stac_api import StacApi

    api = StacApi(cube.data, folder / "requests.jsonl")
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def scratch() -> Iterator[Path]:
    """An empty private folder for cubes (:func:`cube_folder`)."""
    with cube_folder() as folder:
        yield folder


@pytest.fixture(scope="module")
def module_scratch() -> Iterator[Path]:
    """:func:`scratch` shared by a module's tests."""
    with cube_folder() as folder:
        yield folder


@pytest.fixture
def api(cube, tmp_path):
    """The stand-in STAC API and bucket (:func:`stand_in`)."""
    with stand_in(cube, tmp_path) as api:
        yield api


@pytest.fixture(scope="module")
def module_api(cube, tmp_path_factory):
    """:func:`api` shared by a module's tests."""
    with stand_in(cube, tmp_path_factory.mktemp("stand-in")) as api:
        yield api


@pytest.fixture(scope="session")
def tutorial(dc):
    """The published tutorial's ALOS/ALOS-2 load, with platforms."""
    from sar_helpers import load_mosaics

    return load_mosaics(dc, "alos_palsar_mosaic", ["hh", "hv", "mask", "date"], time=("2007", "2022"), **TUTORIAL_QUERY)


@pytest.fixture(scope="session")
def tutorial_lazy(dc):
    from sar_helpers import load_mosaics

    return load_mosaics(
        dc,
        "alos_palsar_mosaic",
        ["hh", "hv", "mask", "date"],
        time=("2007", "2022"),
        dask_chunks={"time": 1, "latitude": 400, "longitude": 400},
        **TUTORIAL_QUERY,
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


@pytest.fixture
def fallbacks(monkeypatch):
    """The chunks datacube's own reader made (``sar.load_mosaics``'s reader made the others)."""
    calls = []
    real = reading.fuse_lazy

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "fuse_lazy", counted)
    return calls
