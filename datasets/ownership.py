"""Outputs the user pointed a command at (`--out`, `--preview`) replace only what sweeplab wrote there.

A command declares each place it writes on the user's word with `user_outputs(root, option, overwrite)`. Inside it,
the write door (`datasets.atomic`) asks `claim(path)` before a file under `root` is replaced and calls `record(path)`
after: each folder keeps a manifest (`.sweeplab-outputs.json`) of the files sweeplab wrote in it, by content digest.
A file that is absent, empty, a stream, or recorded with the content it has now is replaced; any other file (the
user's data set, a run's signed `result.json`, a file edited since) is refused in one line unless `--overwrite` was
given (round 13's 5-f, 5-g: `predict --out` over a signed result, `clocks render --out` over a kept data set). The
digest, not the inode, identifies a file, so outputs committed to git stay ours in a fresh clone."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MANIFEST = ".sweeplab-outputs.json"
_DIGEST = re.compile(r"[0-9a-f]{64}")


class ForeignOutputError(Exception):
    """An output would replace a file sweeplab did not write there (a user error: one line)."""


@dataclass(frozen=True)
class _Root:
    path: Path
    option: str
    overwrite: bool

    def covers(self, path: Path) -> bool:
        return path == self.path or self.path in path.parents


_ROOTS: list[_Root] = []


def _absolute(path: Path | str) -> Path:
    return Path(os.path.abspath(path))


@contextlib.contextmanager
def user_outputs(root: Path | str | None, option: str, overwrite: bool = False) -> Iterator[None]:
    """Within the block, files written at `root` (a file, or anything under a folder) are the user-named outputs
    of `option`. `None` declares nothing (an option left out)."""
    if root is None:
        yield
        return
    entry = _Root(_absolute(root), option, overwrite)
    _ROOTS.append(entry)
    try:
        yield
    finally:
        _ROOTS.remove(entry)


def _shown(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else repr(text)


def _root_of(path: Path) -> _Root | None:
    return next((root for root in reversed(_ROOTS) if root.covers(path)), None)


def digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


MANIFEST_LIMIT = 4 << 20  # bytes: a record larger than this is not one sweeplab wrote


def _manifest_file(folder: Path) -> bool:
    """The folder's record is a plain file of a record's size (not a link, folder, FIFO or device)."""
    try:
        found = os.lstat(folder / MANIFEST)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and found.st_size <= MANIFEST_LIMIT


def _record(folder: Path) -> dict[str, str] | None:
    """The folder's record: {} when there is none, None when something else holds its name (a folder, a link, a
    FIFO, a huge file, a user's own notes: anything not a JSON object of names to SHA-256 digests)."""
    if not os.path.lexists(folder / MANIFEST):
        return {}
    if not _manifest_file(folder):
        return None
    try:
        entries = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: not a record sweeplab wrote
        return None
    if not isinstance(entries, dict) or not all(isinstance(value, str) and _DIGEST.fullmatch(value)
                                                for value in entries.values()):
        return None
    return entries


def _manifest(folder: Path) -> dict[str, str]:
    """The names sweeplab recorded in `folder` (none when there is no record, or the name holds something else)."""
    return _record(folder) or {}


def _is_ours(path: Path) -> bool:
    recorded = _manifest(path.parent).get(path.name)
    return recorded is not None and path.is_file() and not path.is_symlink() and digest(path) == recorded


def named_as_it_is(path: Path | str) -> bool:
    """`path` may be written in place when it is a stream: it is the output the user named itself (`--out
    /dev/stdout`), or no output of theirs (the project's own writes). A FIFO, device or link to a stream found
    inside an output folder was not named: it is never written through (round 15's 5-a: a FIFO named like a page
    of the report hung it)."""
    path = _absolute(path)
    root = _root_of(path)
    return root is None or root.path == path


def _kind(path: Path) -> str:
    found = os.lstat(path)
    for test, word in ((stat.S_ISLNK, "a link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(found.st_mode):
            return word
    return "a file"


def claim(path: Path | str) -> None:
    """Refuse (ForeignOutputError) to replace `path` when it lies under a declared output, exists, and is not a
    file sweeplab recorded there with its present content, unless that output was given `--overwrite`. A stream
    the user named as the output itself is the write door's to judge; inside an output folder a link, FIFO, socket
    or device is foreign like any file (round 15's 5-b: a socket was replaced); paths outside every declared output
    are the command's own."""
    from datasets.atomic import written_in_place

    path = _absolute(path)
    root = _root_of(path)
    if root is None or (root.path == path and written_in_place(path)):  # `--out /dev/stdout`: written in place
        return
    where = f"{root.option} {_shown(root.path)}" + ("" if root.path == path else
                                                     f": {_shown(path.relative_to(root.path))}")
    if path.name == MANIFEST:
        raise ForeignOutputError(f"{where}: that name is sweeplab's record of what it wrote in the folder; "
                                 "choose another")
    if not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink():
        raise ForeignOutputError(f"{where} is a folder; expected a file name")
    regular = stat.S_ISREG(os.lstat(path).st_mode)
    if root.overwrite or (regular and (path.stat().st_size == 0 or _is_ours(path))):
        return
    why = "sweeplab did not write there (or it was changed since)"
    if regular and _record(path.parent) is None:
        why = (f"not known as sweeplab's: {MANIFEST} in that folder is not a record sweeplab wrote (a folder, a "
               "link or other content), so nothing there is")
    raise ForeignOutputError(f"{where} is {_kind(path)} {why}; it is kept. Choose another place, or pass "
                             "--overwrite to replace it")


def record(path: Path | str) -> None:
    """Note a file just written under a declared output in its folder's manifest (written whole: a temporary
    renamed over it). A manifest lost to a concurrent writer only makes a later write ask for --overwrite."""
    path = _absolute(path)
    if _root_of(path) is None or not path.is_file() or path.is_symlink():
        return
    folder = path.parent
    found = _record(folder)
    if found is None:  # something else holds the record's name (a user's file, a folder): kept
        print(f"sweeplab: warning: {_shown(folder / MANIFEST)} is not a record sweeplab wrote, so {path.name} is "
              "written but not recorded: writing it again will ask for --overwrite", file=sys.stderr)
        return
    entries = {name: value for name, value in found.items() if (folder / name).is_file()}
    entries[path.name] = digest(path)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{MANIFEST}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(entries, indent=1, sort_keys=True) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, folder / MANIFEST)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
