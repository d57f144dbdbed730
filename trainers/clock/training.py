"""Training for the clock task: rendered or real clocks, the dial localiser, the head's targets, fit, evaluation."""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np

import datasets
from datasets.atomic import atomic_write_all
from datasets.clocks import load_clock_arrays, mixture_parts, rendered_clocks, rendered_set_dir
from datasets.clocks.variation import Variation
from trainers.clock.backbone import build_clock_model
from trainers.clock.evaluation import CommonSenseCallback, error_histogram, predict_minutes, worst_predictions
from trainers.clock.heads import HOUR_DECODINGS, Head, make_head
from trainers.clock.localize import LOCALIZER_VERSION, centre_dials
from trainers.clock.metric import common_sense_minutes, error_report, to_minutes
from trainers.clock.predict import InputPreparation, resize_images, save_clock_model, view_outputs
from trainers.fit import standard_callbacks
from trainers.optimizers import build_optimizer
from trainers.reporter import Reporter
from trainers.tasks.clock import OBJECTIVE, ClockConfig
from trainers.time_budget import budget_callbacks, scheduled_rate


def head_of(config: ClockConfig) -> Head:
    return make_head(config.head, classes=config.classes, hour_weight=config.hour_weight,
                     minute_weight=config.minute_weight, label_sigma=config.label_sigma,
                     hour_decoding="given_minute" if config.hour_decoding == "auto" else config.hour_decoding)


def chosen_decoding(config: ClockConfig, head: Head, model: keras.Model, images: np.ndarray,
                    minutes: np.ndarray) -> tuple[Head, dict[str, float]]:
    """With `hour_decoding: auto`, the head with the hour decoding that reads the validation set best, and each
    decoding's validation error; otherwise the head as configured."""
    if config.hour_decoding != "auto" or "hour_decoding" not in head.options:
        return head, {}
    outputs = view_outputs(model, images)[0]  # the plain reading, as the per-epoch objective reads
    candidates = {decoding: make_head(head.name, **{**head.options, "hour_decoding": decoding})
                  for decoding in HOUR_DECODINGS}
    errors = {decoding: float(common_sense_minutes(minutes, candidate.decode(outputs)).mean())
              for decoding, candidate in candidates.items()}
    best = min(errors, key=errors.get)
    return candidates[best], {f"val/cse_minutes_{decoding}": error for decoding, error in errors.items()}


def input_preparation(config: ClockConfig) -> InputPreparation:
    return InputPreparation(localize=config.localize, test_turns=config.turns, test_shift=config.test_shift_pixels)


def _raw_clocks(config: ClockConfig) -> tuple[np.ndarray, np.ndarray]:
    """Real photographs, or the rendered set: each share of a mixture rendered (and cached) on its own, in order."""
    if config.data_dir:
        return load_clock_arrays(Path(config.data_dir))
    shares = [rendered_clocks(n, seed, variation, config.render_workers)
              for n, seed, variation in mixture_parts(config.variation, config.n_images, config.render_seed)]
    return np.concatenate([images for images, _ in shares]), np.concatenate([labels for _, labels in shares])


def _centred_clocks(config: ClockConfig, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Localised photographs, cached beside each rendered share (the localiser takes ~7-20 ms a photograph)."""
    if config.data_dir:
        return centre_dials(images, config.render_workers)
    centred, found, start = [], [], 0
    for n, seed, variation in mixture_parts(config.variation, config.n_images, config.render_seed):
        share = centred_rendered_clocks(images[start:start + n], n, seed, variation, config.render_workers)
        centred.append(share[0])
        found.append(share[1])
        start += n
    return np.concatenate(centred), np.concatenate(found)


def centred_rendered_clocks(images: np.ndarray, n: int, seed: int, variation: Variation,
                            workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The localised photographs of the rendered set (n, seed, variation) and which dials were found: read from
    the cache beside that set, or localised now and cached (`images`: the rendered set itself)."""
    rendered = rendered_set_dir(n, seed, variation)
    directory = rendered.with_name(f"{rendered.name}-centred-{LOCALIZER_VERSION}")
    try:
        return np.load(directory / "images.npy"), np.load(directory / "found.npy")
    except (OSError, ValueError):
        pass
    centred, found = centre_dials(images, workers)
    atomic_write_all({directory / name: (lambda temporary, array=array: np.save(temporary, array))
                      for name, array in (("found.npy", found), ("images.npy", centred))})  # images last
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
    steps_per_epoch = math.ceil(len(splits.x_train) / config.batch_size)
    model.compile(optimizer=build_optimizer(config, steps_per_epoch, scheduled=scheduled_rate(config)),
                  loss=head.loss)
    val_minutes = to_minutes(splits.y_val)
    validation = CommonSenseCallback(head, splits.x_val, val_minutes)
    callbacks = [validation, *standard_callbacks(reporter, config.patience, "val_cse_minutes", "min")]
    callbacks += budget_callbacks(config, steps_per_epoch)
    cpu_started = time.process_time()
    history = model.fit(splits.x_train, head.encode(splits.y_train),
                        validation_data=(splits.x_val, head.encode(splits.y_val)), epochs=config.epochs,
                        batch_size=config.batch_size, verbose=0, callbacks=callbacks)
    fit_cpu_seconds = time.process_time() - cpu_started
    head, decoding_errors = chosen_decoding(config, head, model, splits.x_val, val_minutes)
    test_minutes = to_minutes(splits.y_test)
    test_predicted = predict_minutes(model, head, splits.x_test, input_preparation(config))  # as saved, it reads
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
