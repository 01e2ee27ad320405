"""A STAC API on 127.0.0.1 that serves the test cube's mosaics as Digital Earth Africa's
catalog serves the real ones: items with their properties and s3:// asset hrefs, and the
COGs over HTTP with byte ranges (what GDAL's /vsicurl/ needs).

It runs in a process of its own (``python stac_api.py DATA_FOLDER LOG_FILE``): a server in
the test's own process would deadlock with GDAL, which keeps Python's lock while it reads
over HTTP. Besides the API it answers ``/page`` (an HTML page) and ``/static`` (a STAC
catalog without item search), for the tests of catalogs that are not STAC APIs, and
``/_delay?seconds=S``, which slows every file request from then on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from werkzeug import Request, Response
from werkzeug.serving import make_server
from werkzeug.utils import send_file

BUCKET = "deafrica-input-datasets"
ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"


def dea_item(doc: dict, base: str) -> dict:
    """The STAC item Digital Earth Africa's API gives for a test-cube dataset document."""
    props = doc["properties"]
    product = doc["product"]["name"]
    year = props["dtr:start_datetime"][:4]
    tile = props["odc:region_code"]
    ring = doc["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
        "id": doc["id"],
        "collection": product,
        "geometry": doc["geometry"],
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "properties": {
            "datetime": props["datetime"],
            "start_datetime": props["dtr:start_datetime"],
            "end_datetime": props["dtr:end_datetime"],
            "platform": props["eo:platform"],
            "instruments": [props["eo:instrument"]],
            "odc:product": product,
            "odc:region_code": tile,
            "cf": props["cf"],
            "launchdate": props["launchdate"],
            "proj:epsg": 4326,
            "proj:shape": doc["grids"]["default"]["shape"],
            "proj:transform": doc["grids"]["default"]["transform"],
        },
        "assets": {
            band: {
                "href": f"s3://{BUCKET}/{product}/{year}/{tile}/{m['path']}",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
            }
            for band, m in doc["measurements"].items()
        },
        "links": [{"rel": "self", "href": f"{base}/collections/{product}/items/{doc['id']}"}],
    }


def _overlaps(item: dict, bbox, interval) -> bool:
    west, south, east, north = item["bbox"]
    if bbox is not None and (bbox[0] > east or bbox[2] < west or bbox[1] > north or bbox[3] < south):
        return False
    if interval:
        first, _, last = interval.partition("/")
        props = item["properties"]
        if (last and last != ".." and props["start_datetime"] > last) or (
            first and first != ".." and props["end_datetime"] < first
        ):
            return False
    return True


class App:
    """The WSGI application: the API over ``data`` (a test cube's data folder)."""

    def __init__(self, data: Path, log: Path, root: str):
        self.data = data
        self.log = log
        self.catalog = f"{root}/stac"
        self.delay = 0.0
        docs = [yaml.safe_load(p.read_text()) for p in sorted(data.glob("*/*/*/*.odc-metadata.yaml"))]
        self.items = [dea_item(doc, self.catalog) for doc in docs]

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.log.open("a") as log:
            log.write(json.dumps({"path": request.path, "range": request.headers.get("Range")}) + "\n")
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        path = request.path
        if path == "/stac":
            return Response(json.dumps(self.landing_page()), content_type="application/json")
        if path == "/stac/search":
            return self.search(request)
        if path.startswith(f"/{BUCKET}/"):
            return self.file(request)
        if path == "/page":
            return Response("<html>hello</html>", content_type="text/html")
        if path == "/static":
            static = {
                "type": "Catalog",
                "stac_version": "1.0.0",
                "id": "static",
                "description": "no search",
                "links": [],
            }
            return Response(json.dumps(static), content_type="application/json")
        if path == "/_delay":
            self.delay = float(request.args["seconds"])
            return Response("ok")
        return Response("not found", status=404)

    def landing_page(self) -> dict:
        search = f"{self.catalog}/search"
        return {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": "local-test-api",
            "description": "The test cube's mosaics, as Digital Earth Africa's STAC API serves the real ones",
            "conformsTo": ["https://api.stacspec.org/v1.0.0/core", ITEM_SEARCH],
            "links": [
                {"rel": "self", "href": self.catalog, "type": "application/json"},
                {"rel": "root", "href": self.catalog, "type": "application/json"},
                {"rel": "search", "href": search, "type": "application/geo+json", "method": "GET"},
                {"rel": "search", "href": search, "type": "application/geo+json", "method": "POST"},
            ],
        }

    def search(self, request: Request) -> Response:
        if request.method == "POST":
            query = request.get_json()
        else:
            query = dict(request.args.items())
            for key in ("bbox", "collections"):
                if key in query:
                    query[key] = query[key].split(",")
        bbox = [float(v) for v in query["bbox"]] if query.get("bbox") else None
        collections = set(query.get("collections") or [])
        features = [
            item
            for item in self.items
            if (not collections or item["collection"] in collections) and _overlaps(item, bbox, query.get("datetime"))
        ]
        body = {"type": "FeatureCollection", "features": features, "links": []}
        return Response(json.dumps(body), content_type="application/geo+json")

    def file(self, request: Request) -> Response:
        """``/BUCKET/PRODUCT/YEAR/TILE/NAME`` from ``data/PRODUCT/TILE/YEAR/NAME``, with Range support."""
        product, year, tile, name = request.path.split("/")[2:6]
        path = self.data / product / tile / year / name
        if not path.is_file():
            return Response("not found", status=404)
        time.sleep(self.delay)
        return send_file(path, request.environ, conditional=True)


class StacApi:
    """The API over ``data`` in a process of its own, until ``stop()``; requests are logged in ``log``."""

    def __init__(self, data: Path, log: Path):
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(data), str(log)], stdout=subprocess.PIPE, text=True
        )
        root = self.process.stdout.readline().strip()
        if not root.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the test STAC API did not start (it said {root!r})")
        self.root = root
        self.catalog = f"{root}/stac"
        self.bucket_url = f"{root}/{BUCKET}/"

    @property
    def url_replace(self) -> str:
        """The --url-replace that sends the items' s3:// hrefs here."""
        return f"s3://{BUCKET}/={self.bucket_url}"

    def set_delay(self, seconds: float) -> None:
        import requests

        requests.get(f"{self.root}/_delay", params={"seconds": seconds}, timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _serve(data: Path, log: Path) -> None:
    log.touch()
    server = make_server("127.0.0.1", 0, None, threaded=True)
    server.app = App(data, log, f"http://127.0.0.1:{server.server_port}")
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), Path(sys.argv[2]))
