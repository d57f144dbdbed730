"""A small on-disk cache of decoded arrays, keyed by the source file's path, size and mtime."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datasets import settings


def cached_arrays(source: Path, tag: str, decode: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Return `decode()`'s arrays, decoding once per version of `source` and reading a `.npz` afterwards."""
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{tag}".encode()).hexdigest()[:16]
    path = settings.array_cache_dir() / f"{tag}-{key}.npz"
    if path.exists():
        try:
            with np.load(path) as archive:
                return tuple(archive[f"a{index}"] for index in range(len(archive.files)))
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a torn cache file: decode again
    arrays = decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
        np.savez(handle, **{f"a{index}": array for index, array in enumerate(arrays)})
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile is 0600; agents of other users share the cache
    os.replace(handle.name, path)  # atomic: concurrent agents never read half a file
    return arrays
