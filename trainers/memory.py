"""Memory a finished trial leaves behind, given back between trials so one long `sweep` process stays flat.

Two leaks are measured (benchmarks/results/agents_memory_inprocess-*.json):
- TensorFlow registers a gradient function for every custom gradient traced in graph mode (Keras' optimizer
  all-reduce traces one per model) in a process-wide registry that is never emptied; each entry keeps its traced
  graph alive (about 2.6 MiB per trial for a small MLP). Entries added while a trial ran are dropped after it.
  (Read through `sys.modules`, never imported: the module stays backend-agnostic.)
- glibc keeps freed arenas mapped; `malloc_trim(0)` returns them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


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


def _gradient_registry() -> dict | None:
    """TensorFlow's process-wide gradient registry, when TensorFlow is loaded and still keeps it where it did."""
    ops = sys.modules.get("tensorflow.python.framework.ops")
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def custom_gradients() -> set[str]:
    """Names of the custom gradients TensorFlow has registered so far (empty without TensorFlow)."""
    registry = _gradient_registry()
    return {name for name in registry if name.startswith(_CUSTOM_GRADIENT_PREFIX)} if registry is not None else set()


@contextmanager
def forget_custom_gradients_after() -> Iterator[None]:
    """Drop the custom gradients registered inside the block once it ends (their graphs are gone with the trial)."""
    before = custom_gradients()
    try:
        yield
    finally:
        registry = _gradient_registry()
        if registry is not None:
            for name in custom_gradients() - before:
                registry.pop(name, None)
