"""Study files: every one loads and compiles to Optuna and W&B; malformed ones name the file and the key."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from sweeps.space import suggest_all
from sweeps.spec import SpecError, load_spec, study_names
from sweeps.wandb_sweep import to_wandb_sweep
from trainers import resolve_config

REQUIRED = {"mnist-mlp", "mnist-cnn", "fashion-mlp", "fashion-cnn", "cifar10-mlp", "cifar10-cnn", "keras-mnist-mlp",
            "keras-mnist-cnn"}


def test_the_required_studies_exist():
    assert REQUIRED.issubset(study_names())


@pytest.mark.parametrize("name", study_names())
def test_every_study_loads_and_compiles_to_optuna_and_wandb(name):
    spec = load_spec(name)
    study = optuna.create_study(direction=spec.direction, sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(5):
        trial = study.ask()
        params = suggest_all(spec.parameters, trial)
        # every sampled point must resolve to a valid trainer config
        resolve_config(spec.task_info, spec.fixed, params)
        for parameter in spec.parameters:
            assert (parameter.name in params) == parameter.applies(params)
    sweep = to_wandb_sweep(spec)
    assert sweep["metric"] == {"name": spec.objective, "goal": spec.direction}
    assert set(sweep["parameters"]) == {p.name for p in spec.parameters} | set(spec.fixed)
    assert "wandb-run" in sweep["command"]


def test_conditional_parameters_are_only_sampled_when_they_apply(tmp_path):
    path = tmp_path / "conditional.yaml"
    path.write_text("""task: classify
fixed: {dataset: mnist, model: geron_mlp}
space:
  optimizer: {type: categorical, choices: [sgd, adam, rmsprop]}
  momentum: {type: float, low: 0.0, high: 0.95, when: {optimizer: [sgd]}}
  rho: {type: float, low: 0.8, high: 0.99, when: {optimizer: [rmsprop]}}
""")
    spec = load_spec(path)
    study = optuna.create_study()
    seen = set()
    for optimizer in ("sgd", "adam", "rmsprop"):
        study.enqueue_trial({"optimizer": optimizer})
        params = suggest_all(spec.parameters, study.ask())
        seen.add(optimizer)
        assert ("momentum" in params) == (optimizer == "sgd")
        assert ("rho" in params) == (optimizer == "rmsprop")
    assert seen == {"sgd", "adam", "rmsprop"}


BASE = """task: classify
fixed: {dataset: mnist, model: geron_mlp}
space:
  learning_rate: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
"""


@pytest.mark.parametrize(("text", "key", "expected"), [
    (BASE + "sampler: annealing\n", "sampler.name", "expected one of qmc, random, tpe, grid"),
    (BASE.replace("learning_rate", "learning_rat"), "space.learning_rat", "unknown hyperparameter"),
    (BASE.replace("low: 1.0e-4", "low: 0.5"), "space.learning_rate.high", "expected high > low"),
    (BASE.replace("low: 1.0e-4", "low: 0"), "space.learning_rate.low", "a log-scaled range needs low > 0"),
    (BASE.replace("type: float", "type: number"), "space.learning_rate.type", "expected float, int or categorical"),
    (BASE.replace("model: geron_mlp", "model: resnet"), "fixed", "model: expected one of"),
    (BASE.replace("task: classify", "task: translate"), "task", "unknown task 'translate'"),
    (BASE + "budget: {trials: 0}\n", "budget.trials", "expected a positive integer"),
    (BASE + "trails: 3\n", "trails", "unknown key"),
    (BASE + "objective: val/f1\n", "objective", "cannot optimise 'val/f1'"),
    (BASE + "pruner: {name: median, patience: 2}\n", "pruner.patience", "unknown option for median"),
    ("task: classify\nspace: [1, 2\n", "line 3", "not valid YAML"),
    (BASE + "roles: {scientific: [learning_rate], nuisance: [momentum]}\n", "roles.nuisance",
     "'momentum' is neither searched nor fixed"),
    (BASE + "roles: {scientific: [learning_rate], nuisance: [learning_rate]}\n", "roles.nuisance",
     "'learning_rate' is already scientific"),
    (BASE + "roles: {scientific: learning_rate}\n", "roles.scientific", "expected a list of parameter names"),
    (BASE + "roles: {important: [learning_rate]}\n", "roles", "expected a mapping with scientific / nuisance"),
])
def test_malformed_study_files_name_file_key_and_expectation(tmp_path: Path, text, key, expected):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert expected in message


def test_edge_warning_helper():
    parameter = load_spec("fashion-mlp").parameter("learning_rate")  # log range [5e-4, 5e-3]
    assert parameter.at_edge(5.0e-4) and parameter.at_edge(4.9e-3)
    assert not parameter.at_edge(1.6e-3)
