"""The clock network: optional label-preserving augmentation, a configurable CNN, and a head's output."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers

from trainers.clock.heads import Head
from trainers.clock.localize import FILL
from trainers.clock.transforms import CoordinateChannels, PolarWarp, RandomDialTilt, RandomDialTurn, WrapRows

ERASED_AREA = (0.02, 0.2)  # `augment_erase`: the share of the image one erased patch covers


def augmentation(config: Any) -> list[layers.Layer]:
    """Extra dial tilt, shift, perspective, brightness, contrast, polarity, erased patches, noise, blur and small
    rotations (the 12 marker turns with the hands, so the reading holds), on the 0-1 grey image before any polar
    warp.

    Active only while training; each knob at 0 switches its layer off.
    """
    stack: list[layers.Layer] = []
    if getattr(config, "augment_tilt_degrees", 0.0) > 0 and not getattr(config, "polar", False):
        # the localised dial as a steeper tilt would leave it (with the polar warp, the warp samples it so itself)
        stack.append(RandomDialTilt(config.augment_tilt_degrees, FILL, seed=getattr(config, "seed", None)))
    if config.augment_shift > 0:
        stack.append(layers.RandomTranslation(config.augment_shift, config.augment_shift, fill_mode="nearest"))
    if config.augment_rotation_degrees > 0:
        stack.append(layers.RandomRotation(config.augment_rotation_degrees / 360.0, fill_mode="nearest"))
    if getattr(config, "augment_perspective", 0.0) > 0:  # a dial the localiser rectified imperfectly (more tilt
        # than training renders, perspective it cannot undo): each side of the localised image's corners moved by
        # up to +-augment_perspective/2 of the side, in about half the images
        stack.append(layers.RandomPerspective(factor=1.0, scale=config.augment_perspective,
                                              seed=getattr(config, "seed", None)))
    if config.augment_brightness > 0:
        stack.append(layers.RandomBrightness(config.augment_brightness, value_range=(0.0, 1.0)))
    if config.augment_contrast > 0:
        stack.append(layers.RandomContrast(config.augment_contrast))
    if getattr(config, "augment_invert", 0.0) > 0:  # each image in negative with this probability: a light dial
        # with dark hands becomes a dark dial with light hands, whatever styles the renderer had
        probability = config.augment_invert
        stack.append(layers.RandomInvert(factor=(probability, probability), value_range=(0.0, 1.0),
                                         seed=getattr(config, "seed", None)))
    if getattr(config, "augment_erase", 0.0) > 0:  # a patch of noise in this share of the images: a hidden mark
        probability = config.augment_erase
        stack.append(layers.RandomErasing(factor=(probability, probability), scale=ERASED_AREA, value_range=(0.0, 1.0),
                                          seed=getattr(config, "seed", None)))
    if getattr(config, "augment_blur", 0.0) > 0:
        kernel = 2 * math.ceil(2 * config.augment_blur) + 1  # +-2 sigma
        stack.append(layers.RandomGaussianBlur(factor=1.0, kernel_size=kernel, sigma=(0.0, config.augment_blur),
                                               value_range=(0.0, 1.0)))
    if getattr(config, "augment_noise", 0.0) > 0:
        stack.append(layers.GaussianNoise(config.augment_noise))
    return stack


def build_clock_model(config: Any, image_size: int, head: Head) -> keras.Model:
    """uint8-range grey images (S x S x 1) -> the head's outputs. Filters grow by `filter_growth` per block."""
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    for layer in augmentation(config):
        x = layer(x)
    polar = getattr(config, "polar", False)
    rows = (getattr(config, "polar_angles", 0) or image_size) if polar else 0  # the polar image's angles
    if polar:  # inside the model: predict and saved models see the same transform
        x = PolarWarp(getattr(config, "polar_angles", 0), getattr(config, "polar_radii", 0),
                      tilt_degrees=getattr(config, "augment_tilt_degrees", 0.0), fill=FILL,
                      seed=getattr(config, "seed", None), name="polar")(x)
        turn = round(rows * getattr(config, "augment_turn_degrees", 0.0) / 360.0)
        if turn > 0:
            x = RandomDialTurn(turn, seed=getattr(config, "seed", None), name="turn")(x)
        if getattr(config, "polar_wrap", 0) > 0:
            x = WrapRows(config.polar_wrap, name="wrap")(x)
    if getattr(config, "coord_channels", False):
        x = CoordinateChannels(rows, getattr(config, "polar_wrap", 0) if polar else 0, name="coordinates")(x)
    filters = float(config.conv_filters)
    for _ in range(config.conv_blocks):
        for _ in range(config.convs_per_block):
            x = layers.Conv2D(round(filters), config.kernel_size, padding="same",
                              use_bias=not config.batch_norm)(x)
            if config.batch_norm:
                x = layers.BatchNormalization(momentum=0.9)(x)  # short runs: statistics must settle fast
            x = layers.Activation(config.activation)(x)
        x = layers.MaxPooling2D(2)(x)
        if config.conv_dropout > 0:
            x = layers.Dropout(config.conv_dropout)(x)
        filters *= config.filter_growth
    pooling = {"global_avg": layers.GlobalAveragePooling2D, "global_max": layers.GlobalMaxPooling2D,
               "flatten": layers.Flatten}
    x = pooling[config.pooling]()(x)
    if config.dense_units > 0:
        x = layers.Dense(config.dense_units, activation=config.activation)(x)
        if config.dense_dropout > 0:
            x = layers.Dropout(config.dense_dropout)(x)
    return keras.Model(inputs, head.output(x), name=f"clock_{head.name}")
