"""The project's file writes. Files that concurrent agents share (array caches, rendered and localised clocks,
feature weights) are written whole or not at all: into a temporary file beside the target, then renamed over it.
Every write names its file when it fails: an error raised while writing or closing (a full disk, a file-size limit,
an I/O error) carries no file name of its own, and the command's one line would not say which file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from datasets import ownership


@contextlib.contextmanager
def naming_write_errors(path: Path | str) -> Iterator[None]:
    """An OSError from the system (it has an errno) that names no file is given `path` as its file name."""
    try:
        yield
    except OSError as error:
        if error.filename is None and error.errno is not None:  # a message-only OSError keeps its words
            error.filename = str(path)
        raise


SYSTEM_ROOTS = (Path("/dev"), Path("/proc"), Path("/sys"))  # the system's own files: never renamed over
SCRATCH_ROOTS = (Path("/dev/shm"),)  # a memory file system users keep files in


def among_system_files(path: Path) -> bool:
    """`path` (absolute) lies under /dev, /proc or /sys, and not in /dev/shm."""
    def under(roots: tuple[Path, ...]) -> bool:
        return any(path == root or root in path.parents for root in roots)

    return under(SYSTEM_ROOTS) and not under(SCRATCH_ROOTS)
STREAM_ALIASES = (Path("/dev/stdout"), Path("/dev/stderr"), Path("/dev/null"), Path("/dev/tty"))


def _hops(path: Path | str) -> list[Path]:
    """`path` and every name its chain of symbolic links passes through, absolute, each in its real folder."""
    hops, hop = [], Path(os.path.abspath(path))
    for _ in range(40):  # the system's own limit on a chain of links
        hop = Path(os.path.realpath(hop.parent)) / hop.name
        hops.append(hop)
        if not hop.is_symlink():
            break
        hop = Path(os.path.abspath(hop.parent / os.readlink(hop)))
    return hops


def _descriptor(hop: Path) -> int | None:
    """The file descriptor of this process a stream name stands for (/dev/stdout: 1, /dev/fd/3: 3), or None for
    /dev/null, /dev/tty or another process's descriptor (never written: -1)."""
    names = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
    if str(hop) in names:
        return names[str(hop)]
    parts = hop.parts
    if parts[-2:-1] == ("fd",) and parts[-1].isdigit():
        own = parts[:3] == ("/", "dev", "fd") or parts[2] in ("self", str(os.getpid()), "thread-self")
        return int(parts[-1]) if own else -1
    return None


def _open_for_writing(descriptor: int) -> bool:
    import fcntl

    try:
        mode = fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_ACCMODE
    except (OSError, ValueError):
        return False  # not open here (or another process's)
    return mode in (os.O_WRONLY, os.O_RDWR)


def _is_stream(hop: Path) -> bool:
    """A name for an open stream of this process: /dev/stdout, /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N."""
    parts = hop.parts
    return (hop in STREAM_ALIASES or parts[:3] == ("/", "dev", "fd")
            or (parts[:2] == ("/", "proc") and len(parts) == 5 and parts[3] == "fd"))


def written_in_place(path: Path | str) -> bool:
    """True when `path` is opened and written as it is, not replaced by a renamed temporary: a stream of this
    process (`/dev/stdout`, `/proc/self/fd/1`, reached directly or through a link), a terminal or a FIFO. Any other
    file of the system's own (under /dev, /proc, /sys) or a block device (a disk) is refused with PermissionError:
    round 10's 5-a renamed a temporary over the machine's `/dev/stdout`; a CSV written to `/dev/sda` would end a
    disk."""
    import stat

    hops = _hops(path)
    streams = [hop for hop in hops if _is_stream(hop) or hop == Path("/dev/stdin")]
    if streams:
        descriptor = _descriptor(streams[0])
        if descriptor == -1:  # /proc/PID/fd/N of another process
            raise PermissionError(errno.EPERM, "refused: that stream is another process's, not an output of this "
                                  "one", str(path))
        if descriptor is not None and not _open_for_writing(descriptor):  # round 12's 5-d: `--out /dev/stdout
            raise PermissionError(errno.EPERM, "refused: that stream is this process's input (open for "  # 1< f`
                                  "reading only, or not open), not an output", str(path))
        return True
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
    except OSError:
        kind = None
    if kind in (stat.S_IFCHR, stat.S_IFIFO):
        return True
    if kind == stat.S_IFBLK or any(among_system_files(hop) for hop in hops):
        raise PermissionError(errno.EPERM, "refused: a file of the system's own, not an output file",
                              str(path))
    return False


def _in_the_way(folder: Path) -> OSError:
    """Why `folder` is not a folder one can write into: the first part of it that is a file, or a link that leads
    to no folder (a loop, a missing target), else that it does not exist (round 14's 5-g: "File exists: notes.txt"
    for `--out notes.txt/p.csv`)."""
    for part in [*reversed(folder.parents), folder]:
        if os.path.lexists(part) and not part.is_dir():
            what = "a link that leads to no folder (a loop, or a missing target)" if part.is_symlink() else \
                "Not a directory (a file stands where a folder is needed)"
            return NotADirectoryError(errno.ENOTDIR, what, str(part))
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(folder))


