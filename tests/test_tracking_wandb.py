"""W&B reporter: a real trial logs a real offline run, read back with wandb's own `.wandb` reader (`wandb leet
inspect --json`); offline without a key; the key never lands on disk; W&B only when switched on."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from sweeps.optuna_study import run_study
from sweeps.spec import load_spec
from sweeps.tracking import reporter_factories, wandb_enabled
from sweeps.wandb_reporter import WandbReporter, has_api_key, wandb_mode

WANDB = Path(sys.executable).parent / "wandb"
GRID = (np.arange(28 * 56).reshape(28, 56) % 255).astype(np.uint8)


def read_wandb_records(run_path: Path) -> list[dict]:
    """Every record of the run's `.wandb` transaction log, decoded by wandb itself."""
    (log,) = run_path.glob("*.wandb")
    output = subprocess.run([str(WANDB), "leet", "inspect", "--json", str(log)], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def with_image(factory):
    """Wrap a reporter factory so each trial's reporter also receives a known grid (beside classify's own)."""

    def wrapped(spec, number, params, run_dir):
        reporter = factory(spec, number, params, run_dir)
        start = reporter.start

        def start_then_log(config):
            start(config)
            reporter.log_images("samples", GRID, step=0)

        reporter.start = start_then_log
        return reporter

    return wrapped


def test_trial_logs_offline_wandb_run_with_config_history_summary_and_image(tiny_classify, storage_url, _runs_dir):
    spec = dataclasses.replace(load_spec("mnist-mlp"), parameters=[load_spec("mnist-mlp").parameter("learning_rate")])
    factories = tuple(with_image(factory) for factory in reporter_factories(wandb=True, storage=storage_url))
    assert len(factories) == 2  # optuna artifacts + W&B
    study = run_study(spec, storage_url, trials=1, overrides={**tiny_classify, "epochs": 2},
                      reporter_factories=factories)
    trial = study.trials[-1]
    assert trial.state == optuna.trial.TrialState.COMPLETE

    (run_path,) = [path for path in (_runs_dir / "wandb").glob("offline-run-*") if path.is_dir()]
    records = read_wandb_records(run_path)
    run = next(record["run"] for record in records if record["type"] == "run")
    assert run["run_group"] == "mnist-mlp" and run["display_name"] == "mnist-mlp-0000"
    config = {}
    for record in records:
        if record["type"] == "run":
            config.update(record["run"]["config"].get("update", {}))
        elif record["type"] == "config":
            config.update(record["config"].get("update", {}))
    assert config["learning_rate"] == pytest.approx(trial.params["learning_rate"])
    # the resolved config that trained: `--set` overrides over the study file's fixed values (subset 3000, epochs 3)
    assert config["dense_units"] == 32 and config["epochs"] == 2 and config["subset"] == tiny_classify["subset"]
    assert config["study"] == "mnist-mlp" and config["trial"] == 0
    history = [record["history"]["item"] for record in records if record["type"] == "history"]
    series = [item["val/accuracy"] for item in history if "val/accuracy" in item]
    assert len(series) == 2 and series[-1] == pytest.approx(trial.user_attrs["metrics"]["val/accuracy"])
    summary = {}
    for record in records:
        if record["type"] == "summary":
            summary.update(record["summary"].get("update", {}))
    assert summary["objective"] == pytest.approx(trial.value)
    assert next(record for record in records if record["type"] == "exit")["exit"].get("exit_code", 0) == 0
    image = next(item for item in history if "samples._type" in item)
    assert image["samples._type"] == "image-file" and image["samples.width"] == 56
    assert (run_path / "files" / image["samples.path"]).stat().st_size > 0
    # the same grid reached Optuna's artifact store (for optuna-dashboard)
    metas = optuna.artifacts.get_all_artifact_meta(trial, storage=study._storage)
    assert [meta.mimetype for meta in metas] == ["image/png", "image/png"]  # `samples` + `val/misclassified`


def test_offline_without_key_online_with_one(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert not has_api_key() and wandb_mode() == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password from-netrc\n")
    (tmp_path / "netrc").chmod(0o600)
    assert has_api_key() and wandb_mode() == "online"
    (tmp_path / "netrc").write_text("")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_mode() == "offline"  # a key does not override an explicit choice


def test_api_key_is_never_written(monkeypatch, _runs_dir):
    key = "sweeplabtestkey" + "0" * 25
    monkeypatch.setenv("WANDB_API_KEY", key)
    monkeypatch.setenv("WANDB_MODE", "offline")  # a key is set, but no server is reachable from the tests
    run_dir = _runs_dir / "keyless" / "0000"
    reporter = WandbReporter(name="keyless", group="keyless", objective="val/loss", run_dir=run_dir)
    reporter.start({"learning_rate": 0.1})
    reporter.report(1, {"val/loss": 0.5})
    reporter.end("complete", {"val/loss": 0.5})
    files = [path for path in _runs_dir.rglob("*") if path.is_file()]
    assert any(path.suffix == ".wandb" for path in files)
    assert not [path for path in files if key.encode() in path.read_bytes()]


def test_wandb_is_off_by_default(monkeypatch):
    monkeypatch.delenv("SWEEPLAB_WANDB", raising=False)
    assert not wandb_enabled()
    assert [factory.__name__ for factory in reporter_factories()] == ["factory"]  # the artifact store only
    monkeypatch.setenv("SWEEPLAB_WANDB", "1")
    assert wandb_enabled() and reporter_factories()[-1].__name__ == "trial_reporter"
    monkeypatch.setenv("SWEEPLAB_WANDB", "0")
    assert reporter_factories(wandb=True)[-1].__name__ == "trial_reporter"


def test_sweep_command_has_the_wandb_switch():
    from sweeplab.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["sweep", "mnist-mlp", "--wandb"]).wandb is True
    assert parser.parse_args(["sweep", "mnist-mlp"]).wandb is False


def test_a_pruned_trial_is_stopped_not_failed(_runs_dir):
    from trainers.reporter import StopTrial, outcome_of

    outcomes = {}
    for name, error in [("pruned", StopTrial(1)), ("crashed", RuntimeError("out of memory"))]:
        reporter = WandbReporter(name=name, group="g", objective="val/loss", run_dir=_runs_dir / name)
        reporter.start({"learning_rate": 0.1})
        reporter.report(1, {"val/loss": 1.0})
        reporter.end(outcome_of(error), None)  # what trainers.run does when training raises
        records = read_wandb_records(reporter.run_path)
        summary = {}
        for record in records:
            if record["type"] == "summary":
                summary.update(record["summary"].get("update", {}))
        exit_record = next(record for record in records if record["type"] == "exit")["exit"]
        outcomes[name] = (exit_record.get("exit_code", 0), summary.get("stopped_early"), summary.get("outcome"))
    assert outcomes == {"pruned": (0, True, "pruned"), "crashed": (1, None, "failed")}
