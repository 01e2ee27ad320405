"""What every local cube has: a folder, an embedded server (or an external database),
a datacube config, a lock, and a connection to the index.

Layout of a cube folder::

    datacube.conf           ODC configuration (point ODC_CONFIG_PATH here)
    cube.json               settings that outlive one command (an external --db-url)
    lock                    held by the command working on the cube
    pg/                     the embedded PostgreSQL (absent with --db-url; as root it lives
                            in /var/lib/sar-helpers/ instead, see localcube.server)
    data/                   what the cube holds on disk
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sar_helpers
from sar_helpers.products import PRODUCTS

from .server import EmbeddedServer, ServerError, server_folder

if TYPE_CHECKING:
    import datacube

#: What a cube makes in its folder (``pg`` only for a normal user); ``reset`` deletes no other file.
OWN_ENTRIES = frozenset({"data", "datacube.conf", "published.conf", "cube.json", "lock", "pg"})


class CubeError(RuntimeError):
    """Something the user can fix; the message says what and how."""


def checkout_or_cwd(name: str) -> Path:
    """``name`` in the source checkout this package runs from, else in the working folder."""
    checkout = Path(sar_helpers.__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "sar_helpers").is_dir():
        return checkout / name
    return Path.cwd() / name


#: The line every local cube's datacube.conf carries (how a config is known to be one of ours).
CONFIG_MARK = "# Written by `sar-helpers "


def is_local_cube_config(config: Path) -> bool:
    """Was this datacube config written by a local cube (test or real-data)?"""
    try:
        return CONFIG_MARK in Path(config).read_text()
    except OSError:
        return False


def normalise_db_url(url: str) -> str:
    """Use psycopg2 for plain ``postgresql://`` URLs (SQLAlchemy 2.1 would pick psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


