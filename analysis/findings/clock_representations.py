"""Finding `clock-representations`: which label representation tells the time best at equal data and budget?

Every representation (each `head`, and the classification head at each class count) trains the default clock
study's own model: `sweeps/clock.yaml`'s fixed values and its prior (`start_with[0]`), only the head swapped, on the
same rendered clocks and the same split per seed, under the same CPU-time budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.findings import Finding, output

if TYPE_CHECKING:
    import pandas as pd

NAME = "clock-representations"
STUDY = "clock"
CHANCE_MINUTES = 180.0  # mean common-sense error of a uniformly random guess
MAX_MINUTES = 360.0  # the largest common-sense error: six hours either way
NEAR_CHANCE = 0.8  # a mean error above this share of chance has not learnt to read the clock
METRICS = {"test_cse_minutes": "test/cse_minutes", "test_cse_median": "test/cse_median",
           "train_cse_minutes": "train/cse_minutes", "val_cse_minutes": "val/cse_minutes", "epochs": "train/epochs"}


@dataclass(frozen=True)
class Fidelity:
    text: str
    seeds: tuple[int, ...]
    overrides: dict[str, Any]  # on top of the study's fixed values and prior
    representations: tuple[tuple[str, int | None], ...] = field(default_factory=tuple)  # empty = every one


FIDELITIES: dict[str, Fidelity] = {
    # The study's search fidelity (12,000 rendered clocks, 4,000 training clocks, 96 px photographs warped to 64
    # angles x 24 radii, 6 epochs of a cosine schedule) capped at 1.5 CPU-minutes of fit per run (process time of
    # all threads: fair on a shared machine; a search trial of the study takes ~1.2 CPU-minutes, ~35 s wall).
    # 14 representations x 3 seeds = 42 runs, ~45 min with data loading and testing.
    "cpu": Fidelity(
        text="sweeps/clock.yaml's fixed values and prior (12,000 rendered clocks, 4,000 training clocks, 96 px "
             "photographs localised and warped to 64 angles x 24 radii), head swapped; 6 epochs capped at 1.5 "
             "CPU-minutes of fit each; seeds 0-2; every representation (14)",
        # 12,000 rendered clocks of `default+wide` as measured (the study renders 32,000 of
        # `diverse_sparse_bare+wide` since; its search trains on 4,000 either way)
        seeds=(0, 1, 2), overrides={"n_images": 12000, "variation": "default+wide", "train_minutes": 1.5,
                                    "budget_clock": "process", "save_model": False}),
    "tiny": Fidelity(
        text="tests only: 200 rendered clocks, 1 epoch, a small backbone, 3 representations, 2 seeds",
        seeds=(0, 1), overrides={"n_images": 200, "subset": 0, "epochs": 1, "conv_blocks": 2, "conv_filters": 8,
                                 "dense_units": 16, "batch_size": 32, "render_workers": 1, "save_model": False},
        representations=(("periodic", None), ("classification", 720), ("regression", None))),
}


def all_representations() -> tuple[tuple[str, int | None], ...]:
    """Every head the clock task knows, the classification head once per class count (read from the task)."""
    from typing import get_args, get_type_hints

    from trainers.clock.metric import CLASS_COUNTS
    from trainers.tasks.clock import ClockConfig

    heads = get_args(get_type_hints(ClockConfig)["head"])
    return tuple((head, classes) for head in heads
                 for classes in (CLASS_COUNTS if head == "classification" else (None,)))


def representation_name(head: str, classes: int | None) -> str:
    return f"{head}-{classes}" if head == "classification" else head


def jobs(fidelity: Fidelity) -> list[output.Job]:
    from sweeps.spec import load_spec

    spec = load_spec(STUDY)
    prior = dict(spec.start_with[0]) if spec.start_with else {}
    result = []
    for seed in fidelity.seeds:
        for head, classes in fidelity.representations or all_representations():
            params = {**spec.fixed, **prior, **fidelity.overrides, "head": head, "seed": seed,
                      **({"classes": classes} if classes else {})}
            name = representation_name(head, classes)
            result.append(output.Job(spec.task, params, f"{name} seed {seed}",
                                     {"representation": name, "head": head, "classes": classes, "seed": seed}))
    return result


def simultaneous_confidence(representations: int, level: float = 0.95) -> float:
    """Each 'vs best' interval's confidence so that all of them hold together at `level` (Bonferroni over the
    representations - 1 comparisons with the best, which was itself picked from the same data: an uncorrected
    interval would find a winner among 14 by chance)."""
    return 1 - (1 - level) / max(1, representations - 1)


@dataclass
class RepresentationTable:
    table: pd.DataFrame  # one row per representation, best (lowest mean error) first
    best: str


def compute(evaluations: pd.DataFrame) -> RepresentationTable:
    """Mean and median error per representation over seeds (t intervals), and each one's paired (same seed, same
    split) difference from the best."""
    import pandas as pd

    from analysis import stats

    rows = []
    for name, group in evaluations.groupby("representation", sort=False):
        mean, median = stats.t_interval(group["test_cse_minutes"]), stats.t_interval(group["test_cse_median"])
        rows.append({"representation": name, "head": group["head"].iloc[0], "classes": group["classes"].iloc[0],
                     "seeds": int(group["test_cse_minutes"].notna().sum()), "failed": int((group["error"] != "").sum()),
                     "mean error": mean.value, "mean low": mean.low, "mean high": mean.high,
                     "median error": median.value, "median low": median.low, "median high": median.high,
                     "train error": float(group["train_cse_minutes"].mean()),
                     "epochs": float(group["epochs"].mean())})
    table = pd.DataFrame(rows).sort_values("mean error", na_position="last", kind="stable").reset_index(drop=True)
    best = str(table.iloc[0]["representation"])
    by_seed = evaluations.pivot_table(index="seed", columns="representation", values="test_cse_minutes")
    confidence = simultaneous_confidence(len(table))
    differences = [stats.paired_difference(by_seed[name].to_numpy(float), by_seed[best].to_numpy(float), confidence)
                   if name in by_seed and best in by_seed else stats.NAN_ESTIMATE for name in table["representation"]]
    table["vs best"] = [difference.value for difference in differences]
    table["vs best low"] = [difference.low for difference in differences]
    table["vs best high"] = [difference.high for difference in differences]
    table["near chance"] = table["mean error"] >= NEAR_CHANCE * CHANCE_MINUTES
    return RepresentationTable(table, best)


def numbers(result: RepresentationTable) -> dict[str, Any]:
    representations = {}
    for row in result.table.to_dict("records"):
        representations[row["representation"]] = {
            "seeds": row["seeds"], "failed": row["failed"],
            "mean_error": {"value": row["mean error"], "low": row["mean low"], "high": row["mean high"]},
            "median_error": {"value": row["median error"], "low": row["median low"], "high": row["median high"]},
            "vs_best": {"value": row["vs best"], "low": row["vs best low"], "high": row["vs best high"]},
            "train_error": row["train error"], "epochs": row["epochs"], "near_chance": bool(row["near chance"])}
    return {"metric": "test/cse_minutes", "chance_minutes": CHANCE_MINUTES, "best": result.best,
            "representations": representations}


def summarize(out_dir: Path) -> dict[str, Any]:
    return numbers(compute(output.read_evaluations(out_dir)))


def lines(result: RepresentationTable) -> list[str]:
    from analysis.stats import Estimate

    table = result.table
    seeds = int(table["seeds"].max())
    tied = [row["representation"] for row in table.to_dict("records")[1:]
            if Estimate(row["vs best"], row["vs best low"], row["vs best high"]).sign == 0]
    comparisons = max(1, len(table) - 1)
    text = [f"Test common-sense error in minutes (chance {CHANCE_MINUTES:.0f}), mean over {seeds} seeds with 95% t "
            "intervals; 'vs best' is the paired (same seed, same split) difference from the best representation, "
            f"its intervals simultaneous over the {comparisons} comparisons (Bonferroni: each at "
            f"{simultaneous_confidence(len(table)) * 100:.2f}%). Interval ends outside the error's range "
            f"[0, {MAX_MINUTES:.0f}] are clipped and marked *.", "",
            f"- Lowest mean error: **{result.best}**"
            + (f"; not distinguishable from it (interval spans 0): {', '.join(tied)}" if tied else "")
            + (f". With {seeds} seeds the intervals are wide." if seeds <= 3 else "."),
            f"- Near chance (mean >= {NEAR_CHANCE * CHANCE_MINUTES:.0f} min): "
            f"{', '.join(table.loc[table['near chance'], 'representation']) or 'none'}."
            + (" Every representation is near chance: this budget cannot rank them." if table["near chance"].all()
               else ""), "",
            *output.markdown_header("representation", "mean error (min)", "median error (min)", "vs best (min)",
                                    "train error", "epochs")]
    for row in table.to_dict("records"):
        mean, median = (_shown_interval(row[f"{kind} low"], row[f"{kind} high"]) for kind in ("mean", "median"))
        text.append(f"| {row['representation']} | {row['mean error']:.1f} {mean} | {row['median error']:.1f} {median} "
                    "| "
                    f"{row['vs best']:+.1f} [{row['vs best low']:+.1f}, {row['vs best high']:+.1f}] | "
                    f"{row['train error']:.1f} | {row['epochs']:.1f} |")
    return text


def _shown_interval(low: float, high: float) -> str:
    """`[low, high]` of an error interval, each end clipped to [0, MAX_MINUTES] and marked * where it was cut."""
    def end(value: float) -> str:
        clipped = min(max(value, 0.0), MAX_MINUTES)
        return f"{clipped:.1f}" + ("*" if clipped != value else "")

    return f"[{end(low)}, {end(high)}]"


def _clipped(values: Any) -> Any:
    """A t-interval end clipped to the error's range [0, 360] minutes (the figure marks where it was cut)."""
    return values.clip(0.0, MAX_MINUTES)


