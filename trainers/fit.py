"""The fit loop's callbacks: metrics to the reporter every epoch, pruning, NaN guard, early stopping."""

from __future__ import annotations

import math

import keras

from trainers.reporter import Reporter, StopTrial


class NonFiniteLossError(FloatingPointError):
    """Training diverged (NaN or inf loss); the trial fails with this reason."""


def keras_logs_to_metrics(logs: dict) -> dict[str, float]:
    """Keras' `loss`/`val_loss` -> `train/loss`/`val/loss`."""
    metrics = {}
    for key, value in (logs or {}).items():
        name = f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"
        metrics[name] = float(value)
    return metrics


class ReporterCallback(keras.callbacks.Callback):
    """Reports epoch metrics, stops on NaN, and raises StopTrial when the reporter asks (pruning)."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__()
        self.reporter = reporter

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = keras_logs_to_metrics(logs or {})
        self.reporter.report(epoch + 1, metrics)
        loss = metrics.get("train/loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteLossError(f"training loss became {loss} at epoch {epoch + 1}")
        if self.reporter.should_stop():
            raise StopTrial(epoch + 1)


def standard_callbacks(reporter: Reporter, patience: int = 0, monitor: str = "val_accuracy",
                       mode: str = "max") -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [ReporterCallback(reporter)]
    if patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                                       restore_best_weights=True))
    return callbacks
