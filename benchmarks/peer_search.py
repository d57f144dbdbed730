"""Peer benchmark: one user space, one data split, one wall budget and no prior for every way to tune a Keras model.

- `sweeplab`: `sweeplab sweep STUDY` as a user runs it (low rung, promotion, refit), with the study's `start_with`
  removed and the sampler seeded per run; every trial is tested on the whole test set (`--set test_subset=0`);
- `kt-hyperband`: KerasTuner's Hyperband (max_epochs = 3 x the peers' epochs, factor 3), constant learning rate (it
  resumes models across brackets);
- `kt-bayes`: KerasTuner's BayesianOptimization, `--peer-epochs` per model;
- `optuna-tpe`: a plain Optuna TPE loop calling `model.fit` for `--peer-epochs`, as a notebook would: no pruning;
- `random`: the same loop with Optuna's RandomSampler;
- `sweeplab-end` (an ablation, asked for by `--tools`): sweeplab with the study's early promotion (`promote.every`)
  off, every promotion after the search.
The peers train on every training image with the study's fixed values (its model preset) and sample the study's
space (`when:` becomes a conditional scope for KerasTuner); the split is the platform's (seed 0, 10% validation).

Each (tool, seed) runs in its own process, killed at the budget; seeds run one after another, the tools interleaved
within a seed so that a busy machine slows every tool alike. After each finished model the tool's current best (by
validation accuracy; for sweeplab a promoted result supersedes the low rung and the refit supersedes both) is tested
on the whole test set. The anytime curve is that test accuracy against wall time; the summary gives each tool's mean
and 95% t-interval over seeds at each checkpoint and sweeplab's margin over the best peer. Runs are resumable: each
(tool, seed) is kept under benchmarks/results/peer_search-STUDY[-TAG].parts/ and skipped when present.

    python -m benchmarks.peer_search --study fashion-mlp-user --budget 300 --seeds 0,1,2
    python -m benchmarks.peer_search --study fashion-cnn-user --budget 600 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import RESULTS_DIR, comma_list, measured_parts, write_result
from benchmarks.peer_tools import ABLATIONS, LEVELS, PEERS

TOOLS = ("sweeplab", *PEERS)  # the default; `--tools` may add the ablations
CHECKPOINTS = (0.2, 0.5, 1.0)  # fractions of the budget: 1 / 2.5 / 5 min of 5, 2 / 5 / 10 of 10


def timeline(events: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(elapsed, test accuracy of the tool's current answer): the best by validation within the highest fidelity
    level seen so far (low rung < promoted < refit; a peer's models are all one level)."""
    points: list[tuple[float, float]] = []
    level, best_val, current = -1, -1.0, None
    for event in sorted(events, key=lambda event: event["elapsed_s"]):
        event_level = LEVELS.index(event.get("level", "low"))
        if event_level > level or (event_level == level and event["val"] > best_val):
            level, best_val, current = event_level, event["val"], event["test"]
            points.append((event["elapsed_s"], current))
    return points


def value_at(points: list[tuple[float, float]], seconds: float) -> float | None:
    """The tool's answer at `seconds`: the last point at or before it (None before its first model)."""
    return next((test for elapsed, test in reversed(points) if elapsed <= seconds), None)


