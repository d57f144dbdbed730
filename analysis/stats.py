"""Statistics for sweep analyses: rank correlations and mean differences with intervals (numpy/scipy only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval [low, high] (NaN where it cannot be computed)."""

    value: float
    low: float
    high: float

    def covers(self, point: float) -> bool:
        return self.low <= point <= self.high

    @property
    def sign(self) -> int:
        """+1 / -1 when the interval excludes 0 on that side, 0 when it covers 0 or is undefined."""
        if math.isnan(self.low) or math.isnan(self.high):
            return 0
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    def format(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


NAN_ESTIMATE = Estimate(math.nan, math.nan, math.nan)


def _paired(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"expected two 1-d arrays of equal length, got shapes {x.shape} and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))


def _correlation(x: np.ndarray, y: np.ndarray, method: str) -> float:
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    if method == "spearman":
        return float(stats.spearmanr(x, y).statistic)
    if method == "kendall":
        return float(stats.kendalltau(x, y).statistic)
    raise ValueError(f"method must be 'spearman' or 'kendall', got {method!r}")


def rank_correlation(x: np.ndarray, y: np.ndarray, method: str = "spearman", n_bootstrap: int = 2000,
                     confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Spearman rho or Kendall tau-b of paired scores, with a percentile bootstrap interval over the pairs."""
    x, y = _paired(x, y)
    value = _correlation(x, y, method)
    if math.isnan(value):
        return NAN_ESTIMATE
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, x.size, size=(n_bootstrap, x.size))
    if method == "spearman":  # vectorised: Pearson correlation of the row-wise ranks
        rank_x, rank_y = stats.rankdata(x[indices], axis=1), stats.rankdata(y[indices], axis=1)
        rank_x -= rank_x.mean(axis=1, keepdims=True)
        rank_y -= rank_y.mean(axis=1, keepdims=True)
        denominator = np.sqrt((rank_x**2).sum(axis=1) * (rank_y**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            samples = np.where(denominator > 0, (rank_x * rank_y).sum(axis=1) / denominator, np.nan)
    else:
        samples = np.array([_correlation(x[row], y[row], method) for row in indices])
    low, high = _percentile_interval(samples, confidence)
    return Estimate(value, low, high)


def spearman(x: np.ndarray, y: np.ndarray, **kwargs: float) -> Estimate:
    return rank_correlation(x, y, "spearman", **kwargs)


def kendall(x: np.ndarray, y: np.ndarray, **kwargs: float) -> Estimate:
    return rank_correlation(x, y, "kendall", **kwargs)


def top_k(scores: np.ndarray, k: int) -> set[int]:
    """Indices of the k highest finite scores (ties broken by position)."""
    scores = np.asarray(scores, dtype=float)
    order = [index for index in np.argsort(-scores, kind="stable") if np.isfinite(scores[index])]
    return set(int(index) for index in order[:k])


def top_k_overlap(source: np.ndarray, target: np.ndarray, k: int) -> float:
    """Share of the source's top-k that is also in the target's top-k (1 = same set, chance ~ k/n)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    source_top, target_top = top_k(source, k), top_k(target, k)
    size = min(len(source_top), len(target_top))
    return len(source_top & target_top) / size if size else math.nan


def transfer_regret(source: np.ndarray, target: np.ndarray) -> float:
    """Target score of the source's best minus the target's best: 0 when the best coincide, < 0 otherwise."""
    source, target = _paired(source, target)
    if source.size == 0:
        return math.nan
    return float(target[int(np.argmax(source))] - target.max())


def bootstrap_accuracy_lost(source_runs: Sequence[np.ndarray], target_runs: Sequence[np.ndarray],
                            n_bootstrap: int = 2000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Target accuracy lost by taking the source's best configuration instead of the target's best (>= 0; the
    negated `transfer_regret`), with a percentile bootstrap interval: each configuration's seeds resampled, per
    dataset. `*_runs[i]`: configuration i's scores over seeds; configurations without both are left out."""
    pairs = [(np.asarray(a, float), np.asarray(b, float)) for a, b in zip(source_runs, target_runs, strict=True)]
    pairs = [(a[np.isfinite(a)], b[np.isfinite(b)]) for a, b in pairs]
    pairs = [(a, b) for a, b in pairs if a.size and b.size]
    if not pairs:
        return NAN_ESTIMATE

    value = -transfer_regret(np.array([a.mean() for a, _ in pairs]), np.array([b.mean() for _, b in pairs]))
    rng = np.random.default_rng(seed)
    draws = [-transfer_regret(np.array([a[rng.integers(0, a.size, a.size)].mean() for a, _ in pairs]),
                              np.array([b[rng.integers(0, b.size, b.size)].mean() for _, b in pairs]))
             for _ in range(n_bootstrap)]
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Estimate(value, float(low), float(high))


def bootstrap_mean(values: np.ndarray, n_bootstrap: int = 2000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of `values` with a percentile bootstrap interval (NaN interval for fewer than 2 values)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return NAN_ESTIMATE
    if values.size < 2:
        return Estimate(float(values.mean()), math.nan, math.nan)
    samples = values[np.random.default_rng(seed).integers(0, values.size, (n_bootstrap, values.size))].mean(axis=1)
    return Estimate(float(values.mean()), *_percentile_interval(samples, confidence))


def t_interval(values: np.ndarray, confidence: float = 0.95) -> Estimate:
    """Mean of `values` with Student's t interval (the right tool for a handful of seeds)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return NAN_ESTIMATE
    mean = float(values.mean())
    if values.size < 2:
        return Estimate(mean, math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return Estimate(mean, mean - half, mean + half)


def paired_difference(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Estimate:
    """mean(a - b) over matched pairs (e.g. the same seed), with a t interval."""
    a, b = _paired(a, b)
    return t_interval(a - b, confidence)


def welch_difference(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Estimate:
    """mean(a) - mean(b) for independent samples with Welch's t interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return Estimate(float(a.mean() - b.mean()) if a.size and b.size else math.nan, math.nan, math.nan)
    variance_a, variance_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    error = math.sqrt(variance_a + variance_b)
    value = float(a.mean() - b.mean())
    if error == 0:
        return Estimate(value, value, value)
    freedom = (variance_a + variance_b) ** 2 / (variance_a**2 / (a.size - 1) + variance_b**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, freedom) * error)
    return Estimate(value, value - half, value + half)


def verdict(effects: dict[str, Estimate]) -> str:
    """Words for where an effect is clear (interval excludes 0): 'helps on both', 'hurts on CIFAR-10 only', ..."""
    signs = {name: estimate.sign for name, estimate in effects.items()}
    helped = [name for name, sign in signs.items() if sign > 0]
    hurt = [name for name, sign in signs.items() if sign < 0]
    if helped and hurt:
        return f"helps on {', '.join(helped)}, hurts on {', '.join(hurt)}"
    for words, names in (("helps", helped), ("hurts", hurt)):
        if names:
            return f"{words} on both" if len(names) == len(signs) > 1 else f"{words} on {', '.join(names)} only"
    return "no clear effect"


def consistency(source: Estimate, target: Estimate) -> float:
    """How well an effect carries over: min(|effects|), positive when the signs agree, negative when they flip."""
    if math.isnan(source.value) or math.isnan(target.value):
        return math.nan
    return float(np.sign(source.value) * np.sign(target.value) * min(abs(source.value), abs(target.value)))
