"""CPU defaults of the classification studies: every space compiles and its first trial (the study's prior) trains
above chance on a small slice; batch norm's validation accuracy survives a short run."""

from __future__ import annotations

import optuna
import pytest

import trainers
from sweeps.optuna_study import run_study
from sweeps.spec import load_spec, study_names
from sweeps.wandb_sweep import to_wandb_sweep

CLASSIFICATION_STUDIES = [name for name in study_names() if load_spec(name).task == "classify"]


def test_the_classification_studies_are_all_here():
    assert set(CLASSIFICATION_STUDIES) == {"mnist-mlp", "fashion-mlp", "cifar10-mlp", "mnist-cnn", "fashion-cnn",
                                           "cifar10-cnn", "keras-mnist-mlp", "keras-mnist-cnn"}


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
