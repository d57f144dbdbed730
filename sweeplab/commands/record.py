"""`sweeplab record RUN_DIR`: store a finished trial's result that the storage refused at the time (locked, full)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sweeplab.commands import add_storage_argument
from sweeplab.paths import path_text


def register(subparsers: argparse._SubParsersAction) -> None:
    record = subparsers.add_parser("record", help="store a trial result kept in its run directory (after a "
                                                  "storage failure) in the study")
    record.add_argument("run_dir", type=path_text, help="the trial's run directory (holds trial.json and result.json)")
    add_storage_argument(record)
    record.set_defaults(handler=record_command)


def record_command(args: argparse.Namespace) -> int:
    from sweeps.record import record_result

    # trial.json and result.json are read and checked once, in `sweeps.record.read_run` (one line on any other shape)
    print(record_result(Path(args.run_dir), args.storage))
    return 0
