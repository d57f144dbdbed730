"""Image classification (MNIST, Fashion-MNIST, CIFAR-10) with Géron's and the Keras examples' MLP/CNN."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from trainers.choices import Activation, Initializer
from trainers.config import ConfigError
from trainers.models.presets import MODEL_PRESETS
from trainers.optimizer_config import OptimizerConfig
from trainers.registry import Task, lazy, register_task

ModelName = Literal["geron_mlp", "geron_cnn", "keras_mlp", "keras_cnn", "cpu_mlp", "cpu_cnn"]


@dataclass
class ClassifyConfig(OptimizerConfig):
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
    kernel_initializer: Initializer = "glorot_uniform"
    activation: Activation = "relu"
    batch_norm: bool = False
    # Keras' default 0.99 leaves the moving statistics mostly at their initial values after the ~100 steps of a
    # short trial, so validation (which uses them) collapses while training accuracy rises; 0.9 has caught up.
    batch_norm_momentum: float = 0.9
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
    # augmentation of training images inside the model (Keras preprocessing layers: every backend; off at inference)
    augment_shift: float = 0.0  # random translation up to this fraction of the side, zero-filled (0 = off)
    augment_flip: bool = False  # random left-right flips (garments, CIFAR-10 objects; not digits)
    # optimisation (optimizer, learning rate and schedule: OptimizerConfig)
    loss: Literal["sparse_categorical_crossentropy", "categorical_crossentropy", "mse"] = (
        "sparse_categorical_crossentropy")
    label_smoothing: float = 0.0  # categorical_crossentropy only
    batch_size: int = 32  # examples per step
    epochs: int = 10
    # wall-clock minutes of training (0 = no limit): stop at the step that passes it; with the cosine schedule,
    # the schedule is re-planned from measured step times to end annealed within it (the refit's budget in minutes)
    train_minutes: float = 0.0
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
        if self.fit_mode == "scan":
            import keras

            backend = keras.backend.backend()
            if backend != "jax":
                raise ConfigError(f"fit_mode: scan needs KERAS_BACKEND=jax (this process uses {backend})")
        for name in ("dense_dropout", "conv_dropout", "input_dropout", "label_smoothing", "batch_norm_momentum"):
            checks[name] = 0.0 <= getattr(self, name) < 1.0
        for name in ("kernel_l1", "kernel_l2", "bias_l1", "bias_l2", "momentum", "warmup_epochs"):
            checks[name] = getattr(self, name) >= 0
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"{bad[0]}: value {getattr(self, bad[0])!r} is out of range")


def model_presets(values: Mapping[str, Any]) -> Mapping[str, Any]:
    model = values.get("model", ClassifyConfig.model)
    if model not in MODEL_PRESETS:
        raise ConfigError(f"model: expected one of {sorted(MODEL_PRESETS)}, got {model!r}")
    return MODEL_PRESETS[model]


register_task(Task(
    name="classify",
    config_type=ClassifyConfig,
    train=lazy("trainers.classification:train"),
    objective="val/accuracy",
    direction="maximize",
    description="image classification on mnist / fashion_mnist / cifar10 with Géron's and Keras' MLP and CNN",
    directions={"val/loss": "minimize"},
    presets=model_presets,
    smoke={"dataset": "mnist", "model": "geron_mlp", "subset": 300, "test_subset": 200, "epochs": 1,
           "dense_units": 32, "batch_size": 64},
))
