"""W&B sweep files: every study compiles to a config that W&B's own `sweeps` schema accepts, the compiled space
cannot drift from the study file, and `sweeplab wandb-run` (what W&B agents execute) trains through trainers.run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_study import tiny_study_text

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
    config = config_from_wandb(spec, {"dense_units": {"value": 512.0}, "learning_rate": 0.002, "epochs": 8.0})
    assert config["dense_units"] == 512 and isinstance(config["dense_units"], int)
    assert config["dataset"] == "mnist" and config["epochs"] == 8


def _equal(sent, expected) -> bool:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (sent, expected))
    return sent == expected and (numbers or type(sent) is type(expected))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


SENT = st.one_of(st.integers(-10, 2000), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
                 st.text(max_size=8), st.sampled_from(["0.01;id", "relu", "adam", "2.5", "he_normal"]))


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(["optimizer", "learning_rate", "dense_layers", "dense_units", "kernel_l2", "batch_size",
                             "epochs", "dataset", "subset", "seed", "units"]), value=SENT, wrapped=st.booleans())
def test_a_wandb_value_is_used_only_when_the_study_could_have_sampled_it(name, value, wrapped):
    """Round 9's 6-a/6-b/5-b, for every key and value: a W&B run (a sweep edited on the server, a hand call) trains a
    value only when the study's space could sample it (an integer sent as 64.0 is 64; 2.5 and true are not integers),
    a fixed value only as the study fixes it, and no other key; anything else is one ConfigError line naming it."""
    from sweeps.wandb_sweep import WandbValueError
    from trainers.config import ConfigError

    spec = load_spec("mnist-mlp")
    parameter = next((p for p in spec.parameters if p.name == name), None)
    if parameter is not None and parameter.kind == "categorical":
        accepted = any(_equal(value, choice) for choice in parameter.choices)
    elif parameter is not None:
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
        integral = number and abs(value) != float("inf") and float(value).is_integer()
        accepted = number and (integral or parameter.kind == "float") and parameter.low <= value <= parameter.high
    elif name in spec.fixed:
        accepted = _equal(value, spec.fixed[name])
    else:
        accepted = False
    sent = {"value": value} if wrapped else value
    try:
        config = config_from_wandb(spec, {name: sent})
    except WandbValueError as error:
        assert isinstance(error, ConfigError) and not accepted, (name, value)
        assert "\n" not in str(error) and name in str(error) and str(error).startswith("mnist-mlp")
        return
    assert accepted, (name, value, config.get(name))
    assert config[name] == value and (parameter is None or parameter.kind != "categorical" or config[name] in
                                      parameter.choices)
    if parameter is not None and parameter.kind == "int":
        assert _is_int(config[name])


def test_wandb_run_refuses_a_value_the_study_would_not_sample_before_a_run_starts(_runs_dir, capsys):
    """Round 9's n5-05, n6-25, n6-27: one line, exit 2, no W&B run directory made."""
    for values in (["learning_rate=0.01;id"], ["dense_layers=2.5"], ["dense_layers=true"], ["epochs=2"],
                   ["dataset=ok.npz"], ["momentum=0.9"]):
        assert main(["wandb-run", "--study", "mnist-mlp", *values]) == 2, values
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and values[0].split("=")[0] in error[0] and "internal error" not in error[0], error
    assert not list((_runs_dir / "wandb").glob("offline-run-*"))


def test_wandb_sweep_command_writes_a_valid_file_without_a_key(tmp_path, capsys):
    assert main(["wandb-sweep", "fashion-cnn", "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "valid W&B sweep config" in output and "no W&B API key" in output
    sweep = read_wandb_sweep(tmp_path / "fashion-cnn.wandb.yaml")
    assert sweep == to_wandb_sweep(load_spec("fashion-cnn"))


def test_wandb_run_trains_through_the_shared_entry_point(tmp_path, _runs_dir, capsys):
    study = tmp_path / "wandb-tiny.yaml"
    study.write_text(tiny_study_text("wandb-tiny", 1))
    values = ["batch_size=64", "learning_rate=0.002", "dense_units=16.0"]  # W&B sends an int as a float
    assert main(["wandb-run", "--study", str(study), *values]) == 0
    lines = capsys.readouterr().out.splitlines()
    run_dir = Path(lines[-2].removeprefix("run directory: "))
    metrics = json.loads(lines[-1])
    assert 0.0 <= metrics["val/accuracy"] <= 1.0
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["dense_units"] == 16 and config["learning_rate"] == 0.002 and config["subset"] == 300
    assert list((_runs_dir / "wandb").glob("offline-run-*/*.wandb"))