@dataclass
class Status:
    title: str
    command: str
    folder: Path
    server: str
    db_url: str
    products: list[str] = field(default_factory=list)
    datasets: dict[str, Counter] = field(default_factory=dict)
    disk_bytes: int = 0

    def report(self) -> str:
        lines = [
            f"{self.title} in {self.folder}",
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
            lines.append(f"  no products yet: run `sar-helpers {self.command} up`")
        return "\n".join(lines)


class LocalCube:
    """The cube in ``folder``; with ``db_url``, its index lives in that PostgreSQL instead."""

    #: For messages: what the cube is called, and its `sar-helpers` command.
    title = "Local datacube"
    command = "testcube"
    #: Environment variable that chooses the default folder.
    env_dir = ""

    def __init__(self, folder: Path | str | None = None, db_url: str | None = None):
        self.folder = Path(folder).expanduser().resolve() if folder else self.default_dir()
        self.data = self.folder / "data"
        self.config_path = self.folder / "datacube.conf"
        self._settings_path = self.folder / "cube.json"
        settings = self._read_settings()
        if db_url:
            settings["db_url"] = normalise_db_url(db_url)
        self.external_db_url: str | None = settings.get("db_url")
        self._settings = settings
        self.server = EmbeddedServer(server_folder(self.folder))

    @classmethod
    def default_dir(cls) -> Path:
        """``$<env_dir>``, else ``.<command>`` in the source checkout, else in the working folder."""
        if cls.env_dir and os.environ.get(cls.env_dir):
            return Path(os.environ[cls.env_dir]).expanduser().resolve()
        return checkout_or_cwd(f".{cls.command}")

    # ----------------------------------------------------------------- settings & lock

    def _read_settings(self) -> dict:
        try:
            text = self._settings_path.read_text()
        except FileNotFoundError:
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise CubeError(
                f"{self._settings_path} is not valid JSON ({err.msg}, line {err.lineno}). Fix it, or delete "
                "it to forget the settings it held (an external --db-url)."
            ) from None

    def foreign_entries(self) -> list[Path]:
        """What the cube's folder holds that the cube did not make (never deleted by us)."""
        found = []
        if self.folder.is_dir():
            found += [
                p for p in self.folder.iterdir() if p.name not in OWN_ENTRIES and not p.name.startswith(".write-test-")
            ]
        if self.data.is_dir():
            found += [p for p in self.data.iterdir() if p.name not in PRODUCTS]
        return sorted(found)

    def _remove_own_data(self) -> None:
        """Delete the cube's data (its product folders), leaving anything else in place."""
        for product in PRODUCTS:
            if (self.data / product).is_dir():
                shutil.rmtree(self.data / product)

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
            where = f"--dir or ${self.env_dir}" if self.env_dir else "--dir"
            raise CubeError(
                f"Cannot write to {self.folder} ({err.strerror}). Choose another folder with "
                f"{where}, or make this one writable."
            ) from None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cube's lock: one command works on a cube at a time."""
        handle = open(self.folder / "lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise CubeError(
                f"Another command (pid {holder}) is working on the {self.title.lower()} in "
                f"{self.folder}. Wait for it to finish, then run this again."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            handle.close()

    def _write_config(self, path: Path | None = None, db_url: str | None = None) -> None:
        path = path or self.config_path
        text = (
            "[default]\n"
            f"{CONFIG_MARK}{self.command}`; point ODC_CONFIG_PATH at this file.\n"
            "index_driver = postgres\n"
            f"db_url = {(db_url or self.db_url).replace('%', '%%')}\n"  # configparser reads %% as %
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

    # ----------------------------------------------------------------- server and index

    def _start_server(self) -> None:
        """Make and start the embedded server (nothing to do with an external database)."""
        if self.external_db_url is not None:
            return
        legacy = EmbeddedServer(self.folder / "pg")
        if legacy.folder != self.server.folder and legacy.initialised:
            legacy.remove()  # made by an older version inside the cube's folder; the index is rebuilt
        try:
            self.server.initialise()
            self.server.start()
        except ServerError as err:
            raise CubeError(str(err)) from None
        owner_note = self.server.folder / "cube-folder"
        if self.server.folder.parent != self.folder and not owner_note.exists():
            owner_note.write_text(f"{self.folder}\n")  # which cube a folder in /var/lib/sar-helpers serves

    def datacube(self, app: str = "sar-helpers") -> "datacube.Datacube":
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
            index = index_connect(env, application_name=f"sar-helpers-{self.command}", validate_connection=False)
            index.init_db(with_default_types=True, with_permissions=True)
            if index.metadata_types.get_by_name("eo3") is None:  # init killed half way
                for doc in default_metadata_type_docs():
                    index.metadata_types.add(index.metadata_types.from_doc(doc), allow_table_lock=True)
        except sqlalchemy.exc.OperationalError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            if self.external_db_url is None:
                raise CubeError(
                    f"The {self.title.lower()}'s own database stopped answering ({reason}). Run "
                    f"`sar-helpers {self.command} up` again: it starts the server and finishes the work."
                ) from None
            raise CubeError(
                f"Cannot connect to the PostgreSQL database at {self.db_url}: {reason}. "
                "Check that the server is running and the URL is right "
                "(postgresql+psycopg2://USER@HOST:PORT/DATABASE)."
            ) from None
        return index

    def _ensure_products(self, index, definitions: list[dict]) -> None:
        """Add each product definition the index lacks; update ours where a version changed it."""
        for definition in definitions:
            existing = index.products.get_by_name(definition["name"])
            if existing is None:
                index.products.add(index.products.from_doc(definition))
            elif existing.definition == json.loads(json.dumps(definition)):  # as stored
                continue
            elif self.external_db_url is None:  # our own index, made by another version
                index.products.update(index.products.from_doc(definition), allow_unsafe_updates=True)
            else:
                raise CubeError(
                    f"The index already holds a product {definition['name']!r} with another "
                    f"definition. Use another database, or `sar-helpers {self.command} reset`."
                )

    # ----------------------------------------------------------------- commands

    def status(self) -> Status:
        """What is there now; never starts or changes anything."""
        if self.external_db_url:
            server = "external database"
        elif not self.server.initialised:
            server = f"not built (run `sar-helpers {self.command} up`)"
        elif self.server.running():
            server = f"running (socket in {self.server.socket_dir})"
        else:
            server = f"stopped (run `sar-helpers {self.command} up` to start it)"
        status = Status(self.title, self.command, self.folder, server, self.db_url)
        for folder in {self.folder, self.server.folder}:
            status.disk_bytes += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_socket())
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
        with self.locked():
            return self.server.stop()
