"""The ``sar-helpers`` command line: one module per command group, each with the builder of its
arguments beside the handler that runs it."""

from __future__ import annotations

import argparse
import os
import sys

from . import lab, realcube, report, testcube


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sar-helpers",
        description="Tools for JAXA's annual SAR mosaics on the Open Data Cube.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (testcube, realcube, report, lab):
        group.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from sar_helpers.cubes.localcube.base import CubeError
    from sar_helpers.tools.reports import OutputError, ReportError

    args = build_parser().parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()  # here, where a reader that went away is handled, not at exit
        return code
    except BrokenPipeError:
        # The reader of our output stopped (`... | head`): as other command-line tools, end quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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
