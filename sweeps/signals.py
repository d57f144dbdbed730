"""SIGTERM (and SIGHUP) stop a command the way Ctrl-C does: the running trial is failed with its reason and
re-queued, the command prints one line and exits with 128 + the signal's number, like a shell reports it."""

from __future__ import annotations

import signal
from types import FrameType

from trainers.stop import Stopped, request_stop

__all__ = ["Stopped", "describe", "die_with_parent", "exit_code", "stop_on_signals"]


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    request_stop(signum)  # raised again at the run's next report, should a library swallow this one
    raise Stopped(signum)


def stop_on_signals() -> None:
    """Turn SIGINT, SIGTERM and SIGHUP into `Stopped` (a KeyboardInterrupt), so every `except KeyboardInterrupt`
    that cleans up after Ctrl-C also runs for `kill` and for a closed terminal. SIGINT raises even in a background
    job (where the shell starts it ignored); a SIGHUP that `nohup` ignores stays ignored."""
    signal.signal(signal.SIGINT, _raise_stopped)
    signal.signal(signal.SIGTERM, _raise_stopped)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _raise_stopped)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    return 128 + (interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT)


def describe(interrupt: KeyboardInterrupt) -> str:
    return signal.Signals(interrupt.signum).name if isinstance(interrupt, Stopped) else "SIGINT"


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies (a trial process of a SIGKILLed agent stops too)."""
    import ctypes
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
