"""A catalog is untrusted input: `realcube up` against a hostile STAC API (tests/stac_api.py's
hostile modes, a real server on 127.0.0.1) writes nowhere but its own folder, indexes only
https, http and s3 addresses, follows no link off the catalog's host, keeps no file that is not
the GeoTIFF its item describes, and stops an endless or stalled catalog with one sentence."""

import time

import pytest

from sar_helpers.cubes.realcube.cube import RealCube

from helpers import TUTORIAL_BBOX, realcube_ids, realcube_up
from stac_api import NOT_A_GEOTIFF

#: One year over the tutorial area: two items (tiles N31E031 and N31E032).
ONE_YEAR = ["--bbox", *TUTORIAL_BBOX, "--years", "2022"]


def indexed_paths(folder) -> list[str]:
    with RealCube(folder).datacube() as dc:
        return [m["path"] for ds in dc.find_datasets(product="alos_palsar_mosaic") for m in ds.measurements.values()]


def last_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.mark.parametrize("climb", ["../../../../../../../..{planted}", "{planted}"])
def test_a_region_code_that_climbs_out_writes_nothing_there(scratch, api, tmp_path, climb):
    planted = tmp_path / "planted"
    api.set_hostile("region", climb.format(planted=planted))
    folder = scratch / "real"
    result = realcube_up(folder, api, *ONE_YEAR, "--download")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "gives odc:region_code" in result.stderr and "not a tile name like N31E031; refused." in result.stderr
    assert "2 items found, 1 indexed, 0 already there, 5 files downloaded, 1 refused." in result.stdout
    assert not planted.exists()
    assert all(p.is_relative_to(folder / "data") for p in folder.rglob("*.tif"))
    assert len(realcube_ids(folder)) == 1


@pytest.mark.parametrize("href", ["file:///etc/shadow", "../../etc/passwd", "/etc/passwd", "ftp://example.org/x.tif"])
def test_an_href_that_is_not_a_mosaics_address_is_refused(scratch, api, href):
    api.set_hostile("href", href)
    folder = scratch / "real"
    result = realcube_up(folder, api, *ONE_YEAR)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "which is not an https://, http:// or s3:// address; refused" in result.stderr
    assert "2 items found, 1 indexed, 0 already there, 1 refused." in result.stdout
    assert all(p.startswith(api.bucket_url) for p in indexed_paths(folder))


def test_an_href_that_climbs_inside_an_allowed_address_is_refused(scratch, api):
    api.set_hostile("href", f"{api.bucket_url}alos_palsar_mosaic/../../../etc/passwd.tif")
    result = realcube_up(scratch / "real", api, *ONE_YEAR)
    assert result.returncode == 1 and "whose path climbs out of its folder" in result.stderr


def test_a_redirect_to_another_port_is_not_followed(scratch, api):
    api.set_hostile("redirect")
    folder = scratch / "real"
    result = realcube_up(folder, api, *ONE_YEAR, "--download")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "which is not http://127.0.0.1:" in last_line(result) and "refused" in last_line(result)
    assert not [p for p in folder.rglob("*") if p.is_file() and p.read_bytes() == NOT_A_GEOTIFF]
    assert realcube_ids(folder) == []


def test_a_body_that_is_not_the_items_geotiff_is_deleted(scratch, api):
    api.set_hostile("body")
    folder = scratch / "real"
    result = realcube_up(folder, api, *ONE_YEAR, "--download")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "is not a one-band uint16 GeoTIFF of 1261 x 675 pixels on the item's grid; deleted" in last_line(result)
    assert not list(folder.rglob("*.tif*")) and realcube_ids(folder) == []


@pytest.mark.parametrize(
    "mode, options, message",
    [
        ("loop", [], "twice (page 2): its pages repeat."),
        ("endless", ["--max-pages", "5"], "sent more than 5 pages; stopped (raise --max-pages)."),
        ("endless", ["--max-items", "3"], "sent more than 3 items; stopped (raise --max-items)."),
        ("offsite", [], "which is not on http://127.0.0.1:"),
        ("json", [], "answered the search wrongly (its answer is not JSON: "),
    ],
)
def test_a_catalog_that_never_ends_or_misleads_is_stopped(scratch, api, mode, options, message):
    api.set_hostile(mode)
    folder = scratch / "real"
    result = realcube_up(folder, api, *ONE_YEAR, *options, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in last_line(result)
    searches = [r for r in api.requests() if r["path"] == "/stac/search"]
    assert len(searches) <= 6
    assert not folder.exists(), "a refused search touches nothing"


def test_a_catalog_that_drips_meets_the_deadline(scratch, api):
    api.set_hostile("drip", "0.5")  # a byte every half second: no read ever times out
    started = time.monotonic()
    result = realcube_up(scratch / "real", api, *ONE_YEAR, "--deadline", "3", timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "took longer than its deadline" in last_line(result)
    assert time.monotonic() - started < 30


def test_limits_must_be_positive(scratch, api):
    result = realcube_up(scratch / "real", api, *ONE_YEAR, "--deadline", "0")
    assert result.returncode == 1 and last_line(result) == "sar-helpers: --deadline must be more than 0, not 0.0."
