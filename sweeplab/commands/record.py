"""`sweeplab record RUN_DIR`: store a finished trial's result that the storage refused at the time (locked, full)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sweeplab.commands import add_storage_argument
from sweeplab.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    record = subparsers.add_parser("record", help="store a trial result kept in its run directory (after a "
                                                  "storage failure) in the study")
    record.add_argument("run_dir", help="the trial's run directory (holds trial.json and result.json)")
    add_storage_argument(record)
    record.set_defaults(handler=record_command)


def record_command(args: argparse.Namespace) -> int:
    from sweeps.record import record_result

    run_dir = Path(args.run_dir)
    for name in ("trial.json", "result.json"):
        if not (run_dir / name).is_file():
            raise UserError(f"{run_dir}: no {name}; only a trial's run directory whose training finished can be "
                            "recorded")
    try:
        outcome = record_result(run_dir, args.storage)
    except (json.JSONDecodeError, KeyError) as error:
        raise UserError(f"{run_dir}: trial.json / result.json unreadable ({type(error).__name__}: {error})") from None
    print(outcome)
    return 0
