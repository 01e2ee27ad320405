"""The local test datacube: build, repair, inspect, stop and wipe it.

Layout of a cube folder (``.testcube/`` by default)::

    datacube.conf           ODC configuration (point ODC_CONFIG_PATH here)
    published.conf          the same files indexed with Digital Earth Africa's definitions
                            as they are (made by ``index_as_published``, for tests)
    cube.json               settings that outlive one command (an external --db-url)
    lock                    held by the command working on the cube
    pg/                     the embedded PostgreSQL (absent with --db-url)
    data/PRODUCT/TILE/YEAR/ one dataset: a COG per band and its eo3 document

The data folder is the truth and the index mirrors it: ``up`` renders what is
missing (into a ``.partial`` folder, renamed into place when complete), then
adds to the index what is not there and removes from it datasets of this cube
whose files are gone. So a build killed at any point is finished by the next ``up``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..products import PRODUCTS, Product
from . import documents
from .grid import Tile, Window, bbox_window, tiles_over
from .rasters import write_dataset_rasters
from .server import EmbeddedServer, ServerError

#: The published tutorial's area (longitude 31.90-32.10, latitude 30.37-30.55)
#: with a margin; the seam between tiles N31E031 and N31E032 runs through it.
DEFAULT_BBOX = (31.85, 30.32, 32.15, 30.60)
ENV_DIR = "SAR_TESTCUBE_DIR"
#: The database holding the same files indexed with Digital Earth Africa's definitions as they are.
PUBLISHED_DATABASE = "published"
_DOC_SUFFIX = ".odc-metadata.yaml"


class CubeError(RuntimeError):
    """Something the user can fix; the message says what and how."""


def default_dir() -> Path:
    """``$SAR_TESTCUBE_DIR``, else ``.testcube`` in the source checkout, else in the working folder."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists() and (checkout / "sar_helpers").is_dir():
        return checkout / ".testcube"
    return Path.cwd() / ".testcube"


def normalise_db_url(url: str) -> str:
    """Use psycopg2 for plain ``postgresql://`` URLs (SQLAlchemy 2.1 would pick psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class DatasetJob:
    product: Product
    tile: Tile
    year: int
    window: Window


@dataclass
class Status:
    folder: Path
    server: str
    db_url: str
    products: list[str] = field(default_factory=list)
    datasets: dict[str, Counter] = field(default_factory=dict)
    disk_bytes: int = 0

    def report(self) -> str:
        lines = [
            f"Test datacube in {self.folder}",
            f"  server:   {self.server}",
            f"  database: {self.db_url}",
            f"  config:   {self.folder / 'datacube.conf'} (export ODC_CONFIG_PATH=...)",
            f"  disk:     {self.disk_bytes / 2**20:.1f} MiB",
        ]
        for name in self.products:
            per_year = self.datasets.get(name, Counter())
            lines.append(f"  {name}: {sum(per_year.values())} datasets")
            for year in sorted(per_year):
                lines.append(f"    {year}: {per_year[year]}")
        if not self.products and self.server.startswith("running"):
            lines.append("  no products yet: run `sar-helpers testcube up`")
        return "\n".join(lines)


def _die_with_parent() -> None:
    """Worker initialiser: on Linux, end this worker when the building process is killed."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _render_job(folder: str, job: DatasetJob) -> str:
    """Render one dataset into ``folder`` (runs in a worker process)."""
    path = Path(folder)
    write_dataset_rasters(path, job.product, job.tile, job.year, job.window)
    doc = documents.dataset_document(job.product, job.tile, job.year, job.window)
    (path / f"{doc['label']}{_DOC_SUFFIX}").write_text(yaml.safe_dump(doc, sort_keys=True))
    return folder


