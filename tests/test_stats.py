"""analysis.stats on synthetic inputs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import stats


def test_rank_preserving_mapping_gives_correlation_one_with_tight_interval() -> None:
    rng = np.random.default_rng(1)
    source = rng.uniform(0.5, 0.9, 30)
    target = np.exp(3 * source) - 2  # strictly increasing: ranks identical, values not
    for method in ("spearman", "kendall"):
        estimate = stats.rank_correlation(source, target, method, n_bootstrap=500)
        assert estimate.value == pytest.approx(1.0)
        assert estimate.low > 0.99 and estimate.high == pytest.approx(1.0)


def test_reversed_ranks_give_minus_one() -> None:
    source = np.linspace(0, 1, 20)
    assert stats.spearman(source, -source, n_bootstrap=200).value == pytest.approx(-1.0)
    assert stats.kendall(source, 1 - source**2, n_bootstrap=200).value == pytest.approx(-1.0)


def test_shuffled_scores_give_interval_covering_zero() -> None:
    rng = np.random.default_rng(7)
    source = rng.normal(size=40)
    target = rng.normal(size=40)  # independent of the source
    for method in ("spearman", "kendall"):
        estimate = stats.rank_correlation(source, target, method, n_bootstrap=500, seed=3)
        assert estimate.covers(0.0), estimate
        assert estimate.low < estimate.value < estimate.high


def test_noisy_positive_relation_is_detected_and_agrees_with_scipy() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    source = rng.normal(size=50)
    target = source + rng.normal(scale=0.5, size=50)
    estimate = stats.spearman(source, target, n_bootstrap=1000)
    assert estimate.value == pytest.approx(spearmanr(source, target).statistic)
    assert estimate.low > 0.5 and estimate.sign == 1


def test_nan_pairs_are_dropped_and_constant_input_is_nan() -> None:
    source = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    target = np.array([2.0, 3.0, 9.0, 5.0, 6.0])
    assert stats.spearman(source, target, n_bootstrap=100).value == pytest.approx(1.0)
    assert math.isnan(stats.spearman(np.ones(5), np.arange(5.0)).value)
    with pytest.raises(ValueError):
        stats.spearman(np.arange(3.0), np.arange(4.0))


def test_top_k_overlap() -> None:
    source = np.array([0.9, 0.8, 0.7, 0.1, 0.2])
    assert stats.top_k_overlap(source, source * 2, 3) == 1.0
    assert stats.top_k_overlap(source, -source, 2) == 0.0
    assert stats.top_k_overlap(source, np.array([0.9, 0.1, 0.7, 0.8, 0.2]), 2) == 0.5
    with pytest.raises(ValueError):
        stats.top_k_overlap(source, source, 0)


def test_regret_is_zero_when_the_best_coincide_and_negative_otherwise() -> None:
    source = np.array([0.5, 0.9, 0.7])
    assert stats.transfer_regret(source, np.array([0.2, 0.6, 0.4])) == 0.0
    assert stats.transfer_regret(source, np.array([0.2, 0.4, 0.6])) == pytest.approx(-0.2)


def test_bootstrap_mean() -> None:
    values = np.random.default_rng(5).normal(2.0, 0.5, 40)
    estimate = stats.bootstrap_mean(values, 1000)
    assert estimate.value == pytest.approx(values.mean()) and estimate.low < values.mean() < estimate.high
    standard_error = values.std(ddof=1) / math.sqrt(values.size)
    assert estimate.high - estimate.low == pytest.approx(2 * 1.96 * standard_error, rel=0.25)
    assert math.isnan(stats.bootstrap_mean(np.array([1.0])).low)


def test_t_intervals_match_textbook_values() -> None:
    from scipy import stats as scipy_stats

    values = np.array([0.1, 0.3, 0.2])
    estimate = stats.t_interval(values)
    half = scipy_stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    assert (estimate.low, estimate.high) == pytest.approx((0.2 - half, 0.2 + half))
    paired = stats.paired_difference(np.array([0.9, 0.8, 0.85]), np.array([0.5, 0.45, 0.52]))
    assert paired.sign == 1 and paired.value == pytest.approx(np.mean([0.4, 0.35, 0.33]))
    welch = stats.welch_difference(np.array([1.0, 1.1, 0.9, 1.05]), np.array([0.0, 0.1, -0.1, 0.05]))
    assert welch.value == pytest.approx(1.0) and welch.sign == 1


def test_verdict_and_consistency() -> None:
    helps, hurts, flat = stats.Estimate(0.1, 0.05, 0.15), stats.Estimate(-0.1, -0.15, -0.05), stats.Estimate(
        0.0, -0.1, 0.1)
    assert stats.verdict({"Fashion-MNIST": helps, "CIFAR-10": helps}) == "helps on both"
    assert stats.verdict({"Fashion-MNIST": flat, "CIFAR-10": hurts}) == "hurts on CIFAR-10 only"
    assert stats.verdict({"Fashion-MNIST": helps, "CIFAR-10": hurts}) == "helps on Fashion-MNIST, hurts on CIFAR-10"
    assert stats.verdict({"Fashion-MNIST": flat, "CIFAR-10": flat}) == "no clear effect"
    assert stats.consistency(helps, helps) > 0 > stats.consistency(helps, hurts)


def test_accuracy_lost_is_the_negated_regret_with_an_interval_over_seeds() -> None:
    from analysis.stats import bootstrap_accuracy_lost, transfer_regret

    rng = np.random.default_rng(0)
    source = [rng.normal(mean, 0.002, 3) for mean in (0.90, 0.80, 0.70)]
    same = [rng.normal(mean, 0.002, 3) for mean in (0.60, 0.50, 0.40)]  # config 0 wins on both
    swapped = [rng.normal(mean, 0.002, 3) for mean in (0.50, 0.60, 0.40)]  # config 1 wins on the target
    assert bootstrap_accuracy_lost(source, same).value == 0.0
    lost = bootstrap_accuracy_lost(source, swapped, n_bootstrap=500)
    means = (np.array([run.mean() for run in source]), np.array([run.mean() for run in swapped]))
    assert lost.value == pytest.approx(-transfer_regret(*means)) and lost.value > 0.09
    assert 0 <= lost.low <= lost.value <= lost.high < 0.12
    assert math.isnan(bootstrap_accuracy_lost([np.array([])], [np.array([0.5])]).value)
