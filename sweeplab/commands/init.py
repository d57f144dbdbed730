"""`sweeplab init NAME`: a starter task module and study file for a user's own model, runnable as written."""

from __future__ import annotations

import argparse
import importlib.util
import keyword
import sys
from pathlib import Path

from sweeplab.errors import UserError
from sweeplab.paths import folder_path

STARTER = Path(__file__).resolve().parent.parent / "starter"


def register(subparsers: argparse._SubParsersAction) -> None:
    init = subparsers.add_parser("init", help="write NAME.py (your task) and NAME.yaml (its study) to start from")
    init.add_argument("name", help="a Python module name, e.g. mymodel")
    init.add_argument("--dir", type=folder_path, default=".",
                      help="where to write them (default: the working directory)")
    init.set_defaults(handler=init_command)


def _project_packages() -> set[str]:
    """The top-level packages beside `sweeplab` (sweeps, trainers, datasets, tests, ...; importable whenever the
    checkout is on the path, e.g. when run from it) and the names test runners and many wheels take."""
    root = Path(__file__).resolve().parents[2]
    return {path.parent.name for path in root.glob("*/__init__.py")} | {"tests", "test", "conftest"}


def module_name_problem(name: str) -> str | None:
    """Why NAME cannot be the module of a new task (None when it can): the study imports the task as NAME, so the
    name must be an ASCII identifier, not a keyword or dunder, and not shadow a module Python already finds
    (the standard library, keras, sweeplab, tests, ...): `import NAME` would load that one instead."""
    if not name.isascii() or not name.isidentifier() or len(name) > 64:
        return "is not a Python module name (ASCII letters, digits and _, not starting with a digit, at most 64)"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "is a Python keyword"
    if name.startswith("__") and name.endswith("__"):
        return "is a dunder name, reserved by Python"
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return "is a module of Python's standard library, which `import` would load instead"
    if name in _project_packages():
        return "is a package of sweeplab's own checkout (or a name test runners import), which would be loaded instead"
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module already imported without a spec (e.g. __main__): it exists
        found = True
    if found:
        return "is already an importable module, which `import` would load instead"
    return None


def init_command(args: argparse.Namespace) -> int:
    name = args.name
    if not name.isascii() or not name.isidentifier() or len(name) > 64:
        raise UserError(f"init: NAME {name!r} {module_name_problem(name)}; choose another name (e.g. mymodel)")
    directory = Path(args.dir)
    if not directory.is_dir():
        raise UserError(f"init: --dir {str(directory)!r} is not a directory")
    targets = {directory / f"{name}.py": "task.py.txt", directory / f"{name}.yaml": "study.yaml.txt"}
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise UserError(f"init: {existing[0]} exists; nothing written (choose another name or move it)")
    problem = module_name_problem(name)
    if problem:
        raise UserError(f"init: NAME {name!r} {problem}; choose another name (e.g. mymodel)")
    for path, template in targets.items():
        with open(path, "x") as handle:  # exclusive: never overwrite a file that appeared meanwhile
            handle.write((STARTER / template).read_text().format(name=name))
        print(f"wrote {path}")
    print(f"next: sweeplab sweep {directory / name}.yaml   (then: sweeplab best {directory / name}.yaml)")
    return 0