def interval(values: list[float]) -> dict[str, Any]:
    """Mean, sample std and the 95% t-interval of the mean."""
    import numpy as np
    from scipy import stats

    values = [value for value in values if value is not None]
    if not values:
        return {"n": 0, "mean": None}
    mean = float(np.mean(values))
    if len(values) < 2:
        return {"n": len(values), "mean": mean, "std": None, "ci95": None}
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf(0.975, len(values) - 1) * std / np.sqrt(len(values)))
    return {"n": len(values), "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def margin(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    """sweeplab minus a peer at the budget: the difference of means and its Welch 95% interval."""
    import numpy as np
    from scipy import stats

    ours, theirs = [v for v in ours if v is not None], [v for v in theirs if v is not None]
    if len(ours) < 2 or len(theirs) < 2:
        return {"difference": None}
    difference = float(np.mean(ours) - np.mean(theirs))
    var_ours, var_theirs = np.var(ours, ddof=1) / len(ours), np.var(theirs, ddof=1) / len(theirs)
    scale = float(np.sqrt(var_ours + var_theirs))
    if scale == 0:
        return {"difference": difference, "ci95": [difference, difference]}
    dof = (var_ours + var_theirs) ** 2 / (var_ours**2 / (len(ours) - 1) + var_theirs**2 / (len(theirs) - 1))
    half = float(stats.t.ppf(0.975, dof) * scale)
    return {"difference": difference, "ci95": [difference - half, difference + half]}


def summarise(runs: dict[str, dict[str, list]], budget: float) -> dict[str, Any]:
    """Per tool: mean and interval over seeds at each checkpoint; sweeplab's margin over each peer at the budget."""
    summary: dict[str, Any] = {"checkpoints_s": [round(fraction * budget) for fraction in CHECKPOINTS], "tools": {}}
    at_budget = {}
    for tool, seeds in runs.items():
        rows = {}
        for fraction in CHECKPOINTS:
            rows[f"{fraction * budget / 60:g}min"] = interval([value_at(points, fraction * budget)
                                                               for points in seeds.values()])
        at_budget[tool] = [value_at(points, budget) for points in seeds.values()]
        summary["tools"][tool] = rows
    if "sweeplab" in at_budget:
        summary["margin_at_budget"] = {peer: margin(at_budget["sweeplab"], values)
                                       for peer, values in at_budget.items() if peer != "sweeplab"}  # ablations too
    return summary


def _band(ci95: list[float] | None, floor: float, spec: str) -> str:
    """The band ` [low, high]` in percent, each end clipped to [floor, 1] and marked `*` when one was; "" without."""
    if not ci95:
        return ""
    low, high = ci95
    mark = "*" if low < floor or high > 1.0 else ""
    return f" [{max(low, floor) * 100:{spec}}, {min(high, 1.0) * 100:{spec}}]{mark}"


def markdown(summary: dict[str, Any], runs: dict[str, dict[str, list]]) -> str:
    """The summary as a table: each tool's mean test accuracy [95% t-interval] over seeds at each checkpoint."""
    columns = list(next(iter(summary["tools"].values())))
    lines = [f"| tool (seeds) | {' | '.join(f'at {column}' for column in columns)} |",
             f"|---|{'---|' * len(columns)}"]
    clipped = False
    for tool, rows in summary["tools"].items():
        cells = []
        for column in columns:
            row = rows[column]
            if row["mean"] is None:
                cells.append("-")
                continue
            band = _band(row.get("ci95"), 0.0, ".1f")  # an accuracy lies in [0, 100]
            clipped |= band.endswith("*")
            partial = f" (n={row['n']})" if row["n"] < len(runs[tool]) else ""
            cells.append(f"{row['mean'] * 100:.2f}{band}{partial}")
        lines.append(f"| {tool} ({len(runs[tool])}) | {' | '.join(cells)} |")
    for peer, row in summary.get("margin_at_budget", {}).items():
        if row.get("difference") is not None:
            band = _band(row.get("ci95"), -1.0, "+.2f")  # a difference of accuracies lies in [-100, +100]
            clipped |= band.endswith("*")
            lines.append(f"\nsweeplab - {peer} at the budget: {row['difference'] * 100:+.2f} points{band} "
                         "(Welch 95% interval)")
    if clipped:
        lines.append("\n\\* a 95% interval reaching beyond the metric's range ([0, 100]; [-100, +100] for a "
                     "difference) is clipped to it")
    return "\n".join(lines) + "\n"


def plot(runs: dict[str, dict[str, list]], budget: float, title: str, path: Path) -> None:
    """Mean anytime curve per tool with its 95% t-band over seeds (on a 5-second grid)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.arange(0, budget + 1, 5.0)
    figure, axis = plt.subplots(figsize=(10, 5), dpi=120)
    lowest = 1.0
    for tool, seeds in runs.items():
        means, lows, highs = [], [], []
        for second in grid:
            row = interval([value_at(points, second) for points in seeds.values()])
            complete = row["n"] == len(seeds)  # a mean over only the seeds that have a model yet would mislead
            means.append(row["mean"] if complete else np.nan)
            band = row.get("ci95") if complete else None
            lows.append(band[0] if band else np.nan)
            highs.append(band[1] if band else np.nan)
        line, = axis.plot(grid / 60, means, label=f"{tool} (n={len(seeds)})", linewidth=2, drawstyle="steps-post")
        axis.fill_between(grid / 60, np.clip(lows, 0, 1), np.clip(highs, 0, 1), color=line.get_color(), alpha=0.15,
                          step="post")
        finite = [value for value in means if np.isfinite(value)]
        lowest = min([lowest, *finite])
    axis.set(xlabel="wall time (minutes)", ylabel="test accuracy of the tool's current best model",
             ylim=(max(0.0, lowest - 0.02), 1.0 if lowest < 0.9 else 0.95), title=title)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0),  # beside the axes: it covers no curve or band
                title="mean over seeds;\nband: 95% t-interval\n(clipped to [0, 1])")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)


def run_one(tool: str, study: str, seed: int, budget: float, peer_epochs: int) -> dict[str, Any]:
    """One (tool, seed) in its own process, killed at the budget; its events read back."""
    events = Path(tempfile.mkdtemp(prefix=f"peer-{tool}-")) / "events.jsonl"
    events.touch()
    started = time.time()
    load_before = os.getloadavg()[0]
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.peer_tools", tool, study, str(seed), str(budget),
                                str(peer_epochs), str(events)], env={**os.environ, "PEER_STARTED": str(started)})
    grace = 120 if tool.startswith("sweeplab") else 0  # sweeplab reads its study back after its own deadline
    try:
        process.wait(timeout=budget + grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    else:  # ended by itself: a crash records nothing (an empty part would be kept and skipped on every rerun)
        if process.returncode != 0:
            raise RuntimeError(f"{tool} seed {seed}: its process exited {process.returncode} after "
                               f"{time.time() - started:.0f} s of its {budget:g}; nothing recorded (its error above)")
    recorded = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    recorded = [event for event in recorded if event["elapsed_s"] <= budget]
    fidelity = events.parent / "fidelity.json"  # sweeplab's measured low-rung vs promoted rank correlation
    return {"tool": tool, "seed": seed, "budget_s": budget, "events": recorded, "timeline": timeline(recorded),
            "fidelity": json.loads(fidelity.read_text()) if fidelity.exists() else None,
            "load_average_before": load_before, "load_average_after": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="fashion-mlp-user")
    parser.add_argument("--budget", type=float, default=300.0, help="wall-clock seconds per tool and seed")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--peer-epochs", type=int, default=3, help="epochs per model for the peers' loops")
    parser.add_argument("--tag", default="", help="a name for this run's parts and results (e.g. the machine)")
    args = parser.parse_args()
    tools = comma_list(parser, args.tools, (*TOOLS, *ABLATIONS), "tool")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    name = f"peer_search-{args.study}" + (f"-{args.tag}" if args.tag else "")
    missing = [module for module in ("keras_tuner", "tensorboard") if importlib.util.find_spec(module) is None]
    if any(tool.startswith("kt-") for tool in tools) and missing:  # KerasTuner imports tensorboard in every trial
        parser.error(f"the KerasTuner tools need {' and '.join(missing)}: pip install -e '.[bench]' (or leave them "
                     "out: --tools)")

    def said(tool: str, seed: int, result: dict) -> str:
        final = result["timeline"][-1][1] if result["timeline"] else None
        return f"{tool} seed {seed}: {len(result['events'])} models, final test {final}"

    measured = measured_parts(RESULTS_DIR / f"{name}.parts", tools, seeds,
                              lambda tool, seed: f"{tool}-seed{seed}-{args.budget:g}s.json",
                              lambda tool, seed: run_one(tool, args.study, seed, args.budget, args.peer_epochs), said)
    runs = {tool: {str(seed): part["timeline"] for seed, part in parts.items()}
            for tool, parts in measured.items() if parts}
    summary = summarise(runs, args.budget)
    path = write_result(name, {"study": args.study, "budget_s": args.budget, "peer_epochs": args.peer_epochs,
                               "seeds": seeds, "summary": summary, "timelines": runs})
    plot(runs, args.budget, f"{args.study}: same space, split and budget, no prior "
                            f"(2-core CPU{', ' + args.tag if args.tag else ''})",
         path.with_suffix(".png"))
    path.with_suffix(".md").write_text(markdown(summary, runs))
    print(json.dumps(summary, indent=1))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
