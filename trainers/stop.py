"""A stop asked for by a signal, kept until the run acts on it.

The signal handler raises `Stopped` wherever the main thread is. Code that a library runs beneath Python (a
finaliser, a C++ callback) can swallow that exception, and the run would go on to its end; so the stop is also
recorded, and the next report of the run (every epoch, `CompositeReporter.report`) raises it again.
"""

from __future__ import annotations

import signal
import time


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by a stop signal; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_requested: list[tuple[int, float]] = []  # the signals received and when (monotonic), first first
_held: list[bool] = []  # non-empty while a stop is only recorded (`hold_stops`)


def request_stop(signum: int) -> None:
    _requested.append((signum, time.monotonic()))


def stop_requested() -> int | None:
    """The first stop signal received, or None."""
    return _requested[0][0] if _requested else None


def seconds_since_first_stop() -> float | None:
    """How long ago the first stop signal came, or None."""
    return time.monotonic() - _requested[0][1] if _requested else None


def raise_if_stop_requested() -> None:
    """Raise `Stopped` for the first stop signal received, if any (it stays requested: the process is ending)."""
    if _requested:
        raise Stopped(_requested[0][0])


def hold_stops() -> None:
    """From now until `release_stops`, a stop signal is recorded, not raised: between the storage creating a trial
    and the code that fails and re-queues a stopped trial taking it in hand, a raised stop would leave it RUNNING."""
    _held[:] = [True]


def release_stops() -> None:
    """End `hold_stops`; a stop that came meanwhile is raised by the next `raise_if_stop_requested`."""
    _held.clear()


def stops_held() -> bool:
    return bool(_held)
