"""Géron's reference MLP/CNN and the Keras examples mnist_mlp/mnist_cnn, as presets of two configurable builders."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from trainers.models.presets import MODEL_FAMILIES, MODEL_PRESETS


def _regularizers(config: Any) -> dict[str, Any]:
    def pair(l1: float, l2: float):
        return keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None

    return {"kernel_regularizer": pair(config.kernel_l1, config.kernel_l2),
            "bias_regularizer": pair(config.bias_l1, config.bias_l2),
            "kernel_initializer": config.kernel_initializer}


def dense_widths(config: Any) -> list[int]:
    """Widths of the hidden dense layers: `dense_units` shrinking by `dense_shrink` per layer."""
    return [max(1, round(config.dense_units * config.dense_shrink**index)) for index in range(config.dense_layers)]


def _dense_stack(x, config: Any):
    for width in dense_widths(config):
        x = layers.Dense(width, **_regularizers(config))(x)
        if config.batch_norm:
            x = layers.BatchNormalization(momentum=config.batch_norm_momentum)(x)
        x = layers.Activation(config.activation)(x)
        if config.dense_dropout:
            x = layers.Dropout(config.dense_dropout)(x)
    return x


def _output(x, num_classes: int, config: Any):
    return layers.Dense(num_classes, activation="softmax", name="probabilities", **_regularizers(config))(x)


def _augment(x, config: Any):
    """Training-time augmentation the config asks for (identity at inference and when off)."""
    if config.augment_flip:
        x = layers.RandomFlip("horizontal", seed=config.seed)(x)
    if config.augment_shift:
        x = layers.RandomTranslation(config.augment_shift, config.augment_shift, fill_mode="constant",
                                     seed=config.seed)(x)
    return x


def build_mlp(config: Any, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """[augmentation ->] Flatten -> [dropout] -> dense stack -> softmax."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Flatten()(_augment(inputs, config))
    if config.input_dropout:
        x = layers.Dropout(config.input_dropout)(x)
    x = _dense_stack(x, config)
    return keras.Model(inputs, _output(x, num_classes, config), name=config.model)


def _conv(x, filters: int, kernel_size: int, config: Any):
    x = layers.Conv2D(filters, kernel_size, strides=config.strides, padding=config.padding, **_regularizers(config))(x)
    if config.batch_norm:
        x = layers.BatchNormalization(momentum=config.batch_norm_momentum)(x)
    return layers.Activation(config.activation)(x)


def _pool(x, config: Any):
    if config.pooling == "none" or min(x.shape[1:3]) < config.pool_size:
        return x
    pool = layers.MaxPooling2D if config.pooling == "max" else layers.AveragePooling2D
    return pool(config.pool_size)(x)


def build_cnn(config: Any, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """[Augmentation ->] stem conv [-> pool], then `conv_blocks` blocks of `convs_per_block` convs -> pool ->
    dropout; dense head."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv(_augment(inputs, config), config.conv_filters, config.stem_kernel_size, config)
    if config.stem_pool:
        x = _pool(x, config)
    filters = float(config.conv_filters)
    for _ in range(config.conv_blocks):
        filters *= config.filter_growth
        for _ in range(config.convs_per_block):
            if min(x.shape[1:3]) < (config.kernel_size if config.padding == "valid" else 1):
                raise ValueError(f"the conv stack shrinks the {input_shape[0]}x{input_shape[1]} input to nothing; "
                                 "use fewer blocks, padding=same, stride 1 or less pooling")
            x = _conv(x, max(1, round(filters)), config.kernel_size, config)
        x = _pool(x, config)
        if config.conv_dropout:
            x = layers.Dropout(config.conv_dropout)(x)
    x = layers.Flatten()(x)
    x = _dense_stack(x, config)
    return keras.Model(inputs, _output(x, num_classes, config), name=config.model)


# name -> (builder, preset values); the presets live in trainers.models.presets as plain data.
MODELS: dict[str, tuple[Any, dict[str, Any]]] = {
    name: ({"mlp": build_mlp, "cnn": build_cnn}[MODEL_FAMILIES[name]], preset) for name, preset in MODEL_PRESETS.items()
}


def build_classifier(config: Any, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    builder, _ = MODELS[config.model]
    return builder(config, input_shape, num_classes)
