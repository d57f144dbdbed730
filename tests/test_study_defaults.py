"""CPU defaults of the classification studies: every space compiles and its first trial (the study's prior) trains
above chance on a small slice; batch norm's validation accuracy survives a short run."""

from __future__ import annotations

import optuna
import pytest

import trainers
from sweeps.optuna_study import run_study
from sweeps.spec import load_spec, study_names
from sweeps.wandb_sweep import to_wandb_sweep

CLASSIFY = [name for name in study_names() if load_spec(name).task == "classify"]
USER_SPACE_STUDIES = [name for name in CLASSIFY if name.endswith(("-user", "-plain"))]
CLASSIFICATION_STUDIES = [name for name in CLASSIFY if name not in USER_SPACE_STUDIES]  # recipes, with a prior


def test_the_classification_studies_are_all_here():
    assert set(CLASSIFICATION_STUDIES) == {"mnist-mlp", "fashion-mlp", "cifar10-mlp", "mnist-cnn", "fashion-cnn",
                                           "cifar10-cnn", "keras-mnist-mlp", "keras-mnist-cnn"}
    assert set(USER_SPACE_STUDIES) == {f"{family}-{kind}" for family in ("fashion-mlp", "fashion-cnn", "cifar10-cnn")
                                       for kind in ("user", "plain")}


@pytest.mark.parametrize("name", USER_SPACE_STUDIES)
def test_each_user_space_is_wide_without_a_prior_and_planned_in_minutes(name):
    """The space a user writes (the platform issue's ranges), no prior; low rung, promotion and refit in minutes."""
    spec = load_spec(name)
    assert not spec.start_with
    space = {parameter.name: parameter for parameter in spec.parameters}
    assert {"sgd", "adam"} <= set(space["optimizer"].choices) and space["momentum"].when == {"optimizer": ("sgd",)}
    assert (space["learning_rate"].low, space["learning_rate"].high) == (1e-4, 1e-1)
    assert min(space["batch_size"].choices) == 32 and max(space["batch_size"].choices) == 512
    assert space["kernel_l1"].high == space["kernel_l2"].high == 1e-2 and space["dense_dropout"].high >= 0.6
    assert {"kernel_initializer", "activation", "dense_units"} <= set(space)
    assert spec.fixed["train_minutes"] > 0 and spec.fixed["subset"] > 0  # the low rung: equal time, a subset
    assert spec.promote["top"] + spec.promote["probes"] >= 4 and spec.promote["set"]["subset"] == 0
    assert spec.promote["set"]["train_minutes"] > spec.fixed["train_minutes"]
    assert spec.refit["train_minutes"] > spec.promote["set"]["train_minutes"] and spec.timeout_minutes
    assert ("plain" in name) == (spec.fixed["model"] in {"keras_mlp", "keras_cnn"})
    assert to_wandb_sweep(spec)["parameters"]


@pytest.mark.parametrize("name", CLASSIFICATION_STUDIES)
def test_each_study_is_multi_fidelity_with_a_refit_and_a_prior(name):
    spec = load_spec(name)
    assert spec.pruner["name"] == "successive_halving" and spec.pruner["floor"] >= 0.15  # 10 classes: chance 0.1
    assert spec.refit is not None and spec.refit.get("subset") == 0  # the refit sees every training image
    assert spec.refit["epochs"] > spec.fixed["epochs"]  # a search trial is cheaper than the refit
    assert spec.start_with, "a prior: the seed reports' best settings are tried first"
    assert spec.timeout_minutes is not None
    assert to_wandb_sweep(spec)["parameters"]  # the same space compiles to W&B


@pytest.mark.parametrize("name", CLASSIFICATION_STUDIES)
def test_first_trial_trains_above_chance_on_a_small_slice(name, storage_url):
    spec = load_spec(name)
    study = run_study(spec, storage_url, trials=1,
                      overrides={"subset": 10000, "test_subset": 500, "epochs": 1})
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE, trial.user_attrs.get("fail_reason")
    assert trial.params == {key: value for key, value in spec.start_with[0].items()}  # the prior came first
    assert trial.value > 0.2, f"{name}: val accuracy {trial.value} after one epoch on 10,000 images"


BN_CNN = {"dataset": "fashion_mnist", "model": "geron_cnn", "conv_filters": 16, "stem_kernel_size": 3,
          "conv_blocks": 1, "convs_per_block": 1, "dense_layers": 1, "dense_units": 32, "dense_dropout": 0.0,
          "batch_norm": True, "optimizer": "adam", "learning_rate": 3e-3, "subset": 1000, "test_subset": 200,
          "epochs": 2, "batch_size": 32}


def test_batch_norm_validation_does_not_collapse_on_a_short_run():
    """64 steps: Keras' default momentum 0.99 leaves the moving statistics near their initial values, so validation
    (which uses them) collapses; the default momentum has caught up."""
    default = trainers.run("classify", BN_CNN).metrics
    old = trainers.run("classify", {**BN_CNN, "batch_norm_momentum": 0.99}).metrics
    assert default["val/accuracy"] > 0.65
    assert old["val/accuracy"] < default["val/accuracy"] - 0.2
