"""The real-data cube: Digital Earth Africa's mosaics of an area and years, indexed locally.

Its folder (``.realcube/`` by default) is laid out as every local cube is (see
:mod:`sar_helpers.cubes.localcube.base`); with ``--download`` it also holds the COGs, in
``data/PRODUCT/YEAR/TILE/`` as the bucket does.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from sar_helpers.cubes.grid import bbox_window
from sar_helpers.cubes.localcube.base import CubeError, LocalCube
from sar_helpers.products import PRODUCTS, get_product

from .catalog import DEFAULT_CATALOG, DEFAULT_URL_REPLACE, Search, replace_hrefs, search_items, to_dataset_docs

ENV_DIR = "SAR_REALCUBE_DIR"
_CHUNK = 1 << 20


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
        catalog: str = DEFAULT_CATALOG,
        url_replace: list[tuple[str, str]] | None = None,
        download: bool = False,
        progress: bool = True,
    ) -> dict:
        """Index the product's items over ``bbox`` for ``years`` (default: all its years).

        Idempotent: items already indexed are left as they are, so ``up`` adds new areas
        and years to what is there, and finishes an ``up`` that was killed.
        """
        known = get_product(product)
        bbox_window(*bbox)  # refuse a bad box before anything else
        years = sorted(set(years or known.years))
        lacking = [y for y in years if y not in known.years]
        if lacking:
            raise CubeError(
                f"{product} has no mosaics for {', '.join(map(str, lacking))}; its years are "
                f"{', '.join(map(str, known.years))}."
            )
        replacements = [DEFAULT_URL_REPLACE] if url_replace is None else url_replace
        west, south, east, north = bbox
        search = Search(catalog, product, (west, south, east, north), tuple(years))
        items = [replace_hrefs(item, replacements) for item in search_items(search, progress)]

        from datacube.model import Dataset
        from tqdm.auto import tqdm

        self._check_writable()
        with self.locked():
            for stale in self.data.glob("*/*/*/*.partial-*"):  # downloads a killed `up` left
                stale.unlink()
            self._start_server()
            self._write_config()
            index = self._connect_index()
            try:
                self._ensure_products(index, [p.published_definition() for p in PRODUCTS.values()])
                model = index.products.get_by_name(product)
                docs = list(to_dataset_docs(items))
                new = [(doc, uri) for doc, uri in docs if not index.datasets.has(doc["id"])]
                downloaded = 0
                for doc, uri in tqdm(new, desc="Indexing", unit="dataset", disable=not progress or not new):
                    if download:
                        downloaded += self._download(doc, progress)
                    index.datasets.add(Dataset(model, doc, uri=uri), with_lineage=False)
            finally:
                index.close()
        return {"found": len(items), "indexed": len(new), "already": len(docs) - len(new), "downloaded": downloaded}

    def _download(self, doc: dict, progress: bool) -> int:
        """Copy a dataset's files into ``data/`` and point its document at them; returns files fetched."""
        import requests
        from tqdm.auto import tqdm

        props = doc["properties"]
        year = str(props.get("dtr:start_datetime") or props["datetime"])[:4]
        folder = self.data / doc["product"]["name"] / year / str(props.get("odc:region_code", doc["id"]))
        folder.mkdir(parents=True, exist_ok=True)
        fetched = 0
        for band, measurement in doc["measurements"].items():
            url = measurement["path"]
            if urlparse(url).scheme not in ("http", "https"):
                raise CubeError(
                    f"Cannot download {url}: only http(s) addresses can be fetched. Map the prefix to "
                    "one with --url-replace OLD=NEW."
                )
            target = folder / Path(urlparse(url).path).name
            if not target.exists():
                partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
                try:
                    with requests.get(url, stream=True, timeout=60) as response:
                        response.raise_for_status()
                        size = int(response.headers.get("Content-Length", 0)) or None
                        with (
                            open(partial, "wb") as out,
                            tqdm(
                                total=size,
                                desc=f"Downloading {target.name}",
                                unit="B",
                                unit_scale=True,
                                disable=not progress,
                                leave=False,
                            ) as bar,
                        ):
                            for chunk in response.iter_content(_CHUNK):
                                out.write(chunk)
                                bar.update(len(chunk))
                    partial.replace(target)
                except requests.exceptions.RequestException as err:
                    raise CubeError(
                        f"Downloading {url} failed ({str(err).splitlines()[0][:200]}). Run the same command "
                        "again: what was indexed stays."
                    ) from None
                finally:
                    partial.unlink(missing_ok=True)
                fetched += 1
            measurement["path"] = target.as_uri()
        return fetched
