"""One trial's lifecycle, shared by `sweep` and `agent`: run it with a heartbeat, tell its state, fail and re-queue it
when it is stopped, keep its result when the storage refuses it, release its memory; and `sweep`'s loop of trials.

Optuna's `study.optimize` logs a traceback and leaves no reason for an interrupted trial, does not re-queue it,
and turns a storage failure during `tell` into `AssertionError: Should not reach.`; `sweep` and `agent` share
this lifecycle instead, so both fail and re-queue a stopped trial and both keep a result the storage refused.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeplab.errors import UserError
from sweeps.run_identity import current_run_dir, forget_run_dir
from sweeps.slurm import slurm_task_id
from sweeps.storage import MAX_RETRY, RetryStaleTrial, heartbeat_settings
from sweeps.storage_faults import StorageCorruptError, StorageUnavailableError, root_cause
from trainers.memory import trim_native_heap
from trainers.stop import Stopped, hold_stops, raise_if_stop_requested, release_stops, stop_requested


class _Heartbeat:
    """Beats for one trial in a daemon thread; a storage hiccup is logged, never fatal."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int, interval: int) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(storage, trial_id, interval), daemon=True)

    def _beat(self, storage: Any, trial_id: int, interval: int) -> None:
        while True:
            try:
                storage.record_heartbeat(trial_id)
            except Exception as error:  # the next beat may work; the grace period absorbs a few misses
                print(f"heartbeat for trial id {trial_id} failed: {root_cause(error)}", flush=True)
            if self._stop.wait(interval):
                return

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def agent_name(pid: int | None = None) -> str:
    """host:pid, with the Slurm array task between when there is one (HOST:JOB_TASK:PID): containers run with
    the host's network share its hostname and may share a pid, so the task keeps names (and seeds) apart. `pid`: a
    child this process started (it inherits the host and the task), else this process."""
    task, pid = slurm_task_id(), os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{task}:{pid}" if task else f"{socket.gethostname()}:{pid}"


def is_out_of_memory(error: BaseException) -> bool:
    """Host or accelerator OOM, as raised by Python, TensorFlow (ResourceExhaustedError) or JAX/XLA."""
    text = f"{type(error).__name__}: {error}"
    return isinstance(error, MemoryError) or any(
        marker in text for marker in ("ResourceExhausted", "RESOURCE_EXHAUSTED", "out of memory", "OOM when"))


def fail_reason(error: BaseException) -> str:
    prefix = "out of memory: " if is_out_of_memory(error) else ""
    return f"{prefix}{type(error).__name__}: {error}"[:1000]


def release_trial_memory() -> None:
    """Drop the finished trial's models and graphs so memory does not grow from trial to trial: Keras' state
    cleared, then one full collection (`clear_session`'s own would be a second one). What outlives it (the
    libraries' modules, the loaded data) is then frozen out of later collections: a full one over TensorFlow's
    half a million objects costs ~0.25 s a trial, over only what the next trial creates, milliseconds."""
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session(free_memory=False)
    gc.collect()
    gc.freeze()


def ask_holding_stops(study: optuna.Study) -> optuna.Trial:
    """`study.ask()` with stop signals held (recorded, not raised) from before the trial exists until
    `run_one_trial`, which must be called next, takes it in hand: a stop at any moment then either comes before
    the trial exists or is raised where the trial is failed and re-queued, never leaving it RUNNING."""
    hold_stops()
    try:
        return study.ask()
    except BaseException:
        release_stops()
        raise


