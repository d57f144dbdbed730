"""Seconds per epoch of Géron's MLP and CNN on Fashion-MNIST: a notebook's plain `model.fit` vs the platform trainer.

Both train the same architecture on the same examples with the same batch size, in the same process, so the
ratio is meaningful; absolute numbers only compare within one machine. First epochs (tracing/compilation) are
reported apart from steady-state epochs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

import datasets
import trainers
from benchmarks.machine import write_result
from trainers.models.classifiers import build_classifier
from trainers.reporter import Reporter


class EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter() - self.started)


class TimingReporter(Reporter):
    """A reporter that timestamps each epoch report of the platform trainer."""

    def __init__(self) -> None:
        self.stamps = [time.perf_counter()]
        self.metrics: dict[str, float] = {}

    def report(self, step: int, metrics: dict[str, float]) -> None:
        self.stamps.append(time.perf_counter())
        self.metrics = metrics



def summarise(times: list[float]) -> dict[str, float]:
    steady = times[1:] or times
    return {"first_epoch_s": round(times[0], 3), "steady_epoch_s": round(statistics.median(steady), 4),
            "epochs": len(times)}


def plain_fit(model_name: str, x: np.ndarray, y: np.ndarray, x_val, y_val, epochs: int, batch_size: int) -> dict:
    """What a notebook does: build, compile with defaults, model.fit."""
    config = trainers.resolve_config(trainers.get_task("classify"), {"model": model_name})
    model = build_classifier(config, x.shape[1:], 10)
    model.compile(optimizer="nadam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    history = model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch_size, verbose=0,
                        callbacks=[timer])
    return {**summarise(timer.times), "val_accuracy": round(float(history.history["val_accuracy"][-1]), 4)}


def platform_fit(model_name: str, subset: int, epochs: int, batch_size: int, overrides: dict) -> dict:
    reporter = TimingReporter()
    result = trainers.run("classify", {"dataset": "fashion_mnist", "model": model_name, "subset": subset,
                                       "epochs": epochs, "batch_size": batch_size, "optimizer": "nadam",
                                       "learning_rate": 1e-3, **overrides}, reporter)
    times = list(np.diff(reporter.stamps))
    times[0] = reporter.stamps[1] - reporter.stamps[0]  # includes data loading and compilation, like plain fit's
    return {**summarise(times), "val_accuracy": round(result.metrics["val/accuracy"], 4), "settings": overrides}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp-subset", type=int, default=54000, help="training examples for the MLP")
    parser.add_argument("--cnn-subset", type=int, default=2000, help="training examples for the CNN (slow on CPU)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    data = datasets.load("fashion_mnist")
    results = {}
    platform_settings = {"steps_per_execution": 32, "jit_compile": True}
    for model_name, subset in (("geron_mlp", args.mlp_subset), ("geron_cnn", args.cnn_subset)):
        splits = datasets.split(data, 0.1, subset, 0, seed=0)
        scale = np.float32(1 / 255)
        plain = plain_fit(model_name, splits.x_train * scale, splits.y_train, splits.x_val * scale, splits.y_val,
                          args.epochs, args.batch_size)
        tuned = platform_fit(model_name, subset, args.epochs, args.batch_size, platform_settings)
        results[model_name] = {"train_examples": len(splits.x_train), "batch_size": args.batch_size,
                               "plain_model_fit": plain, "platform_trainer": tuned,
                               "steady_speedup": round(plain["steady_epoch_s"] / tuned["steady_epoch_s"], 3)}
        print(model_name, results[model_name], flush=True)
    path = write_result("fit_speed", {"results": results})
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
