"""Training for the image-classification task: data, model, fit, one test evaluation (registered in trainers.tasks)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

import datasets
from datasets.images import tile
from trainers.fit import standard_callbacks
from trainers.models.classifiers import build_classifier
from trainers.optimizers import build_optimizer
from trainers.reporter import Reporter
from trainers.tasks.classify import ClassifyConfig
from trainers.time_budget import budget_callbacks, scheduled_rate


def prepare_splits(config: ClassifyConfig) -> tuple[datasets.Splits, datasets.Dataset]:
    """Load, optionally pixel-permute, and split the dataset the config names."""
    data = datasets.load(config.dataset)
    if config.permute_pixels:
        from datasets.transforms import permute_dataset

        data = permute_dataset(data, config.permutation_seed)
    splits = datasets.split(data, config.validation_fraction, config.subset, config.test_subset, config.seed)
    datasets.check_validation_classes_trained(splits, config.dataset)
    return splits, data


def _targets(labels: np.ndarray, config: ClassifyConfig, num_classes: int) -> np.ndarray:
    if config.loss == "sparse_categorical_crossentropy":
        return labels
    return keras.utils.to_categorical(labels, num_classes).astype("float32")


def _loss_function(config: ClassifyConfig) -> keras.losses.Loss:
    if config.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    if config.loss == "mse":
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy()


def misclassified_grid(model: keras.Model, images: np.ndarray, labels: np.ndarray, count: int = 32) -> np.ndarray:
    """Up to `count` validation images the model gets wrong among the first 512 (a stable picture), tiled.

    One direct call, not `predict`: that would trace a predict function for this one batch (0.2-0.4 s a trial)."""
    probabilities = keras.ops.convert_to_numpy(model(images[:512], training=False))
    predicted = np.argmax(probabilities, axis=-1)
    wrong = np.flatnonzero(predicted != labels[: len(predicted)])[:count]
    return tile(images[wrong] if len(wrong) else images[:1], columns=8)


def _final_validation(model: keras.Model, history: keras.callbacks.History, x_val: np.ndarray, y_val: np.ndarray,
                      config: ClassifyConfig) -> dict[str, float]:
    """The final weights' validation metrics: the last epoch's (fit validated exactly these weights at its end),
    unless early stopping restored other weights or fit did not validate; then one more pass."""
    logs = history.history
    if config.fit_mode == "keras" and config.patience == 0 and logs.get("val_accuracy") and logs.get("val_loss"):
        return {"accuracy": logs["val_accuracy"][-1], "loss": logs["val_loss"][-1]}
    return model.evaluate(x_val, y_val, batch_size=1024, verbose=0, return_dict=True)


def train(config: ClassifyConfig, reporter: Reporter, run_dir: Path | None = None) -> dict[str, float]:
    """Fit on train, validate every epoch, evaluate the test set once at the end."""
    keras.utils.set_random_seed(config.seed)
    splits, data = prepare_splits(config)
    scale = np.float32(1.0 / 255.0)
    x_train, x_val = splits.x_train.astype("float32") * scale, splits.x_val.astype("float32") * scale
    y_train, y_val = (_targets(labels, config, data.num_classes) for labels in (splits.y_train, splits.y_val))
    model = build_classifier(config, data.input_shape, data.num_classes)
    steps_per_epoch = -(-len(x_train) // config.batch_size)
    model.compile(optimizer=build_optimizer(config, steps_per_epoch, scheduled=scheduled_rate(config)),
                  loss=_loss_function(config),
                  metrics=["accuracy"],
                  steps_per_execution=config.steps_per_execution,
                  jit_compile=config.jit_compile or keras.backend.backend() == "jax")
    if config.fit_mode == "scan":
        from trainers.scan_fit import scan_fit

        history = scan_fit(model, _loss_function(config), x_train, y_train, x_val, y_val, epochs=config.epochs,
                           batch_size=config.batch_size, seed=config.seed, reporter=reporter, patience=config.patience)
    else:
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=config.epochs,
                            batch_size=config.batch_size, verbose=0,
                            callbacks=[*standard_callbacks(reporter, config.patience),
                                       *budget_callbacks(config, steps_per_epoch)])
    val = _final_validation(model, history, x_val, y_val, config)
    reporter.log_images("val/misclassified", misclassified_grid(model, x_val, splits.y_val))
    test = model.evaluate(splits.x_test.astype("float32") * scale, _targets(splits.y_test, config, data.num_classes),
                          batch_size=1024, verbose=0, return_dict=True)
    if run_dir is not None and config.save_model:
        model.save(Path(run_dir) / "model.keras")
    return {
        "val/accuracy": float(val["accuracy"]), "val/loss": float(val["loss"]),
        "test/accuracy": float(test["accuracy"]), "test/loss": float(test["loss"]),
        "train/epochs": float(len(history.history.get("loss", []))), "model/params": float(model.count_params()),
        "data/train_examples": float(len(x_train)),
    }
