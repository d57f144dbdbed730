"""Files that concurrent agents share (array caches, rendered and localised clocks, feature weights) are written
whole or not at all: into a temporary file beside the target, then renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[str], None], mode: int = 0o644) -> Path:
    """Call `write(temporary path)`, then rename the result to `path` (readable by other users' agents: `mode`).
    A reader sees the old file or the new one, never half of one; a failed write leaves no temporary behind."""
    path = Path(path)
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
