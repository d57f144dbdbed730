"""`sweeplab init NAME`: a starter task module and study file for a user's own model, runnable as written."""

from __future__ import annotations

import argparse
import keyword
from pathlib import Path

from sweeplab.errors import UserError

STARTER = Path(__file__).resolve().parent.parent / "starter"


def register(subparsers: argparse._SubParsersAction) -> None:
    init = subparsers.add_parser("init", help="write NAME.py (your task) and NAME.yaml (its study) to start from")
    init.add_argument("name", help="a Python module name, e.g. mymodel")
    init.add_argument("--dir", default=".", help="where to write them (default: the working directory)")
    init.set_defaults(handler=init_command)


def init_command(args: argparse.Namespace) -> int:
    name = args.name
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii() or len(name) > 64:
        raise UserError(f"init: {name!r} is not a usable module name; use letters, digits and _ (e.g. mymodel)")
    directory = Path(args.dir)
    if not directory.is_dir():
        raise UserError(f"init: --dir {str(directory)!r} is not a directory")
    targets = {directory / f"{name}.py": "task.py.txt", directory / f"{name}.yaml": "study.yaml.txt"}
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise UserError(f"init: {existing[0]} exists; nothing written (choose another name or move it)")
    for path, template in targets.items():
        with open(path, "x") as handle:  # exclusive: never overwrite a file that appeared meanwhile
            handle.write((STARTER / template).read_text().format(name=name))
        print(f"wrote {path}")
    print(f"next: sweeplab sweep {directory / name}.yaml   (then: sweeplab best {directory / name}.yaml)")
    return 0
