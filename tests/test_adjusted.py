"""Adjusted per-setting effects: confounding removed, known effects recovered, the correction and its intervals agree,
and the committed transfer finding's verdicts recomputed from its committed evaluations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import false_discovery_control

from analysis import adjusted
from sweeps.space import Parameter

ROOT = Path(__file__).resolve().parent.parent
ACTIVATION = Parameter("activation", "categorical", choices=("relu", "elu"))
L2 = Parameter("kernel_l2", "categorical", choices=(0.0, 1e-4))
RATE = Parameter("learning_rate", "float", low=1e-4, high=1e-1, log=True)
OPTIMIZER = Parameter("optimizer", "categorical", choices=("sgd", "adam", "rmsprop"))
RHO = Parameter("rho", "float", low=0.8, high=0.95, when={"optimizer": ("rmsprop",)})
PARAMETERS = [ACTIVATION, L2, RATE, OPTIMIZER, RHO]


def _configs(count: int, rng: np.random.Generator, travel: float = 0.85) -> list[dict]:
    """Random configurations in which L2 = 1e-4 travels with ReLU (`travel` of the time)."""
    configs = []
    for _ in range(count):
        l2 = float(rng.choice([0.0, 1e-4]))
        relu = rng.random() < (travel if l2 else 1 - travel)
        config = {"activation": "relu" if relu else "elu", "kernel_l2": l2,
                  "learning_rate": float(10 ** rng.uniform(-4, -1)), "optimizer": str(rng.choice(OPTIMIZER.choices))}
        if config["optimizer"] == "rmsprop":
            config["rho"] = float(rng.uniform(0.8, 0.95))
        configs.append(config)
    return configs


def _scores(configs: list[dict], rng: np.random.Generator, noise: float = 0.002) -> np.ndarray:
    """Only L2 (+2 points) and the log learning rate (+1 point a decade) matter."""
    return np.array([0.8 + 0.02 * (config["kernel_l2"] > 0) + 0.01 * math.log10(config["learning_rate"])
                     + noise * rng.normal() for config in configs])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_setting_that_only_travels_with_a_good_one_gets_no_credit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    configs = _configs(60, rng)
    scores = _scores(configs, rng)
    relu = np.array([config["activation"] == "relu" for config in configs])
    assert scores[relu].mean() - scores[~relu].mean() > 0.004  # the marginal comparison credits ReLU
    table, notes = adjusted.adjusted_effects(configs, {"A": scores, "B": scores + 0.1}, PARAMETERS)
    table = table.set_index("setting")
    assert table.loc["activation=relu", "verdict"] == "no clear effect"
    assert table.loc["kernel_l2=0.0001", "verdict"] == "helps on both"
    # a level is read against the average of its parameter's levels: half the +2 points for two levels
    assert table.loc["kernel_l2=0.0001", "A effect"] == pytest.approx(0.01, abs=0.002)
    assert table.loc["kernel_l2=0.0", "A effect"] == pytest.approx(-0.01, abs=0.002)
    assert any(note.startswith("rho applies to only some") for note in notes)
    assert not any(setting.startswith("rho") for setting in table.index)


def test_a_numeric_effect_is_its_slope_across_the_interquartile_range() -> None:
    rng = np.random.default_rng(5)
    configs = _configs(80, rng)
    table, _ = adjusted.adjusted_effects(configs, {"A": _scores(configs, rng, noise=0.0005)}, PARAMETERS)
    row = table[table["setting"].str.startswith("learning_rate")].iloc[0]
    rates = np.log10([config["learning_rate"] for config in configs])
    expected = 0.01 * (np.quantile(rates, 0.75) - np.quantile(rates, 0.25))
    assert row["A effect"] == pytest.approx(expected, rel=0.05)
    assert row["A low"] < expected < row["A high"] and row["verdict"] == "helps on A only"


def test_a_level_seen_in_too_few_configurations_is_no_evidence() -> None:
    rng = np.random.default_rng(6)
    configs = _configs(30, rng)
    for config in configs:
        config["optimizer"] = "adam"
        config.pop("rho", None)
    configs[0]["optimizer"], configs[1]["optimizer"] = "sgd", "sgd"
    scores = _scores(configs, rng)
    scores[:2] += 0.2  # a huge effect, but seen twice
    table = adjusted.adjusted_effects(configs, {"A": scores}, PARAMETERS)[0].set_index("setting")
    assert table.loc["optimizer=sgd", "verdict"] == "no evidence (only 2 configurations)"
    assert table.loc["optimizer=sgd", "A effect"] > 0.05


def test_settings_that_always_travel_together_are_not_estimable() -> None:
    rng = np.random.default_rng(7)
    configs = _configs(30, rng, travel=1.0)  # ReLU exactly when L2 > 0: the two cannot be told apart
    table = adjusted.adjusted_effects(configs, {"A": _scores(configs, rng)}, PARAMETERS)[0].set_index("setting")
    assert math.isnan(table.loc["activation=relu", "A effect"]) and math.isnan(table.loc["kernel_l2=0.0", "A effect"])
    assert table.loc["activation=relu", "verdict"] == "no clear effect"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=40), st.sampled_from([0.01, 0.05, 0.1]))
def test_benjamini_hochberg_selects_what_scipy_adjusts_below_q(p_values: list[float], q: float) -> None:
    expected = int((false_discovery_control(np.array(p_values)) <= q).sum())
    assert adjusted.benjamini_hochberg(p_values, q) == expected


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(24, 60), st.floats(0.0005, 0.02))
def test_an_interval_excludes_zero_exactly_when_benjamini_hochberg_selects_its_effect(seed: int, count: int,
                                                                                      noise: float) -> None:
    rng = np.random.default_rng(seed)
    configs = _configs(count, rng)
    scores = {"A": _scores(configs, rng, noise), "B": rng.normal(0.5, noise, count)}
    table, _ = adjusted.adjusted_effects(configs, scores, PARAMETERS)
    tested = table[(table["configs"] >= adjusted.MIN_GROUP)]
    p_values = {(dataset, row["parameter"] if row["parameter"] in ("activation", "kernel_l2") else row["setting"]):
                row[f"{dataset} p"] for dataset in scores for _, row in tested.iterrows()}
    threshold = adjusted.Q * max(adjusted.benjamini_hochberg(list(p_values.values())), 1) / max(
        sum(math.isfinite(p) for p in p_values.values()), 1)
    for dataset in scores:
        for _, row in tested.iterrows():
            if math.isfinite(row[f"{dataset} p"]):
                clear = row[f"{dataset} low"] > 0 or row[f"{dataset} high"] < 0
                assert clear == (row[f"{dataset} p"] <= threshold * (1 + 1e-9)), row["setting"]


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_committed_transfer_verdicts_recompute_from_the_committed_evaluations(family: str) -> None:
    """The verdicts in results/transfer come from results/transfer/evaluations.csv by the adjusted model."""
    from analysis.findings import output, transfer

    infos = transfer.compute(output.read_evaluations(ROOT / "results" / "transfer"))
    committed = pd.read_csv(ROOT / "results" / "transfer" / f"{family}_settings.csv").set_index("setting")
    recomputed = infos[family].settings.set_index("setting")
    assert sorted(recomputed.index) == sorted(committed.index)
    assert (recomputed.loc[committed.index, "verdict"] == committed["verdict"]).all()
    for dataset in (transfer.SOURCE, transfer.TARGET):
        for part in ("effect", "low", "high", "p"):
            column = f"{dataset} {part}"
            assert np.allclose(recomputed.loc[committed.index, column], committed[column], equal_nan=True)