def draw_png(result: RepresentationTable, path: Path) -> list[Path]:
    plt = output.pyplot()
    table = result.table
    figure, axis = plt.subplots(figsize=(8, 0.35 * len(table) + 1.8))
    positions = list(range(len(table)))
    low, high = _clipped(table["mean low"]), _clipped(table["mean high"])
    axis.barh(positions, table["mean error"], xerr=[table["mean error"] - low, high - table["mean error"]],
              capsize=3, color="tab:blue", alpha=0.7, label="mean error (95% t interval)")
    below = [position + 0.25 for position in positions]  # beside the mean's interval, not on it
    median_low, median_high = _clipped(table["median low"]), _clipped(table["median high"])
    axis.errorbar(table["median error"], below, xerr=[table["median error"] - median_low,
                                                      median_high - table["median error"]],
                  fmt="D", color="black", capsize=2, label="median error (95% t interval)")
    cut: list[tuple[float, float, str]] = []
    for position, row in zip(positions, table.to_dict("records"), strict=True):  # a clipped interval is marked
        for key, offset in (("mean", 0.0), ("median", 0.25)):
            if row[f"{key} low"] < 0:
                cut.append((0.0, position + offset, "<"))
            if row[f"{key} high"] > MAX_MINUTES:
                cut.append((MAX_MINUTES, position + offset, ">"))
    for x, y, marker in cut:
        axis.plot([x], [y], marker=marker, color="tab:red", markersize=7, linestyle="none")
    for marker, words in (("<", "interval clipped at 0"), (">", f"interval clipped at {MAX_MINUTES:.0f}")):
        if any(item[2] == marker for item in cut):
            axis.plot([], [], marker=marker, color="tab:red", linestyle="none", label=words)
    axis.axvline(CHANCE_MINUTES, linestyle=":", color="grey", label="chance")
    axis.set_xlim(0, MAX_MINUTES)
    axis.set_yticks(positions, table["representation"])
    axis.invert_yaxis()
    axis.set_xlabel("test common-sense error (minutes; 0 to the largest possible, 360)")
    axis.legend(fontsize=8, loc="upper right")  # the best (shortest) bars are at the top
    return [output.save_png(figure, path)]


