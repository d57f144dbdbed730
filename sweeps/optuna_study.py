"""Run a study with Optuna: sampler and pruner from the spec, one trainer call per trial."""

from __future__ import annotations

import gc
import math
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna

import trainers
from sweeps.best import PROMOTED_FROM
from sweeps.joining import DEFINITION_ATTR, accepting_changes, check_join, definition
from sweeps.promotion import PROMOTED_SET, enqueue_promotions, measure_fidelity
from sweeps.result_signature import sign_result, study_key
from sweeps.run_identity import claim_trial_dir
from sweeps.space import Parameter, suggest_all
from sweeps.spec import StudySpec
from sweeps.storage import open_storage, runs_dir
from sweeps.trial_loop import run_trials
from trainers.provenance import provenance
from trainers.reporter import CompositeReporter, ConsoleReporter, Reporter, StopTrial

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

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


class FloorPruner(optuna.pruners.BasePruner):
    """Prunes a trial whose latest value is worse than `floor` (e.g. chance accuracy), else asks `base`.

    A configuration still at chance after its first epoch will not train in a short budget (a diverged learning
    rate, a dead activation); stopping it at once leaves the budget to the rest.
    """

    def __init__(self, base: optuna.pruners.BasePruner, floor: float) -> None:
        self.base, self.floor = base, float(floor)

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is not None:
            value = trial.intermediate_values[step]
            maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
            if (value < self.floor) if maximize else (value > self.floor):
                return True
        return self.base.prune(study, trial)


def build_sampler(options: Mapping[str, Any]) -> optuna.samplers.BaseSampler:
    kwargs = {key: value for key, value in options.items() if key != "name"}
    if options["name"] == "qmc":  # conditional (`when`) parameters are sampled at random by design
        kwargs.setdefault("warn_independent_sampling", False)
    samplers = {"qmc": optuna.samplers.QMCSampler, "random": optuna.samplers.RandomSampler,
                "tpe": optuna.samplers.TPESampler, "grid": optuna.samplers.BruteForceSampler}
    return samplers[options["name"]](**kwargs)


def build_pruner(options: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    kwargs = {key: value for key, value in options.items() if key not in {"name", "floor"}}
    pruners = {"none": optuna.pruners.NopPruner, "median": optuna.pruners.MedianPruner,
               "hyperband": optuna.pruners.HyperbandPruner,
               "successive_halving": optuna.pruners.SuccessiveHalvingPruner}
    pruner = pruners[options["name"]](**kwargs)
    return FloorPruner(pruner, options["floor"]) if options.get("floor") is not None else pruner


def create_study(spec: StudySpec, storage: str | optuna.storages.BaseStorage | None = None) -> optuna.Study:
    if not isinstance(storage, optuna.storages.BaseStorage):
        storage = open_storage(storage)
    check_join(storage, spec)  # same name, other objective or direction: refuse rather than mix them
    study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.direction,
                                sampler=build_sampler(spec.sampler), pruner=build_pruner(spec.pruner),
                                load_if_exists=True)
    existing = len(study.get_trials(deepcopy=False))
    if not existing:
        for point in spec.start_with:  # the prior: known-good settings are the first trials
            study.enqueue_trial(point, skip_if_exists=True)
    if existing and spec.sampler["name"] != "qmc" and spec.sampler.get("seed") is not None:
        # continuing a study: a seeded random/TPE sampler would replay its first suggestions (QMC indexes by trial)
        study.sampler = build_sampler({**spec.sampler, "seed": int(spec.sampler["seed"]) + existing})
    if DEFINITION_ATTR not in study.user_attrs or accepting_changes():
        study.set_user_attr(DEFINITION_ATTR, definition(spec))
    study.set_user_attr("task", spec.task)
    study.set_user_attr("objective", spec.objective)
    study.set_user_attr("spec_path", str(spec.path))
    return study


def is_out_of_memory(error: BaseException) -> bool:
    """Host or accelerator OOM, as raised by Python, TensorFlow (ResourceExhaustedError) or JAX/XLA."""
    text = f"{type(error).__name__}: {error}"
    return isinstance(error, MemoryError) or any(
        marker in text for marker in ("ResourceExhausted", "RESOURCE_EXHAUSTED", "out of memory", "OOM when"))


def fail_reason(error: BaseException) -> str:
    prefix = "out of memory: " if is_out_of_memory(error) else ""
    return f"{prefix}{type(error).__name__}: {error}"[:1000]


def release_trial_memory() -> None:
    """Drop the finished trial's models and graphs so memory does not grow from trial to trial."""
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session(free_memory=True)
    gc.collect()


def _record_retry(trial: optuna.Trial) -> None:
    """A re-queued trial (its agent died) names the trial it repeats, as user attrs the report can show."""
    system_attrs = trial.storage.get_trial(trial._trial_id).system_attrs
    if "failed_trial" in system_attrs:
        trial.set_user_attr("retried_trial_number", system_attrs["failed_trial"])
        trial.set_user_attr("retry_history", list(system_attrs.get("retry_history", [])))


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
        params = suggest_all(parameters, trial, given={**spec.fixed, **trial_overrides})
        run_dir = claim_trial_dir(root, spec.name, trial)  # never another run's directory
        signing_key = study_key(trial.study._storage, trial.study._study_id)  # signs the result for `record`
        trial.set_user_attr("run_dir", str(run_dir))
        if overrides:
            trial.set_user_attr("overrides", overrides)
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
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "error.txt").write_text(traceback.format_exc())
            raise
        finally:
            release_trial_memory()
        sign_result(run_dir, signing_key, trial.study._study_id)
        trial.set_user_attr("config", result.config)
        trial.set_user_attr("metrics", result.metrics)
        value = result.metrics[spec.objective]
        if not math.isfinite(value):
            trial.set_user_attr("fail_reason", f"objective {spec.objective} is {value}")
        return value

    return objective


def run_study(spec: StudySpec, storage: str | None = None, trials: int | None = None,
              overrides: Mapping[str, Any] | None = None, reporter_factories: tuple[ReporterFactory, ...] = (),
              root: Path | None = None) -> optuna.Study:
    """Create or join the study and run `trials` more trials; failures are recorded and the loop goes on."""
    study = create_study(spec, storage)
    timeout = spec.timeout_minutes * 60 if spec.timeout_minutes else None
    run_trials(study, make_objective(spec, overrides, reporter_factories, root), trials or spec.trials, timeout)
    return study


def promote_best(spec: StudySpec, study: optuna.Study, overrides: Mapping[str, Any] | None = None,
                 reporter_factories: tuple[ReporterFactory, ...] = (), root: Path | None = None) -> dict[str, Any]:
    """Rerun the search's best few (and probes) at the `promote:` fidelity, unpruned; store and return the measured
    low-rung vs promoted rank correlation (`sweeps.promotion`)."""
    if spec.promote is None:
        return {}
    queued = enqueue_promotions(study, spec.promote)
    if queued:
        print(f"[sweep {spec.name}] promoting trials {', '.join(f'#{number}' for number in queued)} to "
              f"{spec.promote['set'] or 'the same fidelity'}", flush=True)
        run_trials(study, make_objective(spec, overrides, reporter_factories, root), len(queued))
    return measure_fidelity(study)
