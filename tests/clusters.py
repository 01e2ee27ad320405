"""Dask clusters that share nothing with the tests' process but the network: a scheduler and
workers from Dask's command line, and a Dask Gateway on its local backend, all run as another
local user in folders of their own. Starting processes as another user needs root (CI runs as
root); elsewhere the fixtures that use this are skipped with that reason."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

#: The user the workers run as: exists on every Debian machine and owns nothing of ours.
OTHER_USER = "nobody"
GATEWAY_CONFIG = Path(__file__).with_name("gateway_config.py")
GATEWAY_SERVER = str(Path(sys.executable).with_name("dask-gateway-server"))


def other_user() -> pwd.struct_passwd | None:
    """The other user, when this process may start processes as them (root), else None."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(OTHER_USER)


def _as(user: pwd.struct_passwd | None) -> dict:
    """Popen's arguments that start a process as ``user`` (None: as this process's user)."""
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def own_folder(parent: Path, name: str, user: pwd.struct_passwd | None) -> Path:
    """A folder that only ``user`` (None: this process's user) can enter."""
    folder = parent / name
    folder.mkdir(mode=0o700)
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    return folder


def plain_environment(home: Path) -> dict[str, str]:
    """What another user's process starts with: none of this process's settings (GDAL's, ODC's, Dask's)."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "DASK_TEMPORARY_DIRECTORY": str(home)}


def _runs(python: str, user: pwd.struct_passwd, folder: Path) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sar_helpers, distributed"],
            cwd=folder,
            env=plain_environment(folder),
            capture_output=True,
            timeout=300,
            **_as(user),
        )
    except PermissionError:  # the interpreter sits where the user cannot go (e.g. under /root)
        return False
    return done.returncode == 0


def python_for(user: pwd.struct_passwd, shared: Path) -> str:
    """A Python ``user`` can run with this environment's packages: this one, or else the system's
    Python of the same version with this environment's site-packages added (a venv made in ``shared``),
    as a team installs the same locked packages where its workers run."""
    if _runs(sys.executable, user, shared):
        return sys.executable
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if system.exists():
        env = shared / "python"
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
        purelib = Path(sysconfig.get_paths(vars={"base": str(env), "platbase": str(env)})["purelib"])
        ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in sorted(ours))
        (purelib / "sar_shared_packages.pth").write_text(lines)
        python = str(env / "bin" / "python")
        if _runs(python, user, shared):
            return python
    raise RuntimeError(
        f"No Python with this environment's packages can be run by {user.pw_name}: neither {sys.executable} nor {system}."
    )


@contextmanager
def shared_folder():
    """A folder other users may read (the workers' Python), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="sar-workers-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stop(processes: list[subprocess.Popen]) -> None:
    """Terminate ``processes``, last started first; kill what has not ended after 20 s."""
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _certificates() -> dict[str, str]:
    """A CA, certificate and key made for the session (PEM): every process of the cluster and
    the client present the certificate, so each side knows the other."""
    from distributed.security import Security

    made = Security.temporary()
    return {"ca": made.tls_ca_file, "cert": made.tls_scheduler_cert, "key": made.tls_scheduler_key}


def _write_certificates(pem: dict[str, str], folder: Path, owner: pwd.struct_passwd | None = None) -> dict[str, str]:
    """``pem`` as files in ``folder``, readable by ``owner`` (else this process) only."""
    paths = {}
    for name, text in pem.items():
        path = folder / f"{name}.pem"
        path.write_text(text)
        path.chmod(0o600)
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)
        paths[name] = str(path)
    return paths


