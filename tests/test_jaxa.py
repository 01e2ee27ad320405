"""`sar-helpers realcube up --source jaxa`: JAXA's tarballs downloaded (resumably), read as untrusted
input, converted to COGs laid out as the other sources' files, and indexed; tested offline against a
stand-in of JAXA's archive (tests/jaxa_archive.py) holding the test cube's files."""

import json
import subprocess

import numpy as np
import pytest
import requests

from sar_helpers.cubes.localcube.server import EmbeddedServer, server_folder
from sar_helpers.cubes.realcube.cube import RealCube
from sar_helpers.tools.cli import main

from helpers import REPO, TUTORIAL_BBOX, TUTORIAL_QUERY, run_cli

pytestmark = pytest.mark.cube


@pytest.fixture
def archive(cube, tmp_path, monkeypatch):
    from jaxa_archive import PASSWORD, USER

    from stac_api import StacApi

    api = StacApi(cube.data, tmp_path / "jaxa-requests.jsonl", flavour="jaxa")
    monkeypatch.setenv("JAXA_USERNAME", USER)
    monkeypatch.setenv("JAXA_PASSWORD", PASSWORD)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc of the machine's
    yield api
    api.stop()


def up(folder, api, *args):
    return run_cli(
        "realcube", "up", "--dir", str(folder), "--source", "jaxa", "--catalog", api.archive, "--quiet", *args
    )


def test_tarballs_become_the_same_files_and_datasets(scratch, archive, cube):
    folder = scratch / "jaxa"
    result = up(folder, archive, "--bbox", *TUTORIAL_BBOX, "--years", "2008", "2017")
    assert result.returncode == 0, result.stderr
    assert "4 items found, 4 indexed, 0 already there, 4 tarballs downloaded and converted." in result.stdout
    files = sorted(p.relative_to(folder / "data").as_posix() for p in (folder / "data").rglob("*.tif"))
    assert "alos_palsar_mosaic/2017/N31E032/N31E032_17_sl_HH_F02DAR.tif" in files and len(files) == 20
    assert not list(folder.rglob("escape*")) and not list(
        (folder / "downloads").iterdir()
    )  # nothing else taken, nothing left
    again = up(folder, archive, "--bbox", *TUTORIAL_BBOX, "--years", "2008", "2017")
    assert "4 items found, 0 indexed, 4 already there" in again.stdout
    with RealCube(folder).datacube() as dc:
        eager = dc.load(product="alos_palsar_mosaic", measurements=["hh", "hv", "mask", "date"], **TUTORIAL_QUERY)
        lazy = dc.load(
            product="alos_palsar_mosaic",
            measurements=["hh", "hv", "mask", "date"],
            dask_chunks={"time": 1, "latitude": 400, "longitude": 400},
            **TUTORIAL_QUERY,
        )
    with cube.datacube() as local_dc:
        local = local_dc.load(
            product="alos_palsar_mosaic",
            measurements=["hh", "hv", "mask", "date"],
            time=["2008", "2017"],
            like=eager.odc.geobox,
        ).sel(time=eager.time.values)
    for band in ("hh", "hv", "mask", "date"):
        assert np.array_equal(eager[band].values, local[band].values), band
        assert np.array_equal(lazy[band].values, local[band].values), band
    status = run_cli("realcube", "status", "--dir", str(folder)).stdout
    assert "from jaxa: 4" in status


