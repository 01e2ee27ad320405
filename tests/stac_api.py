"""A STAC API on 127.0.0.1 that serves the test cube's mosaics as Digital Earth Africa's
catalog serves the real ones: items with their properties and s3:// asset hrefs, and the
COGs over HTTP with byte ranges (what GDAL's /vsicurl/ needs).

It runs in a process of its own (``python stac_api.py DATA_FOLDER LOG_FILE``): a server in
the test's own process would deadlock with GDAL, which keeps Python's lock while it reads
over HTTP. Besides the API it answers ``/page`` (an HTML page) and ``/static`` (a STAC
catalog without item search), for the tests of catalogs that are not STAC APIs,
``/_delay?seconds=S``, which makes every file request wait S seconds before its answer (the
latency of a far-away bucket), ``/_bandwidth?bytes_per_second=B``, which sends every file answer
at most at B bytes a second (0: no limit), ``/_stats``, the file requests and bytes sent since
``/_reset`` (per file too, and the most requests waiting at once), and ``/_hostile?mode=M&value=V``, which turns it into a hostile
catalog (see ``HOSTILE``). It answers many requests at once, as a bucket does.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from werkzeug import Request, Response
from werkzeug.serving import make_server
from werkzeug.utils import send_file

BUCKET = "deafrica-input-datasets"
#: What a hostile catalog can do, as the tests ask for it:
#: region / href: the first item's odc:region_code / hh asset href becomes ``value``;
#: redirect: every file request is redirected to another port, which answers 15 bytes;
#: body: every file request answers 15 bytes that are no GeoTIFF;
#: loop: every search page links to itself as the next page;
#: endless: every search page brings one new item and links to a new next page;
#: offsite: the next page is on another host;
#: drip: the search answer comes one byte every ``value`` seconds;
#: json: the search answers text that is not JSON;
#: unavailable: a file's first ``value`` requests for blocks (ranges past its header) answer 503, or
#: every one with ``value`` "always";
#: truncated: every request for blocks sends half of what its headers promise, then closes.
HOSTILE = (
    "region",
    "href",
    "redirect",
    "body",
    "loop",
    "endless",
    "offsite",
    "drip",
    "json",
    "unavailable",
    "truncated",
)
NOT_A_GEOTIFF = b"not a geotiff!\n"
ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"


DEA_COLLECTIONS = ("alos_palsar_mosaic", "jers_sar_mosaic")


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


def _drip(text: str, seconds: float):
    for character in text:
        time.sleep(seconds)
        yield character.encode()


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


def bucket_file(path: Path, environ) -> Response:
    """A file as a bucket answers it: byte ranges, and no ``Cache-Control`` (a bucket sends none unless an
    object sets it; werkzeug's ``no-cache`` would make GDAL ask for the file's size twice)."""
    answer = send_file(path, environ, conditional=True)
    del answer.headers["Cache-Control"]
    return answer


class App:
    """The WSGI application: the API over ``data`` (a test cube's data folder)."""

    def __init__(self, data: Path, log: Path, root: str, elsewhere: str):
        self.data = data
        self.log = log
        self.root = root
        self.elsewhere = elsewhere
        self.catalog = f"{root}/stac"
        self.delay = 0.0
        self.bandwidth = 0.0
        self.stats: dict[str, list[int]] = {}  # file path -> [requests, bytes]
        self.waiting = self.most_waiting = 0  # file requests in their latency now, and the most at once
        self.stats_lock = threading.Lock()
        self.hostile: tuple[str, str] | None = None
        self.refused: dict[str, int] = {}  # file path -> block requests answered 503 so far
        docs = [yaml.safe_load(p.read_text()) for p in sorted(data.glob("*/*/*/*.odc-metadata.yaml"))]
        # Digital Earth Africa serves the backscatter mosaics, not the forest/non-forest map.
        served = [doc for doc in docs if doc["product"]["name"] in DEA_COLLECTIONS]
        self.items = [dea_item(doc, self.catalog) for doc in served]

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.log.open("a") as log:
            log.write(
                json.dumps({"method": request.method, "path": request.path, "range": request.headers.get("Range")})
                + "\n"
            )
        response = self.respond(request)
        if request.path.endswith((".tif", ".tar.gz")):
            return self._metered(request.path, response(environ, start_response))
        return response(environ, start_response)

    def _metered(self, path: str, body):
        """The answer's bytes, counted, and paced to the bandwidth limit."""
        with self.stats_lock:
            self.stats.setdefault(path, [0, 0])[0] += 1
        start, sent = time.monotonic(), 0
        try:
            for piece in body:
                for offset in range(0, len(piece), 1 << 16):
                    part = piece[offset : offset + (1 << 16)]
                    sent += len(part)
                    if self.bandwidth:
                        time.sleep(max(0.0, start + sent / self.bandwidth - time.monotonic()))
                    yield part
        finally:
            with self.stats_lock:
                self.stats[path][1] += sent
            if hasattr(body, "close"):
                body.close()

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
        if path == "/_bandwidth":
            self.bandwidth = float(request.args["bytes_per_second"])
            return Response("ok")
        if path == "/_stats":
            with self.stats_lock:
                files = {k: {"requests": v[0], "bytes": v[1]} for k, v in self.stats.items()}
                answer = {"files": files, "most_at_once": self.most_waiting}
            return Response(json.dumps(answer), content_type="application/json")
        if path == "/_reset":
            with self.stats_lock:
                self.stats.clear()
                self.most_waiting = self.waiting
            return Response("ok")
        if path == "/_hostile":
            mode = request.args["mode"]
            self.hostile = None if mode == "none" else (mode, request.args.get("value", ""))
            self.refused.clear()
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
        mode, value = self.hostile or ("", "")
        if mode in ("region", "href") and features:
            first = json.loads(json.dumps(features[0]))
            if mode == "region":
                first["properties"]["odc:region_code"] = value
            else:
                first["assets"]["hh"]["href"] = value
            features = [first, *features[1:]]
        body = {"type": "FeatureCollection", "features": features, "links": []}
        search = f"{self.catalog}/search"
        if mode == "loop":
            body["links"] = [{"rel": "next", "href": search, "method": "POST", "body": query}]
        elif mode == "offsite":
            body["links"] = [{"rel": "next", "href": f"{self.elsewhere}/stac/search", "method": "POST", "body": query}]
        elif mode == "endless":
            token = int(query.get("token", 0))
            clone = json.loads(json.dumps(features[0]))
            clone["id"] = f"{clone['id'][:-12]}{token:012d}"
            body["features"] = [clone]
            body["links"] = [{"rel": "next", "href": search, "method": "POST", "body": {**query, "token": token + 1}}]
        text = json.dumps(body)
        if mode == "json":
            text = text[: len(text) // 2]
        if mode == "drip":
            return Response(_drip(text, float(value)), content_type="application/geo+json")
        return Response(text, content_type="application/geo+json")

    def file(self, request: Request) -> Response:
        """``/BUCKET/PRODUCT/YEAR/TILE/NAME`` from ``data/PRODUCT/TILE/YEAR/NAME``, with Range support."""
        with self.stats_lock:
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
        time.sleep(self.delay)  # every request to the bucket waits, a miss too
        with self.stats_lock:
            self.waiting -= 1
        parts = request.path.split("/")[2:6]
        if len(parts) < 4:
            return Response("not found", status=404)
        product, year, tile, name = parts
        path = self.data / product / tile / year / name
        if not path.is_file():
            return Response("not found", status=404)
        mode = (self.hostile or ("", ""))[0]
        if mode == "redirect":
            return Response("", status=302, headers={"Location": f"{self.elsewhere}/{BUCKET}/{name}"})
        if mode == "body":
            return Response(NOT_A_GEOTIFF, content_type="image/tiff")
        blocks = request.range is not None and request.range.ranges[0][0] > 0  # past the header
        if mode == "unavailable" and blocks:
            value = self.hostile[1] if self.hostile else ""
            with self.stats_lock:
                refused = self.refused.get(request.path, 0)
                if value == "always" or refused < int(value or 1):
                    self.refused[request.path] = refused + 1
                    return Response("SlowDown", status=503)
        answer = bucket_file(path, request.environ)
        if mode == "truncated" and blocks:
            promised = answer.content_length or 0
            answer.response = [b"".join(answer.iter_encoded())[: promised // 2]]
            answer.headers["Content-Length"] = str(promised)
        return answer


class StacApi:
    """The API over ``data`` in a process of its own, until ``stop()``; requests are logged in ``log``."""

    def __init__(self, data: Path, log: Path, flavour: str = "deafrica"):
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(data), str(log), flavour], stdout=subprocess.PIPE, text=True
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

    def set_bandwidth(self, bytes_per_second: float) -> None:
        import requests

        requests.get(
            f"{self.root}/_bandwidth", params={"bytes_per_second": bytes_per_second}, timeout=10
        ).raise_for_status()

    def stats(self, reset: bool = False) -> dict:
        """``{"requests": N, "bytes": B, "files": {path: {"requests", "bytes"}}, "most_at_once": M}`` since the
        last reset (M: the most file requests waiting out their latency at the same time)."""
        import requests

        answer = requests.get(f"{self.root}/_stats", timeout=10).json()
        if reset:
            requests.get(f"{self.root}/_reset", timeout=10).raise_for_status()
        files = answer["files"]
        total = {key: sum(f[key] for f in files.values()) for key in ("requests", "bytes")}
        return {**total, "files": files, "most_at_once": answer["most_at_once"]}

    def set_hostile(self, mode: str, value: str = "") -> None:
        """Turn the catalog hostile (a mode of ``HOSTILE``), or back with ``"none"``."""
        import requests

        requests.get(f"{self.root}/_hostile", params={"mode": mode, "value": value}, timeout=10).raise_for_status()

    @property
    def archive(self) -> str:
        """JAXA's stand-in archive (--catalog with --source jaxa)."""
        return f"{self.root}/jaxa"

    @property
    def sas_url(self) -> str:
        """Planetary Computer's stand-in token service (PC_SDK_SAS_URL)."""
        return f"{self.root}/api/sas/v1/token"

    @property
    def blob_url(self) -> str:
        """Planetary Computer's stand-in blob host (SAR_PC_BLOB_URL)."""
        return f"{self.root}/blob"

    def control(self, what: str, **params) -> str:
        """Ask the Planetary Computer stand-in: ``lifetime`` (seconds=), ``require_key`` (key=), ``issued``."""
        import requests

        answer = requests.get(f"{self.root}/_{what}", params=params, timeout=10)
        answer.raise_for_status()
        return answer.text

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _serve(data: Path, log: Path, flavour: str) -> None:
    """The API (Digital Earth Africa's, or Planetary Computer's with ``flavour`` planetary-computer),
    and on another port a server where hostile redirects lead, which answers 15 bytes."""
    log.touch()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # every request is in ``log``: not on stderr too
    elsewhere = make_server("127.0.0.1", 0, lambda environ, respond: Response(NOT_A_GEOTIFF)(environ, respond))
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    server = make_server("127.0.0.1", 0, None, threaded=True)
    root = f"http://127.0.0.1:{server.server_port}"
    app = App
    if flavour == "planetary-computer":
        from planetary_api import PlanetaryApp

        app = PlanetaryApp
    elif flavour == "jaxa":
        from jaxa_archive import JaxaApp

        app = JaxaApp
    server.app = app(data, log, root, f"http://127.0.0.1:{elsewhere.server_port}")
    print(root, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "deafrica")
