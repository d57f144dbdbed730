"""Which hyperparameter settings carry over from Fashion-MNIST to CIFAR-10: compute (`transfer_info`), then draw.

Per model family: configurations spread over a Fashion-MNIST study's ranking are re-evaluated on Fashion-MNIST
and on CIFAR-10 with the same seeds; each configuration's mean over seeds is its score on a dataset.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go

from analysis import stats
from analysis.adjusted import adjusted_effects
from sweeps.space import Parameter

SOURCE, TARGET = "Fashion-MNIST", "CIFAR-10"
FAMILIES: dict[str, tuple[str, str]] = {"mlp": ("fashion-mlp", "cifar10-mlp"), "cnn": ("fashion-cnn", "cifar10-cnn")}


@dataclass
class TransferInfo:
    """Everything the transfer tables and figures show for one model family."""

    family: str
    metric: str
    seeds: tuple[int, ...]
    evaluations: pd.DataFrame  # long: config, dataset, seed, score
    configs: pd.DataFrame  # one row per configuration: parameters, study value, mean/std per dataset
    spearman: stats.Estimate
    kendall: stats.Estimate
    top_k: int
    top_k_overlap: float
    accuracy_lost: stats.Estimate  # target accuracy lost by taking the source's best (>= 0), bootstrap interval
    source_best: int
    target_best: int
    importance: pd.DataFrame  # parameter, SOURCE, TARGET (normalised importances)
    importance_method: str
    settings: pd.DataFrame  # per setting: adjusted effect on each dataset with corrected intervals, verdict
    notes: list[str] = field(default_factory=list)

    @property
    def regret(self) -> float:
        """Target score of the source's best minus the target's best (<= 0): the accuracy lost, negated."""
        return -self.accuracy_lost.value

    def summary(self) -> dict[str, Any]:
        return {"family": self.family, "metric": self.metric, "configs": len(self.configs), "seeds": len(self.seeds),
                "spearman": self.spearman.value, "spearman_low": self.spearman.low,
                "spearman_high": self.spearman.high, "kendall": self.kendall.value, "kendall_low": self.kendall.low,
                "kendall_high": self.kendall.high, "top_k": self.top_k, "top_k_overlap": self.top_k_overlap,
                "transfer_regret": self.regret, "source_best_config": self.source_best,
                "target_best_config": self.target_best, "importance_method": self.importance_method,
                "notes": "; ".join(self.notes)}


def fanova_available() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def widened(parameter: Parameter, values: Sequence[Any]) -> Parameter:
    """The parameter with its range/choices stretched to hold `values` (a study may predate an edit of its file)."""
    present = [value for value in values if value is not None]
    if parameter.kind == "categorical":
        extra = [value for value in dict.fromkeys(present) if value not in parameter.choices]
        return dataclasses.replace(parameter, choices=(*parameter.choices, *extra)) if extra else parameter
    if not present:
        return parameter
    return dataclasses.replace(parameter, low=min(parameter.low, min(present)), high=max(parameter.high, max(present)))


def importances(configs: Sequence[Mapping[str, Any]], scores: Sequence[float], parameters: Sequence[Parameter],
                seed: int = 0) -> tuple[dict[str, float], str]:
    """fANOVA importances from an in-memory study built from (config, score) pairs; PED-ANOVA without sklearn."""
    distributions = {parameter.name: widened(parameter, [config.get(parameter.name) for config in configs])
                     .distribution() for parameter in parameters}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    optuna.logging.set_verbosity(verbosity)
    study.add_trials([
        optuna.trial.create_trial(params={name: value for name, value in config.items() if name in distributions},
                                  distributions={name: distributions[name] for name in config if name in distributions},
                                  value=float(score))
        for config, score in zip(configs, scores, strict=True) if math.isfinite(score)])
    if fanova_available():
        evaluator, method = optuna.importance.FanovaImportanceEvaluator(seed=seed), "fanova"
    else:
        evaluator, method = optuna.importance.PedAnovaImportanceEvaluator(), "ped-anova (scikit-learn missing)"
    if len(study.trials) < 2:
        return {}, method
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator)), method


def transfer_info(family: str, configs: Sequence[Mapping[str, Any]], evaluations: pd.DataFrame,
                  parameters: Sequence[Parameter], metric: str = "test/accuracy", top: int = 3,
                  study_values: Sequence[float] | None = None, n_bootstrap: int = 2000, seed: int = 0) -> TransferInfo:
    """Statistics of one family from `evaluations` (columns config, dataset in {SOURCE, TARGET}, seed, score)."""
    means = evaluations.pivot_table(index="config", columns="dataset", values="score", aggfunc="mean")
    spreads = evaluations.pivot_table(index="config", columns="dataset", values="score", aggfunc="std")
    means = means.reindex(index=range(len(configs)), columns=[SOURCE, TARGET])
    source, target = means[SOURCE].to_numpy(float), means[TARGET].to_numpy(float)
    notes = []
    if np.isnan(source).any() or np.isnan(target).any():
        notes.append(f"{int(np.isnan(source).sum() + np.isnan(target).sum())} config/dataset cells failed; "
                     "those configs are left out of correlations.")
    table = pd.DataFrame(list(configs))
    table.insert(0, "config", range(len(configs)))
    if study_values is not None:
        table.insert(1, "study value", list(study_values))
    for name in (SOURCE, TARGET):
        table[f"{name} mean"] = means[name].to_numpy()
        table[f"{name} std"] = spreads.reindex(index=range(len(configs)))[name].to_numpy() \
            if name in spreads else np.nan
    finite = np.isfinite(source) & np.isfinite(target)
    top = max(1, min(top, int(finite.sum()) or 1))
    importance_rows: dict[str, dict[str, float]] = {}
    method = "fanova"
    for name, scores in ((SOURCE, source), (TARGET, target)):
        values, method = importances(configs, scores, parameters, seed=seed)
        for parameter, value in values.items():
            importance_rows.setdefault(parameter, {})[name] = value
    importance = pd.DataFrame([{"parameter": name, **values} for name, values in importance_rows.items()],
                              columns=["parameter", SOURCE, TARGET])
    importance = importance.sort_values(SOURCE, ascending=False).reset_index(drop=True)
    masked_source, masked_target = np.where(finite, source, -np.inf), np.where(finite, target, -np.inf)
    settings, setting_notes = adjusted_effects(configs, {SOURCE: source, TARGET: target}, parameters)
    notes += setting_notes
    return TransferInfo(
        family=family, metric=metric, seeds=tuple(sorted(evaluations["seed"].unique().tolist())),
        evaluations=evaluations, configs=table,
        spearman=stats.spearman(source, target, n_bootstrap=n_bootstrap, seed=seed),
        kendall=stats.kendall(source, target, n_bootstrap=min(n_bootstrap, 1000), seed=seed),
        top_k=top, top_k_overlap=stats.top_k_overlap(source[finite], target[finite], top),
        accuracy_lost=stats.bootstrap_accuracy_lost(*_runs(evaluations, len(configs)), n_bootstrap=n_bootstrap,
                                                    seed=seed),
        source_best=int(np.argmax(masked_source)),
        target_best=int(np.argmax(masked_target)), importance=importance, importance_method=method,
        settings=settings, notes=notes)


def _runs(evaluations: pd.DataFrame, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each configuration's scores over seeds, on the source and on the target."""
    groups = {key: group["score"].to_numpy(float) for key, group in evaluations.groupby(["config", "dataset"])}
    empty = np.array([], dtype=float)
    return ([groups.get((config, SOURCE), empty) for config in range(count)],
            [groups.get((config, TARGET), empty) for config in range(count)])


