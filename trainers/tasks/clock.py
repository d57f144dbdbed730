"""Tell the time from a photograph of an analog clock; every label representation is one `head` value."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keras
import numpy as np

import datasets
from datasets.clocks import load_clock_arrays, rendered_clocks, variation_named
from trainers.clock.backbone import build_clock_model
from trainers.clock.evaluation import CommonSenseCallback, error_histogram, predict_minutes, worst_predictions
from trainers.clock.heads import CLASS_COUNTS, HEADS, HOUR_DECODINGS, Head, make_head
from trainers.clock.localize import LOCALIZER_VERSION, centre_dials
from trainers.clock.metric import common_sense_minutes, error_report, to_minutes
from trainers.clock.predict import InputPreparation, resize_images, save_clock_model
from trainers.config import ConfigError
from trainers.fit import standard_callbacks
from trainers.optimizers import build_optimizer
from trainers.registry import Task, register_task
from trainers.reporter import Reporter

OBJECTIVE = "val/cse_minutes"


@dataclass
class ClockConfig:
    """Every knob of the clock studies."""

    # data
    n_images: int = 18000  # rendered clocks (25 per minute of the 720 at 18000); ignored with data_dir
    data_dir: str = ""  # a directory with images.npy + labels.npy (real photographs); empty = render
    render_seed: int = 0
    variation: Literal["default", "mild", "wide", "none"] = "default"
    render_workers: int = 1  # processes rendering (and localising) an uncached set
    image_size: int = 150  # side the images are resized to (75 trains ~4x faster)
    test_fraction: float = 0.2  # held-out test split, seeded
    validation_fraction: float = 0.1  # carved from the training part
    subset: int = 0  # training examples kept (0 = all)
    seed: int = 0  # split, weights and shuffling
    # input transforms (the localiser runs before the network and is recorded in the saved model's sidecar; the
    # layers run inside the model; so `predict` and saved models apply them too)
    localize: bool = False  # find the dial's rim, centre it and undo the tilt before resizing (trainers.clock.localize)
    polar: bool = False  # resample around the image centre: rows = angle from 12, columns = radius
    coord_channels: bool = False  # append x, y, radius maps (CoordConv) after the optional polar warp
    # label representation
    head: Literal["regression", "regression_circular", "classification", "multi_head", "hands", "periodic",
                  "two_circle"] = "periodic"
    classes: int = 72  # classification only; one of CLASS_COUNTS
    hour_weight: float = 1.0  # multi_head only: weight of the hour cross-entropy
    minute_weight: float = 1.0  # multi_head, hands: weight of the minute loss
    hour_decoding: Literal["argmax", "given_minute", "auto"] = "auto"  # multi_head, hands: the hour read alone or
    # from the hour hand's probability where the minute hand puts it (removes hour slips once minutes are read);
    # auto: trains with given_minute, then keeps whichever reads the validation set better (saved with the model)
    # backbone
    conv_blocks: int = 4  # each block: convs, max pool (halves the side)
    convs_per_block: int = 1
    conv_filters: int = 32  # filters of the first block
    filter_growth: float = 2.0  # filter multiplier per block
    kernel_size: int = 3
    batch_norm: bool = True
    activation: str = "relu"
    conv_dropout: float = 0.0
    pooling: Literal["global_avg", "global_max", "flatten"] = "flatten"
    dense_units: int = 128  # 0 = the head sits on the pooled features
    dense_dropout: float = 0.2
    # augmentation (0 = off)
    augment_shift: float = 0.0  # fraction of the side
    augment_rotation_degrees: float = 0.0
    augment_brightness: float = 0.0
    augment_contrast: float = 0.0
    # optimisation
    optimizer: Literal["sgd", "rmsprop", "adam", "adamw", "nadam", "adadelta"] = "adam"
    learning_rate: float = 1e-3
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: per-epoch decay to ~0 by the last epoch
    momentum: float = 0.0
    nesterov: bool = False
    rho: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    weight_decay: float = 0.004
    batch_size: int = 64
    epochs: int = 20
    train_minutes: float = 0.0  # stop after the epoch that passes this much training time (0 = no limit)
    budget_clock: Literal["wall", "process"] = "wall"  # process: CPU time of all threads (fair on a shared machine)
    patience: int = 0  # early stopping on val/cse_minutes (0 = off); the best epoch's weights are kept anyway
    save_model: bool = True  # model.keras (+ model.head.json) in the run directory
    worst_count: int = 16  # worst test predictions drawn

    def validate(self) -> None:
        checks = {
            "n_images": self.n_images >= 20 or bool(self.data_dir),
            "image_size": 16 <= self.image_size <= 512,
            "test_fraction": 0 < self.test_fraction < 1,
            "validation_fraction": 0 < self.validation_fraction < 1,
            "subset": self.subset >= 0,
            "classes": self.classes in CLASS_COUNTS,
            "conv_blocks": self.conv_blocks >= 0 and self.image_size >> self.conv_blocks >= 1,
            "convs_per_block": self.convs_per_block >= 1,
            "conv_filters": self.conv_filters >= 1,
            "kernel_size": self.kernel_size >= 1,
            "dense_units": self.dense_units >= 0,
            "learning_rate": self.learning_rate > 0,
            "batch_size": self.batch_size >= 1,
            "epochs": self.epochs >= 1,
            "train_minutes": self.train_minutes >= 0,
            "hour_weight": self.hour_weight >= 0,
            "minute_weight": self.minute_weight >= 0,
        }
        for name in ("conv_dropout", "dense_dropout", "augment_shift", "augment_brightness", "augment_contrast"):
            checks[name] = 0.0 <= getattr(self, name) < 1.0
        checks["augment_rotation_degrees"] = 0.0 <= self.augment_rotation_degrees <= 180.0
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            allowed = f" (one of {list(CLASS_COUNTS)})" if bad[0] == "classes" else ""
            raise ConfigError(f"{bad[0]}: value {getattr(self, bad[0])!r} is out of range{allowed}")


def cosine_schedule(learning_rate: float, epochs: int) -> Callable[[int, float], float]:
    """Epoch -> learning rate: half a cosine from `learning_rate` at epoch 0 towards 0 after the last epoch."""
    return lambda epoch, _current: float(learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1))))


class TimeBudget(keras.callbacks.Callback):
    """Ends training after the first epoch that finishes past `minutes` of training (a CPU-sized budget), on the
    wall clock or on the process's CPU time (all threads: equal budgets stay equal on a shared machine)."""

    def __init__(self, minutes: float, clock: str = "wall") -> None:
        super().__init__()
        self.seconds = minutes * 60.0
        self.clock = time.perf_counter if clock == "wall" else time.process_time
        self.started = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = self.clock()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.clock() - self.started >= self.seconds:
            self.model.stop_training = True


