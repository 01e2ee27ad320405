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

import errno
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sar_helpers
from sar_helpers.products import PRODUCTS

from .integrity import remove_recorded
from .server import EmbeddedServer, ServerError, server_folder
from .status import Status

if TYPE_CHECKING:
    import datacube

#: What a cube makes in its folder (and its server's folder, where the server lives there).
OWN_ENTRIES = frozenset({"data", "datacube.conf", "published.conf", "cube.json", "lock"})
#: The cube's own files at the top of its folder, which reset and delete remove.
OWN_FILES = ("datacube.conf", "published.conf", "cube.json")


class CubeError(RuntimeError):
    """Something the user can fix; the message says what and how."""


def checkout_or_cwd(name: str) -> Path:
    """``name`` in the source checkout this package runs from, else in the working folder."""
    checkout = Path(sar_helpers.__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "sar_helpers").is_dir():
        return checkout / name
    return Path.cwd() / name


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a new file beside it (created exclusively, so never a
    planted file or link) renamed over it: a link at ``path`` is replaced, never written through."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


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

    def own_entries(self) -> frozenset[str]:
        """The names the cube makes in its folder: ``pg`` too where its server lives there."""
        inside = self.server.folder.parent == self.folder
        return OWN_ENTRIES | ({self.server.folder.name} if inside else set())

    def foreign_entries(self) -> list[Path]:
        """What the cube's folder holds that the cube did not make (never deleted by us)."""
        own = self.own_entries()
        found = []
        if self.folder.is_dir():
            found += [
                p
                for p in self.folder.iterdir()
                if p.name not in own and not p.name.startswith((".write-test-", *(f".{n}." for n in OWN_FILES)))
            ]
        if self.data.is_dir():
            found += [p for p in self.data.iterdir() if p.name not in PRODUCTS]
        return sorted(found)

    def _refuse_foreign(self, force: bool, action: str) -> None:
        """Refuse to ``action`` a folder that also holds what the cube did not make, unless ``force``."""
        foreign = self.foreign_entries()
        if foreign and not force:
            names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in foreign[:3])
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise CubeError(
                f"{self.folder} also holds files that are not the {self.title.lower()}'s ({names}{more}). {action} "
                "deletes only the cube's own files, but will not work in a folder shared with others unless you add "
                "--force; or choose the cube's own folder with --dir."
            )

    def _remove_own_files(self) -> list[Path]:
        """Delete what the cube wrote in ``data/`` (see :func:`remove_recorded`); returns what stays."""
        return remove_recorded(self.data, list(PRODUCTS))

    def _remove_own_top_files(self, names: tuple[str, ...] = OWN_FILES) -> None:
        for name in names:
            path = self.folder / name
            if path.is_symlink() or path.is_file():
                path.unlink()

    def delete(self, force: bool = False) -> list[Path]:
        """Stop the server and delete what the cube made: its data (as each dataset's record lists
        it), its config and settings, and its server's folder (under /var/lib/sar-helpers as root).
        Returns the files that stay because the cube did not make them."""
        if self.external_db_url:
            raise CubeError(
                f"This cube's index lives in an external database ({self.external_db_url}); delete removes only "
                f"cubes with their own server. Use `sar-helpers {self.command} reset` to empty it there."
            )
        self._refuse_foreign(force, "delete")
        if not self.folder.exists():
            self.server.remove()
            return []
        with self.locked():
            kept = self._remove_own_files()
            self.server.remove()
            self._remove_own_top_files()
        (self.folder / "lock").unlink(missing_ok=True)
        for folder in (self.data, self.folder):
            if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                folder.rmdir()
        return kept

    @property
    def db_url(self) -> str:
        return self.external_db_url or self.server.url

    def _check_folder(self) -> None:
        """As root, refuse a cube folder that another user owns or can write: they could plant
        links there for root to follow."""
        if os.geteuid() != 0:
            return
        try:
            info = os.lstat(self.folder)
        except FileNotFoundError:
            return  # made by us, as root
        if stat.S_ISLNK(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise CubeError(
                f"{self.folder} is a link, or another user owns it or can write to it (uid {info.st_uid}, mode "
                f"{stat.S_IMODE(info.st_mode):o}); as root, a cube works only in a folder of root's that no one "
                "else can write. Choose another folder with --dir."
            )

    def _check_writable(self) -> None:
        self._check_folder()
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
        self._check_folder()
        path = self.folder / "lock"
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as err:
            if err.errno != errno.ELOOP:
                raise
            raise CubeError(
                f"{path} is a link, not the cube's lock file. Something else put it there: remove it if it is not "
                "yours, then run this again."
            ) from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise CubeError(f"{path} is not a file, so it cannot be the cube's lock: remove it, then run this again.")
        handle = os.fdopen(descriptor, "r+")
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
        if path.is_symlink() or not path.exists() or path.read_text() != text:
            replace_file(path, text)
        if path != self.config_path:
            return
        settings_text = json.dumps(self._settings, indent=1, sort_keys=True)
        if self._settings or self._settings_path.exists() or self._settings_path.is_symlink():
            replace_file(self._settings_path, settings_text)

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

    @contextmanager
    def _writing_index(self, definitions: list[dict]) -> Iterator:
        """The index to write to (folder checked, locked, server up, ``definitions`` ensured)."""
        self._check_writable()
        with self.locked():
            self._start_server()
            self._write_config()
            index = self._connect_index()
            try:
                self._ensure_products(index, definitions)
                yield index
            finally:
                index.close()

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
                    found = list(index.datasets.search(product=product))
                    status.count(product, [(ds.time.begin.year, ds.metadata_doc) for ds in found])
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
