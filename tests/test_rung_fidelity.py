"""The rung-fidelity benchmark's reading: candidate rungs parse with YAML types, the study's own rungs come from its
file, random configurations are draws from the study's space, and each rung's pick and rank correlation are read
against the refit."""

from __future__ import annotations

import pytest

from benchmarks.rung_fidelity import parse_rung, random_configs, study_rungs, summarise


def test_a_candidate_rung_parses_into_typed_overrides():
    assert parse_rung("short=subset=10000,train_minutes=0.05,lr_schedule=cosine") == (
        "short", {"subset": 10000, "train_minutes": 0.05, "lr_schedule": "cosine"})


def test_the_study_rungs_are_its_fixed_values_its_promotion_and_its_refit():
    from sweeps.spec import load_spec

    spec = load_spec("fashion-mlp-user")
    rungs = study_rungs("fashion-mlp-user")
    assert rungs["low"] == {} and rungs["promoted"] == spec.promote["set"] and rungs["refit"] == spec.refit


def test_random_configurations_are_seeded_draws_inside_the_space():
    from sweeps.spec import load_spec

    spec = load_spec("fashion-mlp-user")
    drawn = random_configs("fashion-mlp-user", 5, seed=3)
    assert drawn == random_configs("fashion-mlp-user", 5, seed=3)
    assert drawn != random_configs("fashion-mlp-user", 5, seed=4)
    for config in drawn:
        for name, value in config["params"].items():
            assert spec.parameter(name).contains(value), (name, value)


def _part(val: float, test: float) -> dict:
    return {"metrics": {"val/accuracy": val, "test/accuracy": test, "time/train_seconds": 1.0}}


def test_each_rung_picks_by_validation_and_is_scored_by_that_pick_s_refit():
    configs = [{"name": name, "params": {}} for name in "abcd"]
    parts = {"low": {0: _part(.85, 0), 1: _part(.86, 0), 2: _part(.70, 0), 3: _part(.80, 0)},
             "promoted": {0: _part(.89, 0), 1: _part(.87, 0), 2: _part(.75, 0), 3: _part(.84, 0)},
             "refit": {0: _part(.90, .897), 1: _part(.87, .869), 2: _part(.74, .73), 3: _part(.86, .85)}}
    summary = summarise(configs, parts)
    assert summary["configurations_complete"] == 4 and summary["best_refit_test"] == .897
    assert summary["rungs"]["low"]["pick"] == "b" and summary["rungs"]["low"]["pick_refit_test"] == .869
    assert summary["rungs"]["promoted"]["pick"] == "a" and summary["rungs"]["promoted"]["pick_refit_test"] == .897
    assert summary["rungs"]["promoted"]["spearman_with_refit_test"] == pytest.approx(1.0)
    assert summary["rungs"]["low"]["spearman_with_refit_test"] == pytest.approx(0.8)


def test_a_configuration_missing_a_rung_is_left_out_of_every_rung():
    configs = [{"name": name, "params": {}} for name in "abc"]
    parts = {"low": {0: _part(.8, 0), 1: _part(.9, 0), 2: _part(.7, 0)},
             "refit": {0: _part(.8, .8), 2: _part(.7, .7)}}  # b's refit not measured yet
    summary = summarise(configs, parts)
    assert summary["configurations_complete"] == 2 and summary["rungs"]["low"]["pick"] == "a"
