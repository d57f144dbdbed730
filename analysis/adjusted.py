"""Per-setting effects adjusted for the other settings: one least-squares model per dataset, corrected intervals.

Each configuration's score is regressed on all its settings at once (categorical settings as indicators, numeric
ones as a linear term on their search scale), so an effect is read with the other settings held: a setting that
only travels with a good one (most L2 = 1e-4 configurations also use ReLU) no longer borrows its effect.

- A categorical level's effect: its coefficient minus the mean of its parameter's levels ("vs the average level").
- A numeric setting's effect: the change from its 25th to its 75th percentile among the configurations.
- Multiple comparisons: Benjamini-Hochberg at q = 0.05 over every effect of a family (both datasets); intervals are
  the matching false-coverage-rate intervals (Benjamini & Yekutieli 2005): level 1 - R q / M for R of M selected,
  so an interval excludes 0 exactly when its effect is selected.
- A level seen in fewer than `MIN_GROUP` configurations gets "no evidence" and stays out of the correction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from analysis import stats

Q = 0.05
MIN_GROUP = 3
METHOD = (f"least squares on every setting at once; Benjamini-Hochberg at q = {Q} over all effects of the family, "
          f"false-coverage-rate adjusted intervals; 'no evidence' for a level in fewer than {MIN_GROUP} configurations")


@dataclass(frozen=True)
class Term:
    """One column of the design, or a contrast over several, with how to label and count it."""

    parameter: str
    setting: str
    contrast: dict[int, float]  # design column -> weight
    configs: int  # configurations with this level (numeric: all)
    test: str  # rows sharing a test key are one comparison (the two levels of a two-level setting)


def _levels(values: Sequence[Any], kind: str) -> list[Any] | None:
    """Distinct levels when the setting is read as categorical (categorical, or an int with at most 4 values)."""
    distinct = sorted(set(values), key=repr)
    if kind == "categorical" or (kind == "int" and len(distinct) <= 4):
        return distinct
    return None


def _shown(level: Any) -> str:
    """A level as the study file writes it (a table read back from CSV holds 48.0 for 48)."""
    if isinstance(level, float) and level.is_integer() and level != 0:
        return str(int(level))
    return str(level)


def design(configs: Sequence[Mapping[str, Any]], parameters: Sequence[Any]) -> tuple[np.ndarray, list[Term],
                                                                                      list[str]]:
    """The design matrix (intercept first), the effects to read off it and notes on the settings left out."""
    columns: list[np.ndarray] = [np.ones(len(configs))]
    terms: list[Term] = []
    notes: list[str] = []
    for parameter in parameters:
        values = [config.get(parameter.name) for config in configs]
        if any(value is None for value in values):
            if any(value is not None for value in values):
                notes.append(f"{parameter.name} applies to only some configurations (conditional): not in the model")
            continue
        levels = _levels(values, parameter.kind)
        if levels is not None:
            if len(levels) < 2:
                continue
            first = len(columns)
            for level in levels[1:]:
                columns.append(np.array([repr(value) == repr(level) for value in values], dtype=float))
            share = 1 / len(levels)
            for index, level in enumerate(levels):
                contrast = {first + other: -share for other in range(len(levels) - 1)}
                if index:
                    contrast[first + index - 1] += 1.0
                test = parameter.name if len(levels) == 2 else f"{parameter.name}={level!r}"
                terms.append(Term(parameter.name, f"{parameter.name}={_shown(level)}", contrast,
                                  sum(repr(value) == repr(level) for value in values), test))
            continue
        numbers = np.array(values, dtype=float)
        scaled = np.log(numbers) if parameter.log and (numbers > 0).all() else numbers
        spread = scaled.std()
        if spread == 0:
            continue
        low, high = np.quantile(scaled, [0.25, 0.75])
        columns.append((scaled - scaled.mean()) / spread)
        shown = np.quantile(numbers, [0.25, 0.75])
        terms.append(Term(parameter.name, f"{parameter.name} {shown[0]:.3g} -> {shown[1]:.3g} (p25 -> p75)",
                          {len(columns) - 1: (high - low) / spread}, len(values), parameter.name))
    return np.column_stack(columns), terms, notes


@dataclass(frozen=True)
class Fit:
    effect: float
    error: float  # standard error (NaN when the model cannot estimate it)
    freedom: int


def fit(matrix: np.ndarray, scores: np.ndarray, terms: Sequence[Term]) -> list[Fit]:
    """Ordinary least squares on the finite scores; each term's contrast with its standard error."""
    keep = np.isfinite(scores)
    x, y = matrix[keep], scores[keep]
    rank = np.linalg.matrix_rank(x)
    freedom = int(len(y) - rank)
    if freedom < 2:
        return [Fit(math.nan, math.nan, freedom) for _ in terms]
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coefficients
    inverse = np.linalg.pinv(x.T @ x)
    variance = float(residual @ residual) / freedom
    fits = []
    for term in terms:
        vector = np.zeros(x.shape[1])
        for column, weight in term.contrast.items():
            vector[column] = weight
        # a contrast outside the row space (settings that always travel together) is not estimable
        estimable = np.allclose(vector @ inverse @ (x.T @ x), vector, atol=1e-8)
        error = math.sqrt(max(float(vector @ inverse @ vector) * variance, 0.0)) if estimable else math.nan
        fits.append(Fit(float(vector @ coefficients) if estimable else math.nan, error, freedom))
    return fits