def run_one_trial(study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float],
                  log: Callable[[str], None]) -> TrialState:
    """Run and tell one trial from `ask_holding_stops` with a heartbeat. A stop wherever it lands (before the
    objective, inside it, in an error's handling, during the tell) leaves the trial finished: told, or FAIL and
    re-queued for others."""
    forget_run_dir()  # the last trial's directory is not this one's (stops are still held: nothing lands before)
    try:
        return _run_and_tell(study, trial, objective, log)
    except (KeyboardInterrupt, SystemExit) as stop:  # only stops leave `_run_and_tell` this way
        if not _finished(study, trial):
            fail_and_requeue(study, trial, stop, log)
        raise
    except StorageUnavailableError:  # the storage's own line says what was kept; nothing more can be written
        raise
    except UserError as error:  # told in one line by the CLI; the trial fails with its reason
        _fail_unexpected(study, trial, error, reason=trial.user_attrs.get("fail_reason"))
        raise
    except Exception as error:  # a fault of sweeplab's own (round 10's 3-a): the trial is not left RUNNING
        _fail_unexpected(study, trial, error)
        raise


def _fail_unexpected(study: optuna.Study, trial: optuna.Trial, error: Exception, reason: str | None = None) -> None:
    """FAIL (not re-queued: the same fault would end it again) with the error and where its result is kept."""
    run_dir = finished_run_dir()
    kept = f"; its result is kept in {run_dir} (`sweeplab record {run_dir}`)" if run_dir is not None else ""
    with contextlib.suppress(Exception):
        if not _finished(study, trial):
            trial.set_user_attr("fail_reason", reason or f"internal error: {type(error).__name__}: {error}{kept}")
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def _finished(study: optuna.Study, trial: optuna.Trial) -> bool:
    try:
        return study._storage.get_trial(trial._trial_id).state.is_finished()
    except StorageUnavailableError:  # `fail_and_requeue` says what could not be recorded
        return False


def _run_and_tell(study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float],
                  log: Callable[[str], None]) -> TrialState:
    state, value = TrialState.FAIL, None
    try:
        release_stops()
        raise_if_stop_requested()  # one that came since the ask, or a stop a library swallowed: it does not start
        interval, _ = heartbeat_settings()
        trial.set_user_attr("agent", agent_name())
        if (task := slurm_task_id()) is not None:  # `sweeplab slurm status` matches trials to array tasks
            trial.set_user_attr("slurm_task", task)
        with _Heartbeat(study._storage, trial._trial_id, interval):
            value = objective(trial)
        state = TrialState.COMPLETE if value is not None and value == value and abs(value) != float("inf") \
            else TrialState.FAIL
    except optuna.TrialPruned:
        state = TrialState.PRUNED
    except (KeyboardInterrupt, SystemExit) as stop:
        if not isinstance(stop, Stopped) and stop_requested() is None:  # the trial's code raised it; no signal came
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.set_user_attr("fail_reason", f"the trial's code raised {type(stop).__name__}"
                                    f"({', '.join(map(repr, stop.args))}) with no stop signal received: a failure of "
                                    "this trial, not a stop of the command")
        else:
            raise
    except TrialProcessStopped as stop:  # its process was stopped, not this one: re-queued, the loop goes on
        fail_and_requeue(study, trial, stop, log)
        return TrialState.FAIL
    except StorageUnavailableError as error:
        raise result_kept_error(error, trial) from error
    except UserError:  # the command's own setup no longer holds (a trial process found the study file changed):
        raise  # every later trial would fail the same way; `run_one_trial` fails this one and the command stops
    except Exception as error:
        if "fail_reason" not in trial.user_attrs:  # errors outside the trainer (e.g. while sampling)
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # failed by another agent
                trial.set_user_attr("fail_reason", fail_reason(error))
    finally:  # the objective released the trial's memory itself (`sweeps.objective`), once
        trim_native_heap()
    try:
        _check_study_unchanged(study)  # its name and directions as this command found them
        if state == TrialState.COMPLETE and (problem := params_problem(study, trial)) is not None:
            trial.set_user_attr("fail_reason", problem)
            state = TrialState.FAIL
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError):  # "Cannot tell a FAIL (WAITING) trial."
        stored = study._storage.get_trial(trial._trial_id).state
        if stored == TrialState.RUNNING:
            raise
        log(finished_meanwhile(study, trial) if stored.is_finished() else requeued_meanwhile(trial, stored))
        return TrialState.FAIL
    except StorageUnavailableError as error:
        raise result_kept_error(error, trial) from error
    reason = trial.user_attrs.get("fail_reason", "") if state == TrialState.FAIL else ""
    log(f"trial #{trial.number} {state.name}" + (f" value={value:.6g}" if state == TrialState.COMPLETE else "")
        + (f" ({reason})" if reason else ""))
    return state


