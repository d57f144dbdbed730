"""What one fixed pixel permutation does to an MLP and a CNN: compute (`permutation_info`), then draw.

An MLP's first dense layer sees the pixels as an unordered vector, so a permutation only relabels its inputs:
the learning problem is the same up to the (i.i.d.) initialisation and differences should be noise. A CNN's
convolutions and pooling assume neighbouring pixels are related; a permutation destroys that, so it should lose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from analysis import stats

MODELS: dict[str, tuple[str, str]] = {"mlp": ("fashion-mlp", "geron_mlp"), "cnn": ("fashion-cnn", "geron_cnn")}
DATASETS: dict[str, str] = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
EXPECTED = {"mlp": "unchanged", "cnn": "worse"}


@dataclass
class PermutationInfo:
    """Accuracies on original vs permuted pixels per (model, dataset, seed), and their paired differences."""

    metric: str
    permutation_seed: int
    seeds: tuple[int, ...]
    sources: dict[str, str]  # model family -> where its config came from
    evaluations: pd.DataFrame  # model, dataset, seed, permuted, score
    differences: pd.DataFrame  # per model x dataset: means, paired difference (permuted - original) with CI
    notes: list[str] = field(default_factory=list)


def classify_difference(difference: stats.Estimate) -> str:
    """'unchanged' when the interval covers 0, else 'worse' or 'better'."""
    return {0: "unchanged", 1: "better", -1: "worse"}[difference.sign] if math.isfinite(difference.low) \
        else "undetermined"


def explanation(family: str, observed: str) -> str:
    expected = EXPECTED[family]
    if observed == expected:
        return "as expected"
    if family == "mlp":
        return ("differs from the exact invariance: with one permutation the MLP problem is identical up to the "
                "initial weights, so this is seed noise or too few seeds/too short training")
    if observed == "unchanged":
        return ("CNN not hurt: with this little training or data the spatial prior has not paid off yet, or the "
                "interval is too wide; train longer / more seeds")
    return "CNN better on permuted pixels: unexpected; check the seeds and training budget"


def permutation_info(evaluations: pd.DataFrame, metric: str, permutation_seed: int, sources: Mapping[str, str],
                     n_bootstrap: int = 2000) -> PermutationInfo:
    """Paired (same seed) permuted-minus-original differences with t intervals and bootstrap intervals."""
    rows = []
    for (family, dataset), group in evaluations.groupby(["model", "dataset"], sort=False):
        pivot = group.pivot_table(index="seed", columns="permuted", values="score")
        original, permuted = pivot.get(False, pd.Series(dtype=float)), pivot.get(True, pd.Series(dtype=float))
        paired = permuted.to_numpy(float) - original.reindex(permuted.index).to_numpy(float)
        difference = stats.t_interval(paired)
        bootstrap = stats.bootstrap_mean(paired, n_bootstrap)  # resamples seeds; coarse with a handful of them
        observed = classify_difference(difference)
        rows.append({"model": family, "dataset": dataset, "seeds": len(pivot),
                     "original mean": float(original.mean()), "original std": float(original.std()),
                     "permuted mean": float(permuted.mean()), "permuted std": float(permuted.std()),
                     "difference": difference.value, "t low": difference.low, "t high": difference.high,
                     "bootstrap low": bootstrap.low, "bootstrap high": bootstrap.high,
                     "observed": observed, "expected": EXPECTED.get(family, "?"),
                     "explanation": explanation(family, observed) if family in EXPECTED else ""})
    return PermutationInfo(metric=metric, permutation_seed=permutation_seed,
                           seeds=tuple(sorted(evaluations["seed"].unique().tolist())), sources=dict(sources),
                           evaluations=evaluations, differences=pd.DataFrame(rows))


def render(info: PermutationInfo) -> list[go.Figure]:
    """Mean accuracy (± std over seeds) on original vs permuted pixels, and the paired differences with CIs."""
    table = info.differences
    labels = [f"{row.model.upper()} / {DATASETS.get(row.dataset, row.dataset)}" for row in table.itertuples()]
    bars = go.Figure([go.Bar(name=name, x=labels, y=table[f"{key} mean"],
                             error_y={"type": "data", "array": table[f"{key} std"]})
                      for name, key in (("original pixels", "original"), ("permuted pixels", "permuted"))])
    bars.update_layout(title=f"{info.metric}, mean ± std over {len(info.seeds)} seeds (permutation seed "
                             f"{info.permutation_seed})", barmode="group", yaxis_title=info.metric)
    forest = go.Figure(go.Scatter(
        x=table["difference"], y=labels, mode="markers",
        error_x={"type": "data", "symmetric": False, "array": table["t high"] - table["difference"],
                 "arrayminus": table["difference"] - table["t low"]}))
    forest.add_vline(x=0, line_dash="dot")
    forest.update_layout(title="permuted minus original (paired by seed, 95% t interval)",
                         xaxis_title=f"difference in {info.metric}", yaxis={"autorange": "reversed"})
    return [bars, forest]
