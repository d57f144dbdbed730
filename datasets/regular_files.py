"""The one way the project opens a file it did not just write (a run directory's metrics.jsonl, result and identity
files, images, a user's model and arrays): only a regular file is read. A FIFO named metrics.jsonl would block
`open` until a writer came (a report that never ends), a directory or a device would be read as garbage or forever.
The file is opened without blocking and checked on the open descriptor, so it cannot be swapped in between."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


class NotRegularFileError(OSError):
    """The path exists but is not a regular file; the message is one line naming it and what it is."""


class FileTooLargeError(OSError):
    """A regular file larger than what its kind ever holds (a sparse 3 GB `trial.json`): not read; one line."""


def open_regular(path: Path | str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
    """`open(path, mode)` for reading, refusing anything but a regular file (symbolic links are followed)."""
    if any(flag in mode for flag in "wax+"):
        raise ValueError(f"open_regular reads only; got mode {mode!r}")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO opens at once, unread
    try:
        kind = stat.S_IFMT(os.fstat(descriptor).st_mode)
        if kind != stat.S_IFREG:
            raise NotRegularFileError(f"{path}: is {KINDS.get(kind, 'not a regular file')}; expected a regular file")
        os.set_blocking(descriptor, True)
        return open(descriptor, mode, closefd=True, **kwargs)  # the caller closes it
    except BaseException:
        os.close(descriptor)
        raise


def read_regular_bytes(path: Path | str, max_bytes: int | None = None) -> bytes:
    """The whole file, through the regular-file door; FileTooLargeError when it holds more than `max_bytes`."""
    with open_regular(path, "rb") as handle:
        if max_bytes is None:
            return handle.read()
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(max_bytes + 1) if size <= max_bytes else b""  # + 1: a file growing meanwhile is seen
        if size > max_bytes or len(data) > max_bytes:
            raise FileTooLargeError(f"{path}: {max(size, len(data)):,} bytes, more than a file of its kind holds "
                                    f"(at most {max_bytes:,}); not read")
        return data


def read_regular_text(path: Path | str, encoding: str = "utf-8", max_bytes: int | None = None) -> str:
    """The whole file as text (`encoding`; UnicodeDecodeError otherwise), bounded like read_regular_bytes."""
    return read_regular_bytes(path, max_bytes).decode(encoding)
