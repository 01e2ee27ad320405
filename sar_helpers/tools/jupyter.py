"""Jupyter integration: a kernel that finds the local test datacube by itself.

``sar-helpers testcube kernel`` installs this environment's ``python3`` kernel with
this module loaded as an IPython extension. On start the extension

* points ``ODC_CONFIG_PATH`` at the test cube, unless the user already has a datacube
  configuration of their own (then the notebooks run against that one, unchanged);
* starts the cube's embedded server if it is down;
* and makes a datacube call that cannot reach its database print one sentence
  saying what to do, instead of a long traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sar_helpers.loading.remote import REMOTE_READING

KERNEL_NAME = "python3"
#: Set in the kernel spec: the test cube's datacube.conf.
CONFIG_VARIABLE = "SAR_TESTCUBE_CONFIG"
_DATACUBE_DEFAULT_CONFIGS = ("datacube.conf", "~/.datacube.conf", "/etc/default/datacube.conf", "/etc/datacube.conf")


def _has_own_datacube_config() -> bool:
    if any(os.environ.get(v) for v in ("ODC_CONFIG_PATH", "ODC_DEFAULT_DB_URL", "DATACUBE_DB_URL")):
        return True
    return any(Path(p).expanduser().exists() for p in _DATACUBE_DEFAULT_CONFIGS)


def adopt_cube_config() -> None:
    """Point ODC_CONFIG_PATH at the test cube unless another datacube is configured."""
    config = os.environ.get(CONFIG_VARIABLE)
    if config and not _has_own_datacube_config():
        os.environ["ODC_CONFIG_PATH"] = config


def _cube_for_config():
    """The local cube whose datacube.conf ODC_CONFIG_PATH names, or None for any other datacube."""
    config = os.environ.get("ODC_CONFIG_PATH", "").split(":")[0]
    if not config:
        return None
    from sar_helpers.cubes.localcube.base import LocalCube, is_local_cube_config

    if not is_local_cube_config(Path(config)):
        return None
    return LocalCube(Path(config).resolve().parent)


def ensure_cube_running() -> str | None:
    """Start the test cube's embedded server if the configured datacube is one and is down.

    Returns a sentence for the user when that was needed and failed, else None.
    """
    cube = _cube_for_config()
    if cube is None or cube.external_db_url or not cube.server.initialised:
        return None
    try:
        cube.server.start()
    except Exception as err:  # noqa: BLE001 - any failure becomes the sentence below
        if cube.server.running():  # another kernel started it meanwhile
            return None
        return f"The test datacube's database could not be started ({err})."
    return None


def _show_failure(shell, etype, value, tb, tb_offset=None):
    """A lost database or an unreadable data file: one sentence; anything else as usual."""
    from sar_helpers.errors import (
        LocalFileUnreadable,
        RemoteFileUnreadable,
        database_down_message,
        is_database_lost,
        unreadable_file_message,
    )

    if isinstance(value, (LocalFileUnreadable, RemoteFileUnreadable)):
        message: str | None = str(value)
    elif is_database_lost(value):
        message = database_down_message(value)
    else:
        message = unreadable_file_message(value)
    if message is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    else:
        print(message, file=sys.stderr)
    return None


def load_ipython_extension(ipython) -> None:
    import psycopg2
    import rasterio.errors
    import sqlalchemy.exc

    adopt_cube_config()
    problem = ensure_cube_running()
    if problem:
        print(problem, file=sys.stderr)
    from sar_helpers.errors import LocalFileUnreadable, RemoteFileUnreadable

    failures = (sqlalchemy.exc.DBAPIError, psycopg2.Error, rasterio.errors.RasterioError)
    ipython.set_custom_exc((*failures, LocalFileUnreadable, RemoteFileUnreadable), _show_failure)


#: The kernel of each local cube: (name, display name).
KERNELS = {
    "testcube": (KERNEL_NAME, "Python 3 (SAR mosaics)"),
    "realcube": ("sar-realcube", "Python 3 (SAR mosaics, real data)"),
}


def install_kernel(config_path: Path, cube: str = "testcube", prefix: str = sys.prefix) -> Path:
    """Write this environment's kernel spec for a cube: its config and this extension.

    The test cube's is the environment's ``python3`` kernel, which the notebooks name;
    the real-data cube's is ``sar-realcube``, chosen in Jupyter's kernel menu.
    """
    name, display_name = KERNELS[cube]
    folder = Path(prefix) / "share" / "jupyter" / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [
            "python",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            f"--ext={__name__}",
        ],
        "display_name": display_name,
        "language": "python",
        "env": {CONFIG_VARIABLE: str(config_path), **REMOTE_READING},
        "metadata": {"debugger": True},
        "kernel_protocol_version": "5.5",
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return folder


LOOPBACK = ("127.0.0.1", "localhost", "::1")


#: Shorter tokens are refused: a token is all that stands between a local user and your account.
MIN_TOKEN_LENGTH = 16


def lab_command(
    notebook_dir: Path,
    ip: str = "127.0.0.1",
    port: int = 8888,
    token: str | None = None,
    public: bool = False,
    no_token: bool = False,
) -> tuple[list[str], dict[str, str], str]:
    """The command that starts JupyterLab safely, its environment, and its token.

    JupyterLab listens on the loopback interface with a token unless the caller
    explicitly asks for a public interface (``public``) or no token (``no_token``);
    without a token one is generated. The token travels in the environment
    (``JUPYTER_TOKEN``), which other users cannot read, never on the command line,
    which any local user sees with ``ps``.
    """
    import secrets

    if ip not in LOOPBACK and not public:
        raise ValueError(
            f"Refusing to serve JupyterLab on {ip}, which other machines can reach: anyone there could run "
            "code as you. Use the default 127.0.0.1, or say --public (make lab LAB_PUBLIC=1) if you mean it."
        )
    if no_token:
        token = ""
    elif token is None:
        token = secrets.token_hex(24)
    elif len(token.strip()) < MIN_TOKEN_LENGTH or token != token.strip():
        raise ValueError(
            f"Refusing a JupyterLab token that is blank, padded with spaces or shorter than {MIN_TOKEN_LENGTH} "
            "characters: anyone who guesses it runs code as you. Unset JUPYTER_TOKEN to get a random one, "
            "or say --no-token (make lab LAB_NO_TOKEN=1) if you mean to run without one."
        )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ip={ip}",
        f"--port={port}",
        f"--ServerApp.root_dir={notebook_dir}",
    ]
    if no_token:
        command.append("--IdentityProvider.token=")  # empty: nothing secret on the command line
    if os.geteuid() == 0:  # JupyterLab refuses root unless told; containers and CI run as root
        command.append("--allow-root")
    env = {**os.environ, "JUPYTER_TOKEN": token}
    if no_token:
        env.pop("JUPYTER_TOKEN")
    return command, env, token
