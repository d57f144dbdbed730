"""The best trials of a study as a table (compute the rows, then format them), and the refit beside them.

Plain rows and text, no pandas: `sweeplab best` answers in well under a second."""

from __future__ import annotations

from typing import Any

import optuna

from sweeps.best import ranked_trials


def best_trials(study: optuna.Study, top: int = 5) -> list[dict[str, Any]]:
    """The `top` COMPLETE trials, best first: number, objective, test metrics, duration, and the values that trained
    (sampled parameters and any `--set` overrides of searched ones)."""
    objective = study.user_attrs.get("objective", "value")
    rows = []
    for trial in ranked_trials(study)[:top]:
        metrics = trial.user_attrs.get("metrics", {})
        row = {"trial": trial.number, objective: trial.value}
        row.update({name: value for name, value in metrics.items() if name.startswith("test/")})
        if trial.duration is not None:
            row["seconds"] = round(trial.duration.total_seconds(), 1)
        row.update(trial.params)
        row.update(trial.user_attrs.get("overrides", {}))
        rows.append(row)
    return rows


def state_counts(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def format_table(rows: list[dict[str, Any]]) -> str:
    """Right-aligned columns (the union of the rows' keys, first seen first); floats to 4 significant digits."""
    if not rows:
        return "(no completed trials yet)"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in cells)) for index, column in enumerate(columns)]
    lines = [[column.rjust(width) for column, width in zip(columns, widths, strict=True)]]
    lines += [[cell.rjust(width) for cell, width in zip(line, widths, strict=True)] for line in cells]
    return "\n".join(" ".join(line) for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_refit(record: dict[str, Any]) -> str:
    """One paragraph: which trial was refit, at what fidelity, its test metrics beside the search's value."""
    resolved, metrics = record.get("resolved", {}), record.get("metrics", {})
    tests = ", ".join(f"{name} {value:.4g}" for name, value in sorted(metrics.items()) if name.startswith("test/"))
    fidelity = ", ".join(f"{key}={resolved.get(key, value)}" for key, value in sorted(record.get("config", {}).items())
                         if key in {"epochs", "subset", "n_images"})
    below = ("\nnote: the refit scores worse than its trial did on the same validation images: the longer schedule "
             "did not suit this configuration (a learning rate only a short schedule anneals, say); `sweeplab best "
             "STUDY --top 5` lists the next candidates" if record.get("below_search") else "")
    return (f"refit of trial #{record['trial']} (search value {record.get('search_value', float('nan')):.4g}) "
            f"at {fidelity or 'full fidelity'} in {record.get('seconds', 0):.0f} s: {tests}\n"
            f"model: {record.get('model') or '(not saved)'}{below}")
