"""An agent: joins a study by name and runs trials until the study holds its budget of finished trials.

Several agents (processes, nodes) share one storage. Each decides to start a trial under a lock shared by
all agents of the study, counting COMPLETE + PRUNED + RUNNING trials, so N agents stop at exactly the
budget. A dead agent's trial is failed by the heartbeat check and re-queued; its retry (a WAITING trial)
is what the next agent asks for first. A trial that raises, returns NaN or runs out of memory is FAIL
with its `fail_reason`, does not count, and the agent goes on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeps.memory import trim_native_heap
from sweeps.optuna_study import ReporterFactory, create_study, fail_reason, make_objective, release_trial_memory
from sweeps.slurm import slurm_task_id
from sweeps.spec import StudySpec
from sweeps.storage import MAX_RETRY, RetryStaleTrial, claim_lock, heartbeat_settings, open_storage
from sweeps.storage_faults import StorageUnavailableError, root_cause

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class AgentSummary:
    """What one agent did, and why it stopped."""

    name: str
    states: dict[str, int] = field(default_factory=dict)
    stopped_because: str = ""
    ok: bool = True

    def add(self, state: TrialState) -> None:
        self.states[state.name] = self.states.get(state.name, 0) + 1


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


def subprocess_objective(spec: StudySpec, storage_url: str | None, overrides: Mapping[str, Any] | None,
                         root: Path | None) -> Callable[[optuna.Trial], float]:
    """An objective that trains each trial in a fresh Python process (`--trial-subprocess`): whatever the
    trainer leaks (graphs, GPU memory, a crash) dies with that process. Costs one interpreter + Keras start."""
    from sweeps.storage import default_storage_url, runs_dir

    def objective(trial: optuna.Trial) -> float:
        with tempfile.TemporaryDirectory(prefix="sweeplab-trial-") as directory:
            result_path = Path(directory) / "result.json"
            argv = [sys.executable, "-m", "sweeps.agent", str(spec.path), storage_url or default_storage_url(),
                    str(trial._trial_id), json.dumps(dict(overrides or {})), str(root or runs_dir()), str(result_path)]
            code = subprocess.run(argv, check=False).returncode
            if not result_path.exists():
                reason = f"trial process died (exit code {code}{', killed: out of memory?' if code < 0 else ''})"
                trial.set_user_attr("fail_reason", reason)
                raise RuntimeError(reason)
            result = json.loads(result_path.read_text())
        if "storage_error" in result:
            raise StorageUnavailableError(result["storage_error"])
        if result.get("pruned"):
            raise optuna.TrialPruned(result["pruned"])
        if "error" in result:
            trial.set_user_attr("fail_reason", result["error"])
            raise RuntimeError(result["error"])
        return float(result["value"])

    return objective


def _trial_worker(argv: list[str]) -> int:
    """Child side of `subprocess_objective`: run one asked trial of the study and write its outcome."""
    from sweeps.spec import load_spec
    from sweeps.tracking import reporter_factories

    spec_path, storage_url, trial_id, overrides, root, result_path = argv
    spec = load_spec(spec_path)
    study = create_study(spec, storage_url)
    study.get_trials(deepcopy=False)  # Optuna's storage cache must know the trial before it takes parameters
    trial = optuna.Trial(study, int(trial_id))
    objective = make_objective(spec, json.loads(overrides), reporter_factories(storage=storage_url), Path(root))
    try:
        result: dict[str, Any] = {"value": objective(trial)}
    except optuna.TrialPruned as pruned:
        result = {"pruned": str(pruned) or "pruned"}
    except StorageUnavailableError as error:
        result = {"storage_error": str(result_kept_error(error, trial))}
    except Exception as error:
        result = {"error": fail_reason(error)}
    Path(result_path).write_text(json.dumps(result))
    return 0


def agent_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def agent_sampler_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A seeded random/TPE/grid sampler would propose the same points in every agent: mix the agent into the seed.
    (QMC needs no change: it indexes its sequence by the study's trial count.)"""
    if options["name"] in {"random", "tpe", "grid"} and options.get("seed") is not None:
        return {**options, "seed": (int(options["seed"]) + zlib.crc32(agent_name().encode())) % 2**31}
    return dict(options)


def _claim(study: optuna.Study, budget: int, max_failures: int) -> tuple[optuna.Trial | None, int, int]:
    """Fail stale trials, count, and ask for a trial when the budget has room. Call under the claim lock."""
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    finished = sum(trial.state in FINISHED for trial in trials)
    running = sum(trial.state == TrialState.RUNNING for trial in trials)
    failed = sum(trial.state == TrialState.FAIL for trial in trials)
    room = finished + running < budget and failed < max_failures
    return (study.ask() if room else None), finished, failed


