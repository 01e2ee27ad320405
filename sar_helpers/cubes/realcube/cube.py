"""The real-data cube: real mosaics of an area and years (Digital Earth Africa's or Planetary
Computer's), indexed locally.

Its folder (``.realcube/`` by default) is laid out as every local cube is (see
:mod:`sar_helpers.cubes.localcube.base`); with ``--download`` it also holds the COGs, in
``data/PRODUCT/YEAR/TILE/`` as the bucket does.
"""

from __future__ import annotations

import errno
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from sar_helpers.cubes.grid import bbox_window, tiles_over
from sar_helpers.cubes.localcube.base import CubeError, LocalCube
from sar_helpers.cubes.localcube.integrity import record_files
from sar_helpers.products import PRODUCTS, Product, get_product

from . import jaxa
from .catalog import Search, replace_hrefs, search_items, to_dataset_docs
from .items import ItemError, check_dataset, check_item, dataset_folder, file_name
from .limits import Limits
from .signing import SIGNED_FORMAT, read_url
from .sources import DEAFRICA, Source, get_source, normalised, source_of
from .transfer import TransferError, origin, read_body, session

ENV_DIR = "SAR_REALCUBE_DIR"


class RealCube(LocalCube):
    """Real mosaics indexed from a STAC API into the cube in ``folder``."""

    title = "Real-data datacube"
    command = "realcube"
    env_dir = ENV_DIR

    def up(
        self,
        bbox: tuple[float, float, float, float],
        years: list[int] | None = None,
        product: str = "alos_palsar_mosaic",
        catalog: str | None = None,
        url_replace: list[tuple[str, str]] | None = None,
        download: bool = False,
        progress: bool = True,
        limits: Limits | None = None,
        source: str = DEAFRICA.name,
    ) -> dict:
        """Index the product's items over ``bbox`` for ``years`` (default: all its years), from
        ``source`` (:data:`.sources.SOURCES`; its own catalog unless ``catalog`` is given).

        Idempotent: items already indexed are left as they are, so ``up`` adds new areas
        and years to what is there, and finishes an ``up`` that was killed. A tile and year
        already indexed from another source is not indexed again (``elsewhere`` counts them).
        An item that breaks the rules of :mod:`.items` is not indexed; ``refused`` holds a
        sentence for each.
        """
        known = get_product(product)
        bbox_window(*bbox)  # refuse a bad box before anything else
        limits = limits or Limits()
        origin_of = get_source(source)
        if origin_of.archive:
            origin_of.collection(product)
            return self._up_from_archive(
                known, bbox, _years_of(known, years), catalog or origin_of.catalog, limits, progress
            )
        found = _found_datasets(known, origin_of, bbox, _years_of(known, years), catalog, url_replace, progress, limits)
        return self._index_found(known, *found, download, progress, limits)

    def _index_found(
        self,
        product: Product,
        items: list,
        docs: list,
        refused: list[str],
        download: bool,
        progress: bool,
        limits: Limits,
    ) -> dict:
        """``up`` from a STAC API, once its items are found and checked: those not yet indexed indexed."""
        from datacube.model import Dataset
        from tqdm.auto import tqdm

        with self._writing_index([p.published_definition() for p in PRODUCTS.values()]) as index:
            for stale in self.data.glob("*/*/*/*.partial-*"):  # downloads a killed `up` left
                stale.unlink()
            model = index.products.get_by_name(product.name)
            absent = [(doc, uri) for doc, uri in docs if not index.datasets.has(doc["id"])]
            new = [(doc, uri) for doc, uri in absent if not _indexed_elsewhere(index, doc)]
            downloaded = 0
            for doc, uri in tqdm(new, desc="Indexing", unit="dataset", disable=not progress or not new):
                if download:
                    downloaded += self._download(doc, model, limits, progress)
                index.datasets.add(Dataset(model, doc, uri=uri), with_lineage=False)
        return {
            "found": len(items),
            "indexed": len(new),
            "already": len(docs) - len(absent),
            "elsewhere": len(absent) - len(new),
            "downloaded": downloaded,
            "refused": refused,
        }

    def _up_from_archive(
        self,
        product: Product,
        bbox: tuple[float, float, float, float],
        years: list[int],
        base: str,
        limits: Limits,
        progress: bool,
    ) -> dict:
        """``up`` from JAXA's archive: each tile and year downloaded, converted and indexed in turn."""
        from tqdm.auto import tqdm

        who = jaxa.account(base)
        for year in years:
            jaxa.check_year(base, product, year, who, limits)
        tiles = [tile for tile, _ in tiles_over(bbox_window(*bbox))]
        done = {"found": 0, "indexed": 0, "already": 0, "elsewhere": 0, "downloaded": 0, "refused": []}
        with self._writing_index([p.published_definition() for p in PRODUCTS.values()]) as index:
            pairs = [(tile, year) for year in years for tile in tiles]
            for tile, year in tqdm(pairs, desc="Tiles", unit="tile", disable=not progress):
                self._archive_tile(index, product, tile, year, base, who, limits, progress, done)
        if not done["found"]:
            raise CubeError(f"JAXA has no {product.name} tile over {' '.join(map(str, bbox))}: is it all ocean?")
        return done

    def _archive_tile(self, index, product, tile, year, base, who, limits, progress, done: dict) -> None:
        """One tile and year from JAXA's archive into the index (``done`` counts what happened)."""
        from datacube.index.hl import Doc2Dataset

        sources = _indexed_sources(index, product.name, tile.name, year)
        if sources:
            done["found"] += 1
            done["already" if "jaxa" in sources else "elsewhere"] += 1
            return
        url = jaxa.tarball_url(base, product, tile, year)
        downloads = self.folder / "downloads"
        downloads.mkdir(exist_ok=True)
        tarball = downloads / url.rsplit("/", 1)[-1]
        folder = self.data / product.name / f"{year:04d}" / tile.name
        try:
            if not tarball.exists():
                if not jaxa.download(url, tarball, who, limits, progress):
                    done["refused"].append(
                        f"JAXA has no {product.name} tile {tile.name} for {year} (ocean, or outside the mosaic)."
                    )
                    return
                done["downloaded"] += 1
            done["found"] += 1
            doc = jaxa.convert(tarball, product, tile, year, folder)
        except jaxa.BrokenTarball:
            tarball.unlink(missing_ok=True)
            raise
        except Exception as err:
            if jaxa.full_disk(err):
                raise CubeError(
                    f"The disk is full: {self.folder} has no room for {tile.name} {year}. Free some space and run the same "
                    "command again: what was indexed stays."
                ) from None
            raise
        path = folder / f"{doc['label']}.odc-metadata.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        dataset, error = Doc2Dataset(index, verify_lineage=False)(doc, path.as_uri())  # eo3 prepared, extents made
        if error:
            raise CubeError(f"{path} is not a valid dataset document: {error}")
        index.datasets.add(dataset, with_lineage=False)
        record_files(folder)
        tarball.unlink()
        done["indexed"] += 1

    def _download(self, doc: dict, model, limits: Limits, progress: bool) -> int:
        """Copy a dataset's files into ``data/`` and point its document at them; returns files fetched."""
        folder = self.data / dataset_folder(doc)
        folder.mkdir(parents=True, exist_ok=True)
        fetched = 0
        for band, measurement in doc["measurements"].items():
            url = measurement["path"]
            if urlsplit(url).scheme not in ("http", "https"):
                raise CubeError(
                    f"Cannot download {url}: only http(s) addresses can be fetched. Map the prefix to "
                    "one with --url-replace OLD=NEW."
                )
            target = folder / file_name(url)
            if not target.exists():
                partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
                try:
                    signed = doc["properties"].get("odc:file_format") == SIGNED_FORMAT
                    _fetch(url, partial, limits, progress, read_url(url) if signed else None)
                    _check_geotiff(partial, url, doc, band, model.measurements[band].dtype)
                    partial.replace(target)
                finally:
                    partial.unlink(missing_ok=True)
                fetched += 1
            measurement["path"] = target.as_uri()
        doc["properties"]["odc:file_format"] = "GeoTIFF"  # local files now, read as they are
        if fetched:
            record_files(folder)  # what the cube wrote here, for `delete` and for checks
        return fetched


