"""The best trials of a study as a table (compute a DataFrame, then format it)."""

from __future__ import annotations

import optuna
import pandas as pd


def best_trials(study: optuna.Study, top: int = 5) -> pd.DataFrame:
    """The `top` COMPLETE trials, best first: number, objective value, test metrics, duration and parameters."""
    objective = study.user_attrs.get("objective", "value")
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    rows = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        metrics = trial.user_attrs.get("metrics", {})
        row = {"trial": trial.number, objective: trial.value}
        row.update({name: value for name, value in metrics.items() if name.startswith("test/")})
        if trial.duration is not None:
            row["seconds"] = round(trial.duration.total_seconds(), 1)
        row.update(trial.params)
        rows.append(row)
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).sort_values(objective, ascending=not maximize).head(top)
    return table.reset_index(drop=True)


def state_counts(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def format_table(table: pd.DataFrame) -> str:
    if table.empty:
        return "(no completed trials yet)"
    return table.to_string(index=False, float_format=lambda value: f"{value:.4g}")
