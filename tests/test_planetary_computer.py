"""`sar-helpers realcube up --source planetary-computer`: Planetary Computer's items indexed as our
products, its files read through URLs signed when opened; tested offline against a stand-in of
its STAC API, token service and blob host (tests/planetary_api.py) serving the test cube's files."""

import json
import logging
import time

import numpy as np
import pytest

import sar_helpers as sar
from sar_helpers.cubes.realcube import signing
from sar_helpers.cubes.realcube.cube import RealCube
from sar_helpers.tools.cli import main

from helpers import REPO, TUTORIAL_BBOX, TUTORIAL_QUERY, run_cli

pytestmark = pytest.mark.cube

FOREST_BBOX = ["25.30", "0.40", "25.50", "0.55"]


@pytest.fixture
def pc(cube, tmp_path, monkeypatch):
    """The stand-in, with this process and the commands it starts pointed at it."""
    from planetary_computer.settings import Settings

    from stac_api import StacApi

    api = StacApi(cube.data, tmp_path / "pc-requests.jsonl", flavour="planetary-computer")
    monkeypatch.setenv("PC_SDK_SAS_URL", api.sas_url)
    monkeypatch.setenv(signing.BLOB_URL_ENV, api.blob_url)
    monkeypatch.delenv("PC_SDK_SUBSCRIPTION_KEY", raising=False)
    Settings.get.cache_clear()
    yield api
    api.stop()
    Settings.get.cache_clear()


def up(folder, api, *args, source="planetary-computer"):
    return run_cli(
        "realcube", "up", "--dir", str(folder), "--source", source, "--catalog", api.catalog, "--quiet", *args
    )


def test_items_are_indexed_as_our_products_and_signed_only_when_read(scratch, pc, cube):
    folder = scratch / "pc"
    result = up(folder, pc, "--bbox", *TUTORIAL_BBOX, "--years", "2015-2022")
    assert result.returncode == 0, result.stderr
    assert "14 items found, 14 indexed, 0 already there." in result.stdout  # 2015-2021: two tiles a year
    assert pc.control("issued") == "0"  # indexing reads no file: no token was asked for

    with RealCube(folder).datacube() as dc:
        datasets = dc.find_datasets(product="alos_palsar_mosaic")
        stored = json.dumps([[ds.metadata_doc, ds.uri] for ds in datasets], default=str)
        assert "sig=" not in stored and "se=" not in stored  # no token in the index
        assert {ds.metadata.platform for ds in datasets} == {"ALOS-2"}
        assert all(ds.measurements["hh"]["path"].startswith("https://pceo.blob.core.windows.net/") for ds in datasets)
        real = dc.load(
            product="alos_palsar_mosaic", measurements=["hh", "hv", "mask", "date", "linci"], **TUTORIAL_QUERY
        )
    with cube.datacube() as local_dc:
        local = local_dc.load(
            product="alos_palsar_mosaic",
            measurements=["hh", "hv", "mask", "date", "linci"],
            time=("2015", "2021"),
            like=real.odc.geobox,
        )
    assert int(pc.control("issued")) >= 1
    # From 2017 the files say no-data is 1 (the test cube's say 0), and leave a gap: read, it is the product's 0.
    gap = (real.mask == 0) & (real.time.dt.year >= 2017)
    assert int(gap.sum()) == 900 * 5 and not (local.mask == 0).any()  # 30 x 30 pixels in each year 2017-2021
    for band in ("hh", "hv", "mask", "date", "linci"):
        assert np.array_equal(real[band].where(~gap, 0).values, local[band].where(~gap, 0).values), band
        assert (real[band].values[gap.values] == 0).all(), band
    in_db = sar.to_db(real).hh_db
    assert in_db.where(gap).isnull().all()  # no data, not -83 dB
    np.testing.assert_array_equal(in_db.where(~gap).values, sar.to_db(local).hh_db.where(~gap).values)
    status = run_cli("realcube", "status", "--dir", str(folder)).stdout
    assert "alos_palsar_mosaic: 14 datasets" in status and "from planetary-computer: 14" in status


def test_tokens_are_renewed_while_reading_and_a_refused_one_ends_in_one_sentence(scratch, pc, caplog):
    folder = scratch / "pc"
    assert up(folder, pc, "--bbox", *TUTORIAL_BBOX, "--years", "2017").returncode == 0
    pc.control("lifetime", seconds=61)  # a token with less than a minute left is replaced: these last a second

    def read():
        with RealCube(folder).datacube() as dc:
            return dc.load(product="alos_palsar_mosaic", measurements=["hh"], **TUTORIAL_QUERY).hh.values

    first = read()
    issued = int(pc.control("issued"))
    time.sleep(1.5)
    assert np.array_equal(read(), first) and int(pc.control("issued")) > issued  # a new token, fetched to read

    pc.control("lifetime", seconds=3600)
    pc.control("require_key", key="the-key")  # the service now wants a subscription key
    time.sleep(1.5)
    with caplog.at_level(logging.DEBUG), pytest.raises(signing.SigningError) as refused:
        read()
    assert "refused a token for pceo/palsar (HTTP 401): check PC_SDK_SUBSCRIPTION_KEY" in str(refused.value)
    from planetary_computer.settings import Settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PC_SDK_SUBSCRIPTION_KEY", "the-key")
        Settings.get.cache_clear()
        assert np.array_equal(read(), first)
    Settings.get.cache_clear()
    assert "the-key" not in caplog.text and "sig=" not in caplog.text  # no secret in any log

    pc.control("require_key")
    pc.control("lifetime", seconds=-5)  # a token that arrives expired: a clock is wrong somewhere
    signing._tokens.clear()
    with pytest.raises(signing.SigningError, match="sent a token that has already expired"):
        read()