def render(result: RepresentationTable) -> Any:
    import plotly.graph_objects as go

    table = result.table
    figure = go.Figure([
        go.Bar(name="mean error", y=table["representation"], x=table["mean error"], orientation="h",
               error_x={"type": "data", "symmetric": False, "array": table["mean high"] - table["mean error"],
                        "arrayminus": table["mean error"] - table["mean low"]}),
        go.Scatter(name="median error", y=table["representation"], x=table["median error"], mode="markers",
                   error_x={"type": "data", "symmetric": False, "array": table["median high"] - table["median error"],
                            "arrayminus": table["median error"] - table["median low"]})])
    figure.add_vline(x=CHANCE_MINUTES, line_dash="dot")
    figure.update_layout(title="clock label representations: test error, 95% t intervals over seeds",
                         xaxis_title="common-sense error (minutes)", yaxis={"autorange": "reversed"})
    return figure


def report(evaluations: pd.DataFrame) -> output.Report:
    result = compute(evaluations)
    return output.Report({"representations": result.table}, "clock_representations", partial(draw_png, result),
                         [render(result)], "clock representations", numbers(result), lines(result),
                         "Clock label representations")


run = output.training_run(NAME, FIDELITIES, jobs, METRICS, report)


FINDING = Finding(
    name=NAME,
    description="which label representation (regression, classification at each class count, multi-head, "
                "periodic, ...) reads the clock best at equal data and CPU time?",
    fidelities={name: fidelity.text for name, fidelity in FIDELITIES.items()},
    cpu_minutes=45.0,
    run=run,
    summarize=summarize,
)