def _found_datasets(
    product: Product,
    source: Source,
    bbox: tuple[float, float, float, float],
    years: list[int],
    catalog: str | None,
    url_replace: list[tuple[str, str]] | None,
    progress: bool,
    limits: Limits,
) -> tuple[list, list[tuple[dict, str | None]], list[str]]:
    """The source's items of the product over the area and years in our shape, their checked
    dataset documents, and a sentence for each item refused."""
    collection = source.collection(product.name)
    replacements = list(source.url_replace) if url_replace is None else url_replace
    mapped = tuple(new for _, new in url_replace or ())
    west, south, east, north = bbox
    search = Search(
        catalog or source.catalog, product.name, (west, south, east, north), tuple(years), collection, source.coverage
    )
    items = [
        replace_hrefs(normalised(item, source, product), replacements)
        for item in search_items(search, progress, limits)
    ]
    docs, refused = _checked_datasets(items, product, mapped)
    return items, docs, refused


def _indexed_sources(index, product: str, tile: str, year: int, other_than: str | None = None) -> list[str]:
    """The sources of the datasets indexed for a tile and year (other than dataset ``other_than``)."""
    from datacube.model import Range

    within = Range(datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year, 12, 31, 23, 59, 59, tzinfo=timezone.utc))
    found = index.datasets.search(product=product, region_code=tile, time=within)
    return [source_of(ds.metadata_doc.get("properties", {})) for ds in found if str(ds.id) != other_than]


