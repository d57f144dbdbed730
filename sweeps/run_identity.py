"""Every run gets a directory of its own: created exclusively, never one that holds another run's files.

`runs/<study>/<trial number>` alone collides when the same study name lives in two storages, when a database
is deleted and re-created, or when two single runs start in the same second. The directory is claimed with an
exclusive `mkdir` (a suffix `-2`, `-3`, ... when taken), and `trial.json` in it says which storage, study and
trial it belongs to, with the trial's parameters, so `sweeplab record RUN_DIR` can store its result later.
"""

from __future__ import annotations

import contextvars
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from datasets.atomic import make_folder, write_text
from sweeps.names import file_stem, under

IDENTITY_FILE = "trial.json"
_CURRENT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("sweeplab_run_dir", default=None)


class RunDirInUseError(ValueError):
    """A run directory given by the user already holds another run's files."""


def _claim(parent: Path, stem: str) -> Path:
    make_folder(parent)
    for attempt in range(1, 10_000):
        candidate = parent / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunDirInUseError(f"{parent}: no free run directory for {stem!r}")


def claim_trial_dir(root: Path, study_name: str, trial: Any, fixed: dict[str, Any] | None = None) -> Path:
    """A fresh `root/<study>/<number>[-k]` for an Optuna trial, with its identity in `trial.json` (with `fixed`, the
    values it trains with besides its parameters: `record` stores those, whatever the study fixes by then)."""
    from sweeps.storage import _redact, url_of

    storage = url_of(trial.study._storage)
    run_dir = _claim(under(root, file_stem(study_name)), f"{trial.number:04d}")
    identity = {"study": study_name, "trial_number": trial.number, "trial_id": trial._trial_id,
                "storage": _redact(storage) if storage else None, "params": dict(trial.params),
                "distributions": {name: _distribution_json(distribution)
                                  for name, distribution in trial.distributions.items()},
                "run_id": uuid.uuid4().hex, "host": os.uname().nodename, "pid": os.getpid(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **({"fixed": fixed} if fixed is not None else {})}
    write_text(run_dir / IDENTITY_FILE, json.dumps(identity, indent=2, sort_keys=True) + "\n")
    _CURRENT.set(run_dir)
    return run_dir


def claim_refit_dir(root: Path, study_name: str, trial_number: int) -> Path:
    """A fresh `root/<study>/refit-<number>[-k]` for the refit of a study's best trial."""
    return _claim(under(root, file_stem(study_name)), f"refit-{trial_number:04d}")


def claim_single_dir(root: Path, label: str) -> Path:
    """A fresh `root/single/<label>-<time>-<id>` for `sweeplab run`; two runs in the same second get two."""
    stem = f"{file_stem(label)}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    return _claim(under(root, "single"), stem)


def check_run_dir(path: Path | str) -> Path:
    """A directory the user named (`run --run-dir`): new or empty, never one with another run's files."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirInUseError(f"--run-dir {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        names = ", ".join(sorted(child.name for child in path.iterdir())[:4])
        raise RunDirInUseError(f"--run-dir {path}: already holds files of another run ({names}); name a new or "
                               "empty directory")
    make_folder(path)
    return path


def forget_run_dir() -> None:
    """Called before each trial, so a message never points at the previous trial's directory."""
    _CURRENT.set(None)


def remember_run_dir(run_dir: Path) -> None:
    """A trial trained in a child process: its directory, for messages in this one."""
    _CURRENT.set(run_dir)


def current_run_dir() -> Path | None:
    """The run directory the latest trial in this thread claimed (for messages about a result kept there)."""
    return _CURRENT.get()



def _distribution_json(distribution: Any) -> str:
    import optuna.distributions

    return optuna.distributions.distribution_to_json(distribution)
