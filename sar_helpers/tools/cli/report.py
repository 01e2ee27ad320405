"""``sar-helpers report``: a tutorial notebook run for another area or years into an HTML report."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any


def add_command(commands) -> None:
    report = commands.add_parser(
        "report",
        help="run a tutorial notebook for another area or years into an HTML report",
        description="Run NOTEBOOK with new parameters (papermill) and write an HTML report and the "
        "executed notebook beside it. Parameters are checked before anything runs.",
    )
    report.set_defaults(run=run)
    report.add_argument("notebook", help="the notebook, e.g. notebooks/01_ALOS_PALSAR_annual_mosaic.ipynb")
    report.add_argument("-o", "--output", required=True, help="the HTML report to write, e.g. reports/my_area.html")
    report.add_argument("--x", nargs=2, metavar=("WEST", "EAST"), help="longitude range (degrees)")
    report.add_argument("--y", nargs=2, metavar=("SOUTH", "NORTH"), help="latitude range (degrees)")
    report.add_argument("--time", nargs="+", metavar="DATE", help="first and last year or date, e.g. 2015 2022")
    report.add_argument("--product", help="the product to load")
    report.add_argument("--bands", nargs="+", help="the bands to load")
    report.add_argument("--steps", nargs="+", metavar="STEP", help="years or dates to plot (steps_to_plot)")
    report.add_argument(
        "--log-ratio-years",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="years of the log-ratio (notebook 03; default: the first and last year of --time)",
    )
    report.add_argument(
        "--change-years",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="the two mosaics to compare (notebook 04; default: the first and last year of --time)",
    )
    report.add_argument(
        "--uniform-area",
        nargs=4,
        metavar=("W", "S", "E", "N"),
        help="a box of uniform, unchanging ground (bare soil, sand) for speckle and sensor checks (notebooks 01, 02)",
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
    report.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this Dask scheduler (tcp://host:8786, tls://...) or Dask Gateway (https://...) instead of a "
        "local cluster (notebook 03's scheduler_address; credentials from Dask's configuration)",
    )
    report.add_argument("--no-input", action="store_true", help="hide the code cells in the HTML report")
    report.add_argument("--quiet", action="store_true", help="no progress bar")


def _number(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number.") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number.")
    return int(value) if value.is_integer() and "." not in text else value


def _overrides(args: argparse.Namespace) -> dict:
    """The notebook parameters the options name, as the notebook's own types."""
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
    if args.log_ratio_years:
        overrides["log_ratio_years"] = [_number(v) for v in args.log_ratio_years]
    if args.change_years:
        overrides["change_years"] = [_number(v) for v in args.change_years]
    if args.uniform_area:
        overrides["uniform_area"] = [_number(v) for v in args.uniform_area]
    if args.output_crs:
        overrides["output_crs"] = args.output_crs
    if args.resolution:
        values = [_number(v) for v in args.resolution]
        overrides["resolution"] = values if len(values) > 1 else values[0]
    if args.scheduler:
        from sar_helpers.tools.cluster import ClusterError, check_address

        try:
            overrides["scheduler_address"] = check_address(args.scheduler)
        except ClusterError as err:
            raise ValueError(str(err)) from None
    return overrides


def _use_cube(args: argparse.Namespace) -> None:
    """Point this process (and so the notebook's kernel) at the chosen datacube, its server running."""
    from sar_helpers.cubes.localcube.base import CubeError
    from sar_helpers.cubes.realcube.cube import RealCube
    from sar_helpers.cubes.testcube.cube import TestCube
    from sar_helpers.tools.jupyter import CONFIG_VARIABLE, adopt_cube_config, ensure_cube_running

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


def run(args: argparse.Namespace) -> int:
    from sar_helpers.tools.reports import run as run_report

    _use_cube(args)
    done = run_report(Path(args.notebook), Path(args.output), _overrides(args), args.no_input, not args.quiet)
    print(f"Report:            {done.html}")
    print(f"Executed notebook: {done.notebook}")
    return 0
