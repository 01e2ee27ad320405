"""What a catalog's item must be before any of it becomes a path, an address or an index entry.

Everything in an item is untrusted: its collection, its year and tile (which name folders), its
asset addresses (which GDAL or a download will open) and their file names (which name files).
An item that breaks a rule is refused with a sentence that names it and the rule.
"""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from sar_helpers.cubes.localcube.base import CubeError
from sar_helpers.products import Product

if TYPE_CHECKING:
    import pystac

#: JAXA's 1° tiles, by their north-west corner: N31E031, S05W060.
TILE_NAME = re.compile(r"[NS]\d{2}[EW]\d{3}")
#: A file name with no folder in it, as the mosaics' files are named.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.tiff?", re.IGNORECASE)
#: What a mosaic's address may be: files served over HTTP(S), or in an S3 bucket.
SCHEMES = ("https", "http", "s3")


class ItemError(CubeError):
    """An item that cannot be used as it is; the message names it and what is wrong."""


def _name(item_id: object) -> str:
    return repr(str(item_id)[:80])


def mosaic_year(item: "pystac.Item") -> int:
    """The year an item's mosaic stands for (its start_datetime, else its datetime)."""
    return _year(item.properties.get("start_datetime") or item.properties.get("datetime"), item.id)


def _year(stamp: object, item_id: object) -> int:
    if not re.match(r"\d{4}-", str(stamp or "")):
        raise ItemError(f"Item {_name(item_id)} has no start_datetime or datetime of the form YYYY-MM-DD; refused.")
    return int(str(stamp)[:4])


def _region_code(properties: dict, item_id: object) -> str | None:
    """The tile (``odc:region_code``), if there is one, named the way JAXA's tiles are."""
    code = properties.get("odc:region_code")
    if code is not None and not (isinstance(code, str) and TILE_NAME.fullmatch(code)):
        raise ItemError(
            f"Item {_name(item_id)} gives odc:region_code {str(code)[:80]!r}, which is not a tile name like "
            "N31E031; refused."
        )
    return code


def check_href(href: object, item_id: object, allowed_prefixes: tuple[str, ...] = ()) -> str:
    """``href`` if it is an absolute https, http or s3 address (or starts with one of the
    ``allowed_prefixes`` the user mapped addresses to), whose path does not climb (``..``) and
    ends in a file name; else an ItemError naming the item."""
    text = str(href)
    parts = urlsplit(text)
    mapped = any(text.startswith(prefix) for prefix in allowed_prefixes)
    if not mapped and (parts.scheme not in SCHEMES or not parts.netloc):
        raise ItemError(
            f"Item {_name(item_id)} points at {text[:120]!r}, which is not an https://, http:// or s3:// address; "
            "refused (map other prefixes you trust with --url-replace OLD=NEW)."
        )
    segments = unquote(parts.path).split("/")
    if ".." in segments or "\\" in unquote(parts.path) or not FILE_NAME.fullmatch(segments[-1]):
        raise ItemError(
            f"Item {_name(item_id)} points at {text[:120]!r}, whose path climbs out of its folder or does not end "
            "in a GeoTIFF's file name; refused."
        )
    return text


def file_name(href: str) -> str:
    """The file name at the end of a checked address."""
    name = PurePosixPath(unquote(urlsplit(href).path)).name
    if not FILE_NAME.fullmatch(name):
        raise ItemError(f"{href[:120]!r} does not end in a GeoTIFF's file name; refused.")
    return name


def check_item(item: "pystac.Item", product: Product, allowed_prefixes: tuple[str, ...] = ()) -> None:
    """Refuse an item that is not one of ``product``'s mosaics, as the rules above say."""
    if item.collection_id != product.name:
        raise ItemError(
            f"Item {_name(item.id)} belongs to collection {str(item.collection_id)[:80]!r}, not {product.name}; "
            "refused."
        )
    year = mosaic_year(item)
    if year not in product.years:
        raise ItemError(f"Item {_name(item.id)} is dated {year}, a year {product.name} has no mosaic for; refused.")
    _region_code(item.properties, item.id)
    bands = {band.lower() for band in product.bands}
    for key, asset in item.assets.items():
        if key.lower() in bands:
            check_href(asset.href, item.id, allowed_prefixes)


def check_dataset(doc: dict, uri: str | None, product: Product, allowed_prefixes: tuple[str, ...] = ()) -> None:
    """Refuse a converted dataset whose id, product, location or band addresses are not what we checked."""
    try:
        uuid.UUID(str(doc["id"]))
    except ValueError:
        raise ItemError(f"Dataset {_name(doc['id'])} has an id that is not a UUID; refused.") from None
    if doc["product"]["name"] != product.name:
        raise ItemError(f"Dataset {_name(doc['id'])} is not a dataset of {product.name}; refused.")
    if uri is not None and urlsplit(uri).scheme not in ("https", "http"):
        raise ItemError(f"Item {_name(doc['id'])} links to itself at {uri[:120]!r}, not an http(s) address; refused.")
    for measurement in doc["measurements"].values():
        check_href(measurement["path"], doc["id"], allowed_prefixes)


def dataset_folder(doc: dict) -> PurePosixPath:
    """``PRODUCT/YEAR/TILE`` for a checked dataset's downloaded files, as the bucket lays them out
    (its id stands in for a tile it does not name)."""
    props = doc["properties"]
    year = _year(props.get("dtr:start_datetime") or props.get("datetime"), doc["id"])
    tile = _region_code(props, doc["id"]) or str(uuid.UUID(str(doc["id"])))
    return PurePosixPath(doc["product"]["name"], f"{year:04d}", tile)
