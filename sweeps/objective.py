"""The Optuna objective of a study: sample a trial's values, run the shared trainer entry point, record everything
on the trial (its run directory, provenance, config, metrics, signed result, fail reason)."""

from __future__ import annotations

import math
import traceback
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna

import trainers
from datasets.atomic import make_folder, write_text
from sweeplab.numbers import is_number
from sweeps.best import PROMOTED_FROM
from sweeps.promotion import PROMOTED_SET
from sweeps.result_signature import SIGNATURE_ATTR, sign_result, study_key
from sweeps.run_identity import claim_trial_dir
from sweeps.search_options import objective_problem
from sweeps.space import Parameter, suggest_all
from sweeps.spec import StudySpec
from sweeps.storage import runs_dir
from sweeps.trial_loop import fail_reason, release_trial_memory
from trainers.provenance import provenance
from trainers.reporter import CompositeReporter, ConsoleReporter, Reporter, StopTrial

# (spec, trial number, sampled params, run dir) -> extra reporter (W&B, ...); see sweeps.tracking.
ReporterFactory = Callable[[StudySpec, int, dict[str, Any], Path], Reporter]


class OptunaReporter(Reporter):
    """Feeds the objective metric to the trial every epoch and relays the pruner's verdict."""

    def __init__(self, trial: optuna.Trial, objective: str, prunable: bool = True) -> None:
        self.trial, self.objective, self.pruned_at, self.prunable = trial, objective, None, prunable

    def report(self, step: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.objective)
        if value is not None and math.isfinite(value):
            self.trial.report(value, step)
            if self.prunable and self.trial.should_prune():
                self.pruned_at = step

    def should_stop(self) -> bool:
        return self.pruned_at is not None


def _record_retry(trial: optuna.Trial) -> None:
    """A re-queued trial (its agent died) names the trial it repeats, as user attrs the report can show."""
    system_attrs = trial.storage.get_trial(trial._trial_id).system_attrs
    if "failed_trial" in system_attrs:
        trial.set_user_attr("retried_trial_number", system_attrs["failed_trial"])
        trial.set_user_attr("retry_history", list(system_attrs.get("retry_history", [])))


def diverged(metrics: Mapping[str, Any]) -> str | None:
    """Why a run's result is no result although its objective is a number: a loss that is NaN or infinite (round 10's
    8-a: inputs of 1e30 gave NaN losses and an accuracy of guessing one class, stored COMPLETE and ranked)."""
    for name in sorted(metrics):
        value = metrics[name]
        if str(name).endswith("loss") and is_number(value) and not math.isfinite(value):
            return f"{name} is {value}: the training diverged"
    return None


def _fixed_as(fixed: Mapping[str, Any], key: str, value: Any) -> bool:
    """The study fixes `key` to `value` already (the same type and value)."""
    return key in fixed and type(fixed[key]) is type(value) and fixed[key] == value


def searched_parameters(spec: StudySpec, overrides: Mapping[str, Any]) -> list[Parameter]:
    """The study's parameters minus those fixed on the command line (`--set name=value` takes one out of the search)."""
    return [parameter for parameter in spec.parameters if parameter.name not in overrides]


def make_objective(spec: StudySpec, overrides: Mapping[str, Any] | None = None,
                   reporter_factories: tuple[ReporterFactory, ...] = (), root: Path | None = None):
    """The Optuna objective: sample, run the shared trainer entry point, record everything on the trial."""
    overrides = dict(overrides or {})
    root = root or runs_dir()
    parameters = searched_parameters(spec, overrides)

    def objective(trial: optuna.Trial) -> float:
        _record_retry(trial)
        # a promoted configuration reruns at its higher fidelity whoever runs it (this process or another agent),
        # unpruned: its rungs are not comparable with the low rung's
        promoted = dict(trial.user_attrs.get(PROMOTED_SET, {}))
        trial_overrides = {**overrides, **promoted}
        with warnings.catch_warnings():  # a re-queued trial keeps the values it was asked with, also when the space
            # was widened since with --accept-changes: Optuna's raw warning says only that (round 10's 1-b)
            warnings.filterwarnings("ignore", message="Inconsistent parameter values for distribution")
            params = suggest_all(parameters, trial, given={**spec.fixed, **trial_overrides})
        run_dir = claim_trial_dir(root, spec.name, trial, fixed={**spec.fixed, **trial_overrides})  # never another
        # run's directory; its trial.json keeps the fixed values it trains with, for `record`
        signing_key = study_key(trial.study._storage, trial.study._study_id)  # signs the result for `record`
        trial.set_user_attr("run_dir", str(run_dir))
        if changed := {key: value for key, value in overrides.items() if not _fixed_as(spec.fixed, key, value)}:
            trial.set_user_attr("overrides", changed)  # a `--set` equal to the study's fixed value changes nothing
        for key, value in provenance().items():
            trial.set_user_attr(key, value)
        extra = [factory(spec, trial.number, params, run_dir) for factory in reporter_factories]
        pruning = OptunaReporter(trial, spec.objective, prunable=PROMOTED_FROM not in trial.user_attrs)
        reporter = CompositeReporter(pruning,
                                     ConsoleReporter(f"{spec.name} #{trial.number}"), *extra)
        try:
            result = trainers.run(spec.task, {**spec.fixed, **params, **trial_overrides}, reporter, run_dir)
        except StopTrial as stop:
            trial.set_user_attr("pruned_at_step", stop.step)
            raise optuna.TrialPruned(f"pruned at step {stop.step}") from None
        except Exception as error:
            trial.set_user_attr("fail_reason", fail_reason(error))
            make_folder(run_dir)
            write_text(run_dir / "error.txt", traceback.format_exc())
            raise
        finally:
            release_trial_memory()
        signed = sign_result(run_dir, signing_key, trial.study._study_id, trial)
        if signed is not None:  # the trial holds its signature: a copy of this run directory is never recorded again
            trial.set_user_attr(SIGNATURE_ATTR, signed)
        trial.set_user_attr("config", result.config)
        trial.set_user_attr("metrics", result.metrics)
        value = result.metrics.get(spec.objective)
        problem = (objective_problem(spec.objective, value) if spec.objective in result.metrics else
                   f"the task returned no {spec.objective} (the study's objective); it returned "
                   f"{', '.join(sorted(map(str, result.metrics))) or 'no metrics'}") or diverged(result.metrics)
        if problem is not None:  # the trial fails with its reason; nothing ranks on the value
            trial.set_user_attr("fail_reason", problem)
            return math.nan
        return value

    return objective


