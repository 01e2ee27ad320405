"""Microsoft Planetary Computer, stood in on 127.0.0.1 with the test cube's mosaics: its STAC API
(items shaped as Planetary Computer's: ``{TILE}_{YY}_F02DAR_MOS`` ids, upper-case HH/HV asset keys,
no ``odc:region_code``, blob-storage hrefs, an XML metadata asset), its SAS token service
(``/api/sas/v1/token/ACCOUNT/CONTAINER``: tokens whose lifetime the test sets, counted), and its blob
host (``/blob/ACCOUNT/CONTAINER/PATH``, which refuses a missing, forged or expired token with 403).

The files are the test cube's, rewritten as Planetary Computer publishes them: from 2017 on, HH, HV,
linci and date declare no-data 1 (and hold 1 where the test cube holds 0). It runs in the process
``tests/stac_api.py`` starts (``StacApi(..., flavour="planetary-computer")``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import rasterio
import yaml
from werkzeug import Request, Response

from stac_api import App, bucket_file

ACCOUNT, CONTAINER = "pceo", "palsar"
BLOB = f"https://{ACCOUNT}.blob.core.windows.net/{CONTAINER}"
COLLECTIONS = {"alos_palsar_mosaic": "alos-palsar-mosaic", "alos_fnf_mosaic": "alos-fnf-mosaic"}
#: The years Planetary Computer serves of each.
YEARS = {"alos_palsar_mosaic": range(2015, 2022), "alos_fnf_mosaic": range(2015, 2021)}
ASSET_KEYS = {"hh": "HH", "hv": "HV", "fnf": "C"}
NODATA_ONE = ("hh", "hv", "linci", "date")
#: Pixels of every file from 2017 on that Planetary Computer's copy leaves without data (mask 0,
#: the other bands 1): inside the tutorial's area on tile N31E032, and inside the forested area.
GAP = (slice(300, 330), slice(100, 130))


def _republish(source: Path, target: Path, band: str, year: int) -> None:
    """A copy of one test-cube COG as Planetary Computer publishes it."""
    from sar_helpers.loading.cog import write_array

    target.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(source) as src:
        values, profile = src.read(1), src.profile
    nodata = profile["nodata"]
    if year >= 2017 and band in (*NODATA_ONE, "mask"):
        nodata = 0 if band == "mask" else 1
        values = np.where(values == 0, nodata, values).astype(values.dtype)
        values[GAP] = nodata
    write_array(target, values, profile["transform"], profile["crs"], nodata)


def pc_item(doc: dict, base: str, files: Path, data: Path) -> dict | None:
    """Planetary Computer's item for a test-cube dataset (None for years it does not serve), its files republished."""
    props, product = doc["properties"], doc["product"]["name"]
    year, tile = int(props["dtr:start_datetime"][:4]), props["odc:region_code"]
    if product not in COLLECTIONS or year not in YEARS[product]:
        return None
    folder = f"{product}/{year}/{tile}"
    assets = {}
    for band, measurement in doc["measurements"].items():
        name = measurement["path"]
        _republish(data / product / tile / str(year) / name, files / folder / name, band, year)
        assets[ASSET_KEYS.get(band, band)] = {
            "href": f"{BLOB}/{folder}/{name}",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"],
        }
    assets["metadata"] = {"href": f"{BLOB}/{folder}/{tile}_{year % 100:02d}.xml", "type": "application/xml"}
    ring = doc["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    suffix = "FNF" if product == "alos_fnf_mosaic" else "F02DAR_MOS"
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": f"{tile}_{year % 100:02d}_{suffix}",
        "collection": COLLECTIONS[product],
        "geometry": doc["geometry"],
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "properties": {
            "datetime": None,
            "start_datetime": f"{year}-01-01T00:00:00Z",
            "end_datetime": f"{year}-12-31T23:59:59Z",
            "platform": "ALOS-2",
            "instruments": ["PALSAR-2"],
            "proj:epsg": 4326,
            "proj:shape": doc["grids"]["default"]["shape"],
            "proj:transform": doc["grids"]["default"]["transform"],
            "sar:instrument_mode": "F",
        },
        "assets": assets,
        "links": [{"rel": "self", "href": f"{base}/collections/{COLLECTIONS[product]}/items/{tile}"}],
    }


class PlanetaryApp(App):
    """The STAC API, token service and blob host over ``data`` (a test cube's data folder)."""

    def __init__(self, data: Path, log: Path, root: str, elsewhere: str):
        super().__init__(data, log, root, elsewhere)
        self.files = log.parent / "planetary-computer-files"
        self.secret = secrets.token_bytes(16)
        self.lifetime = 2700.0
        self.required_key: str | None = None
        self.issued = 0
        docs = [yaml.safe_load(p.read_text()) for p in sorted(data.glob("*/*/*/*.odc-metadata.yaml"))]
        self.items = [i for i in (pc_item(doc, self.catalog, self.files, data) for doc in docs) if i is not None]

    def respond(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/api/sas/v1/token/"):
            return self.token(request)
        if path.startswith("/blob/"):
            return self.blob(request)
        if path == "/_lifetime":
            self.lifetime = float(request.args["seconds"])
            return Response("ok")
        if path == "/_require_key":
            self.required_key = request.args.get("key") or None
            return Response("ok")
        if path == "/_issued":
            return Response(str(self.issued))
        return super().respond(request)

    def _signature(self, expiry: str) -> str:
        return hmac.new(self.secret, expiry.encode(), hashlib.sha256).hexdigest()

    def token(self, request: Request) -> Response:
        if self.required_key is not None and request.headers.get("Ocp-Apim-Subscription-Key") != self.required_key:
            return Response(json.dumps({"message": "Access denied"}), status=401, content_type="application/json")
        expiry = time.time() + self.lifetime
        self.issued += 1
        stamp = datetime.fromtimestamp(expiry, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        token = f"se={expiry:.3f}&sp=rl&sig={self._signature(f'{expiry:.3f}')}"
        return Response(json.dumps({"msft:expiry": stamp, "token": token}), content_type="application/json")

    def blob(self, request: Request) -> Response:
        expiry, signature = request.args.get("se", ""), request.args.get("sig", "")
        valid = expiry and hmac.compare_digest(signature, self._signature(expiry))
        if not valid or float(expiry) < time.time():
            return Response("AuthenticationFailed: the SAS token is missing, forged or expired", status=403)
        account, container, rest = request.path.split("/", 4)[2:5]
        path = self.files / rest
        if (account, container) != (ACCOUNT, CONTAINER) or ".." in rest.split("/") or not path.is_file():
            return Response("BlobNotFound", status=404)
        time.sleep(self.delay)
        return bucket_file(path, request.environ)
