"""Decode predictions to minutes, score them, and draw the error histogram and the worst predictions."""

from __future__ import annotations

import cv2
import keras
import numpy as np

from datasets.clocks.preview import captioned_grid, format_time
from trainers.clock.heads import Head
from trainers.clock.metric import common_sense_minutes
from trainers.clock.predict import InputPreparation, read_views, view_outputs


def predict_minutes(model: keras.Model, head: Head, images: np.ndarray, preparation: InputPreparation | None = None,
                    batch_size: int = 256) -> np.ndarray:
    """Minutes for prepared images, read over `preparation`'s test-time views (the plain view when None)."""
    return read_views(head, view_outputs(model, images, preparation, batch_size))


class CommonSenseCallback(keras.callbacks.Callback):
    """Adds `val_cse_minutes` to the epoch logs (the reporter sends it on as `val/cse_minutes`, the objective)
    and restores the weights of the best epoch when training ends."""

    def __init__(self, head: Head, images: np.ndarray, minutes: np.ndarray, batch_size: int = 256,
                 restore_best: bool = True) -> None:
        super().__init__()
        self.head, self.images, self.minutes, self.batch_size = head, images, minutes, batch_size
        self.restore_best = restore_best
        self.best, self.best_epoch, self.best_weights = float("inf"), -1, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        predicted = predict_minutes(self.model, self.head, self.images, batch_size=self.batch_size)
        error = float(common_sense_minutes(self.minutes, predicted).mean())
        if logs is not None:
            logs["val_cse_minutes"] = error
        if error < self.best:
            self.best, self.best_epoch = error, epoch
            if self.restore_best:
                self.best_weights = self.model.get_weights()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def error_histogram(errors: np.ndarray, bin_minutes: int = 10, width: int = 480, height: int = 240) -> np.ndarray:
    """A bar chart (uint8 grey) of common-sense errors from 0 to 360 minutes."""
    counts, _ = np.histogram(errors, bins=np.arange(0, 361, bin_minutes))
    image = np.full((height, width), 255, np.uint8)
    left, bottom, top = 40, height - 30, 20
    bar = (width - left - 10) / len(counts)
    peak = max(int(counts.max()), 1)
    for index, count in enumerate(counts):
        x0 = int(left + index * bar)
        y0 = int(bottom - (bottom - top) * count / peak)
        cv2.rectangle(image, (x0 + 1, y0), (int(x0 + bar) - 1, bottom), 80, -1)
    cv2.line(image, (left, bottom), (width - 10, bottom), 0, 1)
    cv2.line(image, (left, bottom), (left, top), 0, 1)
    for minutes in (0, 60, 120, 180, 240, 300, 360):
        x = int(left + minutes / bin_minutes * bar)
        cv2.putText(image, str(minutes), (x - 8, bottom + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1, cv2.LINE_AA)
    cv2.putText(image, f"n={peak}", (2, top + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1, cv2.LINE_AA)
    cv2.putText(image, f"common-sense error (min), mean {np.mean(errors):.1f}, median {np.median(errors):.1f}",
                (left, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1, cv2.LINE_AA)
    return image


def worst_predictions(images: np.ndarray, true_minutes: np.ndarray, predicted_minutes: np.ndarray,
                      count: int = 16) -> np.ndarray:
    """A captioned grid of the `count` largest errors: `true>predicted`."""
    errors = common_sense_minutes(true_minutes, predicted_minutes)
    order = np.argsort(-errors)[:count]
    captions = [f"{format_time(true_minutes[i])}>{format_time(predicted_minutes[i])}" for i in order]
    zoom = max(1.0, 100 / images.shape[1])
    return captioned_grid(np.asarray(images)[order].reshape(len(order), *images.shape[1:3]), captions, 8, zoom)