@pytest.mark.network
def test_planetary_computers_real_catalog_and_files(tmp_path):
    """Needs the internet: SAR_NETWORK_TESTS=1 .venv/bin/python -m pytest -m network tests/test_planetary_computer.py"""
    folder = tmp_path / "pc"
    folder.parent.chmod(0o755)
    bbox = ["25.30", "0.40", "25.50", "0.55"]
    result = run_cli(
        "realcube",
        "up",
        "--dir",
        str(folder),
        "--source",
        "planetary-computer",
        "--bbox",
        *bbox,
        "--years",
        "2020",
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    with RealCube(folder).datacube() as dc:
        ds = dc.load(product="alos_palsar_mosaic", measurements=["hv", "mask"], x=(25.3, 25.5), y=(0.4, 0.55))
    assert ds.sizes["time"] == 1 and int(ds.hv.max()) > 0


def test_the_forest_map_comes_too_and_notebook_05_measures_agreement_on_it(scratch, pc, tmp_path, monkeypatch):
    folder = scratch / "pc"
    for product in ("alos_palsar_mosaic", "alos_fnf_mosaic"):
        result = up(folder, pc, "--bbox", *FOREST_BBOX, "--years", "2015-2020", "--product", product)
        assert result.returncode == 0, result.stderr
    assert "6 items found, 6 indexed" in result.stdout
    monkeypatch.setenv("SAR_REALCUBE_DIR", str(folder))
    monkeypatch.delenv("ODC_CONFIG_PATH", raising=False)
    html = tmp_path / "forest05.html"
    notebook = str(REPO / "notebooks" / "05_forest_monitoring.ipynb")
    code = main(["report", notebook, "--cube", "real", "--time", "2015", "2020", "--quiet", "-o", str(html)])
    assert code == 0
    cells = json.loads(html.with_suffix(".ipynb").read_text())["cells"]
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
    printed = "".join("".join(o.get("text", "")) for o in outputs)
    tables = "".join("".join(o["data"]["text/plain"]) for o in outputs if "text/plain" in o.get("data", {}))
    assert "No jers_sar_mosaic data" in printed and "No alos_fnf_mosaic here" not in printed
    assert "forest recall" in tables and "reference: forest" in tables  # the agreement, measured on its map
    change = tmp_path / "change04.html"
    notebook = str(REPO / "notebooks" / "04_change_detection.ipynb")
    code = main(["report", notebook, "--cube", "real", "--change-years", "2015", "2020", "--quiet", "-o", str(change)])
    assert code == 0
    cells = json.loads(change.with_suffix(".ipynb").read_text())["cells"]
    printed = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    assert "No alos_fnf_mosaic map" not in printed  # its change is checked against the forest map too


def test_a_tile_from_two_sources_is_indexed_once(scratch, pc, cube, tmp_path):
    from helpers import realcube_up
    from stac_api import StacApi

    folder = scratch / "both"
    dea = StacApi(cube.data, tmp_path / "dea.jsonl")
    try:
        first = realcube_up(folder, dea, "--bbox", *TUTORIAL_BBOX, "--years", "2020-2021")
        assert first.returncode == 0, first.stderr
    finally:
        dea.stop()
    second = up(folder, pc, "--bbox", *TUTORIAL_BBOX, "--years", "2019-2021")
    assert second.returncode == 0, second.stderr
    assert "6 items found, 2 indexed, 0 already there, 4 already there from another source." in second.stdout
    status = run_cli("realcube", "status", "--dir", str(folder)).stdout
    assert "from deafrica: 4" in status and "from planetary-computer: 2" in status


@pytest.mark.parametrize(
    "args,message",
    [
        (["--product", "jers_sar_mosaic"], "Microsoft Planetary Computer has no jers_sar_mosaic"),
        (["--years", "2007"], "The catalog holds no alos_palsar_mosaic over"),
    ],
)
def test_bad_requests_end_in_one_sentence(scratch, pc, args, message):
    result = up(scratch / "pc", pc, "--bbox", *TUTORIAL_BBOX, *args)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_a_catalog_not_shaped_as_planetary_computers_is_named(scratch, pc, cube, tmp_path):
    """Digital Earth Africa's catalog has no collection alos-palsar-mosaic."""
    from stac_api import StacApi

    dea = StacApi(cube.data, tmp_path / "dea.jsonl")
    try:
        result = up(scratch / "pc", dea, "--bbox", *TUTORIAL_BBOX, "--years", "2020")
    finally:
        dea.stop()
    assert result.returncode != 0 and "Planetary Computer has ALOS-2 mosaics from 2015" in result.stderr
