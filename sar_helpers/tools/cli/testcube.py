"""``sar-helpers testcube``: build and manage the local test datacube."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from .cube_actions import add_cube_actions, chosen_years, report_kept, run_cube_action, years


def add_command(commands) -> None:
    cube = commands.add_parser(
        "testcube",
        help="the local test datacube (synthetic mosaics in an embedded PostgreSQL)",
        description="Build and manage the local test datacube.",
    )
    cube.set_defaults(run=run)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--dir", help="the cube's folder (default: $SAR_TESTCUBE_DIR, else .testcube in the checkout)")
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
        help="area to generate in degrees (default: two areas, the tutorial's desert with a margin, "
        "31.85 30.32 32.15 30.60, and forest east of Kisangani, 25.30 0.40 25.50 0.55); "
        "e.g. 31 30 32 31 for the whole tile N31E031",
    )
    build.add_argument(
        "--years", nargs="+", type=years, help="years to generate, e.g. 2007 2015-2022 (default: every mosaic year)"
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
    reset = actions.add_parser("reset", parents=[where, build], help="wipe the cube and build it again")
    reset.add_argument(
        "--force",
        action="store_true",
        help="work in a folder that also holds other files (they are left alone; only the cube's are deleted)",
    )
    add_cube_actions(
        actions, where, "install this environment's Jupyter kernel so that notebooks find the cube by themselves"
    )


def run(args: argparse.Namespace) -> int:
    from sar_helpers.cubes.testcube.cube import TestCube

    cube = TestCube(args.dir, db_url=args.db_url)
    if args.action not in ("up", "reset"):
        return run_cube_action(cube, args.action, getattr(args, "force", False))
    years = chosen_years(args.years)
    options: dict[str, Any] = dict(
        bbox=tuple(args.bbox) if args.bbox else None,
        years=None if years is None else set(years),
        progress=not args.quiet,
    )
    done = cube.up(**options, verify=args.verify) if args.action == "up" else cube.reset(args.force, **options)
    for path in done["repaired"]:
        print(f"Damaged, rendered again: {path}")
    report_kept(done.get("kept", []))
    print(
        f"Test datacube ready in {cube.folder}: rendered {done['rendered']}, "
        f"indexed {done['indexed']}, removed {done['removed']} datasets."
    )
    print(f"Connect with: export ODC_CONFIG_PATH={shlex.quote(str(cube.config_path))}")
    return 0
