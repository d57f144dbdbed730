"""`sweep`'s trial loop: the agent's `run_one_trial` (heartbeat, interruption, storage faults), `n_trials` times.

Optuna's `study.optimize` logs a traceback and leaves no reason for an interrupted trial, does not re-queue it,
and turns a storage failure during `tell` into `AssertionError: Should not reach.`; `sweep` and `agent` share
this loop instead, so both fail and re-queue a stopped trial and both keep a result the storage refused.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import optuna
from optuna.trial import TrialState


def run_trials(study: optuna.Study, objective: Callable[[optuna.Trial], float], n_trials: int,
               timeout_seconds: float | None = None, log: Callable[[str], None] | None = None) -> dict[str, int]:
    """Run up to `n_trials` trials (fewer when `timeout_seconds` passes); returns the count of each final state."""
    from sweeps.agent import run_one_trial

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
        state = run_one_trial(study, study.ask(), objective, log)
        states[state.name] = states.get(state.name, 0) + 1
    return states


def all_failed(study: optuna.Study) -> bool:
    """True when the study holds failed trials and no finished one: nothing it ran could train."""
    trials = study.get_trials(deepcopy=False)
    return any(trial.state == TrialState.FAIL for trial in trials) and not any(
        trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in trials)
