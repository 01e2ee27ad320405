"""``sar-helpers lab``: JupyterLab on the notebooks, connected to the test datacube."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_command(commands) -> None:
    lab = commands.add_parser(
        "lab",
        help="start JupyterLab on the notebooks, connected to the test datacube",
        description="Start JupyterLab on 127.0.0.1 with a random token (or $JUPYTER_TOKEN, at least 16 "
        "characters), after making sure the test datacube's server runs. Other interfaces or no token only "
        "when asked for explicitly.",
    )
    lab.set_defaults(run=run)
    lab.add_argument("--notebook-dir", default="notebooks", help="folder to serve (default: notebooks)")
    lab.add_argument("--ip", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--public", action="store_true", help="allow an interface other machines can reach")
    lab.add_argument("--no-token", action="store_true", help="allow running without a token")


def run(args: argparse.Namespace) -> int:
    from sar_helpers.cubes.testcube.cube import TestCube
    from sar_helpers.tools.jupyter import lab_command

    command, env, token = lab_command(
        Path(args.notebook_dir).resolve(),
        args.ip,
        args.port,
        os.environ.get("JUPYTER_TOKEN"),
        args.public,
        args.no_token,
    )
    cube = TestCube()
    if not cube.external_db_url and cube.server.initialised:
        cube.server.start()
    os.environ.setdefault("ODC_CONFIG_PATH", str(cube.config_path))
    print(f"JupyterLab: http://{args.ip}:{args.port}/lab" + (f"?token={token}" if token else ""), flush=True)
    os.execve(command[0], command, env)