def _indexed_elsewhere(index, doc: dict) -> bool:
    """Is this dataset's tile and year already in the index, under another id (from another source)?"""
    tile = doc["properties"].get("odc:region_code")
    year = int(dataset_folder(doc).parent.name)
    return tile is not None and bool(_indexed_sources(index, doc["product"]["name"], tile, year, str(doc["id"])))


def _years_of(product: Product, years: list[int] | None) -> list[int]:
    """The years asked for (default: all the product's), sorted; a CubeError names those it lacks."""
    years = sorted(set(years or product.years))
    lacking = [y for y in years if y not in product.years]
    if lacking:
        raise CubeError(
            f"{product.name} has no mosaics for {', '.join(map(str, lacking))}; its years are "
            f"{', '.join(map(str, product.years))}."
        )
    return years


def _checked_datasets(items: list, product: Product, mapped: tuple[str, ...]) -> tuple[list, list[str]]:
    """(document, uri) of each item that passes the checks, and a sentence for each that does not."""
    usable, refused = [], []
    for item in items:
        try:
            check_item(item, product, mapped)
            usable.append(item)
        except ItemError as err:
            refused.append(str(err))
    docs = []
    for doc, uri in to_dataset_docs(usable):
        try:
            check_dataset(doc, uri, product, mapped)
            docs.append((doc, uri))
        except ItemError as err:
            refused.append(str(err))
    return docs, refused


def _unsigned(text: str) -> str:
    """``text`` with every URL's query cut off: a signed URL's token is a secret."""
    return re.sub(r"\?[^\s'\"]*", "?…", text)


def _fetch(url: str, path: Path, limits: Limits, progress: bool, signed_url: str | None = None) -> None:
    """``url`` (or its ``signed_url``, never shown) into a new file at ``path``: redirects only
    within its own host, every read within the limits' timeout, the whole file within their
    deadline and size."""
    import requests
    from tqdm.auto import tqdm

    what = f"The server of {url}"
    deadline = time.monotonic() + limits.deadline
    source = signed_url or url
    guarded = session({origin(source)}, deadline, limits.max_file_bytes, what)
    try:
        with guarded.get(source, stream=True, timeout=limits.request_timeout) as response:
            response.raise_for_status()
            size = int(response.headers.get("Content-Length", 0) or 0) or None
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with (
                os.fdopen(os.open(path, flags, 0o644), "wb") as out,
                tqdm(
                    total=size,
                    desc=f"Downloading {path.name.split('.partial-')[0]}",
                    unit="B",
                    unit_scale=True,
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                for piece in read_body(response, deadline, limits.max_file_bytes, what):
                    out.write(piece)
                    bar.update(len(piece))
    except (requests.exceptions.RequestException, ValueError) as err:
        reason = _unsigned(str(err).splitlines()[0])[:200] if str(err) else type(err).__name__
        raise CubeError(
            f"Downloading {url} failed ({reason}). Run the same command again: what was indexed stays."
        ) from None
    except TransferError as err:
        raise TransferError(_unsigned(str(err))) from None
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise CubeError(
                f"The disk is full: {path.parent} has no room for {url}. Free some space and run the same command "
                "again: what was indexed stays."
            ) from None
        raise


def _check_geotiff(path: Path, url: str, doc: dict, band: str, dtype: str) -> None:
    """Refuse a downloaded file that is not the GeoTIFF the dataset describes for ``band``."""
    import rasterio
    from affine import Affine

    grid = (doc.get("grids") or {}).get(doc["measurements"][band].get("grid", "default"))
    expected = f"a one-band {dtype} GeoTIFF" + (
        f" of {grid['shape'][0]} x {grid['shape'][1]} pixels on the item's grid" if grid else ""
    )
    try:
        with rasterio.open(path, driver="GTiff") as src:
            found = src.count == 1 and src.dtypes[0] == dtype
            if grid:
                transform = Affine(*grid["transform"][:6])
                found = found and tuple(src.shape) == tuple(grid["shape"]) and src.transform.almost_equals(transform)
    except rasterio.errors.RasterioError:
        found = False
    if not found:
        raise ItemError(
            f"What {url} sent for item {str(doc['id'])!r} is not {expected}; deleted, and nothing was indexed "
            "for it. Check the catalog and the --url-replace mapping."
        )