def head_of(config: ClockConfig) -> Head:
    return make_head(config.head, classes=config.classes, hour_weight=config.hour_weight,
                     minute_weight=config.minute_weight,
                     hour_decoding="given_minute" if config.hour_decoding == "auto" else config.hour_decoding)


def chosen_decoding(config: ClockConfig, head: Head, model: keras.Model, images: np.ndarray,
                    minutes: np.ndarray) -> tuple[Head, dict[str, float]]:
    """With `hour_decoding: auto`, the head with the hour decoding that reads the validation set best, and each
    decoding's validation error; otherwise the head as configured."""
    if config.hour_decoding != "auto" or "hour_decoding" not in head.options:
        return head, {}
    outputs = np.asarray(model.predict(images, batch_size=256, verbose=0), np.float64)
    candidates = {decoding: make_head(head.name, **{**head.options, "hour_decoding": decoding})
                  for decoding in HOUR_DECODINGS}
    errors = {decoding: float(common_sense_minutes(minutes, candidate.decode(outputs)).mean())
              for decoding, candidate in candidates.items()}
    best = min(errors, key=errors.get)
    return candidates[best], {f"val/cse_minutes_{decoding}": error for decoding, error in errors.items()}


def input_preparation(config: ClockConfig) -> InputPreparation:
    return InputPreparation(localize=config.localize)


def _raw_clocks(config: ClockConfig) -> tuple[np.ndarray, np.ndarray]:
    if config.data_dir:
        return load_clock_arrays(Path(config.data_dir))
    return rendered_clocks(config.n_images, config.render_seed, variation_named(config.variation),
                           config.render_workers)


