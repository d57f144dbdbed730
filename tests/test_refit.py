"""Multi-fidelity search and refit on a real SQLite study: the refit trains on the whole training set, `best` and
`predict`'s model lookup read it, a rerun trains nothing; trials at chance after epoch 1 are pruned; `--set` on a
searched parameter takes it out of the search everywhere the trial is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from sweeplab.cli import main
from sweeps.best import best_model_path, best_trial, refit_record
from sweeps.optuna_study import run_study
from sweeps.refit import refit_best
from sweeps.spec import load_spec

MNIST_TRAIN_SPLIT = 54_000  # 60,000 training images less the 10% validation split


def write_study(tmp_path: Path, **extra) -> Path:
    study = {
        "task": "classify",
        "fixed": {"dataset": "mnist", "model": "geron_mlp", "subset": 300, "test_subset": 200, "epochs": 2,
                  "dense_units": 32, "batch_size": 64},
        "space": {"optimizer": {"type": "categorical", "choices": ["adam", "rmsprop"]},
                  "learning_rate": {"type": "float", "low": 1e-7, "high": 3e-3, "log": True}},
        "sampler": {"name": "tpe", "seed": 0},
        "budget": {"trials": 2},
        **extra,
    }
    path = tmp_path / "tiny-refit.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def test_refit_trains_the_best_config_on_the_whole_training_set(tmp_path, storage_url, capsys):
    path = write_study(tmp_path, refit={"subset": 0, "epochs": 1, "batch_size": 256},
                       start_with=[{"optimizer": "adam", "learning_rate": 2e-3}])
    assert main(["sweep", str(path), "--storage", storage_url]) == 0
    out = capsys.readouterr().out
    study = optuna.load_study(study_name="tiny-refit", storage=storage_url)
    record = refit_record(study)
    best = best_trial(study)
    assert record["trial"] == best.number
    assert best.user_attrs["metrics"]["data/train_examples"] == 300  # the search's fidelity
    assert record["metrics"]["data/train_examples"] == MNIST_TRAIN_SPLIT  # the refit's: every training image
    resolved = json.loads((Path(record["run_dir"]) / "config.json").read_text())["config"]
    assert resolved["subset"] == 0 and resolved["epochs"] == 1 and resolved["learning_rate"] == best.params[
        "learning_rate"]
    assert record["metrics"]["test/accuracy"] > best.user_attrs["metrics"]["test/accuracy"]  # 54k images vs 300
    assert best_model_path(study) == Path(record["model"]) and Path(record["model"]).stat().st_size > 0
    assert f"test/accuracy {record['metrics']['test/accuracy']:.4g}" in out

    assert main(["best", str(path), "--storage", storage_url]) == 0
    assert f"refit of trial #{best.number}" in capsys.readouterr().out

    before = Path(record["run_dir"], "metrics.jsonl").read_text()
    assert refit_best(load_spec(path), study) == record  # current: a rerun trains nothing
    assert Path(record["run_dir"], "metrics.jsonl").read_text() == before


def test_no_refit_flag_and_studies_without_refit(tmp_path, storage_url, capsys):
    path = write_study(tmp_path, refit={"subset": 0, "epochs": 1})
    assert main(["sweep", str(path), "--storage", storage_url, "--trials", "1", "--no-refit"]) == 0
    study = optuna.load_study(study_name="tiny-refit", storage=storage_url)
    assert refit_record(study) is None
    assert load_spec(write_study(tmp_path)).refit is None  # no `refit:` key: off
    without = write_study(tmp_path)  # same study, no `refit:`: the refit command says what is missing
    assert main(["refit", str(without), "--storage", storage_url]) == 2
    assert "no `refit:` section" in capsys.readouterr().err


def test_a_trial_at_chance_after_its_first_epoch_is_pruned(tmp_path, storage_url):
    path = write_study(tmp_path, pruner={"name": "successive_halving", "min_resource": 1, "floor": 0.2},
                       start_with=[{"optimizer": "adam", "learning_rate": 1e-7}])  # cannot leave chance in 2 epochs
    spec = load_spec(path)
    study = run_study(spec, storage_url, trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED and trial.user_attrs["pruned_at_step"] == 1
    assert trial.intermediate_values[1] < 0.2
    lines = Path(trial.user_attrs["run_dir"], "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1  # stopped after epoch 1 of 2


def test_the_floor_prunes_nothing_that_trains(tmp_path, storage_url):
    path = write_study(tmp_path, pruner={"name": "none", "floor": 0.2},
                       start_with=[{"optimizer": "adam", "learning_rate": 2e-3}])
    study = run_study(load_spec(path), storage_url, trials=1, overrides={"subset": 1000, "batch_size": 32})
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert study.trials[0].intermediate_values[1] > 0.3


def test_set_on_a_searched_parameter_takes_it_out_of_the_search(tmp_path, storage_url, capsys):
    path = write_study(tmp_path, space={"optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
                                        "momentum": {"type": "float", "low": 0.0, "high": 0.9,
                                                     "when": {"optimizer": ["sgd"]}},
                                        "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}})
    assert main(["sweep", str(path), "--storage", storage_url, "--set", "optimizer=sgd", "--set", "epochs=1",
                 "--set", "subset=300"]) == 0  # subset=300 is the study's own fixed value: it changes nothing
    table = capsys.readouterr().out
    study = optuna.load_study(study_name="tiny-refit", storage=storage_url)
    for trial in study.trials:
        assert "optimizer" not in trial.params and "momentum" in trial.params  # `when` sees the override
        assert trial.user_attrs["overrides"] == {"optimizer": "sgd", "epochs": 1}
        assert trial.user_attrs["config"]["optimizer"] == "sgd"
        recorded = json.loads(Path(trial.user_attrs["run_dir"], "config.json").read_text())["config"]
        assert recorded["optimizer"] == "sgd" and recorded["epochs"] == 1
        assert len(Path(trial.user_attrs["run_dir"], "metrics.jsonl").read_text().splitlines()) == 1
    header, *rows = table.split("study tiny-refit")[1].splitlines()[1:3]
    assert "optimizer" in header and "sgd" in rows[0] and "subset" not in header  # round 8's 2-a


def test_start_with_points_are_validated(tmp_path):
    from sweeps.spec import SpecError

    with pytest.raises(SpecError, match=r"start_with\[0\]\.learning_rate: 1.0 is outside"):
        load_spec(write_study(tmp_path, start_with=[{"learning_rate": 1.0}]))
    with pytest.raises(SpecError, match=r"start_with\[0\]\.epochs: not a parameter"):
        load_spec(write_study(tmp_path, start_with=[{"epochs": 3}]))
    with pytest.raises(SpecError, match=r"refit: .*subset"):
        load_spec(write_study(tmp_path, refit={"subset": "all"}))


def test_a_refit_worse_than_its_trial_on_the_same_validation_images_says_so(tmp_path, storage_url, capsys):
    # the refit keeps the search's data (subset 300: the same validation images) but a 2-unit network: it must score
    # below its trial, and `sweep` and `best` say so
    path = write_study(tmp_path, refit={"dense_units": 2}, start_with=[{"optimizer": "adam", "learning_rate": 2e-3}])
    assert main(["sweep", str(path), "--storage", storage_url]) == 0
    study = optuna.load_study(study_name="tiny-refit", storage=storage_url)
    record = refit_record(study)
    assert record["metrics"]["val/accuracy"] < best_trial(study).value
    assert record["below_search"] is True
    assert "the refit scores worse than its trial did on the same validation images" in capsys.readouterr().out
    assert main(["best", str(path), "--storage", storage_url]) == 0
    assert "scores worse than its trial" in capsys.readouterr().out


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
@pytest.mark.parametrize("changed", [None, "subset", "seed", "dataset"])
def test_below_search_compares_only_on_the_same_validation_images(direction, changed):
    from types import SimpleNamespace

    from sweeps.refit import SAME_VALIDATION, below_search

    searched = {"dataset": "mnist", "subset": 300, "validation_fraction": 0.1, "seed": 0, "epochs": 2}
    trial = optuna.trial.create_trial(value=0.5, user_attrs={"config": searched})
    spec = SimpleNamespace(objective="val/accuracy", direction=direction)
    resolved = {**searched, "epochs": 20, **({changed: "other"} if changed else {})}
    worse, better = (0.4, 0.6) if direction == "maximize" else (0.6, 0.4)
    assert below_search(spec, trial, resolved, {"val/accuracy": worse}) == (changed is None)
    assert not below_search(spec, trial, resolved, {"val/accuracy": better})
    assert not below_search(spec, trial, resolved, {"val/accuracy": 0.5})  # as good: nothing to say
    assert not below_search(spec, trial, resolved, {})  # no objective measured
    assert set(SAME_VALIDATION) <= set(searched)
