"""W&B sweep files: every study compiles to a config that W&B's own `sweeps` schema accepts, the compiled space
cannot drift from the study file, and `sweeplab wandb-run` (what W&B agents execute) trains through trainers.run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from sweeplab.cli import main
from sweeps.spec import load_spec, study_names
from sweeps.wandb_sweep import (
    config_from_wandb,
    drift,
    read_wandb_sweep,
    schema_errors,
    schema_path,
    to_wandb_sweep,
    write_wandb_sweep,
)


def test_schema_is_the_engines_own():
    assert schema_path().parts[-4:] == ("site-packages", "sweeps", "config", "schema.json")
    assert schema_errors({"method": "annealing", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    assert schema_errors({"method": "bayes", "parameters": {"x": {"distribution": "log_uniform_values", "min": 1,
                                                                  "max": 10}}, "metric": {"goal": "up"}})


@pytest.mark.parametrize("name", study_names())
def test_every_study_compiles_to_a_valid_wandb_sweep(name, tmp_path):
    spec = load_spec(name)
    sweep = read_wandb_sweep(write_wandb_sweep(spec, tmp_path))
    assert schema_errors(sweep) == []
    assert drift(spec, sweep) == []
    assert sweep["metric"] == {"name": spec.objective, "goal": spec.direction}
    assert set(sweep["parameters"]) == {parameter.name for parameter in spec.parameters} | set(spec.fixed)
    assert ("early_terminate" in sweep) == (spec.pruner["name"] != "none")
    assert sweep["command"][1:4] == ["sweeplab", "wandb-run", "--study"]


def test_drift_check_catches_a_space_edited_on_one_side(tmp_path):
    study_file = tmp_path / "mnist-mlp.yaml"
    shutil.copy(load_spec("mnist-mlp").path, study_file)
    generated = read_wandb_sweep(write_wandb_sweep(load_spec(study_file), tmp_path / "build"))
    assert drift(load_spec(study_file), generated) == []

    raw = yaml.safe_load(study_file.read_text())  # the study's space changes; the W&B file is stale
    raw["space"]["learning_rate"]["high"] = 0.5
    raw["space"]["dense_layers"]["high"] = 6
    study_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    problems = drift(load_spec(study_file), generated)
    assert [problem.split(":")[0] for problem in problems] == ["parameters.dense_layers", "parameters.learning_rate"]

    edited = dict(generated, parameters=dict(generated["parameters"]))  # the W&B file is hand-edited instead
    del edited["parameters"]["rho"]
    edited["parameters"]["warmup"] = {"values": [0, 1]}
    problems = drift(load_spec("mnist-mlp"), edited)
    assert any(problem.startswith("parameters.rho: in the study") for problem in problems)
    assert any(problem.startswith("parameters.warmup: in the W&B sweep") for problem in problems)


def test_wandb_values_become_a_typed_trainer_config():
    spec = load_spec("mnist-mlp")
    config = config_from_wandb(spec, {"dense_units": {"value": 128.0}, "learning_rate": 0.01, "epochs": 1})
    assert config["dense_units"] == 128 and isinstance(config["dense_units"], int)
    assert config["dataset"] == "mnist" and config["epochs"] == 1


def test_wandb_sweep_command_writes_a_valid_file_without_a_key(tmp_path, capsys):
    assert main(["wandb-sweep", "fashion-cnn", "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "valid W&B sweep config" in output and "no W&B API key" in output
    sweep = read_wandb_sweep(tmp_path / "fashion-cnn.wandb.yaml")
    assert sweep == to_wandb_sweep(load_spec("fashion-cnn"))


def test_wandb_run_trains_through_the_shared_entry_point(tiny_classify, _runs_dir, capsys):
    values = [f"{key}={value}" for key, value in tiny_classify.items() if key != "dense_units"]
    values += ["dense_units=32.0", "learning_rate=0.002"]  # W&B sends an int parameter as a float
    assert main(["wandb-run", "--study", "mnist-mlp", *values]) == 0
    lines = capsys.readouterr().out.splitlines()
    run_dir = Path(lines[-2].removeprefix("run directory: "))
    metrics = json.loads(lines[-1])
    assert 0.0 <= metrics["val/accuracy"] <= 1.0
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["dense_units"] == 32 and config["learning_rate"] == 0.002
    assert list((_runs_dir / "wandb").glob("offline-run-*/*.wandb"))
