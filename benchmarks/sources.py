"""Indexing a real cube from each source, per item, against local stand-ins of the catalogs.

    .venv/bin/python benchmarks/sources.py

Each source's stand-in (tests/stac_api.py: Digital Earth Africa's STAC API, and Planetary
Computer's STAC API, token service and blob host) serves the test cube's mosaics on 127.0.0.1;
``sar-helpers realcube up`` indexes them into a throw-away cube. The first ``up`` (one year) also
creates the cube's PostgreSQL and is reported apart; the second indexes every other year of both
default areas, and its time per item is what indexing costs. Then one year of the tutorial's
area is loaded (hh, hv, mask, date): for Planetary Computer that includes fetching a token.
The test cube is built first if needed (``$SAR_TESTCUBE_DIR``, else ``.testcube``).
"""

from __future__ import annotations

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


def up(folder: Path, api, source: str, bbox: list[str], years: str) -> tuple[float, int]:
    """Seconds, and items indexed, of one ``realcube up``."""
    command = [sys.executable, "-m", "sar_helpers", "realcube", "up", "--dir", str(folder), "--quiet"]
    command += ["--source", source, "--catalog", api.catalog, "--bbox", *bbox, "--years", years]
    if source == "deafrica":
        command += ["--url-replace", api.url_replace]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    indexed = int(result.stdout.split(" indexed")[0].rsplit(" ", 1)[-1])
    return seconds, indexed


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
        first = up(folder, api, source, AREAS["tutorial"], "2018")
        rest = [up(folder, api, source, bbox, "2015-2017") for bbox in AREAS.values()]
        rest += [up(folder, api, source, bbox, "2019-2020") for bbox in AREAS.values()]
        seconds, items = sum(s for s, _ in rest), sum(n for _, n in rest)
        cube = RealCube(folder)
        start = time.perf_counter()
        with cube.datacube() as dc:
            dc.load(product="alos_palsar_mosaic", measurements=["hh", "hv", "mask", "date"], **QUERY)
        load = time.perf_counter() - start
    finally:
        api.stop()
    return {"first": first, "seconds": seconds, "items": items, "load": load}


def main() -> None:
    from sar_helpers.cubes.localcube.server import EmbeddedServer, server_folder
    from sar_helpers.cubes.testcube.cube import TestCube

    cube = TestCube(os.environ.get("SAR_TESTCUBE_DIR", REPO / ".testcube"))
    cube.up(progress=False)
    scratch = Path(tempfile.mkdtemp(prefix="sar-sources-bench-"))
    print(f"{'source':20} {'first up (one year, new cube)':>30} {'indexing per item':>18} {'load one year':>14}")
    try:
        for source in ("deafrica", "planetary-computer"):
            result = measure(source, cube.data, scratch)
            print(
                f"{source:20} {result['first'][0]:>28.2f} s {result['seconds'] / result['items']:>16.3f} s "
                f"{result['load']:>12.2f} s   ({result['items']} items in {result['seconds']:.1f} s)"
            )
    finally:
        for config in scratch.rglob("datacube.conf"):
            EmbeddedServer(server_folder(config.parent)).remove()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
