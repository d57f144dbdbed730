"""Study names become directory and file names: a safe character set, a bounded length, and paths kept under a root.

`../../x`, `/abs`, `x/../other-study` or a 300-character name would otherwise write outside the runs directory,
into another study's files, or past the file system's name limit.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MAX_NAME_LENGTH = 100
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
NAME_RULE = (f"1-{MAX_NAME_LENGTH} characters: letters, digits, '.', '_' or '-', starting with a letter or digit "
             "(no '/', no '..')")


# What the runs folder holds beside the studies' folders (runs/<study>/...): a study of one of these names would
# write its runs into the default storage's file or another command's folder (round 6's 5-c: `study: sweeplab.db`).
RESERVED_NAMES = {**dict.fromkeys(["sweeplab.db", "sweeplab.db-journal", "sweeplab.db-wal", "sweeplab.db-shm"],
                                  "default storage file"),
                  "slurm": "Slurm log folder", "results": "findings folder", "artifacts": "artifact folder"}


class UnsafeNameError(ValueError):
    """A name that cannot safely become a file or directory name."""


def name_problem(name: object) -> str | None:
    """Why `name` is not a safe study name, or None."""
    if not isinstance(name, str) or not name:
        return f"expected a non-empty string, got {name!r}"
    if len(name) > MAX_NAME_LENGTH:
        return f"{len(name)} characters is too long; expected {NAME_RULE}"
    if not NAME_PATTERN.match(name) or ".." in name:
        return f"{name!r} is not a safe name; expected {NAME_RULE}"
    if name.lower() in RESERVED_NAMES:
        return f"{name!r} is the runs folder's own {RESERVED_NAMES[name.lower()]}; choose another name"
    return None


def check_name(name: object, what: str = "study name") -> str:
    problem = name_problem(name)
    if problem:
        raise UnsafeNameError(f"{what}: {problem}")
    return name  # type: ignore[return-value]


def file_stem(name: str) -> str:
    """A file-name stem for any stored name (older storages may hold unsafe ones), distinct for distinct names.

    A safe name is kept as is; anything else is reduced to safe characters and suffixed with a hash of the
    original, so `a/b` and `a_b` never share a file."""
    if name_problem(name) is None:
        return name
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60] or "study"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def under(root: Path, *parts: str) -> Path:
    """`root/parts...`, refusing any result that is not inside `root` (after resolving `..` and links)."""
    root = Path(root)
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise UnsafeNameError(f"{path} is outside {root}")
    return path
