"""Finding the mosaics' items in a STAC API, and turning them into datacube datasets."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sar_helpers.cubes.localcube.base import CubeError

from .items import ItemError, mosaic_year
from .limits import Limits
from .sources import DEAFRICA
from .transfer import TransferError, origin, session

if TYPE_CHECKING:
    import pystac
    import pystac_client

#: The catalog the messages give as an example of a STAC API.
DEFAULT_CATALOG = DEAFRICA.catalog
_ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"


class CatalogError(CubeError):
    """The catalog could not be used; the message says why and what to do."""


@dataclass(frozen=True)
class Search:
    catalog: str
    product: str
    bbox: tuple[float, float, float, float]
    years: tuple[int, ...]
    #: The catalog's name for the product, and where its source has mosaics (for "none found").
    collection: str
    coverage: str

    def describe(self) -> str:
        west, south, east, north = self.bbox
        span = f"{self.years[0]}" if len(self.years) == 1 else f"{self.years[0]}-{self.years[-1]}"
        return f"{self.product} over {west} {south} {east} {north} in {span}"


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def _unreachable(err: BaseException) -> bool:
    """Did the request fail on the way (no connection, time-out), rather than with an answer?

    pystac-client turns such failures into an APIError raised from the requests error.
    """
    import requests

    return any(isinstance(e, requests.exceptions.RequestException) for e in (err, err.__context__))


def _stac_io(url: str, limits: Limits, deadline: float):
    """pystac-client's IO, held to the catalog's own address (no local files, no other hosts),
    the limits' timeouts, the search's deadline and a size cap on every page."""
    import pystac
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    allowed = origin(url)
    what = f"The STAC catalog at {url}"

    class CatalogIO(StacApiIO):
        def read_text(self, source, *args, **kwargs):
            href = source.get_absolute_href() if isinstance(source, pystac.Link) else str(source)
            if origin(str(href)) != allowed:
                raise TransferError(
                    f"{what} links to {str(href)[:120]!r}, which is not on {allowed}: refused (we follow a catalog's "
                    "links only to its own address)."
                )
            return super().read_text(source, *args, **kwargs)

        def request(self, *args, **kwargs):
            try:
                return super().request(*args, **kwargs)
            except APIError as err:
                if isinstance(err.__context__, TransferError):
                    raise err.__context__ from None
                raise

        def read_json(self, source, *args, **kwargs):
            text = self.read_text(source, *args, **kwargs)
            try:
                page = json.loads(text)
            except ValueError as err:
                raise ValueError(f"its answer is not JSON: {err}") from None
            if not isinstance(page, dict):
                raise ValueError("its answer is JSON but not a STAC object")
            return page

    io = CatalogIO(timeout=limits.request_timeout)
    io.session = session({allowed}, deadline, limits.max_page_bytes, what)
    return io


def open_catalog(url: str, limits: Limits | None = None, deadline: float | None = None) -> "pystac_client.Client":
    """The STAC API at ``url``, or a CatalogError saying what is wrong with it."""
    import pystac_client
    import requests

    limits = limits or Limits()
    if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).netloc:
        raise CatalogError(f"--catalog takes a STAC API's http(s) address, e.g. {DEFAULT_CATALOG}, not {url!r}.")
    io = _stac_io(url, limits, deadline if deadline is not None else time.monotonic() + limits.deadline)
    try:
        client = pystac_client.Client.open(url, stac_io=io)
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
    if not any(str(c).rstrip("/").endswith("/item-search") for c in conforms):
        raise CatalogError(
            f"{url} is a STAC catalog but not a STAC API with item search (its conformsTo does not list "
            f"{_ITEM_SEARCH}). Give a STAC API's address with --catalog, e.g. {DEFAULT_CATALOG}."
        )
    return client


def search_items(search: Search, progress: bool = True, limits: Limits | None = None) -> list:
    """Every item of the product over the area whose mosaic year is one of ``search.years``.

    The catalog's pages are read within ``limits``: a page that links back to one already read,
    an item sent twice, or more pages or items than the limits allow end the search with a
    CatalogError, as does a search that outlasts its deadline.
    """
    import pystac_client
    import requests
    from tqdm.auto import tqdm

    limits = limits or Limits()
    client = open_catalog(search.catalog, limits, time.monotonic() + limits.deadline)
    first, last = min(search.years), max(search.years)
    try:
        results = client.search(
            collections=[search.collection],
            bbox=list(search.bbox),
            datetime=f"{first}-01-01T00:00:00Z/{last}-12-31T23:59:59Z",
            limit=100,
        )
        with tqdm(desc="Searching the catalog", unit="item", disable=not progress) as bar:
            found = _read_pages(search, results.pages_as_dicts(), limits, bar)
    except (requests.exceptions.RequestException, pystac_client.exceptions.APIError, ValueError) as err:
        if _unreachable(err):
            raise CatalogError(
                f"The STAC catalog at {search.catalog} stopped answering ({_reason(err.__context__ or err)}). "
                "Run the same command again; what was indexed stays."
            ) from None
        if isinstance(err, ValueError):
            raise CatalogError(f"The STAC catalog at {search.catalog} answered the search wrongly ({err}).") from None
        raise CatalogError(f"The STAC catalog at {search.catalog} refused the search ({_reason(err)}).") from None
    if not found:
        raise CatalogError(
            f"The catalog holds no {search.describe()}. {search.coverage}: check the box (WEST SOUTH EAST "
            "NORTH, degrees), the years and --source."
        )
    return sorted(found, key=lambda item: (str(_year_or_none(item)), str(item.id)))


def _year_or_none(item) -> int | None:
    try:
        return mosaic_year(item)
    except ItemError:
        return None


def _read_pages(search: Search, pages: Iterator[dict], limits: Limits, bar) -> list:
    """The wanted items of every page, refusing pages that repeat and more than the limits allow."""
    import pystac

    what = f"The STAC catalog at {search.catalog}"
    wanted, found, seen_ids, seen_links = set(search.years), [], set(), set()
    for number, page in enumerate(pages, 1):
        if number > limits.max_pages:
            raise CatalogError(f"{what} sent more than {limits.max_pages} pages; stopped (raise --max-pages).")
        features = page.get("features")
        if not isinstance(features, list):
            raise CatalogError(f"{what} sent page {number} of the search without a list of features.")
        for feature in features:
            try:
                item = pystac.Item.from_dict(feature)
            except Exception as err:  # anything pystac cannot read is not an item
                raise CatalogError(f"{what} sent something on page {number} that is not a STAC item ({err}).") from None
            if item.id in seen_ids:
                raise CatalogError(f"{what} sent item {str(item.id)[:80]!r} twice (page {number}): its pages repeat.")
            seen_ids.add(item.id)
            if len(seen_ids) > limits.max_items:
                raise CatalogError(f"{what} sent more than {limits.max_items} items; stopped (raise --max-items).")
            bar.update()
            if _year_or_none(item) in wanted | {None} or item.collection_id != search.collection:
                found.append(item)  # an item that breaks the rules is kept, to be refused by name
        link = next((li for li in page.get("links") or [] if isinstance(li, dict) and li.get("rel") == "next"), None)
        if link is not None:
            key = json.dumps(link, sort_keys=True, default=str)
            if key in seen_links:
                raise CatalogError(f"{what} links page {number} back to a page it already sent: its pages repeat.")
            seen_links.add(key)
    return found


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
