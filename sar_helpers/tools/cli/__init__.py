"""The ``sar-helpers`` command line."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any


def _years(text: str) -> list[int]:
    """``2007`` or ``2015-2022``."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-", 1))
        else:
            first = last = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year or a range like 2015-2022") from None
    if first > last:
        raise argparse.ArgumentTypeError(f"{text!r} runs backwards: give the earlier year first, e.g. {last}-{first}")
    return list(range(first, last + 1))


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sar-helpers",
        description="Tools for JAXA's annual SAR mosaics on the Open Data Cube.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    cube = commands.add_parser(
        "testcube",
        help="the local test datacube (synthetic mosaics in an embedded PostgreSQL)",
        description="Build and manage the local test datacube.",
    )
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--dir",
        help="the cube's folder (default: $SAR_TESTCUBE_DIR, else .testcube in the checkout)",
    )
    where.add_argument(
        "--db-url",
        help="build the index into this existing PostgreSQL instead of an embedded one, "
        "e.g. postgresql+psycopg2://user@host:5432/datacube (remembered for later commands)",
    )
    build = argparse.ArgumentParser(add_help=False)
    build.add_argument(
        "--bbox",
        nargs=4,
        type=float,
        metavar=("W", "S", "E", "N"),
        help="area to generate in degrees (default: the tutorial area with a margin, "
        "31.85 30.32 32.15 30.60); e.g. 31 30 32 31 for the whole tile N31E031",
    )
    build.add_argument(
        "--years",
        nargs="+",
        type=_years,
        help="years to generate, e.g. 2007 2015-2022 (default: every mosaic year)",
    )
    build.add_argument("--quiet", action="store_true", help="no progress bars")

    actions = cube.add_subparsers(dest="action", required=True)
    up = actions.add_parser(
        "up",
        parents=[where, build],
        help="start the server, build what is missing, repair what is damaged (idempotent)",
    )
    up.add_argument(
        "--verify",
        action="store_true",
        help="check every file's checksum, not only its size, and render damaged ones again",
    )
    actions.add_parser("status", parents=[where], help="server state, products, datasets per year, disk size")
    actions.add_parser("down", parents=[where], help="stop the server, keep the data")
    reset = actions.add_parser("reset", parents=[where, build], help="wipe the cube and build it again")
    reset.add_argument(
        "--force",
        action="store_true",
        help="work in a folder that also holds other files (they are left alone; only the cube's are deleted)",
    )
    actions.add_parser("config", parents=[where], help="print the datacube config file's path (for ODC_CONFIG_PATH)")
    actions.add_parser(
        "kernel",
        parents=[where],
        help="install this environment's Jupyter kernel so that notebooks find the cube by themselves",
    )

    real = commands.add_parser(
        "realcube",
        help="a local datacube of Digital Earth Africa's real mosaics, indexed from their STAC API",
        description="Index Digital Earth Africa's real mosaics of an area and years into a local datacube "
        "(its own embedded PostgreSQL). Pixels stay in the public bucket unless --download.",
    )
    real_where = argparse.ArgumentParser(add_help=False)
    real_where.add_argument(
        "--dir", help="the cube's folder (default: $SAR_REALCUBE_DIR, else .realcube in the checkout)"
    )
    real_actions = real.add_subparsers(dest="action", required=True)
    real_up = real_actions.add_parser(
        "up", parents=[real_where], help="index the area and years (idempotent: adds to what is there)"
    )
    real_up.add_argument(
        "--bbox",
        nargs=4,
        type=float,
        required=True,
        metavar=("W", "S", "E", "N"),
        help="area in degrees, e.g. 31.9 30.37 32.1 30.55",
    )
    real_up.add_argument("--years", nargs="+", type=_years, help="e.g. 2015-2022 (default: every year of the product)")
    real_up.add_argument(
        "--product", default="alos_palsar_mosaic", help="alos_palsar_mosaic (default) or jers_sar_mosaic"
    )
    real_up.add_argument(
        "--catalog", help="STAC API (default: Digital Earth Africa's, https://explorer.digitalearth.africa/stac)"
    )
    real_up.add_argument(
        "--url-replace",
        action="append",
        metavar="OLD=NEW",
        help="rewrite asset addresses that start with OLD (default: the bucket's s3:// prefix to its HTTPS address)",
    )
    real_up.add_argument(
        "--download", action="store_true", help="copy the COGs into the cube's folder for offline work"
    )
    real_up.add_argument("--quiet", action="store_true", help="no progress bars")
    real_actions.add_parser("status", parents=[real_where], help="server state, products, datasets per year, disk size")
    real_actions.add_parser("down", parents=[real_where], help="stop the server, keep the index and files")
    real_actions.add_parser(
        "config", parents=[real_where], help="print the datacube config file's path (for ODC_CONFIG_PATH)"
    )
    real_actions.add_parser(
        "kernel",
        parents=[real_where],
        help="install a Jupyter kernel 'Python 3 (SAR mosaics, real data)' that connects to this cube",
    )

    report = commands.add_parser(
        "report",
        help="run a tutorial notebook for another area or years into an HTML report",
        description="Run NOTEBOOK with new parameters (papermill) and write an HTML report and the "
        "executed notebook beside it. Parameters are checked before anything runs.",
    )
    report.add_argument("notebook", help="the notebook, e.g. notebooks/01_ALOS_PALSAR_annual_mosaic.ipynb")
    report.add_argument("-o", "--output", required=True, help="the HTML report to write, e.g. reports/my_area.html")
    report.add_argument("--x", nargs=2, metavar=("WEST", "EAST"), help="longitude range (degrees)")
    report.add_argument("--y", nargs=2, metavar=("SOUTH", "NORTH"), help="latitude range (degrees)")
    report.add_argument("--time", nargs="+", metavar="DATE", help="first and last year or date, e.g. 2015 2022")
    report.add_argument("--product", help="the product to load")
    report.add_argument("--bands", nargs="+", help="the bands to load")
    report.add_argument("--steps", nargs="+", metavar="STEP", help="years or dates to plot (steps_to_plot)")
    report.add_argument(
        "--change-years",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="years of the change map (notebook 03; default: the first and last year of --time)",
    )
    report.add_argument("--output-crs", help="reproject to this CRS, e.g. EPSG:6933 (with --resolution)")
    report.add_argument(
        "--resolution", nargs="+", metavar="RES", help="pixel size in the output CRS: 25, or -25 25 (y x)"
    )
    report.add_argument(
        "--cube",
        choices=["test", "real"],
        default="test",
        help="run on the test cube (default) or on the real-data cube of `sar-helpers realcube up`",
    )
    report.add_argument("--config", help="run on the datacube this ODC config file describes (overrides --cube)")
    report.add_argument("--no-input", action="store_true", help="hide the code cells in the HTML report")
    report.add_argument("--quiet", action="store_true", help="no progress bar")

    lab = commands.add_parser(
        "lab",
        help="start JupyterLab on the notebooks, connected to the test datacube",
        description="Start JupyterLab on 127.0.0.1 with a random token (or $JUPYTER_TOKEN, at least 16 "
        "characters), after making sure the test datacube's server runs. Other interfaces or no token only "
        "when asked for explicitly.",
    )
    lab.add_argument("--notebook-dir", default="notebooks", help="folder to serve (default: notebooks)")
    lab.add_argument("--ip", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--public", action="store_true", help="allow an interface other machines can reach")
    lab.add_argument("--no-token", action="store_true", help="allow running without a token")
    return parser


def _number(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number.") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number.")
    return int(value) if value.is_integer() and "." not in text else value


def _report_overrides(args: argparse.Namespace) -> dict:
    overrides: dict[str, Any] = {}
    if args.x:
        overrides["x"] = [_number(v) for v in args.x]
    if args.y:
        overrides["y"] = [_number(v) for v in args.y]
    if args.time:
        overrides["time"] = list(args.time)
    if args.product:
        overrides["product"] = args.product
    if args.bands:
        overrides["bands"] = list(args.bands)
    if args.steps:
        overrides["steps_to_plot"] = [int(s) if s.isascii() and s.isdigit() else s for s in args.steps]
    if args.change_years:
        overrides["change_years"] = [_number(v) for v in args.change_years]
    if args.output_crs:
        overrides["output_crs"] = args.output_crs
    if args.resolution:
        values = [_number(v) for v in args.resolution]
        overrides["resolution"] = values if len(values) > 1 else values[0]
    return overrides


def _report(args: argparse.Namespace) -> int:
    from sar_helpers.cubes.localcube.base import CubeError
    from sar_helpers.cubes.realcube.cube import RealCube
    from sar_helpers.cubes.testcube.cube import TestCube
    from sar_helpers.tools.jupyter import CONFIG_VARIABLE, adopt_cube_config, ensure_cube_running
    from sar_helpers.tools.reports import run

    if args.config or args.cube == "real":
        config = Path(args.config).resolve() if args.config else RealCube().config_path
        if not config.is_file():
            hint = "" if args.config else ": run `sar-helpers realcube up --bbox W S E N --years ...` first"
            raise CubeError(f"No datacube config at {config}{hint}.")
        os.environ["ODC_CONFIG_PATH"] = str(config)
        problem = ensure_cube_running()
        if problem:
            raise CubeError(problem)
    else:
        os.environ.setdefault(CONFIG_VARIABLE, str(TestCube().config_path))
        adopt_cube_config()
    done = run(Path(args.notebook), Path(args.output), _report_overrides(args), args.no_input, not args.quiet)
    print(f"Report:            {done.html}")
    print(f"Executed notebook: {done.notebook}")
    return 0


def _lab(args: argparse.Namespace) -> int:
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


def _testcube(args: argparse.Namespace) -> int:
    from sar_helpers.cubes.testcube.cube import DEFAULT_BBOX, TestCube

    cube = TestCube(args.dir, db_url=args.db_url)
    if args.action in ("up", "reset"):
        years = None if args.years is None else {y for group in args.years for y in group}
        options: dict[str, Any] = dict(bbox=tuple(args.bbox or DEFAULT_BBOX), years=years, progress=not args.quiet)
        done = cube.up(**options, verify=args.verify) if args.action == "up" else cube.reset(args.force, **options)
        for path in done["repaired"]:
            print(f"Damaged, rendered again: {path}")
        print(
            f"Test datacube ready in {cube.folder}: rendered {done['rendered']}, "
            f"indexed {done['indexed']}, removed {done['removed']} datasets."
        )
        print(f"Connect with: export ODC_CONFIG_PATH={cube.config_path}")
        return 0
    return _common_cube_action(cube, args.action)


def _replacement(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old:
        raise ValueError(f"--url-replace takes OLD=NEW, e.g. s3://bucket/=https://mirror/bucket/, not {text!r}.")
    return old, new


def _realcube(args: argparse.Namespace) -> int:
    from sar_helpers.cubes.realcube.catalog import DEFAULT_CATALOG
    from sar_helpers.cubes.realcube.cube import RealCube

    cube = RealCube(args.dir)
    if args.action == "up":
        years = None if args.years is None else sorted({y for group in args.years for y in group})
        replacements = None if args.url_replace is None else [_replacement(r) for r in args.url_replace]
        done = cube.up(
            tuple(args.bbox),
            years,
            args.product,
            args.catalog or DEFAULT_CATALOG,
            replacements,
            args.download,
            progress=not args.quiet,
        )
        print(
            f"Real-data datacube ready in {cube.folder}: {done['found']} items found, {done['indexed']} indexed, "
            f"{done['already']} already there" + (f", {done['downloaded']} files downloaded." if args.download else ".")
        )
        print(f"Connect with: export ODC_CONFIG_PATH={cube.config_path}")
        return 0
    return _common_cube_action(cube, args.action)


def _common_cube_action(cube, action: str) -> int:
    """status, down, config and kernel, which every local cube answers alike."""
    if action == "status":
        print(cube.status().report())
    elif action == "down":
        print("Server stopped; data kept." if cube.down() else "Server was not running.")
    elif action == "config":
        if not cube.config_path.exists():
            print(
                f"No {cube.title.lower()} in {cube.folder} yet: run `sar-helpers {cube.command} up` first.",
                file=sys.stderr,
            )
            return 1
        print(cube.config_path)
    elif action == "kernel":
        from sar_helpers.tools.jupyter import install_kernel

        print(f"Installed the Jupyter kernel in {install_kernel(cube.config_path, cube.command)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from sar_helpers.cubes.localcube.base import CubeError
    from sar_helpers.tools.reports import OutputError, ReportError

    args = _build_parser().parse_args(argv)
    try:
        if args.command == "testcube":
            return _testcube(args)
        if args.command == "realcube":
            return _realcube(args)
        if args.command == "report":
            return _report(args)
        if args.command == "lab":
            return _lab(args)
    except OutputError as err:
        print(f"sar-helpers: {err}", file=sys.stderr)
        return 2
    except (CubeError, ReportError, ValueError) as err:
        print(f"sar-helpers: {err}", file=sys.stderr)
        return 1
    except Exception as err:
        from sar_helpers.errors import database_down_message, is_database_lost, unreadable_file_message

        message = database_down_message(err) if is_database_lost(err) else unreadable_file_message(err)
        if message is None:
            raise
        print(f"sar-helpers: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sar-helpers: interrupted; run the same command again to finish.", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