def render(info: TransferInfo) -> list[go.Figure]:
    """Scatter of the two datasets' scores, importances side by side, and a forest plot of setting effects."""
    configs = info.configs
    scatter = go.Figure(go.Scatter(
        x=configs[f"{SOURCE} mean"], y=configs[f"{TARGET} mean"], mode="markers+text",
        text=configs["config"].astype(str), textposition="top center",
        error_x={"type": "data", "array": configs[f"{SOURCE} std"]},
        error_y={"type": "data", "array": configs[f"{TARGET} std"]}))
    scatter.update_layout(
        title=f"{info.family.upper()}: {info.metric} per configuration, mean ± std over {len(info.seeds)} seeds<br>"
              f"<sup>Spearman {info.spearman.format()}, Kendall {info.kendall.format()}, top-{info.top_k} overlap "
              f"{info.top_k_overlap:.2f}, accuracy lost {info.accuracy_lost.format()}</sup>",
        xaxis_title=SOURCE, yaxis_title=TARGET)
    importance = go.Figure([go.Bar(name=name, y=info.importance["parameter"], x=info.importance[name],
                                   orientation="h") for name in (SOURCE, TARGET)])
    importance.update_layout(title=f"{info.family.upper()}: hyperparameter importance ({info.importance_method})",
                             barmode="group", yaxis={"autorange": "reversed"}, xaxis_title="normalised importance")
    forest = go.Figure()
    settings = info.settings
    if not settings.empty:
        for name in (SOURCE, TARGET):
            forest.add_trace(go.Scatter(
                name=name, y=settings["setting"], x=settings[f"{name} effect"], mode="markers",
                error_x={"type": "data", "symmetric": False, "array": settings[f"{name} high"] - settings[
                    f"{name} effect"], "arrayminus": settings[f"{name} effect"] - settings[f"{name} low"]}))
        forest.add_vline(x=0, line_dash="dot")
    forest.update_layout(title=f"{info.family.upper()}: effect of each setting with the other settings held "
                               "(least squares; Benjamini-Hochberg false-coverage-rate intervals), most consistent "
                               "first", yaxis={"autorange": "reversed"},
                         xaxis_title=f"adjusted effect on mean {info.metric}",
                         height=max(400, 22 * len(settings) + 150))
    return [scatter, importance, forest]
