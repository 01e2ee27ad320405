"""Finding the mosaics' items in a STAC API, and turning them into datacube datasets."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sar_helpers.cubes.localcube.base import CubeError

if TYPE_CHECKING:
    import pystac
    import pystac_client

#: Digital Earth Africa's STAC API.
DEFAULT_CATALOG = "https://explorer.digitalearth.africa/stac"
#: Digital Earth Africa's items point at their public bucket; the same files are served over
#: HTTPS, which GDAL reads without any AWS set-up.
DEFAULT_URL_REPLACE = (
    "s3://deafrica-input-datasets/",
    "https://deafrica-input-datasets.s3.af-south-1.amazonaws.com/",
)
_ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"


class CatalogError(CubeError):
    """The catalog could not be used; the message says why and what to do."""


@dataclass(frozen=True)
class Search:
    catalog: str
    product: str
    bbox: tuple[float, float, float, float]
    years: tuple[int, ...]

    def describe(self) -> str:
        west, south, east, north = self.bbox
        span = f"{self.years[0]}" if len(self.years) == 1 else f"{self.years[0]}-{self.years[-1]}"
        return f"{self.product} over {west} {south} {east} {north} in {span}"


#: Seconds to wait for the catalog to connect and to answer one request.
TIMEOUT = (10, 60)


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def _unreachable(err: BaseException) -> bool:
    """Did the request fail on the way (no connection, time-out), rather than with an answer?

    pystac-client turns such failures into an APIError raised from the requests error.
    """
    import requests

    return any(isinstance(e, requests.exceptions.RequestException) for e in (err, err.__context__))


def open_catalog(url: str) -> "pystac_client.Client":
    """The STAC API at ``url``, or a CatalogError saying what is wrong with it."""
    import pystac_client
    import requests

    try:
        client = pystac_client.Client.open(url, timeout=TIMEOUT)
    except (
        requests.exceptions.RequestException,
        pystac_client.exceptions.APIError,
        ValueError,
        KeyError,
        TypeError,
    ) as err:
        if _unreachable(err):
            raise CatalogError(
                f"Cannot reach the STAC catalog at {url} ({_reason(err.__context__ or err)}). Check the "
                "network connection and the address (--catalog)."
            ) from None
        raise CatalogError(
            f"{url} does not answer as a STAC API ({_reason(err)}). Give the address of a STAC API's "
            f"landing page with --catalog, e.g. {DEFAULT_CATALOG}."
        ) from None
    conforms = client.to_dict().get("conformsTo") or []
    if not any(c.rstrip("/").endswith("/item-search") for c in conforms):
        raise CatalogError(
            f"{url} is a STAC catalog but not a STAC API with item search (its conformsTo does not list "
            f"{_ITEM_SEARCH}). Give a STAC API's address with --catalog, e.g. {DEFAULT_CATALOG}."
        )
    return client


def search_items(search: Search, progress: bool = True) -> list:
    """Every item of the product over the area whose mosaic year is one of ``search.years``."""
    import pystac_client
    import requests
    from tqdm.auto import tqdm

    client = open_catalog(search.catalog)
    first, last = min(search.years), max(search.years)
    wanted = set(search.years)
    found = []
    try:
        results = client.search(
            collections=[search.product],
            bbox=list(search.bbox),
            datetime=f"{first}-01-01T00:00:00Z/{last}-12-31T23:59:59Z",
            limit=100,
        )
        with tqdm(desc="Searching the catalog", unit="item", disable=not progress) as bar:
            for item in results.items():
                bar.update()
                if mosaic_year(item) in wanted:
                    found.append(item)
    except (requests.exceptions.RequestException, pystac_client.exceptions.APIError) as err:
        if _unreachable(err):
            raise CatalogError(
                f"The STAC catalog at {search.catalog} stopped answering ({_reason(err.__context__ or err)}). "
                "Run the same command again; what was indexed stays."
            ) from None
        raise CatalogError(f"The STAC catalog at {search.catalog} refused the search ({_reason(err)}).") from None
    if not found:
        raise CatalogError(
            f"The catalog holds no {search.describe()}. Digital Earth Africa's mosaics cover Africa: check "
            "the box (WEST SOUTH EAST NORTH, degrees) and the years."
        )
    return sorted(found, key=lambda item: (mosaic_year(item), item.id))


def mosaic_year(item) -> int:
    """The year an item's mosaic stands for (its start_datetime, else its datetime)."""
    stamp = item.properties.get("start_datetime") or item.properties.get("datetime")
    return int(str(stamp)[:4])


def replace_hrefs(item: "pystac.Item", replacements: list[tuple[str, str]]) -> "pystac.Item":
    """A copy of ``item`` whose asset hrefs start with each ``(old, new)`` prefix rewritten."""
    item = item.clone()
    for asset in item.assets.values():
        for old, new in replacements:
            if asset.href.startswith(old):
                asset.href = new + asset.href[len(old) :]
    return item


def to_dataset_docs(items: list) -> Iterator[tuple[dict, str | None]]:
    """(eo3 document, uri) of each item, made by datacube's own STAC converter."""
    from datacube.metadata import stac2ds

    with warnings.catch_warnings():
        # The converter would guess band types from the items; the index's products decide them.
        warnings.simplefilter("ignore")
        for dataset in stac2ds(items, cfg={"*": {"warnings": "ignore"}}):
            yield dataset.metadata_doc, dataset.uri
