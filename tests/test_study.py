"""Optuna studies end to end on a real SQLite file: run dirs, user attributes, pruning, failures, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from sweeplab.cli import main
from sweeps.optuna_study import run_study
from sweeps.spec import load_spec

STUDY = """task: classify
fixed: {{dataset: mnist, model: geron_mlp, subset: 300, test_subset: 200, epochs: {epochs}, dense_units: 32,
        batch_size: 64}}
space:
  learning_rate: {{type: float, low: 1.0e-5, high: 0.3, log: true}}
  optimizer: {{type: categorical, choices: [sgd, adam]}}
sampler: {{name: random, seed: 0}}
pruner: {pruner}
budget: {{trials: 2}}
"""


def write_spec(tmp_path: Path, epochs: int = 1, pruner: str = "none") -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(STUDY.format(epochs=epochs, pruner=pruner))
    return path


def test_two_trial_study_writes_run_dirs_and_user_attributes(tmp_path, storage_url, _runs_dir, mirror_dir):
    spec = load_spec(write_spec(tmp_path))
    study = run_study(spec, storage_url)
    trials = optuna.load_study(study_name="tiny", storage=storage_url).get_trials()
    assert [trial.state for trial in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    for trial in trials:
        run_dir = _runs_dir / "tiny" / f"{trial.number:04d}"
        assert Path(trial.user_attrs["run_dir"]) == run_dir
        saved = json.loads((run_dir / "config.json").read_text())
        assert saved["config"]["learning_rate"] == pytest.approx(trial.params["learning_rate"])
        assert saved["git_sha"] and saved["versions"]["keras"].startswith("3.")
        epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert [record["step"] for record in epochs] == [1]
        assert {"train/loss", "val/accuracy", "val/loss"} <= set(epochs[0])
        result = json.loads((run_dir / "result.json").read_text())["metrics"]
        assert 0.0 <= result["test/accuracy"] <= 1.0
        assert trial.value == pytest.approx(result["val/accuracy"])
        assert trial.user_attrs["metrics"]["test/accuracy"] == pytest.approx(result["test/accuracy"])
        assert trial.user_attrs["config"]["optimizer"] == trial.params["optimizer"]
        assert trial.user_attrs["git_sha"] == saved["git_sha"]
        assert "keras" in trial.user_attrs["versions"]
    assert study.best_value == max(trial.value for trial in trials)


def test_a_bad_trial_is_pruned_by_the_median_rule(tmp_path, storage_url, mirror_dir):
    spec = load_spec(write_spec(tmp_path, epochs=3, pruner="{name: median, n_startup_trials: 1, n_warmup_steps: 0}"))
    study = optuna.create_study(study_name="tiny", storage=storage_url, direction="maximize")
    study.enqueue_trial({"learning_rate": 3e-3, "optimizer": "adam"})  # learns within one epoch
    study.enqueue_trial({"learning_rate": 1e-5, "optimizer": "sgd"})  # stays near chance
    run_study(spec, storage_url, trials=2)
    good, bad = optuna.load_study(study_name="tiny", storage=storage_url).get_trials()
    assert good.state == optuna.trial.TrialState.COMPLETE
    assert bad.state == optuna.trial.TrialState.PRUNED
    assert bad.user_attrs["pruned_at_step"] == 1
    assert max(bad.intermediate_values) == 1  # stopped after the first epoch, not trained to the end


def test_a_failing_trial_is_recorded_with_its_reason_and_the_study_goes_on(tmp_path, storage_url, _runs_dir,
                                                                           mirror_dir, monkeypatch):
    spec = load_spec(write_spec(tmp_path))
    monkeypatch.setenv("SWEEPLAB_ACCEPT_CHANGES", "1")  # the second run drops the first's --set values on purpose
    study = optuna.create_study(study_name="tiny", storage=storage_url, direction="maximize")
    study.enqueue_trial({"learning_rate": 1e-3, "optimizer": "adam"})
    run_study(spec, storage_url, trials=1, overrides={"dataset": "cifar10", "model": "keras_cnn", "conv_blocks": 4,
                                                      "strides": 2})
    run_study(spec, storage_url, trials=1)
    failed, completed = optuna.load_study(study_name="tiny", storage=storage_url).get_trials()
    assert failed.state == optuna.trial.TrialState.FAIL
    assert "shrinks the 32x32 input to nothing" in failed.user_attrs["fail_reason"]
    assert "Traceback" in (_runs_dir / "tiny" / "0000" / "error.txt").read_text()
    assert completed.state == optuna.trial.TrialState.COMPLETE


def test_cli_sweep_prints_the_best_trials_table(tmp_path, storage_url, capsys, mirror_dir):
    code = main(["sweep", str(write_spec(tmp_path)), "--storage", storage_url, "--trials", "2", "--set", "epochs=1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "study tiny (val/accuracy, maximize): 2 complete" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("trial"))
    assert "val/accuracy" in header and "test/accuracy" in header and "learning_rate" in header
    assert main(["best", str(write_spec(tmp_path)), "--storage", storage_url, "--top", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[2].startswith("no refit yet")  # header + the best row + the refit line


def test_cli_run_writes_a_run_directory(tmp_path, capsys, tiny_classify, mirror_dir):
    sets = [f"--set={key}={value}" for key, value in tiny_classify.items()]
    assert main(["run", "classify", "--run-dir", str(tmp_path / "one"), *sets]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["model/params"] == 784 * 32 + 32 + 32 * 11 + 11 + 11 * 10 + 10  # 32-11-10 (shrink 1/3)
    assert (tmp_path / "one" / "result.json").exists()


def test_cli_user_errors_are_one_line_without_traceback(capsys):
    assert main(["run", "classify", "--set", "optimizer=adamax"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sweeplab: error: optimizer: expected one of") and "Traceback" not in err
    assert main(["sweep", "no-such-study"]) == 2
    assert "no such study file" in capsys.readouterr().err


def test_a_classify_trial_saves_a_grid_of_misclassified_validation_images(tmp_path, tiny_classify, mirror_dir):
    import cv2

    from trainers import run

    result = run("classify", tiny_classify, run_dir=tmp_path / "run")
    grid = cv2.imread(str(tmp_path / "run" / "images" / "val_misclassified.png"), cv2.IMREAD_GRAYSCALE)
    assert grid is not None and grid.std() > 10  # real digits, not a blank tile
    wrong = round((1 - result.metrics["val/accuracy"]) * 33)  # 33 validation images for subset 300
    tiles = min(32, max(1, wrong))
    rows = -(-tiles // 8)
    assert grid.shape == (rows * 30 + 2, min(tiles, 8) * 30 + 2)  # 28x28 tiles with 2-pixel padding


def test_continuing_a_seeded_study_does_not_replay_its_first_suggestions(tmp_path, storage_url):
    from sweeps.optuna_study import create_study
    from sweeps.space import suggest_all

    spec = load_spec(write_spec(tmp_path))  # sampler: random, seed 0
    first = create_study(spec, storage_url)
    first_params = suggest_all(spec.parameters, first.ask())
    again = create_study(spec, storage_url)  # a second `sweeplab sweep` on the same storage
    assert suggest_all(spec.parameters, again.ask()) != first_params
