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

from sweeplab.numbers import is_number
from sweeps.joining import unknown_parameter
from sweeps.search_options import metric_range, objective_problem
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
    if (problem := unknown_parameter(study.study_name, trials, study.user_attrs)) is not None:
        raise StorageCorruptError(problem)  # every parameter a trial holds was searched or fixed by a definition
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
    """The stored refit of the study's best trial (trial, config, metrics, run_dir, model), if any; one checked
    against its schema (`refit_problem`), since any process can set a study attribute through Optuna (round 8's 3-a:
    a malformed one was an internal error, a forged one printed `test/accuracy 5` and `model: /etc/passwd`)."""
    if REFIT_ATTR not in study.user_attrs:
        return None
    record = study.user_attrs[REFIT_ATTR]
    if (problem := refit_problem(study, record)) is not None:
        raise StorageCorruptError(f"study {study.study_name!r}: its stored refit {problem}: the storage was damaged "
                                  f"or edited by hand; `sweeplab refit {study.study_name} --force` trains it again")
    return dict(record)


def refit_problem(study: optuna.Study, record: Any) -> str | None:
    """Why a stored refit record is not one `sweeps.refit` writes, or None."""
    if not isinstance(record, dict):
        return f"is {type(record).__name__}, not a record"
    number = record.get("trial")
    if not isinstance(number, int) or isinstance(number, bool):
        return f"names trial {number!r}, not a trial number"
    trial = next((trial for trial in study.get_trials(deepcopy=False) if trial.number == number), None)
    if trial is None or trial.state != TrialState.COMPLETE:
        return f"names trial #{number}, which the study holds {'no' if trial is None else 'only ' + trial.state.name}"
    for key in ("config", "metrics"):
        if not isinstance(record.get(key), dict):
            return f"has {key} {record.get(key)!r}, not a mapping"
    for name, value in record["metrics"].items():
        if not isinstance(name, str) or not is_number(value):
            return f"has metric {name!r} = {value!r}, not a number"
        low, high = metric_range(name)
        if math.isfinite(value) and not low <= value <= high:
            return f"has metric {name} = {value!r}, outside its range [{low:g}, {high:g}]"
    run_dir, model = record.get("run_dir"), record.get("model")
    if run_dir is not None and not isinstance(run_dir, str):
        return f"has run_dir {run_dir!r}, not a path"
    if model is not None and (not isinstance(model, str) or run_dir is None
                              or Path(model) != Path(run_dir) / "model.keras"):
        return f"names model {model!r}, not its run directory's model.keras"
    for key in ("search_value", "seconds", "finished_at"):
        if key in record and record[key] is not None and not is_number(record[key]):
            return f"has {key} {record[key]!r}, not a number"
    if not isinstance(record.get("below_search", False), bool):
        return f"has below_search {record['below_search']!r}, not true or false"
    return None


def best_model_path(study: optuna.Study) -> Path | None:
    """The refit model when there is one, else the best trial's own saved model; None when neither exists."""
    record = refit_record(study)
    candidates = [Path(record["model"])] if record and record.get("model") else []
    trial = best_trial(study)
    if trial is not None and trial.user_attrs.get("run_dir"):
        candidates.append(Path(trial.user_attrs["run_dir"]) / "model.keras")
    return next((path for path in candidates if path.exists()), None)
