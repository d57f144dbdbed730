"""SIGTERM (and SIGHUP) stop a command the way Ctrl-C does: the running trial is failed with its reason and
re-queued, the command prints one line and exits with 128 + the signal's number, like a shell reports it."""

from __future__ import annotations

import signal
from types import FrameType


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by a stop signal; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def stop_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into `Stopped` (a KeyboardInterrupt), so every `except KeyboardInterrupt` that
    cleans up after Ctrl-C also runs for `kill` and for a closed terminal. SIGINT raises KeyboardInterrupt even
    in a background job (where the shell starts it ignored); a SIGHUP that `nohup` ignores stays ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_stopped)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        signal.signal(signal.SIGHUP, _raise_stopped)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    return 128 + (interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT)


def describe(interrupt: KeyboardInterrupt) -> str:
    return signal.Signals(interrupt.signum).name if isinstance(interrupt, Stopped) else "SIGINT"
