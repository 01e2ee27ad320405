"""The local test datacube: build, repair, inspect, stop and wipe it.

A cube folder (``.testcube/`` by default) is laid out as every local cube is (see
:mod:`sar_helpers.cubes.localcube.base`), with ``data/PRODUCT/TILE/YEAR/`` holding one
dataset each (a COG per band and its eo3 document), and ``published.conf``: the same
files indexed with Digital Earth Africa's definitions as they are (made by
``index_as_published``, for tests).

The data folder is the truth and the index mirrors it: ``up`` renders what is
missing (into a ``.partial`` folder, renamed into place when complete), then
adds to the index what is not there and removes from it datasets of this cube
whose files are gone. So a build killed at any point is finished by the next ``up``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sar_helpers.cubes import documents
from sar_helpers.cubes.grid import Tile, Window, bbox_window, tiles_over
from sar_helpers.cubes.localcube.base import CubeError, LocalCube
from sar_helpers.cubes.localcube.integrity import FILE_RECORD, damaged_files, file_sha256, recorded_files
from sar_helpers.cubes.localcube.server import ServerError
from sar_helpers.products import PRODUCTS, Product

from .forest import FOREST_BBOX
from .indexing import reconcile
from .rasters import has_mosaic
from .rendering import DOC_SUFFIX, DatasetJob, render_datasets

if TYPE_CHECKING:
    import datacube

#: The published tutorial's area (longitude 31.90-32.10, latitude 30.37-30.55)
#: with a margin; the seam between tiles N31E031 and N31E032 runs through it.
DEFAULT_BBOX = (31.85, 30.32, 32.15, 30.60)
#: What `up` builds unless given a box: the tutorial's desert and the forest east of Kisangani.
DEFAULT_AREAS = (DEFAULT_BBOX, FOREST_BBOX)
Box = tuple[float, float, float, float]
ENV_DIR = "SAR_TESTCUBE_DIR"
#: The database holding the same files indexed with Digital Earth Africa's definitions as they are.
PUBLISHED_DATABASE = "published"


class TestCube(LocalCube):
    """The synthetic test cube in ``folder``; with ``db_url``, its index lives in that PostgreSQL instead."""

    __test__ = False  # not a pytest class
    title = "Test datacube"
    command = "testcube"
    env_dir = ENV_DIR

    def datacube(self, app: str = "sar-helpers-testcube") -> "datacube.Datacube":
        return super().datacube(app)

    # ----------------------------------------------------------------- data on disk

    def _dataset_folder(self, product: Product, tile: Tile, year: int) -> Path:
        return self.data / product.name / tile.name / str(year)

    def _documents_on_disk(self) -> dict[str, tuple[Path, dict]]:
        """id -> (document path, document) of every complete dataset in the data folder."""
        found = {}
        for path in sorted(self.data.glob(f"*/*/*/*{DOC_SUFFIX}")):
            if ".partial" in path.parent.name:
                continue
            doc = yaml.safe_load(path.read_text())
            found[doc["id"]] = (path, doc)
        return found

    def _tidy(self) -> None:
        """Remove what a killed build left: half-written folders, and replaced ones not yet deleted."""
        if not self.data.exists():
            return
        for partial in self.data.glob("*/*/*.partial-*"):
            shutil.rmtree(partial)

    def damaged(self, verify: bool = False) -> dict[Path, list[Path]]:
        """Dataset folders with damaged files, and those files (see :func:`damaged_files`).

        A folder written by a version that kept no record is listed with no files.
        """
        found = {}
        for folder in sorted(self.data.glob("*/*/*")):
            product_name, _, year = folder.parts[-3:]
            if product_name not in PRODUCTS or not year.isdigit() or not folder.is_dir():
                continue  # not a dataset folder (a partial one has a suffix)
            if not (folder / FILE_RECORD).exists() and not any(folder.glob(f"*{DOC_SUFFIX}")):
                continue  # nothing of a dataset's in it (only what someone else left there)
            broken = damaged_files(folder, verify)
            if broken:
                found[folder] = broken if (folder / FILE_RECORD).exists() else []
        return found

    def _repairs(self, damaged: dict[Path, list[Path]]) -> list[DatasetJob]:
        """Jobs that render damaged datasets again. A dataset whose own document is damaged
        cannot say what it covered: its folder is removed, and rendered again when an ``up``
        asks for its area."""
        jobs = []
        for folder, broken in damaged.items():
            docs = [p for p in folder.glob(f"*{DOC_SUFFIX}") if p not in broken]
            if not docs:
                for path in recorded_files(folder) or [*folder.glob(f"*{DOC_SUFFIX}")]:
                    path.unlink(missing_ok=True)
                continue
            product_name, tile_name, year = folder.parts[-3:]
            window = documents.document_window(yaml.safe_load(docs[0].read_text()))
            jobs.append(DatasetJob(PRODUCTS[product_name], Tile.from_name(tile_name), int(year), window))
        return jobs

    def _plan(self, window: Window, years: set[int] | None, repairs: list[DatasetJob]) -> list[DatasetJob]:
        """What to render for ``window`` and ``years``, besides ``repairs`` (which it includes,
        each grown to cover ``window`` where it is the same dataset)."""
        repairing = {(job.product.name, job.tile, job.year): job for job in repairs}
        jobs = list(repairs)
        for product in PRODUCTS.values():
            for year in product.years:
                if years is not None and year not in years:
                    continue
                for tile, part in tiles_over(window):
                    if not has_mosaic(product, tile):
                        continue
                    repair = repairing.get((product.name, tile, year))
                    if repair is not None:
                        jobs[jobs.index(repair)] = DatasetJob(product, tile, year, repair.window.union(part))
                        continue
                    folder = self._dataset_folder(product, tile, year)
                    docs = list(folder.glob(f"*{DOC_SUFFIX}"))
                    if docs:
                        doc = yaml.safe_load(docs[0].read_text())
                        have = documents.document_window(doc)
                        current = doc == documents.dataset_document(product, tile, year, have)
                        if current and have.contains(part):
                            continue
                        part = have.union(part)  # larger, or written by another version: render again
                    jobs.append(DatasetJob(product, tile, year, part))
        return jobs

    def render(
        self,
        bbox: Box | None = None,
        years: set[int] | None = None,
        progress: bool = True,
        verify: bool = False,
    ) -> tuple[int, list[Path]]:
        """Write the data files that are missing for ``bbox`` (default: every area of
        ``DEFAULT_AREAS``) and ``years``, and render again
        every dataset with a damaged file (by size; by checksum too with ``verify``).
        Needs no database. Returns how many datasets were rendered, and the damaged files.
        """
        self._tidy()
        damaged = self.damaged(verify)
        jobs = self._repairs(damaged)
        for area in DEFAULT_AREAS if bbox is None else (bbox,):
            jobs = self._plan(bbox_window(*area), years, jobs)
        if jobs:
            render_datasets(jobs, [self._dataset_folder(j.product, j.tile, j.year) for j in jobs], self.data, progress)
        return len(jobs), [path for files in damaged.values() for path in files]

    def checksums(self) -> dict[str, str]:
        """sha256 of every data file, by path relative to the data folder."""
        return {
            path.relative_to(self.data).as_posix(): file_sha256(path)
            for path in sorted(self.data.rglob("*"))
            if path.is_file()
        }

    # ----------------------------------------------------------------- commands

    def up(
        self,
        bbox: Box | None = None,
        years: set[int] | None = None,
        progress: bool = True,
        verify: bool = False,
    ) -> dict:
        """Start the server and build or repair the cube over ``bbox`` (default: every area of
        ``DEFAULT_AREAS``); returns what was done.

        Damaged files (of the wrong size; with ``verify``, of the wrong checksum) are
        rendered again, and listed under ``repaired``.
        """
        if bbox is not None:
            bbox_window(*bbox)  # refuse a bad box before touching anything
        if years is not None:
            known = {y for p in PRODUCTS.values() for y in p.years}
            unknown = sorted(set(years) - known)
            if unknown:
                raise CubeError(
                    f"No mosaics exist for {', '.join(map(str, unknown))}; the years are "
                    f"{', '.join(map(str, sorted(known)))}."
                )
        with self._writing_index([documents.product_definition(p) for p in PRODUCTS.values()]) as index:
            rendered, repaired = self.render(bbox, years, progress, verify)
            added, removed = reconcile(index, self._documents_on_disk(), self.data, progress)
        return {"rendered": rendered, "indexed": added, "removed": removed, "repaired": repaired}

    def index_as_published(self) -> Path:
        """Index this cube's files once more, with Digital Earth Africa's product definitions
        as they are (no ``load`` hints), in the database ``published`` of the embedded server.

        Returns the datacube config of that index. Loads from it show what the notebooks
        and helpers meet on Digital Earth Africa's own index (the tutorial query is
        810 x 900 there). Run ``up`` first.
        """
        if self.external_db_url:
            raise CubeError("index_as_published needs the embedded server; this cube uses an external database.")
        config = self.folder / "published.conf"
        with self.locked():
            try:
                self.server.start()
                self.server.create_database(PUBLISHED_DATABASE)
            except ServerError as err:
                raise CubeError(str(err)) from None
            self._write_config(config, self.server.url_for(PUBLISHED_DATABASE))
            index = self._connect_index(config)
            try:
                self._ensure_products(index, [p.published_definition() for p in PRODUCTS.values()])
                reconcile(index, self._documents_on_disk(), self.data, progress=False)
            finally:
                index.close()
        return config

    def reset(self, force: bool = False, **up_options) -> dict:
        """Wipe the cube (its data, index entries and embedded server) and build it again.

        Only what the cube made is deleted. A folder that also holds other files is
        refused unless ``force``, and even then those files are left where they are;
        ``kept`` names them (and any the cube did not make inside its data folder).
        """
        self._check_writable()
        self._refuse_foreign(force, "reset")
        with self.locked():
            kept = self._remove_own_files()
            if self.external_db_url:
                self._write_config()
                index = self._connect_index()
                try:
                    reconcile(index, self._documents_on_disk(), self.data, progress=False)
                finally:
                    index.close()
            else:
                self.server.remove()
                self._remove_own_top_files(("datacube.conf", "published.conf"))  # cube.json keeps the settings
        return {**self.up(**up_options), "kept": kept}
