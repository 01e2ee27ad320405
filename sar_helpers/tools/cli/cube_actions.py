"""What every local cube's command group shares: its years argument and the status, down,
config and kernel actions."""

from __future__ import annotations

import argparse
import sys


def years(text: str) -> list[int]:
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


def chosen_years(groups: list[list[int]] | None) -> list[int] | None:
    """The years of every ``--years`` argument, sorted, or None when none was given."""
    return None if groups is None else sorted({year for group in groups for year in group})


def add_cube_actions(actions, where: argparse.ArgumentParser, kernel_help: str) -> None:
    """status, down, config and kernel, with the group's own folder options (``where``)."""
    actions.add_parser("status", parents=[where], help="server state, products, datasets per year, disk size")
    actions.add_parser("down", parents=[where], help="stop the server, keep the index and the files")
    actions.add_parser("config", parents=[where], help="print the datacube config file's path (for ODC_CONFIG_PATH)")
    actions.add_parser("kernel", parents=[where], help=kernel_help)
    delete = actions.add_parser(
        "delete",
        parents=[where],
        help="stop the server and delete what the cube made (its data, index and server folder); keep the rest",
    )
    delete.add_argument(
        "--force",
        action="store_true",
        help="work in a folder that also holds other files (they are left alone; only the cube's are deleted)",
    )


def report_kept(kept: list) -> None:
    """Name the files a reset or delete left because the cube did not make them."""
    for path in kept:
        print(f"Kept (not made by the cube): {path}")


def run_cube_action(cube, action: str, force: bool = False) -> int:
    """Answer status, down, config, kernel or delete for any local cube."""
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
    elif action == "delete":
        report_kept(cube.delete(force))
        print(f"Deleted the {cube.title.lower()} in {cube.folder}.")
    elif action == "kernel":
        from sar_helpers.tools.jupyter import install_kernel

        print(f"Installed the Jupyter kernel in {install_kernel(cube.config_path, cube.command)}")
    return 0