def _centred_clocks(config: ClockConfig, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Localised photographs, cached beside the rendered set (the localiser takes ~5 ms a photograph)."""
    if config.data_dir:
        return centre_dials(images, config.render_workers)
    variation = variation_named(config.variation)
    directory = datasets.settings.array_cache_dir() / (
        f"clocks-n{config.n_images}-seed{config.render_seed}-{variation.key()}-centred-{LOCALIZER_VERSION}")
    try:
        return np.load(directory / "images.npy"), np.load(directory / "found.npy")
    except (OSError, ValueError):
        pass
    centred, found = centre_dials(images, config.render_workers)
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in (("found.npy", found), ("images.npy", centred)):  # images last: then the entry is whole
        partial = directory / f".{name}.{os.getpid()}"
        with partial.open("wb") as handle:
            np.save(handle, array)
        os.replace(partial, directory / name)  # atomic: concurrent agents never read half a file
    return centred, found


def load_clock_splits(config: ClockConfig) -> tuple[datasets.Splits, float]:
    """Rendered (cached) or real clocks, optionally localised, split 80:20 train/test by `seed`, validation carved
    from train; and the share of photographs whose dial the localiser found (1.0 when it is off)."""
    images, labels = _raw_clocks(config)
    found = np.ones(len(images), bool)
    if config.localize:
        images, found = _centred_clocks(config, images)
    order = np.random.default_rng([config.seed, 80]).permutation(len(images))
    n_test = max(1, round(len(images) * config.test_fraction))
    test, train = order[:n_test], order[n_test:]
    images = resize_images(images, config.image_size)
    data = datasets.Dataset(name="clocks", x_train=images[train], y_train=labels[train], x_test=images[test],
                            y_test=labels[test], class_names=())
    return datasets.split(data, config.validation_fraction, config.subset, 0, config.seed), float(found.mean())


def train(config: ClockConfig, reporter: Reporter, run_dir: Path | None = None) -> dict[str, float]:
    """Fit, reporting val/cse_minutes every epoch; keep the best epoch; score test once; save model + figures."""
    keras.utils.set_random_seed(config.seed)
    splits, dial_found_share = load_clock_splits(config)
    head = head_of(config)
    model = build_clock_model(config, config.image_size, head)
    model.compile(optimizer=build_optimizer(config), loss=head.loss)
    val_minutes = to_minutes(splits.y_val)
    validation = CommonSenseCallback(head, splits.x_val, val_minutes)
    callbacks = [validation, *standard_callbacks(reporter, config.patience, "val_cse_minutes", "min")]
    if config.lr_schedule == "cosine":
        callbacks.append(keras.callbacks.LearningRateScheduler(cosine_schedule(config.learning_rate, config.epochs)))
    if config.train_minutes > 0:
        callbacks.append(TimeBudget(config.train_minutes, config.budget_clock))
    cpu_started = time.process_time()
    history = model.fit(splits.x_train, head.encode(splits.y_train),
                        validation_data=(splits.x_val, head.encode(splits.y_val)), epochs=config.epochs,
                        batch_size=config.batch_size, verbose=0, callbacks=callbacks)
    fit_cpu_seconds = time.process_time() - cpu_started
    head, decoding_errors = chosen_decoding(config, head, model, splits.x_val, val_minutes)
    test_minutes = to_minutes(splits.y_test)
    test_predicted = predict_minutes(model, head, splits.x_test)
    test_errors = common_sense_minutes(test_minutes, test_predicted)
    test_report = error_report(test_minutes, test_predicted, "test")
    seen = slice(0, min(len(splits.x_train), max(len(splits.x_test), 500)))  # a train sample, to see overfitting
    train_errors = common_sense_minutes(to_minutes(splits.y_train[seen]),
                                        predict_minutes(model, head, splits.x_train[seen]))
    epochs = len(history.history.get("loss", []))
    reporter.log_images("test/error_histogram", error_histogram(test_errors), epochs)
    reporter.log_images("test/worst_predictions", worst_predictions(
        splits.x_test[..., 0], test_minutes, test_predicted, config.worst_count), epochs)
    if run_dir is not None and config.save_model:
        save_clock_model(model, head, Path(run_dir) / "model.keras", input_preparation(config))
    return {
        OBJECTIVE: validation.best, **test_report, **decoding_errors, "data/dial_found_share": dial_found_share,
        "train/cse_minutes": float(train_errors.mean()), "train/best_epoch": float(validation.best_epoch + 1),
        "train/epochs": float(epochs), "model/params": float(model.count_params()),
        "time/fit_cpu_seconds": round(fit_cpu_seconds, 1),
    }


register_task(Task(
    name="clock",
    config_type=ClockConfig,
    train=train,
    objective=OBJECTIVE,
    direction="minimize",
    description=f"tell the time from clock photographs; heads: {', '.join(HEADS)}",
    metrics=("test/cse_minutes",),
    directions={"val/loss": "minimize"},
    smoke={"n_images": 200, "image_size": 48, "epochs": 1, "conv_blocks": 2, "conv_filters": 8, "dense_units": 16,
           "batch_size": 32},
))
