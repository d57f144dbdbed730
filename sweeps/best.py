"""One way to ask a study for its best: ranked finished trials, the best trial's config, and its refit.

Like KerasTuner's `get_best_hyperparameters()`, the search's best trial was trained on the search's fidelity (a
subset, few epochs); `sweeps.refit` retrains it on the full training set and stores the outcome on the study,
and `best_model_path` prefers that refit model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.joining import known_parameters
from sweeps.search_options import objective_problem
from sweeps.storage_faults import StorageCorruptError

REFIT_ATTR = "refit"  # study user attr: the refit record (see sweeps.refit)
PROMOTED_FROM = "promoted_from"  # trial user attr: the low-rung trial a promoted one reruns (sweeps.promotion)


def is_promoted(trial: FrozenTrial) -> bool:
    return PROMOTED_FROM in trial.user_attrs


def ranked_trials(study: optuna.Study, low_rung: bool = False) -> list[FrozenTrial]:
    """COMPLETE trials with a finite objective, best first; once configurations were promoted (rerun at a higher
    fidelity, `sweeps.promotion`), only the promoted ones: a low-rung value is not comparable with theirs.
    `low_rung=True`: the trials that were not promoted reruns, the low rung's own ranking."""
    trials = [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if trial.value is not None and math.isfinite(trial.value)]
    objective = study.user_attrs.get("objective")
    for trial in trials:  # no trial stores a value outside its metric's range (sweeps.objective): damage otherwise
        if isinstance(objective, str) and (problem := objective_problem(objective, trial.value)) is not None:
            raise StorageCorruptError(f"study {study.study_name!r}: trial #{trial.number}'s stored {problem}: the "
                                      "storage was damaged or edited by hand")
    known = known_parameters(study.user_attrs)
    for trial in trials:  # every parameter a trial holds was searched or fixed by a definition of the study
        unknown = sorted(set(trial.params) - known) if known is not None else []
        if unknown:
            raise StorageCorruptError(f"study {study.study_name!r}: trial #{trial.number} holds parameter "
                                      f"{unknown[0]!r}, which no definition of the study searched or fixed: the "
                                      "storage was damaged or edited by hand")
    promoted = [trial for trial in trials if is_promoted(trial)]
    trials = [trial for trial in trials if not is_promoted(trial)] if low_rung else (promoted or trials)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(trials, key=lambda trial: trial.value, reverse=maximize)


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best finished trial, or None while there is none."""
    ranked = ranked_trials(study)
    return ranked[0] if ranked else None


def trial_config(trial: FrozenTrial) -> dict[str, Any]:
    """The values that trained: the resolved config when recorded, else the sampled parameters."""
    return dict(trial.user_attrs.get("config") or trial.params)


def searched_values(trial: FrozenTrial) -> dict[str, Any]:
    """The trial's searched hyperparameters: sampled ones and those fixed by `--set` overrides."""
    return {**trial.params, **trial.user_attrs.get("overrides", {})}


def refit_record(study: optuna.Study) -> dict[str, Any] | None:
    """The stored refit of the study's best trial (trial, config, metrics, run_dir, model), if any."""
    record = study.user_attrs.get(REFIT_ATTR)
    return dict(record) if isinstance(record, dict) else None


def best_model_path(study: optuna.Study) -> Path | None:
    """The refit model when there is one, else the best trial's own saved model; None when neither exists."""
    record = refit_record(study)
    candidates = [Path(record["model"])] if record and record.get("model") else []
    trial = best_trial(study)
    if trial is not None and trial.user_attrs.get("run_dir"):
        candidates.append(Path(trial.user_attrs["run_dir"]) / "model.keras")
    return next((path for path in candidates if path.exists()), None)