def test_a_download_cut_short_is_resumed_and_a_truncated_tarball_refused(scratch, archive):
    folder = scratch / "jaxa"
    assert up(folder, archive, "--bbox", *TUTORIAL_BBOX, "--years", "2017").returncode == 0
    name = "N31E032_18_MOS_F02DAR.tar.gz"
    url = f"{archive.archive}/2018/dir_gz/2018/N35E030/{name}"
    sent = requests.get(
        url, auth=("tester", "secret"), headers={"Accept-Encoding": "identity"}, stream=True, timeout=30
    )
    whole = sent.raw.read(decode_content=False)  # the .tar.gz as it is, not un-gzipped
    (folder / "downloads" / f"{name}.partial").write_bytes(whole[: len(whole) // 2])  # as a broken transfer leaves it
    archive.control("truncate", on="1")
    broken = up(folder, archive, "--bbox", *TUTORIAL_BBOX, "--years", "2016")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert "is truncated or not a tarball (" in broken.stderr and "deleted; run the same command again" in broken.stderr
    archive.control("truncate", on="0")
    resumed = up(folder, archive, "--bbox", *TUTORIAL_BBOX, "--years", "2016", "2018")
    assert resumed.returncode == 0, resumed.stderr
    assert "4 items found, 4 indexed" in resumed.stdout
    ranges = [r["range"] for r in archive.requests() if r["path"].endswith(name) and r["range"]]
    assert ranges == [f"bytes={len(whole) // 2}-"]  # the second half only


@pytest.mark.parametrize(
    "change, args, message",
    [
        ({"JAXA_PASSWORD": "wrong"}, [], "JAXA's archive refused the account (HTTP 401): check JAXA_USERNAME"),
        ({"JAXA_USERNAME": None}, [], "JAXA's archive needs a free account"),
        ({}, ["--years", "2022"], "JAXA has not published the 2022 mosaics (alos_palsar_mosaic)"),
        ({}, ["--bbox", "10", "5", "10.1", "5.1"], "JAXA has no alos_palsar_mosaic tile over 10.0 5.0 10.1 5.1"),
    ],
)
def test_bad_requests_end_in_one_sentence(scratch, archive, monkeypatch, change, args, message):
    for name, value in change.items():
        monkeypatch.delenv(name) if value is None else monkeypatch.setenv(name, value)
    result = up(scratch / "jaxa", archive, "--bbox", *TUTORIAL_BBOX, "--years", "2017", *args)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    assert "secret" not in result.stderr + result.stdout and "wrong" not in result.stderr


def test_the_account_can_come_from_netrc_and_ocean_tiles_are_named(scratch, archive, monkeypatch, tmp_path):
    monkeypatch.delenv("JAXA_USERNAME")
    monkeypatch.delenv("JAXA_PASSWORD")
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login tester password secret\n")
    netrc.chmod(0o600)
    result = up(
        scratch / "jaxa",
        archive,
        "--bbox",
        "30.95",
        "30.40",
        "31.05",
        "30.50",
        "--years",
        "1996",
        "--product",
        "jers_sar_mosaic",
    )
    assert "JAXA has no jers_sar_mosaic tile N31E030 for 1996 (ocean, or outside the mosaic)." in result.stderr
    assert result.returncode == 1 and "1 items found, 1 indexed" in result.stdout


def test_a_full_disk_while_converting_ends_in_one_sentence_and_the_next_up_finishes(scratch, archive):
    small = scratch / "small"
    small.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(small)], check=True)
    try:
        full = up(small / "jaxa", archive, "--bbox", *TUTORIAL_BBOX, "--years", "2017", "2018")
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        assert "The disk is full" in full.stderr and "run the same command again" in full.stderr
        with RealCube(small / "jaxa").datacube() as dc:
            indexed = dc.find_datasets(product="alos_palsar_mosaic")
        for dataset in indexed:  # whatever was indexed is whole
            assert all((small / "jaxa").joinpath("data").rglob(m["path"]) for m in dataset.measurements.values())
        subprocess.run(["mount", "-o", "remount,size=64m,mode=0700", str(small)], check=True)
        finished = up(small / "jaxa", archive, "--bbox", *TUTORIAL_BBOX, "--years", "2017", "2018")
        assert finished.returncode == 0, finished.stderr
        with RealCube(small / "jaxa").datacube() as dc:
            assert len(dc.find_datasets(product="alos_palsar_mosaic")) == 4
    finally:
        EmbeddedServer(server_folder(small / "jaxa")).remove()
        subprocess.run(["umount", str(small)], check=True)


def test_a_report_runs_on_a_cube_from_jaxa(scratch, archive, monkeypatch, tmp_path):
    folder = scratch / "jaxa"
    assert (
        up(folder, archive, "--bbox", *TUTORIAL_BBOX, "--years", "1996", "--product", "jers_sar_mosaic").returncode == 0
    )
    assert (
        up(folder, archive, "--bbox", *TUTORIAL_BBOX, "--years", "2007").returncode == 0
    )  # the lesson compares with ALOS
    monkeypatch.setenv("SAR_REALCUBE_DIR", str(folder))
    monkeypatch.delenv("ODC_CONFIG_PATH", raising=False)
    html = tmp_path / "jers.html"
    assert (
        main(
            [
                "report",
                str(REPO / "notebooks" / "02_JERS_annual_mosaic.ipynb"),
                "--cube",
                "real",
                "--quiet",
                "-o",
                str(html),
            ]
        )
        == 0
    )
    cells = json.loads(html.with_suffix(".ipynb").read_text())["cells"]
    printed = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])
    assert (
        "{'time': 1, 'latitude': 810, 'longitude': 900}" in printed
    )  # Digital Earth Africa's definitions, as every real cube


@pytest.mark.network
def test_jaxas_real_archive(tmp_path):
    """Needs the internet and a JAXA account in JAXA_USERNAME / JAXA_PASSWORD (or ~/.netrc):
    SAR_NETWORK_TESTS=1 .venv/bin/python -m pytest -m network tests/test_jaxa.py"""
    import os

    if not os.environ.get("JAXA_USERNAME"):
        pytest.skip("no JAXA account in JAXA_USERNAME / JAXA_PASSWORD")
    folder = tmp_path / "jaxa"
    folder.parent.chmod(0o755)
    args = ["--source", "jaxa", "--bbox", "25.30", "0.40", "25.50", "0.55", "--years", "2010"]
    result = run_cli("realcube", "up", "--dir", str(folder), *args, timeout=3600)
    assert result.returncode == 0, result.stderr
    with RealCube(folder).datacube() as dc:
        ds = dc.load(product="alos_palsar_mosaic", measurements=["hv"], x=(25.3, 25.5), y=(0.4, 0.55))
    assert ds.sizes["time"] == 1 and int(ds.hv.max()) > 0


def test_an_account_never_shows_its_password():
    from sar_helpers.cubes.realcube.jaxa import Account

    assert "hunter2" not in repr(Account("tester", "hunter2")) + str(Account("tester", "hunter2"))
