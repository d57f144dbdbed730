"""Input transforms that suit clocks, as model layers (so training, evaluation and saved models agree).

`PolarWarp` resamples the image around its centre (the dial centre when the clock is centred) so that rows are
angles clockwise from 12 o'clock and columns are radii: a hand becomes a horizontal bar whose row is the time.
`CoordinateChannels` appends CoordConv-style x, y and radius maps so convolutions can tell where they are.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers, ops


def polar_grid(size: int, angles: int = 0, radii: int = 0, wrap: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Source (x, y) pixel coordinates, each (angles + 2 * wrap) x radii, of output (row = angle, column = radius)
    in a size x size image (`angles`/`radii` 0: `size`).

    Row `wrap + i` looks along clockwise angle 360 * i / angles degrees from 12 o'clock; the `wrap` rows above and
    below repeat the angles just before 12 and just after it (the dial is a circle: a hand or a 12 o'clock mark near
    the top is whole on both sides). Column j is at radius j / radii of half the side, so column 0 is the image
    centre and the last column nearly touches the inscribed circle.
    """
    angles, radii = angles or size, radii or size
    centre = (size - 1) / 2.0
    theta = 2 * math.pi * np.arange(-wrap, angles + wrap) / angles
    radius = (size / 2.0) * np.arange(radii) / radii
    x = centre + radius[None, :] * np.sin(theta)[:, None]
    y = centre - radius[None, :] * np.cos(theta)[:, None]
    return x, y


def bilinear_taps(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (4, P) and weights (4, P) of bilinear interpolation at (x, y) in a size x size image."""
    x = np.clip(x.ravel(), 0, size - 1)
    y = np.clip(y.ravel(), 0, size - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, size - 1), np.minimum(y0 + 1, size - 1)
    fx, fy = x - x0, y - y0
    indices = np.stack([y0 * size + x0, y0 * size + x1, y1 * size + x0, y1 * size + x1])
    weights = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    return indices.astype(np.int32), weights.astype(np.float32)


@keras.saving.register_keras_serializable(package="sweeplab_clock")
class PolarWarp(layers.Layer):
    """N x S x S x C -> N x (A + 2W) x R x C: rows are angles clockwise from 12 (A of them, plus W wrapped rows each
    side), columns radii from the image centre. A = R = S and W = 0 by default.

    Sampling A angles from a larger S keeps the rim's detail (the 12 o'clock mark, the minute hand's tip) that a
    square S x S warp of a small image loses: the rim is ~3 S pixels long but gets only S rows."""

    def __init__(self, angles: int = 0, radii: int = 0, wrap: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.angles, self.radii, self.wrap = int(angles), int(radii), int(wrap)

    def build(self, input_shape: Any) -> None:
        size = int(input_shape[1])
        if input_shape[2] != size:
            raise ValueError(f"PolarWarp needs square images, got {input_shape}")
        indices, weights = bilinear_taps(*polar_grid(size, self.angles, self.radii, self.wrap), size)
        self.size = size
        self.rows, self.columns = (self.angles or size) + 2 * self.wrap, self.radii or size
        self.indices = ops.convert_to_tensor(indices)
        self.weights_ = ops.convert_to_tensor(weights)
        super().build(input_shape)

    def call(self, images: Any) -> Any:
        channels = ops.shape(images)[-1]
        flat = ops.reshape(images, (-1, self.size * self.size, channels))
        out = 0.0
        for tap in range(4):
            out = out + ops.take(flat, self.indices[tap], axis=1) * self.weights_[tap][None, :, None]
        return ops.reshape(out, (-1, self.rows, self.columns, channels))

    def compute_output_shape(self, input_shape: Any) -> Any:
        size = int(input_shape[1])
        return (input_shape[0], (self.angles or size) + 2 * self.wrap, self.radii or size, input_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "angles": self.angles, "radii": self.radii, "wrap": self.wrap}


def coordinate_maps(size: int) -> np.ndarray:
    """size x size x 3 float32: x and y in [-1, 1] (right, down) and the radius from the centre."""
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    x, y = np.meshgrid(axis, axis)
    return np.stack([x, y, np.sqrt(x * x + y * y)], axis=-1).astype(np.float32)


@keras.saving.register_keras_serializable(package="sweeplab_clock")
class CoordinateChannels(layers.Layer):
    """N x H x W x C -> N x H x W x (C + 3): appends the `coordinate_maps` of the (square) input."""

    def build(self, input_shape: Any) -> None:
        self.maps = ops.convert_to_tensor(coordinate_maps(int(input_shape[1])))
        super().build(input_shape)

    def call(self, images: Any) -> Any:
        maps = ops.broadcast_to(self.maps[None], (ops.shape(images)[0], *self.maps.shape))
        return ops.concatenate([images, ops.cast(maps, images.dtype)], axis=-1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], input_shape[-1] + 3)
