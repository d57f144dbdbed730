"""Finding `permutation`: does one fixed pixel permutation hurt an MLP (it should not) and a CNN (it should)?"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.findings import Finding, output

if TYPE_CHECKING:
    import pandas as pd

NAME = "permutation"
PERMUTATION_SEED = 0
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


@dataclass(frozen=True)
class Fidelity:
    text: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    models: dict[str, dict[str, Any]]  # family -> classify params (preset + budget)


FIDELITIES: dict[str, Fidelity] = {
    # The CPU presets on every training image (54,000 after the validation split), tested on all 10,000 test
    # images. cpu_mlp needs ~2 s an epoch here, so 10 epochs (~89% on Fashion-MNIST); cpu_cnn ~25 s an epoch, so 3
    # epochs (91.8% on Fashion-MNIST, fashion-cnn.yaml's prior). 2 datasets x 2 families x 2 x 3 seeds = 24 fits,
    # ~25 min of training on a 2-core CPU.
    "cpu": Fidelity(
        text="MNIST and Fashion-MNIST, full training sets, full test sets; cpu_mlp 10 epochs, cpu_cnn 3 epochs; "
             f"one pixel permutation (seed {PERMUTATION_SEED}); seeds 0-2 (24 fits)",
        datasets=("mnist", "fashion_mnist"), seeds=(0, 1, 2),
        models={"mlp": {"model": "cpu_mlp", "subset": 0, "test_subset": 0, "epochs": 10},
                "cnn": {"model": "cpu_cnn", "subset": 0, "test_subset": 0, "epochs": 3}}),
    # tests only: a few hundred images, one epoch
    "tiny": Fidelity(
        text="tests only: 300 MNIST images, 1 epoch, small models, 2 seeds",
        datasets=("mnist",), seeds=(0, 1),
        models={"mlp": {"model": "cpu_mlp", "subset": 300, "test_subset": 200, "epochs": 1, "dense_units": 32,
                        "warmup_epochs": 0.0},
                "cnn": {"model": "cpu_cnn", "subset": 300, "test_subset": 200, "epochs": 1, "conv_filters": 8,
                        "dense_units": 16, "warmup_epochs": 0.0}}),
}


def jobs(fidelity: Fidelity) -> list[output.Job]:
    result = []
    for family, model in fidelity.models.items():
        for dataset in fidelity.datasets:
            for permuted in (False, True):
                for seed in fidelity.seeds:
                    params = {**model, "dataset": dataset, "seed": seed, "permute_pixels": permuted,
                              "permutation_seed": PERMUTATION_SEED}
                    label = f"{family} {dataset} {'permuted' if permuted else 'original'} seed {seed}"
                    result.append(output.Job("classify", params, label, {
                        "model": family, "preset": model["model"], "dataset": dataset, "permuted": permuted,
                        "seed": seed, "epochs": model["epochs"]}))
    return result


def compute(evaluations: pd.DataFrame) -> Any:
    """analysis.permutation's paired (same seed) differences, permuted minus original, from the long table."""
    from analysis.permutation import permutation_info

    scores = evaluations.rename(columns={"test_accuracy": "score"})
    sources = {row.model: f"preset {row.preset}" for row in scores.drop_duplicates("model").itertuples()}
    return permutation_info(scores, "test/accuracy", PERMUTATION_SEED, sources)


def numbers(info: Any) -> dict[str, Any]:
    rows = {}
    for row in info.differences.to_dict("records"):
        rows[f"{row['model']}/{row['dataset']}"] = {
            "seeds": row["seeds"], "original_mean": row["original mean"], "permuted_mean": row["permuted mean"],
            "difference": row["difference"], "low": row["t low"], "high": row["t high"],
            "observed": row["observed"], "expected": row["expected"]}
    return {"metric": "test/accuracy", "permutation_seed": PERMUTATION_SEED, "differences": rows}


def summarize(out_dir: Path) -> dict[str, Any]:
    return numbers(compute(output.read_evaluations(out_dir)))


def lines(info: Any) -> list[str]:
    from analysis.stats import Estimate

    text = ["Test accuracy on original vs permuted pixels (one fixed permutation for every image), paired by seed; "
            "difference = permuted - original in percentage points with its 95% t interval.", "",
            *output.markdown_header("model", "dataset", "original", "permuted", "difference (pp)", "reading",
                                    "expected")]
    for row in info.differences.to_dict("records"):
        estimate = Estimate(row["difference"], row["t low"], row["t high"])
        text.append(f"| {row['model'].upper()} | {DATASET_TITLES.get(row['dataset'], row['dataset'])} | "
                    f"{row['original mean']:.4f} | {row['permuted mean']:.4f} | "
                    f"{output.interval_text(estimate, 2, percent=True)} | "
                    f"{output.effect_words(estimate, int(row['seeds']))} | {row['expected']} |")
    return text


def draw_png(info: Any, path: Path) -> list[Path]:
    plt = output.pyplot()
    table = info.differences
    labels = [f"{row.model.upper()}\n{DATASET_TITLES.get(row.dataset, row.dataset)}" for row in table.itertuples()]
    figure, (bars, forest) = plt.subplots(1, 2, figsize=(11, 4))
    positions = range(len(labels))
    for offset, (name, key) in zip((-0.2, 0.2), (("original", "original"), ("permuted", "permuted")), strict=True):
        bars.bar([p + offset for p in positions], table[f"{key} mean"], 0.4, yerr=table[f"{key} std"], label=name,
                 capsize=3)
    bars.set_xticks(list(positions), labels)
    bars.set_ylim(0.0, 1.0)  # from 0: a cut axis makes a 1-point drop look like half the bar; the sizes are at right
    bars.set_ylabel("test accuracy (mean ± std over seeds)")
    bars.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)  # above the bars, not on one
    forest.errorbar(table["difference"] * 100, list(positions),
                    xerr=[(table["difference"] - table["t low"]) * 100, (table["t high"] - table["difference"]) * 100],
                    fmt="o", capsize=4)
    forest.axvline(0, linestyle=":", color="grey")
    forest.set_yticks(list(positions), [label.replace("\n", " / ") for label in labels])
    forest.invert_yaxis()
    forest.set_xlabel("permuted - original (pp, 95% t interval)")
    return [output.save_png(figure, path)]


def report(evaluations: pd.DataFrame) -> output.Report:
    from analysis.permutation import render

    info = compute(evaluations)
    return output.Report({"differences": info.differences}, "permutation", partial(draw_png, info), render(info),
                         "pixel permutation", numbers(info), lines(info), "Pixel permutation: MLP vs CNN")


run = output.training_run(NAME, FIDELITIES, jobs, {"test_accuracy": "test/accuracy"}, report)


FINDING = Finding(
    name=NAME,
    description="does one fixed pixel permutation leave an MLP unchanged and hurt a CNN (MNIST, Fashion-MNIST)?",
    fidelities={name: fidelity.text for name, fidelity in FIDELITIES.items()},
    cpu_minutes=25.0,
    run=run,
    summarize=summarize,
)