def run_one_trial(study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float],
                  log: Callable[[str], None]) -> TrialState:
    """Run and tell one asked trial with a heartbeat; an interrupted trial is FAIL and re-queued for others."""
    from sweeps.run_identity import forget_run_dir

    forget_run_dir()
    interval, _ = heartbeat_settings()
    trial.set_user_attr("agent", agent_name())
    if (task := slurm_task_id()) is not None:  # `sweeplab slurm status` matches trials to array tasks
        trial.set_user_attr("slurm_task", task)
    state, value = TrialState.FAIL, None
    try:
        with _Heartbeat(study._storage, trial._trial_id, interval):
            value = objective(trial)
        state = TrialState.COMPLETE if value is not None and value == value and abs(value) != float("inf") \
            else TrialState.FAIL
    except optuna.TrialPruned:
        state = TrialState.PRUNED
    except (KeyboardInterrupt, SystemExit) as stop:
        fail_and_requeue(study, trial, stop, log)
        raise
    except StorageUnavailableError as error:
        raise result_kept_error(error, trial) from error
    except Exception as error:
        if "fail_reason" not in trial.user_attrs:  # errors outside the trainer (e.g. while sampling)
            trial.set_user_attr("fail_reason", fail_reason(error))
    finally:
        release_trial_memory()
        trim_native_heap()
    try:
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError):  # "Cannot tell a FAIL trial."
        if not study._storage.get_trial(trial._trial_id).state.is_finished():
            raise
        # another agent's heartbeat check declared us dead meanwhile (e.g. our beats stalled on a loaded node)
        log(f"trial #{trial.number} was already failed by the heartbeat check; its retry will count instead")
        return TrialState.FAIL
    except StorageUnavailableError as error:
        raise result_kept_error(error, trial) from error
    reason = trial.user_attrs.get("fail_reason", "") if state == TrialState.FAIL else ""
    log(f"trial #{trial.number} {state.name}" + (f" value={value:.6g}" if state == TrialState.COMPLETE else "")
        + (f" ({reason})" if reason else ""))
    return state


def fail_and_requeue(study: optuna.Study, trial: optuna.Trial, stop: BaseException,
                     log: Callable[[str], None]) -> None:
    """An interrupted trial (Ctrl-C, SIGTERM): FAIL with the reason, and re-queued with its parameters."""
    from sweeps.signals import describe

    reason = describe(stop) if isinstance(stop, KeyboardInterrupt) else type(stop).__name__
    try:
        trial.set_user_attr("fail_reason", f"stopped by {reason} during the trial")
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        RetryStaleTrial(max_retry=MAX_RETRY)(study, study._storage.get_trial(trial._trial_id))
        log(f"trial #{trial.number} interrupted by {reason}: FAIL, re-queued")
    except (StorageUnavailableError, optuna.exceptions.UpdateFinishedTrialError) as error:
        log(f"trial #{trial.number} interrupted by {reason}; could not record that ({error}): the heartbeat check "
            "will fail and re-queue it")


def result_kept_error(error: StorageUnavailableError, trial: optuna.Trial) -> StorageUnavailableError:
    """The storage error, plus where the trial's finished result waits and how to record it."""
    from sweeps.run_identity import current_run_dir

    run_dir = current_run_dir()
    if run_dir is not None and (run_dir / "result.json").exists():
        return StorageUnavailableError(f"{error}; trial #{trial.number} finished and its result is kept in "
                                       f"{run_dir}: store it with `sweeplab record {run_dir}` once the storage works")
    return StorageUnavailableError(f"{error}; trial #{trial.number} had not finished (nothing to keep)")


def run_agent(spec: StudySpec, storage_url: str | None = None, budget: int | None = None,
              overrides: Mapping[str, Any] | None = None, reporter_factories: tuple[ReporterFactory, ...] = (),
              root: Path | None = None, max_failures: int | None = None, poll_seconds: float = 1.0,
              log: Callable[[str], None] | None = None,
              after_trial: Callable[[optuna.Trial, TrialState], None] | None = None,
              trial_subprocess: bool = False) -> AgentSummary:
    """Join (or create) the study and work until it holds `budget` finished trials (default: the spec's)."""
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    name = agent_name()
    log = log or (lambda line: print(f"[agent {name}] {line}", flush=True))
    budget = budget or spec.trials
    max_failures = max_failures or max(budget, 10)
    storage = open_storage(storage_url)
    spec = dataclasses.replace(spec, sampler=agent_sampler_options(spec.sampler))
    study = create_study(spec, storage)
    objective = (subprocess_objective(spec, storage_url, overrides, root) if trial_subprocess
                 else make_objective(spec, overrides, reporter_factories, root))
    summary = AgentSummary(name)
    deadline = time.monotonic() + spec.timeout_minutes * 60 if spec.timeout_minutes else None
    log(f"joined study {spec.name!r} (budget {budget} finished trials)")
    while True:
        if deadline is not None and time.monotonic() > deadline:
            summary.stopped_because = f"the study's timeout of {spec.timeout_minutes} minutes passed"
            break
        with claim_lock(storage, storage_url, spec.name):
            trial, finished, failed = _claim(study, budget, max_failures)
        if finished >= budget:
            summary.stopped_because = f"the study has {finished} finished trials (budget {budget})"
            break
        if failed >= max_failures:
            summary.stopped_because = f"the study has {failed} failed trials (limit {max_failures}); see fail_reason"
            summary.ok = False
            break
        if trial is None:  # the others' running trials fill the budget: wait for them, or for one to die
            time.sleep(poll_seconds)
            continue
        state = run_one_trial(study, trial, objective, log)
        summary.add(state)
        if after_trial is not None:
            after_trial(trial, state)
    log(f"stopping: {summary.stopped_because}; this agent ran {summary.states or 'no trials'}")
    return summary


if __name__ == "__main__":
    sys.exit(_trial_worker(sys.argv[1:]))
