"""Side effects of generative training, as Keras callbacks: image grids every epoch, quality metrics, and
interpolation grids at the end. Grids go to `reporter.log_images`, which the runner also saves as PNG."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from datasets.images import tile
from trainers.generative.figures import linear_path
from trainers.reporter import Reporter

ImageFunction = Callable[[], np.ndarray]


def interpolation_grid(decode: Callable[[np.ndarray], np.ndarray], starts: np.ndarray, ends: np.ndarray,
                       steps: int = 8) -> np.ndarray:
    """One row per (start, end) latent pair, `steps` decoded images along the straight line between them."""
    latents = np.concatenate([linear_path(start, end, steps) for start, end in zip(starts, ends, strict=True)])
    return tile(decode(latents.astype("float32")), columns=steps)


def side_by_side(originals: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Rows alternate originals and their reconstructions, 8 per row."""
    rows = []
    for start in range(0, len(originals), 8):
        rows += [originals[start:start + 8], reconstructions[start:start + 8]]
    return np.concatenate(rows)


class ImageGridCallback(keras.callbacks.Callback):
    """Every epoch: tile `make_images()` and hand it to the reporter as `name` at step epoch + 1."""

    def __init__(self, reporter: Reporter, name: str, make_images: ImageFunction, columns: int = 8) -> None:
        super().__init__()
        self.reporter, self.name, self.make_images, self.columns = reporter, name, make_images, columns

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.reporter.log_images(self.name, tile(self.make_images(), columns=self.columns), epoch + 1)


class MetricsCallback(keras.callbacks.Callback):
    """Every epoch: add `val_<name>` values from `measures` to the logs, before the reporter reads them."""

    def __init__(self, measures: dict[str, Callable[[], float]]) -> None:
        super().__init__()
        self.measures = measures
        self.last: dict[str, float] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.last = {name: float(measure()) for name, measure in self.measures.items()}
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in self.last.items()})


class FinalGridsCallback(keras.callbacks.Callback):
    """At the end of training: named grids (e.g. interpolations) to the reporter, without a step."""

    def __init__(self, reporter: Reporter, grids: dict[str, Callable[[], np.ndarray]]) -> None:
        super().__init__()
        self.reporter, self.grids = reporter, grids

    def on_train_end(self, logs: dict | None = None) -> None:
        for name, make_grid in self.grids.items():
            self.reporter.log_images(name, make_grid())
