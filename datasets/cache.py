"""A small on-disk cache of decoded arrays, keyed by the source file's path, size and mtime."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datasets import settings
from datasets.atomic import atomic_write


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
    # the temporary file keeps the `.npz` suffix, so numpy writes to it as named
    atomic_write(path, lambda temporary: np.savez(temporary, **{f"a{index}": array
                                                                for index, array in enumerate(arrays)}))
    return arrays
