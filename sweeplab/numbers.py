"""The one door for whole numbers on the command line: every integer option is parsed by a `whole_number` type
with its allowed range, so a sign, an exponent, `1_0`, other digits or an out-of-range count is refused by argparse
in one line naming the option, before anything loads or starts. Counts of local processes are bounded by this
machine's CPUs (each process trains with its own threads; a thousand agents on two cores only thrash)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any


def is_number(value: Any) -> bool:
    """An int or float, not a bool: the one test of a number read from YAML, JSON or a storage."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def local_process_limit() -> int:
    """The most processes `agents --n` / `--workers` may start here: two per CPU (at least 4)."""
    return max(4, 2 * (os.cpu_count() or 1))


def whole_number(low: int, high: int | Callable[[], int] | None = None, why: str = "") -> Callable[[str], int]:
    """An argparse type: ASCII digits only (no sign, `_`, exponent or other scripts) within [low, high]; `high` may
    be computed when the option is parsed (the CPU count). `why` explains the upper bound in the refusal."""

    def parse(text: str) -> int:
        digits = text.strip()
        top = high() if callable(high) else high
        allowed = f"a whole number from {low}" + (f" to {top}" if top is not None else " up")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 30:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        value = int(digits)
        if value < low or (top is not None and value > top):
            raise argparse.ArgumentTypeError(f"expected {allowed}{f' ({why})' if why and top is not None else ''}, "
                                             f"got {text!r}")
        return value

    parse.__name__ = "whole number"
    parse.bounds = lambda: (low, high() if callable(high) else high)  # type: ignore[attr-defined]
    return parse


positive_int = whole_number(1)  # a count: trials, failures, rows (--top)
local_processes = whole_number(1, local_process_limit,
                               "two per CPU of this machine: each process trains with its own threads; "
                               "spread more over nodes with `sweeplab slurm`")
array_tasks = whole_number(1, 1000, "Slurm's default MaxArraySize is 1001")
seed = whole_number(0, 2**32 - 1, "NumPy seeds are 32-bit")
port = whole_number(1, 65535, "a TCP port")
rendered_images = whole_number(1, 500_000, "22.5 kB each, held in memory: 500,000 is 11 GB")
cpus_per_task = whole_number(1, 1024, "CPUs of one node for one agent")
gpus_per_task = whole_number(1, 64, "GPUs of one node for one agent")
