"""The project's file writes. Files that concurrent agents share (array caches, rendered and localised clocks,
feature weights) are written whole or not at all: into a temporary file beside the target, then renamed over it.
Every write names its file when it fails: an error raised while writing or closing (a full disk, a file-size limit,
an I/O error) carries no file name of its own, and the command's one line would not say which file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def naming_write_errors(path: Path | str) -> Iterator[None]:
    """An OSError from the system (it has an errno) that names no file is given `path` as its file name."""
    try:
        yield
    except OSError as error:
        if error.filename is None and error.errno is not None:  # a message-only OSError keeps its words
            error.filename = str(path)
        raise


def write_text(path: Path | str, text: str) -> Path:
    """Write `text` to `path` whole or not at all (a temporary file renamed over it), its error naming `path`. A
    symbolic or hard link found at `path` is replaced, never written through: the file it points to is the user's
    (round 9's 5-a: `report --out DIR` over a `DIR/index.html` linked to a user's file replaced that file). A device or
    FIFO (`/dev/stdout`) is written in place."""
    import stat

    path = Path(path)
    with naming_write_errors(path):
        try:
            kind = stat.S_IFMT(os.stat(path).st_mode)
        except FileNotFoundError:
            kind = None
        if kind in (stat.S_IFCHR, stat.S_IFIFO, stat.S_IFBLK):
            path.write_text(text)
            return path
        if not path.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path.parent))
        return _atomic_write(path, lambda temporary: Path(temporary).write_text(text), 0o644)


def atomic_write(path: Path, write: Callable[[str], None], mode: int = 0o644) -> Path:
    """Call `write(temporary path)`, then rename the result to `path` (readable by other users' agents: `mode`).
    A reader sees the old file or the new one, never half of one; a failed write leaves no temporary behind."""
    path = Path(path)
    with naming_write_errors(path):
        return _atomic_write(path, write, mode)


def _atomic_write(path: Path, write: Callable[[str], None], mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temporary name ends as the target does (`.npz`, `.weights.h5`), so writers that check it accept it
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix="".join(path.suffixes))
    os.close(descriptor)
    try:
        write(temporary)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
