"""`sweeplab report`: a static HTML report (plotly) of every study in the storage."""

from __future__ import annotations

import argparse
from pathlib import Path

from sweeplab.commands import add_overwrite_argument, add_storage_argument
from sweeplab.numbers import positive_int
from sweeplab.paths import folder_path, shown


def register(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser("report", help="static HTML report of every study: history, parallel "
                                                  "coordinates, importances, per-parameter plots, curves, images")
    add_storage_argument(report)
    report.add_argument("--out", type=folder_path, default="reports", help="output directory (default: reports/)")
    report.add_argument("--top", type=positive_int, default=5,
                        help="trials whose learning curves and images are shown")
    add_overwrite_argument(report, "--out")
    report.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    from analysis.report_render import write_report
    from sweeps.storage import open_storage, runs_dir

    index = write_report(open_storage(args.storage, create=False), runs_dir(), Path(args.out), args.top)
    print(f"report: {shown(index.resolve())}")
    return 0