@contextmanager
def separate_cluster(parent: Path, python: str, user: pwd.struct_passwd | None, workers: int = 2):
    """``dask scheduler`` and ``dask worker`` processes as ``user`` (None: this process's user, as
    benchmarks/remote.py starts them) on 127.0.0.1, each in its own folder in ``parent`` (which
    ``user`` must be able to enter), talking mutual TLS with a certificate made for the session. Yields (address, the
    client's TLS settings as Dask configuration)."""
    processes: list[subprocess.Popen] = []
    try:
        pem = _certificates()
        scheduler = own_folder(parent, "scheduler", user)
        tls = _write_certificates(pem, scheduler, user)
        tls_options = ["--tls-ca-file", tls["ca"], "--tls-cert", tls["cert"], "--tls-key", tls["key"]]
        scheduler_file = scheduler / "scheduler.json"
        processes.append(
            subprocess.Popen(
                [python, "-m", "dask", "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0"]
                + ["--no-dashboard", "--scheduler-file", str(scheduler_file), *tls_options],
                cwd=scheduler,
                env=plain_environment(scheduler),
                stdout=subprocess.DEVNULL,
                stderr=(scheduler / "log").open("w"),
                **_as(user),
            )
        )
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise RuntimeError(f"The scheduler did not start: {(scheduler / 'log').read_text()[-2000:]}")
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for n in range(workers):
            folder = own_folder(parent, f"worker-{n}", user)
            worker_tls = _write_certificates(pem, folder, user)
            processes.append(
                subprocess.Popen(
                    [python, "-m", "dask", "worker", address, "--host", "127.0.0.1", "--nthreads", "1"]
                    + ["--memory-limit", "2GB", "--no-dashboard", "--name", f"worker-{n}"]
                    + ["--local-directory", str(folder), "--tls-ca-file", worker_tls["ca"]]
                    + ["--tls-cert", worker_tls["cert"], "--tls-key", worker_tls["key"]],
                    cwd=folder,
                    env=plain_environment(folder),
                    stdout=subprocess.DEVNULL,
                    stderr=(folder / "log").open("w"),
                    **_as(user),
                )
            )
        # The tests' side: its own copy of the key, readable by this process only.
        client_folder = Path(tempfile.mkdtemp(prefix="sar-client-tls-"))
        mine = _write_certificates(pem, client_folder)
        config = {
            "distributed.comm.require-encryption": True,
            "distributed.comm.tls.ca-file": mine["ca"],
            "distributed.comm.tls.client.cert": mine["cert"],
            "distributed.comm.tls.client.key": mine["key"],
        }
        try:
            yield address, config
        finally:
            shutil.rmtree(client_folder, ignore_errors=True)
    finally:
        stop(processes)


def tls_environment(config: dict) -> dict[str, str]:
    """Dask configuration as the environment variables a kernel started later reads."""
    return {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value) for key, value in config.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gateway(parent: Path, python: str, user: pwd.struct_passwd):
    """A Dask Gateway on 127.0.0.1 (its local backend: each cluster's scheduler and workers run as
    the user who signs in, in a folder of their own, over TLS), with a password made for the session.
    Yields (address, the client's gateway configuration for Dask, as a dict)."""
    ports = [_free_port() for _ in range(2)]
    password = secrets.token_urlsafe(24)
    folder = parent / "gateway"
    folder.mkdir(mode=0o700)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "SAR_GATEWAY_PORTS": " ".join(map(str, ports)),
        "SAR_GATEWAY_PASSWORD": password,
        "SAR_GATEWAY_PYTHON": python,
        "PYTHONPATH": str(GATEWAY_CONFIG.parent),
    }
    log = (folder / "log").open("w")
    process = subprocess.Popen(
        [GATEWAY_SERVER, "-f", str(GATEWAY_CONFIG)], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    address = f"http://127.0.0.1:{ports[1]}"  # the proxy: what users are given
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{address}/api/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"The gateway did not start: {(folder / 'log').read_text()[-2000:]}") from None
                time.sleep(0.2)
        auth = {"gateway.auth.type": "basic", "gateway.auth.kwargs": {"username": user.pw_name, "password": password}}
        yield address, auth
    finally:
        stop([process])
        log.close()


def gateway_environment(auth: dict) -> dict[str, str]:
    """The gateway's credentials as the environment variables a kernel started later reads."""
    kwargs = auth["gateway.auth.kwargs"]
    return {
        "DASK_GATEWAY__AUTH__TYPE": auth["gateway.auth.type"],
        "DASK_GATEWAY__AUTH__KWARGS__USERNAME": kwargs["username"],
        "DASK_GATEWAY__AUTH__KWARGS__PASSWORD": kwargs["password"],
    }
