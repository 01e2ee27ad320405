"""The ``sar-helpers`` command line."""

from __future__ import annotations

import argparse
import sys


def _years(text: str) -> list[int]:
    """``2007`` or ``2015-2022``."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-", 1))
            return list(range(first, last + 1))
        return [int(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year or a range like 2015-2022") from None


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
    actions.add_parser(
        "up", parents=[where, build], help="start the server, build what is missing (idempotent)"
    )
    actions.add_parser("status", parents=[where], help="server state, products, datasets per year, disk size")
    actions.add_parser("down", parents=[where], help="stop the server, keep the data")
    actions.add_parser("reset", parents=[where, build], help="wipe the cube and build it again")
    actions.add_parser("config", parents=[where], help="print the datacube config file's path (for ODC_CONFIG_PATH)")
    actions.add_parser(
        "kernel",
        parents=[where],
        help="install this environment's Jupyter kernel so that notebooks find the cube by themselves",
    )
    return parser


def _testcube(args: argparse.Namespace) -> int:
    from .testcube.cube import DEFAULT_BBOX, TestCube

    cube = TestCube(args.dir, db_url=args.db_url)
    if args.action in ("up", "reset"):
        years = None if args.years is None else {y for group in args.years for y in group}
        options = dict(bbox=tuple(args.bbox or DEFAULT_BBOX), years=years, progress=not args.quiet)
        done = cube.up(**options) if args.action == "up" else cube.reset(**options)
        print(
            f"Test datacube ready in {cube.folder}: rendered {done['rendered']}, "
            f"indexed {done['indexed']}, removed {done['removed']} datasets."
        )
        print(f"Connect with: export ODC_CONFIG_PATH={cube.config_path}")
    elif args.action == "status":
        print(cube.status().report())
    elif args.action == "down":
        stopped = cube.down()
        print("Server stopped; data kept." if stopped else "Server was not running.")
    elif args.action == "config":
        if not cube.config_path.exists():
            print(
                f"No test datacube in {cube.folder} yet: run `sar-helpers testcube up` first.",
                file=sys.stderr,
            )
            return 1
        print(cube.config_path)
    elif args.action == "kernel":
        from .jupyter import install_kernel

        print(f"Installed the Jupyter kernel in {install_kernel(cube.config_path)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .testcube.cube import CubeError

    args = _build_parser().parse_args(argv)
    try:
        if args.command == "testcube":
            return _testcube(args)
    except (CubeError, ValueError) as err:
        print(f"sar-helpers: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sar-helpers: interrupted; run the same command again to finish.", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
