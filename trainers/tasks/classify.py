"""Image classification (MNIST, Fashion-MNIST, CIFAR-10) with Géron's and the Keras examples' MLP/CNN."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np

import datasets
from trainers.config import ConfigError
from trainers.fit import standard_callbacks
from trainers.images import tile
from trainers.models.classifiers import MODELS, build_classifier
from trainers.optimizers import build_optimizer
from trainers.registry import Task, register_task
from trainers.reporter import Reporter

ModelName = Literal["geron_mlp", "geron_cnn", "keras_mlp", "keras_cnn"]


@dataclass
class ClassifyConfig:
    """Every knob of the image-classification studies. Defaults are overridden by the chosen model's preset."""

    # data
    dataset: str = "fashion_mnist"
    subset: int = 0  # training examples kept (0 = all); validation shrinks in proportion
    test_subset: int = 0  # test examples evaluated once at the end (0 = all)
    validation_fraction: float = 0.1  # carved from the training set with `seed`
    permute_pixels: bool = False  # one fixed random permutation of all pixels (same for every split)
    permutation_seed: int = 0
    seed: int = 0  # weights, split and shuffling
    # architecture
    model: ModelName = "geron_cnn"
    kernel_initializer: str = "glorot_uniform"
    activation: str = "relu"
    batch_norm: bool = False
    kernel_l1: float = 0.0
    kernel_l2: float = 0.0
    bias_l1: float = 0.0
    bias_l2: float = 0.0
    input_dropout: float = 0.0  # MLP only
    dense_layers: int = 2
    dense_units: int = 300  # width of the first hidden dense layer
    dense_shrink: float = 1.0  # width ratio from one dense layer to the next
    dense_dropout: float = 0.0
    conv_filters: int = 64  # CNN only, from here down: filters of the stem conv
    stem_kernel_size: int = 7
    stem_pool: bool = True
    conv_blocks: int = 2  # blocks after the stem, each ending in a pool
    convs_per_block: int = 2
    filter_growth: float = 2.0  # filter multiplier per block
    kernel_size: int = 3
    strides: int = 1
    padding: Literal["same", "valid"] = "same"
    pooling: Literal["max", "avg", "none"] = "max"
    pool_size: int = 2
    conv_dropout: float = 0.0
    # optimisation
    optimizer: Literal["sgd", "rmsprop", "adam", "adamw", "nadam", "adadelta"] = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0  # sgd, rmsprop
    nesterov: bool = False  # sgd
    rho: float = 0.9  # rmsprop, adadelta
    beta_1: float = 0.9  # adam, adamw, nadam
    beta_2: float = 0.999
    weight_decay: float = 0.004  # adamw
    loss: Literal["sparse_categorical_crossentropy", "categorical_crossentropy", "mse"] = (
        "sparse_categorical_crossentropy")
    label_smoothing: float = 0.0  # categorical_crossentropy only
    batch_size: int = 32  # examples per step
    epochs: int = 10
    patience: int = 0  # early stopping on val accuracy, restoring the best weights (0 = off)
    steps_per_execution: int = 1  # training steps fused per compiled call (faster on GPU)
    jit_compile: bool = False  # XLA-compile the train step on TensorFlow (JAX always compiles)
    fit_mode: Literal["keras", "scan"] = "keras"  # scan: one compiled call per epoch, data on device (JAX only)
    save_model: bool = False  # write model.keras into the run directory

    def validate(self) -> None:
        checks = {
            "validation_fraction": 0 < self.validation_fraction < 1,
            "learning_rate": self.learning_rate > 0,
            "batch_size": self.batch_size >= 1,
            "epochs": self.epochs >= 1,
            "dense_layers": self.dense_layers >= 0,
            "dense_units": self.dense_units >= 1,
            "conv_blocks": self.conv_blocks >= 0,
            "convs_per_block": self.convs_per_block >= 1,
            "conv_filters": self.conv_filters >= 1,
            "kernel_size": self.kernel_size >= 1,
            "strides": self.strides >= 1,
            "pool_size": self.pool_size >= 1,
            "steps_per_execution": self.steps_per_execution >= 1,
        }
        if self.fit_mode == "scan" and keras.backend.backend() != "jax":
            raise ConfigError(f"fit_mode: scan needs KERAS_BACKEND=jax (this process uses {keras.backend.backend()})")
        for name in ("dense_dropout", "conv_dropout", "input_dropout", "label_smoothing"):
            checks[name] = 0.0 <= getattr(self, name) < 1.0
        for name in ("kernel_l1", "kernel_l2", "bias_l1", "bias_l2", "momentum"):
            checks[name] = getattr(self, name) >= 0
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"{bad[0]}: value {getattr(self, bad[0])!r} is out of range")


