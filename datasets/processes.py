"""Pools of spawned worker processes, and their one stop path.

Every process pool in sweeplab (rendering, dial localisation, training evaluations in parallel, benchmarks) is a
`spawn_pool` fed by `submit_all`; between them a stop signal (`Stopped`, raised in the main thread):
- never cuts a worker's launch off: a spawn-context `ProcessPoolExecutor` launches its workers inside `submit`,
  and a worker reads its start-up data from a pipe the parent writes meanwhile. A stop in that moment left a
  half-launched worker reading a truncated pipe; it printed `EOFError: Ran out of input` and its traceback after
  the command's last line (seen in CI for a SIGUSR1 sent as a render's workers appeared). Signal handlers run in
  the main thread only, so `submit_all` submits from a helper thread; a stop waits for the launch in flight,
  closes the gate to further ones and is raised;
- ends the workers at once (SIGTERM, then SIGKILL), not after the tasks they were given: leaving an executor's
  block normally waits for every queued task (a stopped render used to end only once the whole render had);
- leaves no line after the command's last: multiprocessing's resource tracker is started with stderr on /dev/null.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

WORKER_EXIT_SECONDS = 1.0  # a stopped pool waits this long for a terminated worker before it kills it


@contextlib.contextmanager
def spawn_pool(workers: int, initializer: Callable[..., Any] | None = None,
               initargs: tuple = ()) -> Iterator[ProcessPoolExecutor]:
    """A pool of `workers` spawned processes (a fresh interpreter each, never a forked framework): submit to it
    with `submit_all`. Leaving the block by an exception (a stop, a failed task) ends the workers at once."""
    _quiet_resource_tracker()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer,
                               initargs=initargs)
    try:
        yield pool
    except BaseException:
        end_pool(pool)
        raise
    finally:
        pool.shutdown(wait=True)  # after `end_pool`, nothing is left to wait for


def submit_all(pool: ProcessPoolExecutor, function: Callable[..., Any], arguments: Iterable[tuple]) -> list[Future]:
    """`pool.submit(function, *args)` for each tuple, in order, from a helper thread; the futures. A stop raised
    meanwhile (in this, the main thread) waits for the submit in flight, no further one is made, and it goes on."""
    futures: list[Future] = []
    failure: list[BaseException] = []
    gate, closed, done = threading.Lock(), threading.Event(), threading.Event()

    def submit() -> None:
        try:
            for args in arguments:
                with gate:  # one whole submit (and the launch in it) at a time, none once closed
                    if closed.is_set():
                        return
                    futures.append(pool.submit(function, *args))
        except BaseException as error:  # handed to the main thread
            failure.append(error)
        finally:
            done.set()

    try:
        threading.Thread(target=submit, name="pool-submitter", daemon=True).start()
        done.wait()
    except BaseException:  # a stop
        _close(gate, closed)
        raise
    if failure:
        raise failure[0]
    return futures


def _close(gate: threading.Lock, closed: threading.Event) -> None:
    """Wait for the submit in flight, then close the gate; a further stop meanwhile does not cut this short."""
    while True:
        try:
            with gate:
                closed.set()
            return
        except BaseException:  # the first stop is being raised; this one changes nothing
            continue


def end_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the tasks not started and end the workers now, not after their tasks (SIGTERM, then SIGKILL)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # CPython's; 3.14 has terminate_workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(WORKER_EXIT_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(WORKER_EXIT_SECONDS)


def _quiet_resource_tracker() -> None:
    """multiprocessing's resource tracker (one process, started with the first pool) writes its own warnings to the
    stderr it inherits: after a stop ended the workers, a `resource_tracker: ...` line came after the command's
    last line. It is started here with its stderr on /dev/null; the command's own stderr is untouched."""
    from multiprocessing import resource_tracker

    try:
        saved = os.dup(2)
    except OSError:  # no stderr to keep quiet
        return
    try:
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 2)
        os.close(quiet)
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
