"""Finding `optimizers`: how fast do SGD, RMSprop, Adam and Nadam converge (the MLP on Fashion-MNIST)?

Each optimizer at the learning rate the seed reports used, a constant schedule (so no decay evens them out at the
end), trained for 1, 3 and 9 epochs (separate fits, the same seeds): test accuracy against epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.findings import Finding, output

if TYPE_CHECKING:
    import pandas as pd

NAME = "optimizers"
SLOW = "sgd"


@dataclass(frozen=True)
class Fidelity:
    text: str
    seeds: tuple[int, ...]
    epochs: tuple[int, ...]
    optimizers: dict[str, float]  # optimizer -> learning rate
    base: dict[str, Any]  # classify params shared by every fit


FIDELITIES: dict[str, Fidelity] = {
    # cpu_mlp on every Fashion-MNIST training image (~2 s an epoch here): 4 optimizers x 3 seeds x (1 + 3 + 9)
    # epochs ~ 160 epochs plus 36 model builds and tests, ~10 min on a 2-core CPU. SGD at Géron's 0.01 (no
    # momentum), the others at 1e-3 (the seed reports' best MLPs).
    "cpu": Fidelity(
        text="Fashion-MNIST, cpu_mlp on the full training set, constant learning rate (SGD 0.01, RMSprop/Adam/Nadam "
             "1e-3), 1, 3 and 9 epochs (separate fits), seeds 0-2; full test set",
        seeds=(0, 1, 2), epochs=(1, 3, 9),
        optimizers={"sgd": 0.01, "rmsprop": 1e-3, "adam": 1e-3, "nadam": 1e-3},
        base={"dataset": "fashion_mnist", "model": "cpu_mlp", "subset": 0, "test_subset": 0,
              "lr_schedule": "constant", "warmup_epochs": 0.0}),
    "tiny": Fidelity(
        text="tests only: 300 Fashion-MNIST images, SGD and Adam, 1 and 3 epochs, 2 seeds",
        seeds=(0, 1), epochs=(1, 3), optimizers={"sgd": 0.01, "adam": 1e-3},
        base={"dataset": "fashion_mnist", "model": "cpu_mlp", "subset": 300, "test_subset": 200, "dense_units": 32,
              "lr_schedule": "constant", "warmup_epochs": 0.0}),
}


def jobs(fidelity: Fidelity) -> list[output.Job]:
    result = []
    for seed in fidelity.seeds:
        for optimizer, learning_rate in fidelity.optimizers.items():
            for epochs in fidelity.epochs:
                params = {**fidelity.base, "optimizer": optimizer, "learning_rate": learning_rate, "epochs": epochs,
                          "seed": seed}
                result.append(output.Job("classify", params, f"{optimizer} {epochs} epochs seed {seed}",
                                         {"optimizer": optimizer, "learning_rate": learning_rate, "epochs": epochs,
                                          "seed": seed}))
    return result


def compute(evaluations: pd.DataFrame) -> pd.DataFrame:
    """Per optimizer and epoch count: mean test accuracy (t interval), and the paired (same seed) difference of SGD
    at 3x the epochs minus this optimizer at these epochs (< 0: SGD with 3x the training is still behind)."""
    import pandas as pd

    from analysis import stats

    rows = []
    by_seed = evaluations.pivot_table(index="seed", columns=["optimizer", "epochs"], values="test_accuracy")
    for (optimizer, epochs), group in evaluations.groupby(["optimizer", "epochs"], sort=False):
        accuracy = stats.t_interval(group["test_accuracy"])
        row = {"optimizer": optimizer, "epochs": int(epochs), "seeds": int(group["test_accuracy"].notna().sum()),
               "accuracy": accuracy.value, "low": accuracy.low, "high": accuracy.high,
               "sgd minus this": math.nan, "sgd low": math.nan, "sgd high": math.nan,
               "sgd 3x minus this": math.nan, "sgd 3x low": math.nan, "sgd 3x high": math.nan}
        if optimizer != SLOW and (SLOW, 3 * epochs) in by_seed:
            difference = stats.paired_difference(by_seed[(SLOW, 3 * epochs)].to_numpy(float),
                                                 by_seed[(optimizer, epochs)].to_numpy(float))
            row.update({"sgd 3x minus this": difference.value, "sgd 3x low": difference.low,
                        "sgd 3x high": difference.high})
        if optimizer != SLOW and (SLOW, epochs) in by_seed:
            same = stats.paired_difference(by_seed[(SLOW, epochs)].to_numpy(float),
                                           by_seed[(optimizer, epochs)].to_numpy(float))
            row.update({"sgd minus this": same.value, "sgd low": same.low, "sgd high": same.high})
        rows.append(row)
    return pd.DataFrame(rows)


def numbers(table: pd.DataFrame) -> dict[str, Any]:
    return {"metric": "test/accuracy", "curves": {
        f"{row['optimizer']}/{row['epochs']}": {key: row[key] for key in (
            "seeds", "accuracy", "low", "high", "sgd minus this", "sgd low", "sgd high", "sgd 3x minus this",
            "sgd 3x low", "sgd 3x high")} for row in table.to_dict("records")}}


def summarize(out_dir: Path) -> dict[str, Any]:
    return numbers(compute(output.read_evaluations(out_dir)))


def lines(table: pd.DataFrame) -> list[str]:
    from analysis.stats import Estimate

    seeds = int(table["seeds"].max())
    text = [f"Test accuracy after each number of epochs, mean over {seeds} seeds with 95% t intervals; 'SGD - this' is "
            "SGD minus this optimizer at the same epochs, 'SGD at 3x - this' is SGD trained three times as long minus "
            "this optimizer (paired by seed; an interval below 0 = SGD is behind even with 3x the epochs).", "",
            *output.markdown_header("optimizer", "epochs", "accuracy", "SGD - this (pp)", "SGD at 3x - this (pp)")]
    for row in table.to_dict("records"):
        cells = []
        for key, low, high in (("sgd minus this", "sgd low", "sgd high"),
                               ("sgd 3x minus this", "sgd 3x low", "sgd 3x high")):
            value = row[key]
            cells.append("-" if math.isnan(value) else output.interval_text(Estimate(value, row[low], row[high]), 2,
                                                                          percent=True))
        text.append(f"| {row['optimizer']} | {row['epochs']} | {row['accuracy']:.4f} [{row['low']:.4f}, "
                    f"{row['high']:.4f}] | {cells[0]} | {cells[1]} |")
    return text


def draw_png(table: pd.DataFrame, path: Path) -> list[Path]:
    plt = output.pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for optimizer, group in table.groupby("optimizer", sort=False):
        group = group.sort_values("epochs")
        axis.errorbar(group["epochs"], group["accuracy"], yerr=[group["accuracy"] - group["low"],
                                                                group["high"] - group["accuracy"]],
                      marker="o", capsize=3, label=optimizer)
    axis.set_xscale("log")
    axis.set_xticks(sorted(table["epochs"].unique()), [str(value) for value in sorted(table["epochs"].unique())])
    axis.set_xlabel("epochs")
    axis.set_ylabel("test accuracy (95% t interval)")
    axis.legend()
    return [output.save_png(figure, path)]


def render(table: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure()
    for optimizer, group in table.groupby("optimizer", sort=False):
        group = group.sort_values("epochs")
        figure.add_trace(go.Scatter(x=group["epochs"], y=group["accuracy"], mode="lines+markers", name=optimizer,
                                    error_y={"type": "data", "symmetric": False,
                                             "array": group["high"] - group["accuracy"],
                                             "arrayminus": group["accuracy"] - group["low"]}))
    figure.update_layout(title="test accuracy against epochs (95% t intervals over seeds)", xaxis_type="log",
                         xaxis_title="epochs", yaxis_title="test accuracy")
    return figure


def report(evaluations: pd.DataFrame) -> output.Report:
    table = compute(evaluations)
    return output.Report({"curves": table}, "optimizers", partial(draw_png, table), [render(table)], "optimizers",
                         numbers(table), lines(table), "Optimizers: how fast each converges")


run = output.training_run(NAME, FIDELITIES, jobs, {"test_accuracy": "test/accuracy"}, report)


FINDING = Finding(
    name=NAME,
    description="how fast SGD, RMSprop, Adam and Nadam converge (MLP, Fashion-MNIST; test accuracy vs epochs)",
    fidelities={name: fidelity.text for name, fidelity in FIDELITIES.items()},
    cpu_minutes=10.0,
    run=run,
    summarize=summarize,
)
