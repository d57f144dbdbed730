"""`datasets.processes`: a stop signal never cuts a worker's launch off, and it ends a pool's workers at once."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.processes import spawn_pool, submit_all
from trainers.stop import Stopped

SUBMITS = 12
SUBMIT_SECONDS = 0.01  # each submit of the stand-in pool: a launch (writing a worker's start-up data) takes this long


class SlowPool:
    """Stands in for an executor whose `submit` launches a worker: it records whether each launch ended whole."""

    def __init__(self) -> None:
        self.started = self.finished = 0

    def submit(self, function, *args) -> Future:
        self.started += 1
        time.sleep(SUBMIT_SECONDS)
        self.finished += 1
        future: Future = Future()
        future.set_result(function(*args))
        return future


def _raise_stopped(signum, frame):
    raise Stopped(signum)


@settings(max_examples=25, deadline=None)
@given(delay=st.floats(0.0, 1.5 * SUBMITS * SUBMIT_SECONDS))
def test_a_stop_during_the_submits_waits_for_the_launch_in_flight_and_starts_no_other(delay):
    pool = SlowPool()
    previous = signal.signal(signal.SIGUSR1, _raise_stopped)
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        try:
            futures = submit_all(pool, abs, [(-number,) for number in range(SUBMITS)])
        except Stopped:
            assert pool.started == pool.finished  # the launch in flight ended whole
            made = pool.started
            time.sleep(3 * SUBMIT_SECONDS)
            assert pool.started == made  # and none came after the stop
        else:
            assert [future.result() for future in futures] == list(range(SUBMITS))
        timer.join()
        time.sleep(0.01)  # a signal sent after the submits lands here, not in the next example
    except Stopped:
        pass
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)


def test_a_failing_submit_is_raised_in_the_caller():
    class ShutPool:
        def submit(self, function, *args):
            raise RuntimeError("cannot schedule new futures after shutdown")

    with pytest.raises(RuntimeError, match="after shutdown"):
        submit_all(ShutPool(), abs, [(1,)])


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _running(pid: int) -> bool:
    """Whether the OS still runs `pid` (a zombie does not count). Not `Process.is_alive()`: the executor's manager
    thread may reap a worker first, and the Process object then never learns its exit code."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def test_leaving_a_pool_by_an_exception_ends_its_workers_at_once():
    started = time.monotonic()
    with pytest.raises(Stopped), spawn_pool(2) as pool:
        futures = submit_all(pool, _sleep, [(30.0,), (30.0,), (30.0,)])
        processes = list(pool._processes.values())
        assert len(processes) == 2
        raise Stopped(signal.SIGTERM)
    assert time.monotonic() - started < 15, "the pool waited for its 30-second tasks"
    assert not any(_running(process.pid) for process in processes)
    assert futures[2].cancelled() or futures[2].exception() is not None  # the queued task never ran


def test_a_pool_returns_its_results_in_submission_order():
    with spawn_pool(2) as pool:
        futures = submit_all(pool, abs, [(-number,) for number in range(6)])
        assert [future.result() for future in futures] == list(range(6))