def _backend(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage itself: Optuna's cache wraps an RDB storage (and keeps what this command read and wrote); a
    journal storage reads its file each time."""
    storage = study._storage
    return storage._backend if isinstance(storage, optuna.storages._CachedStorage) else storage


def params_problem(study: optuna.Study, trial: optuna.Trial) -> str | None:
    """The trial's parameters as stored now differ from those this process gave it (round 12's 3-k: deleted by
    hand, it was told COMPLETE and ranked with `-` for every parameter): the reason it fails instead, else None.
    A trial whose parameters a trial process set (none known here) was compared by that process."""
    own = trial.params
    if not own:
        return None
    stored = _backend(study).get_trial(trial._trial_id).params
    changed = sorted({name for name in own if name not in stored or stored[name] != own[name]} | set(stored) - set(own))
    if not changed:
        return None
    return (f"its parameters {', '.join(changed)} were removed or changed in the storage while it ran (by another "
            "process or a hand edit): not told with values it did not train with")


def _check_study_unchanged(study: optuna.Study) -> None:
    """Before a trial is told: the study's directions and name read from the storage itself (Optuna's cache keeps
    those read at the command's start). A direction rewritten by another process (round 9's 3-b) is refused by the
    gateway; a study renamed (round 10's 3-d: the trials went on into `other`) is refused here."""
    storage = _backend(study)
    storage.get_study_directions(study._study_id)
    name = storage.get_study_name_from_id(study._study_id)
    if name != study.study_name:
        raise StorageCorruptError(f"study {study.study_name!r} was renamed {name!r} while this command ran (by "
                                  "another process or a hand edit): stopped so that nothing is told into a study of "
                                  "another name")


def finished_meanwhile(study: optuna.Study, trial: optuna.Trial) -> str:
    """The line for a trial another process finished while this one ran it: another agent's heartbeat check that saw
    its beats stall (it re-queues the trial), or a hand edit (nothing re-queued). Its own result, if it finished, is
    kept in its run directory."""
    retries = [other.number for other in study.get_trials(deepcopy=False)
               if other.system_attrs.get("failed_trial") == trial.number]
    run_dir = finished_run_dir()
    kept = (f"; its own result is kept in {run_dir} (`sweeplab record {run_dir}` adds it as a new trial)"
            if run_dir is not None else "")
    if retries:
        return (f"trial #{trial.number} was failed by another agent's heartbeat check while it ran; its retry, trial "
                f"#{retries[0]}, counts instead{kept}")
    return f"trial #{trial.number} was finished by another process while it ran and was not re-queued{kept}"


def requeued_meanwhile(trial: optuna.Trial, state: TrialState) -> str:
    """The line for a running trial another process set back to WAITING (round 9's 3-a): it stays queued for the
    next sweep or agent; this run's result is not told, and it is kept in its run directory."""
    run_dir = finished_run_dir()
    kept = f"; it is kept in {run_dir}" if run_dir is not None else ""
    return (f"trial #{trial.number} was set to {state.name} by another process while it ran; it stays queued for "
            f"the next sweep or agent and this run's result was not stored{kept}")


class TrialProcessStopped(RuntimeError):
    """A trial's own process (`--trial-subprocess`) ended by a stop signal (sweeps.signals.STOP_SIGNALS) while this
    process was not: the trial is failed and re-queued like one this process was stopped in. (SIGKILL is not a
    stop: it is how the kernel ends a process out of memory, and a re-queued trial would die the same way.)"""

    def __init__(self, signum: int) -> None:
        super().__init__(f"trial process stopped by {signal.Signals(signum).name}")
        self.signum = signum


def finished_run_dir() -> Path | None:
    """The current trial's run directory when its training finished (its result.json is written), else None."""
    run_dir = current_run_dir()
    return run_dir if run_dir is not None and (run_dir / "result.json").exists() else None


def fail_and_requeue(study: optuna.Study, trial: optuna.Trial, stop: BaseException,
                     log: Callable[[str], None]) -> None:
    """An interrupted trial (Ctrl-C, SIGTERM): FAIL with the reason, and re-queued with its parameters."""
    from sweeps.signals import describe

    reason = describe(stop) if isinstance(stop, KeyboardInterrupt) else (
        f"{signal.Signals(stop.signum).name} of its trial process" if isinstance(stop, TrialProcessStopped)
        else type(stop).__name__)
    try:
        trial.set_user_attr("fail_reason", f"stopped by {reason} during the trial")
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        RetryStaleTrial(max_retry=MAX_RETRY)(study, study._storage.get_trial(trial._trial_id))
        run_dir = finished_run_dir()
        kept = (f"; it had finished: its result is kept in {run_dir} (`sweeplab record {run_dir}` adds it as a new "
                "trial)") if run_dir is not None else ""
        log(f"trial #{trial.number} interrupted by {reason}: FAIL, re-queued{kept}")
    except (StorageUnavailableError, optuna.exceptions.UpdateFinishedTrialError) as error:
        run_dir = finished_run_dir()
        if run_dir is not None:  # it had finished: say where its result waits
            log(f"trial #{trial.number} interrupted by {reason} after it finished; could not record that ({error}): "
                f"its result is kept in {run_dir}: store it with `sweeplab record {run_dir}` once the storage works "
                "(else the heartbeat check fails it and re-queues it)")
            return
        log(f"trial #{trial.number} interrupted by {reason}; could not record that ({error}): the heartbeat check "
            "will fail and re-queue it")


def result_kept_error(error: StorageUnavailableError, trial: optuna.Trial) -> StorageUnavailableError:
    """The storage error, plus where the trial's finished result waits and how to record it."""
    run_dir = finished_run_dir()
    if run_dir is not None:
        return StorageUnavailableError(f"{error}; trial #{trial.number} finished and its result is kept in "
                                       f"{run_dir}: store it with `sweeplab record {run_dir}` once the storage works")
    return StorageUnavailableError(f"{error}; trial #{trial.number} had not finished (nothing to keep)")


def run_trials(study: optuna.Study, objective: Callable[[optuna.Trial], float], n_trials: int,
               timeout_seconds: float | None = None, log: Callable[[str], None] | None = None,
               after_each: Callable[[], None] | None = None) -> dict[str, int]:
    """Run up to `n_trials` trials (fewer when `timeout_seconds` passes), calling `after_each` after every trial;
    returns the count of each final state."""
    log = log or (lambda line: print(f"[sweep {study.study_name}] {line}", flush=True))
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
    states: dict[str, int] = {}
    for _ in range(n_trials):
        if deadline is not None and time.monotonic() > deadline:
            log(f"stopping: the study's timeout of {timeout_seconds / 60:g} minutes passed")
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        state = run_one_trial(study, ask_holding_stops(study), objective, log)
        states[state.name] = states.get(state.name, 0) + 1
        if after_each is not None:
            after_each()
    return states


def all_failed(study: optuna.Study) -> bool:
    """True when the study holds failed trials and no finished one: nothing it ran could train."""
    trials = study.get_trials(deepcopy=False)
    return any(trial.state == TrialState.FAIL for trial in trials) and not any(
        trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in trials)
