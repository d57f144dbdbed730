"""An agent: joins a study by name and runs trials until the study holds its budget of finished trials.

Several agents (processes, nodes) share one storage. Each decides to start a trial under a lock shared by
all agents of the study, counting COMPLETE + PRUNED + RUNNING trials, so N agents stop at exactly the
budget. A dead agent's trial is failed by the heartbeat check (under `agents`, by the parent as soon as its
child dies: `fail_dead_agent_trials`) and re-queued; its retry (a WAITING trial) is what the next agent asks
for first. A trial that raises, returns NaN or runs out of memory is FAIL with its `fail_reason`, does not
count, and the agent goes on.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeps.objective import ReporterFactory, make_objective
from sweeps.optuna_study import create_study
from sweeps.spec import StudySpec
from sweeps.storage import MAX_RETRY, RetryStaleTrial, claim_lock, open_storage
from sweeps.trial_loop import agent_name, ask_holding_stops, run_one_trial
from sweeps.trial_process import subprocess_objective
from trainers.stop import release_stops

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


def agent_sampler_options(options: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """A seeded random/TPE/grid sampler would propose the same points in every agent: mix the agent's name (default
    this process's, `agent_name`) into the seed. Its trial processes take the same name, so they draw what the agent
    would. (QMC needs no change: it indexes its sequence by the study's trial count.)"""
    if options["name"] in {"random", "tpe", "grid"} and options.get("seed") is not None:
        mixed = zlib.crc32((name or agent_name()).encode())
        return {**options, "seed": (int(options["seed"]) + mixed) % 2**31}
    return dict(options)


def fail_dead_agent_trials(study: optuna.Study, name: str, cause: str) -> list[int]:
    """FAIL and re-queue the RUNNING trials of agent `name`, which died (`cause`, e.g. "killed by SIGKILL") and
    cannot do it itself: its siblings then go on at once instead of after the heartbeat's grace period. Returns the
    trials' numbers. A trial another agent's heartbeat check failed meanwhile is left to it."""
    storage = study._storage
    failed = []
    for trial in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("agent") != name:
            continue
        try:
            reason = f"its agent {name} was {cause} during the trial"
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                RetryStaleTrial(max_retry=MAX_RETRY)(study, storage.get_trial(trial._trial_id))
                failed.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return failed


def _claim(study: optuna.Study, budget: int, max_failures: int) -> tuple[optuna.Trial | None, int, int]:
    """Fail stale trials, count, and ask for a trial when the budget has room. Call under the claim lock."""
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    finished = sum(trial.state in FINISHED for trial in trials)
    running = sum(trial.state == TrialState.RUNNING for trial in trials)
    failed = sum(trial.state == TrialState.FAIL for trial in trials)
    room = finished + running < budget and failed < max_failures
    return (ask_holding_stops(study) if room else None), finished, failed


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
    study = create_study(spec, storage, overrides)
    objective = (subprocess_objective(spec, storage_url, overrides, root) if trial_subprocess
                 else make_objective(spec, overrides, reporter_factories, root))
    summary = AgentSummary(name)
    deadline = time.monotonic() + spec.timeout_minutes * 60 if spec.timeout_minutes else None
    log(f"joined study {spec.name!r} (budget {budget} finished trials)")
    while True:
        if deadline is not None and time.monotonic() > deadline:
            summary.stopped_because = f"the study's timeout of {spec.timeout_minutes} minutes passed"
            break
        try:
            with claim_lock(storage, storage_url, spec.name):
                trial, finished, failed = _claim(study, budget, max_failures)
        except BaseException:  # the lock's release failed after an ask: the heartbeat check fails that trial
            release_stops()
            raise
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

