"""Refit: retrain the search's best configuration at full fidelity, test it once, save it, record it on the study.

The search ranks configurations cheaply (a training subset, few epochs, pruned early); the refit trains the winner
on the whole training set for the study's full epoch budget (`refit:` in the study file), so the number a user
reads (`best`, the report, `predict`) is the refit model's test score.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna

import trainers
from sweeps.best import REFIT_ATTR, best_trial, refit_record, trial_config
from sweeps.run_identity import claim_refit_dir
from sweeps.spec import StudySpec
from sweeps.storage import runs_dir
from trainers.config import field_types
from trainers.reporter import ConsoleReporter, Reporter


def refit_config(spec: StudySpec, trial: optuna.trial.FrozenTrial,
                 overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The best trial's resolved config with the study's refit values (and `overrides`) on top; the model is saved."""
    config = {**trial_config(trial), **(spec.refit or {}), **(overrides or {})}
    if "save_model" in field_types(trainers.get_task(spec.task).config_type):
        config["save_model"] = True
    return config


def is_current(study: optuna.Study, trial: optuna.trial.FrozenTrial, config: Mapping[str, Any]) -> bool:
    """True when the stored refit already retrained this trial with this config (a rerun trains nothing)."""
    record = refit_record(study)
    return bool(record and record.get("trial") == trial.number and record.get("config") == dict(config)
                and record.get("metrics") and _model_intact(record.get("model")))


def _model_intact(model: str | None) -> bool:
    """A refit that saved no model is intact; one whose model.keras is missing or no longer a whole zip archive (cut
    short, overwritten) is not current: a rerun trains it again instead of reporting it (round 8's 7-c)."""
    import zipfile

    return model is None or (Path(model).is_file() and zipfile.is_zipfile(model))


SAME_VALIDATION = ("dataset", "subset", "validation_fraction", "seed")  # equal: the same validation images


def below_search(spec: StudySpec, trial: optuna.trial.FrozenTrial, resolved: Mapping[str, Any],
                 metrics: Mapping[str, Any]) -> bool:
    """True when the refit scores worse on the objective than its trial did on the same validation images: the
    longer schedule did not suit the configuration (e.g. a learning rate that only a short schedule anneals)."""
    searched, value = trial_config(trial), metrics.get(spec.objective)
    if trial.value is None or not isinstance(value, (int, float)) or not all(
            key in searched and searched[key] == resolved.get(key) for key in SAME_VALIDATION):
        return False
    return value < trial.value if spec.direction == "maximize" else value > trial.value


def refit_best(spec: StudySpec, study: optuna.Study, overrides: Mapping[str, Any] | None = None,
               reporter: Reporter | None = None, root: Path | None = None,
               force: bool = False) -> dict[str, Any] | None:
    """Retrain the best trial's config at full fidelity unless that is already done; returns the refit record."""
    trial = best_trial(study)
    if trial is None:
        return None
    config = refit_config(spec, trial, overrides)
    if not force and is_current(study, trial, config):
        return refit_record(study)
    run_dir = claim_refit_dir(root or runs_dir(), spec.name, trial.number)
    started = time.perf_counter()
    result = trainers.run(spec.task, config, reporter or ConsoleReporter(f"{spec.name} refit #{trial.number}"),
                          run_dir)
    model = run_dir / "model.keras"
    record = {"trial": trial.number, "search_value": trial.value, "config": dict(config),
              "below_search": below_search(spec, trial, result.config, result.metrics),
              "resolved": result.config, "metrics": result.metrics, "run_dir": str(run_dir),
              "model": str(model) if model.exists() else None,
              "seconds": round(time.perf_counter() - started, 1),
              "finished_at": round(time.time(), 3)}  # Unix time
    study.set_user_attr(REFIT_ATTR, record)
    return record
