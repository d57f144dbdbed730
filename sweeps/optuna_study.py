"""Run a study with Optuna: sampler and pruner from the spec, the study created or joined, trials run, the best
few promoted."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna

from sweeps.best import is_promoted
from sweeps.joining import (
    DEFINITION_ATTR,
    EARLIER_PARAMETERS_ATTR,
    accepting_changes,
    check_join,
    definition,
    definition_names,
    known_parameters,
)
from sweeps.objective import ReporterFactory, make_objective
from sweeps.promotion import enqueue_promotions, measure_fidelity, promote_early
from sweeps.spec import StudySpec
from sweeps.storage import open_storage
from sweeps.trial_loop import run_trials

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
# a queued value outside its range: the storage gateway refuses it and the trial fails naming it (one line, not a
# warning with a site-packages path before it)
warnings.filterwarnings("ignore", message=r"Fixed parameter .* is out of range")

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


def create_study(spec: StudySpec, storage: str | optuna.storages.BaseStorage | None = None,
                 overrides: Mapping[str, Any] | None = None) -> optuna.Study:
    """Create or join the study; `overrides` (the command line's --set values) are part of its definition."""
    if not isinstance(storage, optuna.storages.BaseStorage):
        storage = open_storage(storage)
    check_join(storage, spec, overrides)  # same name, other objective or direction: refuse rather than mix them
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
        defined = definition(spec, overrides)  # resolves the task's defaults: once
        replaced = (known_parameters(study.user_attrs) or set()) - definition_names(defined)
        if replaced:  # older trials may hold these: still the study's own names (`best` checks trials against them)
            study.set_user_attr(EARLIER_PARAMETERS_ATTR, sorted(replaced))
        study.set_user_attr(DEFINITION_ATTR, defined)
    study.set_user_attr("task", spec.task)
    study.set_user_attr("objective", spec.objective)
    study.set_user_attr("spec_path", str(spec.path))
    return study


def run_study(spec: StudySpec, storage: str | None = None, trials: int | None = None,
              overrides: Mapping[str, Any] | None = None, reporter_factories: tuple[ReporterFactory, ...] = (),
              root: Path | None = None, join_overrides: Mapping[str, Any] | None = None) -> optuna.Study:
    """Create or join the study and run `trials` more trials; failures are recorded and the loop goes on.
    `join_overrides`: the --set values the study is joined with (default `overrides`; `sweep` leaves out the
    widened rung, which the study chose itself)."""
    study = create_study(spec, storage, overrides if join_overrides is None else join_overrides)
    timeout = spec.timeout_minutes * 60 if spec.timeout_minutes else None
    seen: set[int] = set()

    def early_promotion() -> None:  # `promote.every`: the best so far rerun at the promoted fidelity during the search
        for number in promote_early(study, spec.promote, seen):
            print(f"[sweep {spec.name}] promoting trial #{number} early (the low rung's best so far)", flush=True)

    run_trials(study, make_objective(spec, overrides, reporter_factories, root), trials or spec.trials, timeout,
               after_each=early_promotion if (spec.promote or {}).get("every") else None)
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
    # an early promotion the search's timeout left queued runs here too
    waiting = [trial for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
               if is_promoted(trial)]
    if waiting:
        run_trials(study, make_objective(spec, overrides, reporter_factories, root), len(waiting))
    return measure_fidelity(study)