def model_presets(values: Mapping[str, Any]) -> Mapping[str, Any]:
    model = values.get("model", ClassifyConfig.model)
    if model not in MODELS:
        raise ConfigError(f"model: expected one of {sorted(MODELS)}, got {model!r}")
    return MODELS[model][1]


def prepare_splits(config: ClassifyConfig) -> tuple[datasets.Splits, datasets.Dataset]:
    """Load, optionally pixel-permute, and split the dataset the config names."""
    data = datasets.load(config.dataset)
    if config.permute_pixels:
        from datasets.transforms import permute_dataset

        data = permute_dataset(data, config.permutation_seed)
    return datasets.split(data, config.validation_fraction, config.subset, config.test_subset, config.seed), data


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
    """Up to `count` validation images the model gets wrong (the first ones, for a stable picture), tiled."""
    predicted = np.argmax(model.predict(images[:2048], batch_size=1024, verbose=0), axis=-1)
    wrong = np.flatnonzero(predicted != labels[: len(predicted)])[:count]
    return tile(images[wrong] if len(wrong) else images[:1], columns=8)


def train(config: ClassifyConfig, reporter: Reporter, run_dir: Path | None = None) -> dict[str, float]:
    """Fit on train, validate every epoch, evaluate the test set once at the end."""
    keras.utils.set_random_seed(config.seed)
    splits, data = prepare_splits(config)
    scale = np.float32(1.0 / 255.0)
    x_train, x_val = splits.x_train.astype("float32") * scale, splits.x_val.astype("float32") * scale
    y_train, y_val = (_targets(labels, config, data.num_classes) for labels in (splits.y_train, splits.y_val))
    model = build_classifier(config, data.input_shape, data.num_classes)
    model.compile(optimizer=build_optimizer(config), loss=_loss_function(config), metrics=["accuracy"],
                  steps_per_execution=config.steps_per_execution,
                  jit_compile=config.jit_compile or keras.backend.backend() == "jax")
    if config.fit_mode == "scan":
        from trainers.scan_fit import scan_fit

        history = scan_fit(model, _loss_function(config), x_train, y_train, x_val, y_val, epochs=config.epochs,
                           batch_size=config.batch_size, seed=config.seed, reporter=reporter, patience=config.patience)
    else:
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=config.epochs,
                            batch_size=config.batch_size, verbose=0,
                            callbacks=standard_callbacks(reporter, config.patience))
    val = model.evaluate(x_val, y_val, batch_size=1024, verbose=0, return_dict=True)
    reporter.log_images("val/misclassified", misclassified_grid(model, x_val, splits.y_val))
    test = model.evaluate(splits.x_test.astype("float32") * scale, _targets(splits.y_test, config, data.num_classes),
                          batch_size=1024, verbose=0, return_dict=True)
    if run_dir is not None and config.save_model:
        model.save(Path(run_dir) / "model.keras")
    return {
        "val/accuracy": float(val["accuracy"]), "val/loss": float(val["loss"]),
        "test/accuracy": float(test["accuracy"]), "test/loss": float(test["loss"]),
        "train/epochs": float(len(history.history.get("loss", []))), "model/params": float(model.count_params()),
    }


register_task(Task(
    name="classify",
    config_type=ClassifyConfig,
    train=train,
    objective="val/accuracy",
    direction="maximize",
    description="image classification on mnist / fashion_mnist / cifar10 with Géron's and Keras' MLP and CNN",
    directions={"val/loss": "minimize"},
    presets=model_presets,
    smoke={"dataset": "mnist", "model": "geron_mlp", "subset": 300, "test_subset": 200, "epochs": 1,
           "dense_units": 32, "batch_size": 64},
))
