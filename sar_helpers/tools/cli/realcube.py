"""``sar-helpers realcube``: a local datacube of real mosaics, indexed from a STAC API."""

from __future__ import annotations

import argparse
import shlex
import sys

from sar_helpers.cubes.realcube.limits import Limits
from sar_helpers.cubes.realcube.sources import DEAFRICA, SOURCES

from .cube_actions import add_cube_actions, chosen_years, run_cube_action, years


def add_command(commands) -> None:
    real = commands.add_parser(
        "realcube",
        help="a local datacube of real mosaics (Digital Earth Africa's or Planetary Computer's), indexed from a STAC API",
        description="Index real mosaics of an area and years into a local datacube (its own embedded "
        "PostgreSQL), from Digital Earth Africa (Africa; the default) or Microsoft Planetary Computer "
        "(worldwide, ALOS-2 from 2015, forest/non-forest maps). Pixels stay where they are published unless --download.",
    )
    real.set_defaults(run=run)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--dir", help="the cube's folder (default: $SAR_REALCUBE_DIR, else .realcube in the checkout)")
    actions = real.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", parents=[where], help="index the area and years (idempotent: adds to what is there)")
    up.add_argument(
        "--bbox",
        nargs=4,
        type=float,
        required=True,
        metavar=("W", "S", "E", "N"),
        help="area in degrees, e.g. 31.9 30.37 32.1 30.55",
    )
    up.add_argument("--years", nargs="+", type=years, help="e.g. 2015-2022 (default: every year of the product)")
    _add_source_arguments(up)
    up.add_argument("--download", action="store_true", help="copy the COGs into the cube's folder for offline work")
    up.add_argument("--quiet", action="store_true", help="no progress bars")
    limits = up.add_argument_group("limits on what the network may take (a catalog is untrusted input)")
    limits.add_argument(
        "--timeout",
        type=float,
        default=Limits.timeout,
        help="seconds to connect or wait for data (default %(default)s)",
    )
    limits.add_argument(
        "--deadline",
        type=float,
        default=Limits.deadline,
        help="seconds the whole catalog search may take, and each file's download (default %(default)s)",
    )
    limits.add_argument(
        "--max-items", type=int, default=Limits.max_items, help="items the search may bring (default %(default)s)"
    )
    limits.add_argument(
        "--max-pages", type=int, default=Limits.max_pages, help="pages the search may bring (default %(default)s)"
    )
    add_cube_actions(
        actions, where, "install a Jupyter kernel 'Python 3 (SAR mosaics, real data)' that connects to this cube"
    )


def _add_source_arguments(up: argparse.ArgumentParser) -> None:
    """Where ``up`` finds the mosaics: the source, its product, its catalog, and address rewrites."""
    up.add_argument(
        "--source",
        choices=sorted(SOURCES),
        default=DEAFRICA.name,
        help="where the mosaics come from (default %(default)s; planetary-computer signs each file when it is read, "
        "with PC_SDK_SUBSCRIPTION_KEY if set; jaxa downloads and converts tarballs with the account in "
        "JAXA_USERNAME and JAXA_PASSWORD or ~/.netrc)",
    )
    up.add_argument(
        "--product",
        default="alos_palsar_mosaic",
        help="alos_palsar_mosaic (default), jers_sar_mosaic (deafrica) or alos_fnf_mosaic (planetary-computer)",
    )
    up.add_argument(
        "--catalog",
        help="the source's STAC API, or for jaxa its archive (default: the source's own, e.g. "
        + DEAFRICA.catalog
        + ")",
    )
    up.add_argument(
        "--url-replace",
        action="append",
        metavar="OLD=NEW",
        help="rewrite asset addresses that start with OLD (default for deafrica: the bucket's s3:// prefix to its HTTPS address)",
    )


def _replacement(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old:
        raise ValueError(f"--url-replace takes OLD=NEW, e.g. s3://bucket/=https://mirror/bucket/, not {text!r}.")
    return old, new


def run(args: argparse.Namespace) -> int:
    from sar_helpers.cubes.realcube.cube import RealCube

    cube = RealCube(args.dir)
    if args.action != "up":
        return run_cube_action(cube, args.action, getattr(args, "force", False))
    replacements = None if args.url_replace is None else [_replacement(r) for r in args.url_replace]
    limits = Limits(args.timeout, args.deadline, args.max_items, args.max_pages)
    done = cube.up(
        tuple(args.bbox),
        chosen_years(args.years),
        args.product,
        args.catalog,
        replacements,
        args.download,
        progress=not args.quiet,
        limits=limits,
        source=args.source,
    )
    for sentence in done["refused"]:
        print(f"sar-helpers: {sentence}", file=sys.stderr)
    print(
        f"Real-data datacube ready in {cube.folder}: {done['found']} items found, {done['indexed']} indexed, "
        f"{done['already']} already there"
        + (f", {done['downloaded']} files downloaded" if args.download and not SOURCES[args.source].archive else "")
        + (f", {done['downloaded']} tarballs downloaded and converted" if SOURCES[args.source].archive else "")
        + (f", {done['elsewhere']} already there from another source" if done["elsewhere"] else "")
        + (f", {len(done['refused'])} refused." if done["refused"] else ".")
    )
    print(f"Connect with: export ODC_CONFIG_PATH={shlex.quote(str(cube.config_path))}")
    return 1 if done["refused"] else 0
