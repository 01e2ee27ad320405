"""Indexing a real cube from each source, per item, against local stand-ins of the catalogs.

    .venv/bin/python benchmarks/sources.py

Each source's stand-in (tests/stac_api.py: Digital Earth Africa's STAC API; Planetary Computer's
STAC API, token service and blob host; JAXA's archive of tarballs) serves the test cube's mosaics
on 127.0.0.1, and ``RealCube.up`` (what ``sar-helpers realcube up`` runs) indexes them into a
throw-away cube, in this process. The first ``up`` (one year) also creates the cube's PostgreSQL
and is reported apart; then every other year of both default areas is indexed, one ``up`` per
area, and the same ``up`` run again (finding everything indexed): the difference, per item, is
what indexing costs beyond searching. For JAXA an item is a tarball downloaded, converted and
indexed, set against downloading the same tarballs and nothing else. Then one year of the
tutorial's area is loaded (hh, hv, mask, date; for Planetary Computer with its token). The test
cube is built first if needed (``$SAR_TESTCUBE_DIR``, else ``.testcube``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

AREAS = {"tutorial": ["31.90", "30.37", "32.10", "30.55"], "forest": ["25.30", "0.40", "25.50", "0.55"]}
QUERY = {"x": (31.90, 32.10), "y": (30.37, 30.55), "time": "2018"}


def up(cube, api, source: str, bbox: list[str], years: list[int]) -> tuple[float, int]:
    """Seconds, and items indexed, of one ``RealCube.up`` in this process."""
    replace = None if source != "deafrica" else [tuple(api.url_replace.split("=", 1))]
    catalog = api.archive if source == "jaxa" else api.catalog
    start = time.perf_counter()
    done = cube.up(tuple(map(float, bbox)), years, catalog=catalog, url_replace=replace, source=source, progress=False)
    return time.perf_counter() - start, done["indexed"]


def measure(source: str, data: Path, scratch: Path) -> dict:
    from planetary_computer.settings import Settings

    from sar_helpers.cubes.realcube.cube import RealCube
    from sar_helpers.cubes.realcube.signing import BLOB_URL_ENV

    from stac_api import StacApi

    api = StacApi(data, scratch / f"{source}.jsonl", flavour=source)
    folder = scratch / source
    try:
        os.environ["PC_SDK_SAS_URL"], os.environ[BLOB_URL_ENV] = api.sas_url, api.blob_url
        Settings.get.cache_clear()
        cube = RealCube(folder)
        first = up(cube, api, source, AREAS["tutorial"], [2018])
        years = [2015, 2016, 2017, 2019, 2020]
        rest = [up(cube, api, source, bbox, years) for bbox in AREAS.values()]
        again = [up(cube, api, source, bbox, years) for bbox in AREAS.values()]
        items = sum(n for _, n in rest)
        seconds = sum(s for s, _ in rest) - sum(s for s, _ in again)  # what indexing adds to a run that finds them
        start = time.perf_counter()
        with cube.datacube() as dc:
            dc.load(product="alos_palsar_mosaic", measurements=["hh", "hv", "mask", "date"], **QUERY)
        load = time.perf_counter() - start
        plain = plain_downloads(api, AREAS.values(), years) if source == "jaxa" else None
    finally:
        api.stop()
    return {"first": first, "seconds": seconds, "items": items, "load": load, "again": again[0][0], "plain": plain}


def plain_downloads(api, boxes, years: list[int]) -> float:
    """Seconds per tarball of downloading the same tarballs and nothing else (requests, into memory)."""
    import requests

    from sar_helpers.cubes.grid import bbox_window, tiles_over
    from sar_helpers.cubes.realcube.jaxa import tarball_url
    from sar_helpers.products import get_product

    product = get_product("alos_palsar_mosaic")
    urls = [
        tarball_url(api.archive, product, tile, year)
        for bbox in boxes
        for tile, _ in tiles_over(bbox_window(*map(float, bbox)))
        for year in years
    ]
    start, fetched = time.perf_counter(), 0
    for url in urls:
        with requests.get(url, auth=(os.environ["JAXA_USERNAME"], os.environ["JAXA_PASSWORD"]), timeout=60) as got:
            fetched += got.status_code == 200
    return (time.perf_counter() - start) / max(fetched, 1)


def main() -> None:
    from sar_helpers.cubes.localcube.server import EmbeddedServer, server_folder
    from sar_helpers.cubes.testcube.cube import TestCube

    cube = TestCube(os.environ.get("SAR_TESTCUBE_DIR", REPO / ".testcube"))
    cube.up(progress=False)
    scratch = Path(tempfile.mkdtemp(prefix="sar-sources-bench-"))
    print(
        f"{'source':20} {'first up (one year, new cube)':>30} {'up that finds all indexed':>26} "
        f"{'indexing per item':>18} {'load one year':>14}"
    )
    try:
        os.environ["JAXA_USERNAME"], os.environ["JAXA_PASSWORD"] = "tester", "secret"  # the stand-in's account
        plain = None
        for source in ("deafrica", "planetary-computer", "jaxa"):
            result = child(source, cube.data, scratch)
            plain = result["plain"] or plain
            print(
                f"{source:20} {result['first'][0]:>28.2f} s {result['again']:>24.2f} s "
                f"{result['seconds'] / result['items']:>16.3f} s {result['load']:>12.2f} s   ({result['items']} items)"
            )
        print(f"jaxa: downloading a tarball and nothing else takes {plain:.3f} s (the same tarballs, same server)")
    finally:
        for config in scratch.rglob("datacube.conf"):
            EmbeddedServer(server_folder(config.parent)).remove()
        shutil.rmtree(scratch, ignore_errors=True)


def child(source: str, data: Path, scratch: Path) -> dict:
    """:func:`measure` in a process of its own (each source's cube meets a fresh datacube)."""
    command = [sys.executable, __file__, "--child", source, str(data), str(scratch)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) > 4 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        main()
