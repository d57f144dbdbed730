"""SIGTERM (and SIGHUP, SIGUSR1, SIGUSR2, SIGXCPU) stop a command the way Ctrl-C does: the running trial is failed
with its reason and re-queued, the command prints one line and exits with 128 + the signal's number, like a shell
reports it."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any

from trainers.stop import Stopped, request_stop, seconds_since_first_stop, stop_requested, stops_held

__all__ = [
    "STOP_SIGNALS",
    "Stopped",
    "describe",
    "die_with_parent",
    "exit_at_once_on_signals",
    "exit_code",
    "stop_on_signals",
    "stop_requested",
    "stop_signals",
]
# What stops a command (and a trial's process): every signal whose default would end the process (terminate or
# dump core) and that a person, a scheduler or the kernel sends to say "stop": SIGUSR1/SIGUSR2 are schedulers'
# warnings before a kill (Slurm's `--signal=USR1@60`, LSF, SGE), SIGXCPU a CPU-time limit (`ulimit -t`) before its
# SIGKILL, SIGPWR a power failure, SIGQUIT Ctrl-\, SIGVTALRM/SIGPROF/SIGALRM timers nothing here sets, SIGIO and
# SIGSTKFLT no code here asks for. Each, left at its default, ended the command with no line and its trial RUNNING.
# Not the crashes (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP: the process cannot go on) nor
# SIGPIPE/SIGXFSZ (Python ignores them, so a write fails with an error instead).
STOP_SIGNALS = tuple(getattr(signal, name) for name in (
    "SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGXCPU", "SIGQUIT", "SIGPWR", "SIGVTALRM", "SIGPROF",
    "SIGALRM", "SIGIO", "SIGSTKFLT") if hasattr(signal, name))
CLEANUP_SECONDS = 5.0  # a repeated stop signal this soon after the first is recorded, not raised


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    """Raise `Stopped` for the first stop signal. A second one within CLEANUP_SECONDS (a double Ctrl-C, a
    scheduler's TERM then HUP) is only recorded: raised into the clean-up that the first started (failing and
    re-queueing the trial), it would leave the trial RUNNING. Later ones raise again, should the first have been
    swallowed somewhere that never reports. While stops are held (`trainers.stop.hold_stops`: a trial is being
    created and handed over) every one is only recorded, and raised once the trial is in hand."""
    since_first = seconds_since_first_stop()
    request_stop(signum)  # raised again at the run's next report, should a library swallow this one
    if stops_held() or (since_first is not None and since_first < CLEANUP_SECONDS):
        return
    raise Stopped(stop_requested())


def _quiet_about_stops(default: Any) -> Any:
    """An unraisable-exception hook that says nothing of a `Stopped` raised where Python cannot propagate it (a
    finaliser, a garbage-collection or weakref callback): the stop is recorded and acted on at the next check
    (`trainers.stop`), so its traceback on stderr would only alarm. Anything else goes to the default hook."""

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, Stopped):
            default(unraisable)

    hook.quiet_about_stops = True  # type: ignore[attr-defined]
    return hook


class _DropLoggedStops(logging.Filter):
    """A library that catches a `Stopped` raised inside its own clean-up and logs it with its traceback (SQLAlchemy's
    pool resetting a connection the garbage collector finalises: "Exception during reset or similar", seen in CI
    for a SIGQUIT): the stop is recorded and acted on at the next check, so the record is dropped. Every other
    record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], Stopped))


def _quiet_about_logged_stops() -> None:
    for handler in [logging.lastResort, *logging.getLogger().handlers]:
        if handler is not None and not any(isinstance(each, _DropLoggedStops) for each in handler.filters):
            handler.addFilter(_DropLoggedStops())


def stop_signals() -> list[signal.Signals]:
    """The stop signals this process acts on: SIGINT even in a background job (where the shell starts it ignored);
    the others only when not ignored (`nohup` ignores SIGHUP; a parent may ignore others on purpose)."""
    return [signum for signum in STOP_SIGNALS
            if signum == signal.SIGINT or signal.getsignal(signum) != signal.SIG_IGN]


def stop_on_signals() -> None:
    """Turn the stop signals (`stop_signals`) into `Stopped` (a KeyboardInterrupt), so every `except
    KeyboardInterrupt` that cleans up after Ctrl-C also runs for `kill` and for a closed terminal."""
    for signum in stop_signals():
        signal.signal(signum, _raise_stopped)
    if not getattr(sys.unraisablehook, "quiet_about_stops", False):
        sys.unraisablehook = _quiet_about_stops(sys.unraisablehook)
    _quiet_about_logged_stops()


def _exit_at_once(signum: int, frame: FrameType | None) -> None:
    request_stop(signum)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os.write(2, f"sweeplab: interrupted ({signal.Signals(signum).name})\n".encode())
    os._exit(128 + signum)


def exit_at_once_on_signals() -> None:
    """After the command's work is done (its output written): a stop signal exits at once with its one line and
    128 + its number, instead of raising into the interpreter's shutdown (which exits 130 whatever the signal)."""
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) == _raise_stopped:
            signal.signal(signum, _exit_at_once)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    return 128 + (interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT)


def signal_name(number: int) -> str:
    """SIGKILL for 9; "signal N" for a number that names no signal here."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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