def _p_value(item: Fit) -> float:
    if not math.isfinite(item.error) or item.error == 0:
        return math.nan
    return float(2 * scipy_stats.t.sf(abs(item.effect) / item.error, item.freedom))


def benjamini_hochberg(p_values: Sequence[float], q: float = Q) -> int:
    """How many of the p-values Benjamini-Hochberg selects at level q (NaN values are not tests)."""
    finite = np.sort(np.array([p for p in p_values if math.isfinite(p)]))
    if finite.size == 0:
        return 0
    passed = np.nonzero(finite <= q * np.arange(1, finite.size + 1) / finite.size)[0]
    return int(passed[-1] + 1) if passed.size else 0


def adjusted_effects(configs: Sequence[Mapping[str, Any]], scores: Mapping[str, np.ndarray],
                     parameters: Sequence[Any]) -> tuple[pd.DataFrame, list[str]]:
    """One row per setting: configs, others, `<dataset> effect/low/high/p` for each dataset, consistency, verdict.

    `scores[dataset][i]`: configuration i's mean score. Returns the table (most consistent first) and notes."""
    matrix, terms, notes = design(configs, parameters)
    fits = {dataset: fit(matrix, np.asarray(values, float), terms) for dataset, values in scores.items()}
    tested = [index for index, term in enumerate(terms) if term.configs >= MIN_GROUP]
    family: dict[tuple[str, str], float] = {}  # (dataset, test key) -> p; a two-level setting counts once
    for dataset, items in fits.items():
        for index in tested:
            family.setdefault((dataset, terms[index].test), _p_value(items[index]))
    tests = [p for p in family.values() if math.isfinite(p)]
    selected = benjamini_hochberg(tests)
    alpha = Q * max(selected, 1) / max(len(tests), 1)
    rows = []
    for index, term in enumerate(terms):
        row: dict[str, Any] = {"parameter": term.parameter, "setting": term.setting, "configs": term.configs,
                               "others": len(configs) - term.configs}
        estimates = {}
        for dataset, items in fits.items():
            item = items[index]
            half = float(scipy_stats.t.ppf(1 - alpha / 2, item.freedom) * item.error) \
                if item.freedom >= 1 and math.isfinite(item.error) else math.nan
            estimates[dataset] = stats.Estimate(item.effect, item.effect - half, item.effect + half)
            row.update({f"{dataset} effect": item.effect, f"{dataset} low": item.effect - half,
                        f"{dataset} high": item.effect + half, f"{dataset} p": _p_value(item)})
        names = list(estimates)
        row["consistency"] = stats.consistency(estimates[names[0]], estimates[names[-1]])
        row["verdict"] = (f"no evidence (only {term.configs} configurations)" if term.configs < MIN_GROUP
                          else stats.verdict(estimates))
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values("consistency", ascending=False, na_position="last").reset_index(drop=True)
    notes.append(f"{selected} of {len(tests)} effects selected (Benjamini-Hochberg, q = {Q}); intervals at "
                 f"{(1 - alpha) * 100:.2f}% (false-coverage-rate adjusted)")
    return table, notes
