"""Which label representation tells the time best: compute a table from a study's trials, then draw it."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trainers.clock.heads import representation

CHANCE_MINUTES = 180.0  # mean common-sense error of a uniformly random guess
NEAR_CHANCE = 0.8  # a best test error above this share of chance ranks nothing
COLUMNS = ["representation", "head", "classes", "trials", "best_val_cse", "best_test_cse", "mean_test_cse",
           "test_median_at_best", "test_p90_at_best", "train_cse_at_best", "overfit_gap_at_best", "best_trial"]


@dataclass(frozen=True)
class RepresentationInfo:
    """One row per representation (best trial by validation error), and the classification rows by class count."""

    study: str
    table: pd.DataFrame
    by_classes: pd.DataFrame

    @property
    def best(self) -> str | None:
        return None if self.table.empty else str(self.table.iloc[0]["representation"])


def trial_rows(study: optuna.Study) -> pd.DataFrame:
    """Every completed trial with its head, class count and clock metrics."""
    rows = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        config = {**trial.user_attrs.get("config", {}), **trial.params}
        metrics = trial.user_attrs.get("metrics", {})
        if "head" not in config or "test/cse_minutes" not in metrics:
            continue
        classes = int(config.get("classes", 0)) if config["head"] == "classification" else None
        rows.append({"trial": trial.number, "head": config["head"], "classes": classes,
                     "representation": representation(config["head"], classes), "val_cse": trial.value,
                     "test_cse": metrics["test/cse_minutes"], "test_median": metrics.get("test/cse_median"),
                     "test_p90": metrics.get("test/cse_p90"), "train_cse": metrics.get("train/cse_minutes")})
    return pd.DataFrame(rows)


def representation_info(study: optuna.Study) -> RepresentationInfo:
    """Per representation: its best trial by validation error (the honest pick) and that trial's test error."""
    trials = trial_rows(study)
    if trials.empty:
        return RepresentationInfo(study.study_name, pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=COLUMNS))
    rows = []
    for name, group in trials.groupby("representation", sort=False):
        best = group.sort_values("val_cse").iloc[0]
        gap = None if pd.isna(best["train_cse"]) else best["test_cse"] - best["train_cse"]
        rows.append({"representation": name, "head": best["head"], "classes": best["classes"], "trials": len(group),
                     "best_val_cse": best["val_cse"], "best_test_cse": best["test_cse"],
                     "mean_test_cse": group["test_cse"].mean(), "test_median_at_best": best["test_median"],
                     "test_p90_at_best": best["test_p90"], "train_cse_at_best": best["train_cse"],
                     "overfit_gap_at_best": gap, "best_trial": int(best["trial"])})
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values("best_val_cse").reset_index(drop=True)
    by_classes = table[table["head"] == "classification"].sort_values("classes").reset_index(drop=True)
    return RepresentationInfo(study.study_name, table, by_classes)


def findings(info: RepresentationInfo) -> list[str]:
    """Check the seeds' claims (720 classes overfit; periodic labels win) against this study's numbers."""
    if info.table.empty:
        return ["no completed clock trials yet"]
    best_test = float(info.table.iloc[0]["best_test_cse"])
    lines = [f"best representation by validation error: {info.best} (test {best_test:.1f} min)"]
    if best_test > NEAR_CHANCE * CHANCE_MINUTES:
        lines.append(f"every representation is near chance ({CHANCE_MINUTES:.0f} min): this study cannot rank them; "
                     "train longer or on more clocks")
        return lines
    if int(info.table["trials"].max()) == 1:
        lines.append("one trial per representation: differences may be seed noise; repeat with other seeds")
    periodic = info.table[info.table["head"].isin(["periodic", "two_circle"])]
    if not periodic.empty:
        wins = info.best in set(periodic["representation"])
        lines.append(f"periodic labels win: {'yes' if wins else 'no'} in this study")
    if 720 in set(info.by_classes["classes"].dropna()) and len(info.by_classes) > 1:
        row = info.by_classes[info.by_classes["classes"] == 720].iloc[0]
        others = info.by_classes[info.by_classes["classes"] != 720]
        gap, other_gap = row["overfit_gap_at_best"], others["overfit_gap_at_best"].median()
        if pd.notna(gap) and pd.notna(other_gap):
            verdict = "larger" if gap > other_gap else "not larger"
            lines.append(f"720 classes: test-train gap {gap:.1f} min, {verdict} than the other class counts' "
                         f"median {other_gap:.1f}")
    return lines


def render(info: RepresentationInfo) -> go.Figure:
    """Bars: best test error per representation; lines: test and train error against the class count."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("test error per representation (best by val)",
                                                           "classification: error vs class count"))
    table = info.table
    figure.add_trace(go.Bar(x=table["representation"], y=table["best_test_cse"], name="test (best trial)"), 1, 1)
    figure.add_trace(go.Bar(x=table["representation"], y=table["train_cse_at_best"], name="train (same trial)"), 1, 1)
    by_classes = info.by_classes
    figure.add_trace(go.Scatter(x=by_classes["classes"], y=by_classes["best_test_cse"], mode="lines+markers",
                                name="test vs classes"), 1, 2)
    figure.add_trace(go.Scatter(x=by_classes["classes"], y=by_classes["train_cse_at_best"], mode="lines+markers",
                                name="train vs classes"), 1, 2)
    figure.update_xaxes(type="log", title_text="classes", row=1, col=2)
    figure.update_yaxes(title_text="common-sense error (minutes)")
    figure.update_layout(title=f"clock label representations: study {info.study}", barmode="group")
    return figure