class TestCube:
    """The cube in ``folder``; with ``db_url``, its index lives in that PostgreSQL instead."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path | str | None = None, db_url: str | None = None):
        self.folder = Path(folder).expanduser().resolve() if folder else default_dir()
        self.data = self.folder / "data"
        self.config_path = self.folder / "datacube.conf"
        self._settings_path = self.folder / "cube.json"
        settings = self._read_settings()
        if db_url:
            settings["db_url"] = normalise_db_url(db_url)
        self.external_db_url: str | None = settings.get("db_url")
        self._settings = settings
        self.server = EmbeddedServer(self.folder / "pg")
        self._lock_file = None

    # ----------------------------------------------------------------- settings & lock

    def _read_settings(self) -> dict:
        try:
            return json.loads(self._settings_path.read_text())
        except FileNotFoundError:
            return {}

    @property
    def db_url(self) -> str:
        return self.external_db_url or self.server.url

    def _check_writable(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise CubeError(
                f"Cannot write to {self.folder} ({err.strerror}). Choose another folder with "
                f"--dir or ${ENV_DIR}, or make this one writable."
            ) from None

    def _lock(self) -> None:
        self._lock_file = open(self.folder / "lock", "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "unknown"
            self._lock_file.close()
            self._lock_file = None
            raise CubeError(
                f"Another command (pid {holder}) is working on the test datacube in "
                f"{self.folder}. Wait for it to finish, then run this again."
            ) from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.truncate(0)
            self._lock_file.close()
            self._lock_file = None

    def _write_config(self, path: Path | None = None, db_url: str | None = None) -> None:
        path = path or self.config_path
        text = (
            "[default]\n"
            "# Written by `sar-helpers testcube`; point ODC_CONFIG_PATH at this file.\n"
            "index_driver = postgres\n"
            f"db_url = {db_url or self.db_url}\n"
        )
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
        if path != self.config_path:
            return
        settings_text = json.dumps(self._settings, indent=1, sort_keys=True)
        if self._settings or self._settings_path.exists():
            self._settings_path.write_text(settings_text)

    # ----------------------------------------------------------------- the index

    def datacube(self, app: str = "sar-helpers-testcube"):
        import datacube

        return datacube.Datacube(config=str(self.config_path), app=app)

    def _connect_index(self, config_path: Path | None = None):
        """The index, schema created if missing; a clear CubeError if the database cannot be reached."""
        import sqlalchemy.exc
        from datacube.cfg import ODCConfig
        from datacube.index import index_connect
        from datacube.index.abstract import default_metadata_type_docs

        env = ODCConfig(paths=[str(config_path or self.config_path)])["default"]
        try:
            index = index_connect(env, application_name="sar-helpers-testcube", validate_connection=False)
            index.init_db(with_default_types=True, with_permissions=True)
            if index.metadata_types.get_by_name("eo3") is None:  # init killed half way
                for doc in default_metadata_type_docs():
                    index.metadata_types.add(index.metadata_types.from_doc(doc), allow_table_lock=True)
        except sqlalchemy.exc.OperationalError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise CubeError(
                f"Cannot connect to the PostgreSQL database at {self.db_url}: {reason}. "
                "Check that the server is running and the URL is right "
                "(postgresql+psycopg2://USER@HOST:PORT/DATABASE)."
            ) from None
        return index

    def _ensure_products(self, index, products) -> None:
        for product in products:
            definition = documents.product_definition(product)
            existing = index.products.get_by_name(product.name)
            if existing is None:
                index.products.add(index.products.from_doc(definition))
            elif existing.definition == json.loads(json.dumps(definition)):  # as stored
                continue
            elif self.external_db_url is None:  # our own index, made by another version
                index.products.update(index.products.from_doc(definition), allow_unsafe_updates=True)
            else:
                raise CubeError(
                    f"The index already holds a product {product.name!r} with another "
                    "definition. Use another database, or `sar-helpers testcube reset`."
                )

    # ----------------------------------------------------------------- data on disk

    def _dataset_folder(self, product: Product, tile: Tile, year: int) -> Path:
        return self.data / product.name / tile.name / str(year)

    def _documents_on_disk(self) -> dict[str, tuple[Path, dict]]:
        """id -> (document path, document) of every complete dataset in the data folder."""
        found = {}
        for path in sorted(self.data.glob(f"*/*/*/*{_DOC_SUFFIX}")):
            if ".partial" in path.parent.name:
                continue
            doc = yaml.safe_load(path.read_text())
            found[doc["id"]] = (path, doc)
        return found

    def _tidy(self) -> None:
        """Undo what a killed build left: half-written folders, a folder moved aside."""
        if not self.data.exists():
            return
        for aside in self.data.glob("*/*/*.old-*"):
            final = aside.with_name(aside.name.split(".old-")[0])
            if final.exists():
                shutil.rmtree(aside)
            else:
                aside.rename(final)
        for partial in self.data.glob("*/*/*.partial-*"):
            shutil.rmtree(partial)

    def _plan(self, window: Window, years: set[int] | None) -> list[DatasetJob]:
        jobs = []
        for product in PRODUCTS.values():
            for year in product.years:
                if years is not None and year not in years:
                    continue
                for tile, part in tiles_over(window):
                    folder = self._dataset_folder(product, tile, year)
                    docs = list(folder.glob(f"*{_DOC_SUFFIX}"))
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
        self, bbox: tuple[float, float, float, float] = DEFAULT_BBOX, years: set[int] | None = None,
        progress: bool = True,
    ) -> int:
        """Write the data files that are missing for ``bbox`` and ``years``; needs no database.

        Returns how many datasets were rendered.
        """
        self._tidy()
        jobs = self._plan(bbox_window(*bbox), years)
        if jobs:
            self._render(jobs, progress)
        return len(jobs)

    def checksums(self) -> dict[str, str]:
        """sha256 of every data file, by path relative to the data folder."""
        return {
            path.relative_to(self.data).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(self.data.rglob("*"))
            if path.is_file()
        }

    def _render(self, jobs: list[DatasetJob], progress: bool) -> None:
        from tqdm.auto import tqdm

        staged = {}
        for job in jobs:
            final = self._dataset_folder(job.product, job.tile, job.year)
            partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
            partial.mkdir(parents=True)
            staged[str(partial)] = final
        workers = max(1, min(len(jobs), os.cpu_count() or 1))
        # Spawned, not forked: a forked worker would inherit (and keep) the cube's lock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent) as pool, tqdm(
            total=len(jobs), desc="Rendering mosaics", unit="dataset", disable=not progress
        ) as bar:
            futures = [pool.submit(_render_job, folder, job) for folder, job in zip(staged, jobs)]
            for future in as_completed(futures):
                partial = Path(future.result())
                final = staged[str(partial)]
                if final.exists():  # a larger window replaces a smaller one
                    aside = final.with_name(f"{final.name}.old-{os.getpid()}")
                    final.rename(aside)
                    partial.rename(final)
                    shutil.rmtree(aside)
                else:
                    partial.rename(final)
                bar.update()

    def _reconcile_index(self, index, progress: bool) -> tuple[int, int]:
        """Make the index hold exactly this cube's datasets on disk; (added, removed)."""
        from tqdm.auto import tqdm

        on_disk = self._documents_on_disk()
        ours = self.data.as_uri() + "/"
        stale = []
        for product in PRODUCTS:
            for ds in index.datasets.search(product=product):
                uri = ds.uri or ""
                if uri.startswith(ours) and str(ds.id) not in on_disk:
                    stale.append(ds.id)
        if stale:
            index.datasets.archive(stale)
            index.datasets.purge(stale)
        missing = [i for i in on_disk if not index.datasets.has(i)]
        if not missing:
            return 0, len(stale)
        from datacube.index.hl import Doc2Dataset  # slow to import: only when needed

        resolver = Doc2Dataset(index, verify_lineage=False)
        for dataset_id in tqdm(missing, desc="Indexing", unit="dataset", disable=not progress or not missing):
            path, doc = on_disk[dataset_id]
            dataset, error = resolver(doc, path.as_uri())
            if error:
                raise CubeError(f"{path} is not a valid dataset document: {error}")
            index.datasets.add(dataset, with_lineage=False)
        return len(missing), len(stale)

    # ----------------------------------------------------------------- commands

    def up(
        self,
        bbox: tuple[float, float, float, float] = DEFAULT_BBOX,
        years: set[int] | None = None,
        progress: bool = True,
    ) -> dict:
        """Start the server and build or repair the cube; returns what was done."""
        bbox_window(*bbox)  # refuse a bad box before touching anything
        if years is not None:
            known = {y for p in PRODUCTS.values() for y in p.years}
            unknown = sorted(set(years) - known)
            if unknown:
                raise CubeError(
                    f"No mosaics exist for {', '.join(map(str, unknown))}; the years are "
                    f"{', '.join(map(str, sorted(known)))}."
                )
        self._check_writable()
        self._lock()
        try:
            if self.external_db_url is None:
                try:
                    self.server.initialise()
                    self.server.start()
                except ServerError as err:
                    raise CubeError(str(err)) from None
            self._write_config()
            index = self._connect_index()
            try:
                self._ensure_products(index, PRODUCTS.values())
                rendered = self.render(bbox, years, progress)
                added, removed = self._reconcile_index(index, progress)
            finally:
                index.close()
        finally:
            self._unlock()
        return {"rendered": rendered, "indexed": added, "removed": removed}

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
        self._lock()
        try:
            try:
                self.server.start()
                self.server.create_database(PUBLISHED_DATABASE)
            except ServerError as err:
                raise CubeError(str(err)) from None
            self._write_config(config, self.server.url_for(PUBLISHED_DATABASE))
            index = self._connect_index(config)
            try:
                for product in PRODUCTS.values():
                    if index.products.get_by_name(product.name) is None:
                        index.products.add(index.products.from_doc(product.published_definition()))
                self._reconcile_index(index, progress=False)
            finally:
                index.close()
        finally:
            self._unlock()
        return config

    def status(self) -> Status:
        """What is there now; never starts or changes anything."""
        if self.external_db_url:
            server = "external database"
        elif not self.server.initialised:
            server = "not built (run `sar-helpers testcube up`)"
        elif self.server.running():
            server = f"running (socket in {self.server.socket_dir})"
        else:
            server = "stopped (run `sar-helpers testcube up` to start it)"
        status = Status(self.folder, server, self.db_url)
        if self.folder.exists():
            status.disk_bytes = sum(
                p.stat().st_size for p in self.folder.rglob("*") if p.is_file() and not p.is_socket()
            )
        if server.startswith(("running", "external")):
            index = self._connect_index()
            try:
                for product in PRODUCTS:
                    if index.products.get_by_name(product) is None:
                        continue
                    status.products.append(product)
                    status.datasets[product] = Counter(
                        ds.time.begin.year for ds in index.datasets.search(product=product)
                    )
            finally:
                index.close()
        return status

    def down(self) -> bool:
        """Stop the embedded server, keeping every file; False if it was not running."""
        if self.external_db_url:
            raise CubeError(
                f"This cube's index lives in an external database ({self.external_db_url}); "
                "there is no embedded server to stop."
            )
        self._lock()
        try:
            return self.server.stop()
        finally:
            self._unlock()

    def reset(self, **up_options) -> dict:
        """Wipe the cube (data, index entries, embedded server) and build it again."""
        self._check_writable()
        self._lock()
        try:
            if self.external_db_url:
                if self.data.exists():
                    shutil.rmtree(self.data)
                self._write_config()
                index = self._connect_index()
                try:
                    self._reconcile_index(index, progress=False)
                finally:
                    index.close()
            else:
                self.server.kill()
                for child in self.folder.iterdir():
                    if child.name != "lock":
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
                self.server = EmbeddedServer(self.folder / "pg")
        finally:
            self._unlock()
        return self.up(**up_options)