def make_folder(folder: Path | str) -> Path:
    """`mkdir -p` whose failure names what stands in the way."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise _in_the_way(folder) from None
    return folder


def write_text(path: Path | str, text: str) -> Path:
    """Write `text` to `path` whole or not at all (a temporary file renamed over it), its error naming `path`. A
    symbolic or hard link found at `path` is replaced, never written through: the file it points to is the user's
    (round 9's 5-a: `report --out DIR` over a `DIR/index.html` linked to a user's file replaced that file). A device,
    a FIFO or a stream (`/dev/stdout`, `/proc/self/fd/1`) is written in place; another file of the system's own is
    refused (`written_in_place`)."""
    path = Path(path)
    with naming_write_errors(path):
        if written_in_place(path) and ownership.named_as_it_is(path):  # a stream the user named (claim passes it)
            return _write_in_place(path, lambda temporary: Path(temporary).write_text(text))
        if not path.parent.is_dir():
            raise _in_the_way(path.parent)
        return _atomic_write(path, lambda temporary: Path(temporary).write_text(text), 0o644)


def atomic_write(path: Path, write: Callable[[str], None], mode: int = 0o644) -> Path:
    """Call `write(temporary path)`, then rename the result to `path` (readable by other users' agents: `mode`).
    A reader sees the old file or the new one, never half of one; a failed write leaves no temporary behind."""
    path = Path(path)
    with naming_write_errors(path):
        return _atomic_write(path, write, mode)


@contextlib.contextmanager
def stops_held() -> Iterator[None]:
    """Signals that have a Python handler (the stop signals) are held while the block runs and delivered after it,
    so a stop lands before the block or after it, never inside. Outside the main thread nothing is held."""
    import signal

    held: list[int] = []
    previous: dict[int, Any] = {}
    try:
        for number in signal.valid_signals():
            handler = signal.getsignal(number)
            if callable(handler):
                previous[number] = signal.signal(number, lambda signum, frame: held.append(signum))
    except ValueError:  # not the main thread: its handlers cannot be changed (nor run) here
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in held:
            signal.raise_signal(number)


def atomic_write_all(writes: Mapping[Path, Callable[[str], None]], mode: int = 0o644) -> list[Path]:
    """Files that belong together (a data set's images and labels) written as one: each into its temporary, then
    all renamed with the stop signals held (round 15's 4-a: a stop between two renames left one render's images
    beside another's labels). A reader may still see the first renamed before the second, for microseconds."""
    paths = [Path(path) for path in writes]
    if any(written_in_place(path) and ownership.named_as_it_is(path) for path in paths):
        return [atomic_write(path, write, mode) for path, write in zip(paths, writes.values(), strict=True)]
    temporaries: list[str] = []
    try:
        for path, write in zip(paths, writes.values(), strict=True):
            with naming_write_errors(path):
                ownership.claim(path)
                make_folder(path.parent)
                descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                                         suffix="".join(path.suffixes))
                os.close(descriptor)
                temporaries.append(temporary)
                write(temporary)
                os.chmod(temporary, mode)
        with stops_held():  # a stop lands before the first rename or after the last record (round 16's 4-a)
            for path in paths:
                ownership.claim(path)  # again, as atomic_write does, just before the renames
            for path, temporary in zip(paths, temporaries, strict=True):
                with naming_write_errors(path):
                    os.replace(temporary, path)
            for path in paths:
                ownership.record(path)
    except BaseException:
        for temporary in temporaries:
            Path(temporary).unlink(missing_ok=True)
        raise
    return paths


def _write_in_place(path: Path, write: Callable[[str], None]) -> Path:
    """A stream of this process is written through its open descriptor, at its offset (round 13's 5-e: reopening
    `/dev/stdout` with "w" emptied a file the shell had opened for appending, `>> my.log`); a FIFO, terminal or
    /dev/null named otherwise is opened as it is. The bytes are written to a temporary file first, so a writer that
    wants a path (an image saver) works for both."""
    descriptor = next((number for hop in _hops(path) if (number := _descriptor(hop)) not in (None, -1)), None)
    if descriptor is None:
        write(str(path))
        return path
    handle, temporary = tempfile.mkstemp(suffix="".join(path.suffixes))
    os.close(handle)
    try:
        write(temporary)
        data = memoryview(Path(temporary).read_bytes())
        while data:
            data = data[os.write(descriptor, data):]
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def _atomic_write(path: Path, write: Callable[[str], None], mode: int) -> Path:
    ownership.claim(path)  # a file under a user-named output that sweeplab did not write there is kept
    if written_in_place(path) and ownership.named_as_it_is(path):  # never a temporary renamed over a stream the
        return _write_in_place(path, write)  # user named; the system's own files are refused
    make_folder(path.parent)
    # the temporary name ends as the target does (`.npz`, `.weights.h5`), so writers that check it accept it
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix="".join(path.suffixes))
    os.close(descriptor)
    try:
        write(temporary)
        os.chmod(temporary, mode)
        with stops_held():  # a stop lands before the rename or after its record (round 16's 4-a)
            ownership.claim(path)  # again: a file put there while the temporary was written is kept as well
            os.replace(temporary, path)
            ownership.record(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
