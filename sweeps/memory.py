"""Give freed native memory back to the OS between trials (glibc keeps freed arenas mapped otherwise)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def trim_native_heap() -> None:
    """`malloc_trim(0)` on glibc; nothing elsewhere (musl, macOS)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
