"""Input transforms that suit clocks, as model layers (so training, evaluation and saved models agree).

`PolarWarp` resamples the image around its centre (the dial centre when the clock is centred) so that rows are
angles clockwise from 12 o'clock and columns are radii: a hand becomes a horizontal bar whose row is the time.
`CoordinateChannels` appends CoordConv-style x, y and radius maps (a polar image: the angle's sine and cosine and
the radius) so convolutions can tell where they are.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers, ops


def polar_grid(size: int, angles: int = 0, radii: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Source (x, y) pixel coordinates, each angles x radii (0: `size`), of output (row = angle, column = radius) in
    a size x size image.

    Row i looks along clockwise angle 360 * i / angles degrees from 12 o'clock; column j at radius j / radii of half
    the side, so column 0 is the image centre and the last column nearly touches the inscribed circle.
    """
    angles, radii = angles or size, radii or size
    centre = (size - 1) / 2.0
    theta = 2 * math.pi * np.arange(angles) / angles
    radius = (size / 2.0) * np.arange(radii) / radii
    x = centre + radius[None, :] * np.sin(theta)[:, None]
    y = centre - radius[None, :] * np.cos(theta)[:, None]
    return x, y


def bilinear_taps(x: Any, y: Any, size: int) -> tuple[Any, Any]:
    """Flat indices (4, ...) and weights (4, ...) of bilinear interpolation at (x, y), arrays or tensors of any one
    shape, in a size x size image (points outside are clamped to the border)."""
    last = float(size - 1)
    x = ops.clip(ops.convert_to_tensor(x, "float32"), 0.0, last)
    y = ops.clip(ops.convert_to_tensor(y, "float32"), 0.0, last)
    x0, y0 = ops.floor(x), ops.floor(y)
    x1, y1 = ops.minimum(x0 + 1, last), ops.minimum(y0 + 1, last)
    fx, fy = x - x0, y - y0
    indices = ops.stack([y0 * size + x0, y0 * size + x1, y1 * size + x0, y1 * size + x1])
    weights = ops.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    return ops.cast(indices, "int32"), weights


def _rim_frame(tilt: Any, distance: float) -> tuple[Any, Any, Any]:
    """Half-width, centre and half-height (N x 1 each, dial radii) of the unit rim tilted by `tilt` about the x axis
    and seen in perspective from `distance` radii: the ellipse the localiser maps back to the unit circle."""
    rim = ops.linspace(0.0, 2 * math.pi, 73)[None, :72]
    depth = distance / (distance + ops.sin(rim) * ops.sin(tilt)[:, None])
    rim_x, rim_y = ops.cos(rim) * depth, ops.sin(rim) * ops.cos(tilt)[:, None] * depth
    top, bottom = ops.max(rim_y, axis=1, keepdims=True), ops.min(rim_y, axis=1, keepdims=True)
    return ops.max(rim_x, axis=1, keepdims=True), (top + bottom) / 2, (top - bottom) / 2


def tilt_points(points: Any, tilt: Any, axis: Any, distance: float, inverse: bool = False) -> Any:
    """N x P x 2 dial points (dial radii, y down) -> where a dial tilted by `tilt` about the direction `axis` (N each,
    radians), seen in perspective and its rim ellipse mapped back to the unit circle, shows them; `inverse`: the
    point of the flat dial shown at each given point."""
    cos_axis, sin_axis = ops.cos(axis)[:, None], ops.sin(axis)[:, None]
    x = points[..., 0] * cos_axis + points[..., 1] * sin_axis  # the tilt turns about this frame's x axis
    y = -points[..., 0] * sin_axis + points[..., 1] * cos_axis
    cos_tilt, sin_tilt = ops.cos(tilt)[:, None], ops.sin(tilt)[:, None]
    half_width, centre, half_height = _rim_frame(tilt, distance)
    if inverse:
        x, y = x * half_width, y * half_height + centre  # the rim's ellipse, then the flat dial behind it
        y = y * distance / (cos_tilt * distance - y * sin_tilt)
        x = x * (distance + y * sin_tilt) / distance
    else:
        depth = distance / (distance + y * sin_tilt)
        x, y = x * depth / half_width, (y * cos_tilt * depth - centre) / half_height
    return ops.stack([x * cos_axis - y * sin_axis, x * sin_axis + y * cos_axis], axis=-1)


def random_tilts(count: Any, max_degrees: float, generator: Any) -> tuple[Any, Any]:
    """Per image a tilt in [0, max_degrees] and the direction of its axis (radians): which side comes nearer."""
    tilt = keras.random.uniform((count,), 0.0, math.radians(max_degrees), seed=generator)
    return tilt, keras.random.uniform((count,), 0.0, 2 * math.pi, seed=generator)


@keras.saving.register_keras_serializable(package="sweeplab_clock")
class PolarWarp(layers.Layer):
    """N x S x S x C -> N x A x R x C: rows are angles clockwise from 12, columns radii from the image centre;
    A = R = S by default.

    Sampling A angles from a larger S keeps the rim's detail (the 12 o'clock mark, the minute hand's tip) that a
    square S x S warp of a small image loses: the rim is ~3 S pixels long but gets only S rows."""

    def __init__(self, angles: int = 0, radii: int = 0, tilt_degrees: float = 0.0, fill: float = 0.92,
                 distance: float = 4.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.angles, self.radii = int(angles), int(radii)
        # training only: each dial sampled as if tilted up to tilt_degrees more (RandomDialTilt's geometry, fused
        # into this one resampling: ~6x fewer points than warping the whole image first)
        self.tilt_degrees, self.fill, self.distance, self.seed = float(tilt_degrees), float(fill), float(distance), seed
        self.generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: Any) -> None:
        size = int(input_shape[1])
        if input_shape[2] != size:
            raise ValueError(f"PolarWarp needs square images, got {input_shape}")
        grid_x, grid_y = polar_grid(size, self.angles, self.radii)
        indices, weights = bilinear_taps(grid_x.ravel(), grid_y.ravel(), size)
        self.size, self.rows, self.columns = size, self.angles or size, self.radii or size
        radius, centre = self.fill * size / 2, (size - 1) / 2
        self.grid = ops.convert_to_tensor(np.stack([grid_x.ravel() - centre, grid_y.ravel() - centre], -1) / radius,
                                          "float32")  # P x 2 in dial radii
        self.indices, self.weights_ = indices, weights
        super().build(input_shape)

    def call(self, images: Any, training: bool | None = None) -> Any:
        channels = ops.shape(images)[-1]
        flat = ops.reshape(images, (-1, self.size * self.size, channels))
        if training and self.tilt_degrees > 0:
            return self._tilted(flat, channels)
        out = 0.0
        for tap in range(4):
            out = out + ops.take(flat, self.indices[tap], axis=1) * self.weights_[tap][None, :, None]
        return ops.reshape(out, (-1, self.rows, self.columns, channels))

    def _tilted(self, flat: Any, channels: Any) -> Any:
        """Bilinear samples of each image at the flat-dial points its random tilt shows at the polar grid."""
        count = ops.shape(flat)[0]
        tilt, axis = random_tilts(count, self.tilt_degrees, self.generator)
        grid = ops.broadcast_to(self.grid[None], (count, *self.grid.shape))
        source = tilt_points(grid, tilt, axis, self.distance, inverse=True) * (self.fill * self.size / 2)
        centre = (self.size - 1) / 2
        indices, weights = bilinear_taps(source[..., 0] + centre, source[..., 1] + centre, self.size)  # 4 x N x P
        out = 0.0
        for tap in range(4):
            index = ops.broadcast_to(indices[tap][..., None], (*ops.shape(indices[tap]), channels))
            out = out + ops.take_along_axis(flat, index, axis=1) * weights[tap][..., None]
        return ops.reshape(out, (-1, self.rows, self.columns, channels))

    def compute_output_shape(self, input_shape: Any) -> Any:
        size = int(input_shape[1])
        return (input_shape[0], self.angles or size, self.radii or size, input_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "angles": self.angles, "radii": self.radii, "tilt_degrees": self.tilt_degrees,
                "fill": self.fill, "distance": self.distance, "seed": self.seed}


@keras.saving.register_keras_serializable(package="sweeplab_clock")
class RandomDialTurn(layers.Layer):
    """Training only: turns each polar image's dial by a random whole number of rows in +-`max_rows` (a cyclic shift
    of the angle axis: exact, no interpolation). Hands and the 12 o'clock mark turn together, so the time is
    unchanged and the network learns to read the hands against the mark at any turn it may meet (`wide` photographs
    are turned up to 45 degrees, the `default` ones 25)."""

    def __init__(self, max_rows: int, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_rows, self.seed = int(max_rows), seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training or self.max_rows <= 0:
            return images
        rows = ops.shape(images)[1]
        shift = keras.random.randint((ops.shape(images)[0], 1), -self.max_rows, self.max_rows + 1,
                                     seed=self.generator)
        index = ops.mod(ops.arange(rows)[None, :] + shift, rows)  # N x A: row i shows row i + shift
        index = ops.broadcast_to(index[:, :, None, None], ops.shape(images))
        return ops.take_along_axis(images, ops.cast(index, "int32"), axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_rows": self.max_rows, "seed": self.seed}


@keras.saving.register_keras_serializable(package="sweeplab_clock")
class WrapRows(layers.Layer):
    """N x A x R x C -> N x (A + 2W) x R x C: the last W rows repeated above, the first W below (the dial is a circle:
    a hand or a 12 o'clock mark near the top is seen whole on both sides)."""

    def __init__(self, rows: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = int(rows)

    def call(self, images: Any) -> Any:
        if self.rows <= 0:
            return images
        return ops.concatenate([images[:, -self.rows:], images, images[:, : self.rows]], axis=1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        rows = None if input_shape[1] is None else input_shape[1] + 2 * self.rows
        return (input_shape[0], rows, *input_shape[2:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rows": self.rows}


def coordinate_maps(size: int) -> np.ndarray:
    """size x size x 3 float32: x and y in [-1, 1] (right, down) and the radius from the centre."""
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    x, y = np.meshgrid(axis, axis)
    return np.stack([x, y, np.sqrt(x * x + y * y)], axis=-1).astype(np.float32)


def polar_coordinate_maps(angles: int, radii: int, wrap: int = 0) -> np.ndarray:
    """(angles + 2 wrap) x radii x 3 float32 for a polar image (rows = angles, `wrap` rows repeated either side):
    the sine and cosine of each row's angle (the wrapped rows carry their own angle, so the maps stay continuous
    round the circle) and each column's radius in [0, 1]."""
    angle = 2 * np.pi * (np.arange(-wrap, angles + wrap, dtype=np.float64) + 0.5) / angles
    radius = np.linspace(0.0, 1.0, radii)
    rows, columns = np.meshgrid(angle, radius, indexing="ij")
    return np.stack([np.sin(rows), np.cos(rows), columns], axis=-1).astype(np.float32)


@keras.saving.register_keras_serializable(package="sweeplab_clock")
class CoordinateChannels(layers.Layer):
    """N x H x W x C -> N x H x W x (C + 3): appends the `coordinate_maps` of the (square) input, or with
    `polar_angles` > 0 the `polar_coordinate_maps` of a polar image with `polar_wrap` wrapped rows (where each row
    stands on the dial, so the network can read a hand's angle as well as see it)."""

    def __init__(self, polar_angles: int = 0, polar_wrap: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.polar_angles, self.polar_wrap = int(polar_angles), int(polar_wrap)

    def build(self, input_shape: Any) -> None:
        if self.polar_angles > 0:
            maps = polar_coordinate_maps(self.polar_angles, int(input_shape[2]), self.polar_wrap)
        else:
            maps = coordinate_maps(int(input_shape[1]))
        if maps.shape[:2] != tuple(input_shape[1:3]):
            raise ValueError(f"CoordinateChannels: maps of {maps.shape[:2]} for an input of {tuple(input_shape[1:3])}")
        self.maps = ops.convert_to_tensor(maps)
        super().build(input_shape)

    def call(self, images: Any) -> Any:
        maps = ops.broadcast_to(self.maps[None], (ops.shape(images)[0], *self.maps.shape))
        return ops.concatenate([images, ops.cast(maps, images.dtype)], axis=-1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (*input_shape[:-1], input_shape[-1] + 3)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "polar_angles": self.polar_angles, "polar_wrap": self.polar_wrap}


@keras.saving.register_keras_serializable(package="sweeplab_clock")
class RandomDialTilt(layers.Layer):
    """Training only: shows the network a localised dial as a more steeply tilted one would come out of the localiser.

    Each dial (a circle of radius `fill` of half the side, centred) is tilted by a random angle in [0, `max_degrees`]
    about a random axis through its centre and seen in perspective from `distance` dial radii, then the rim's
    ellipse is mapped back to the centred circle, as `trainers.clock.localize` maps a photographed rim. What remains
    is what rectifying a real tilt leaves: the hands' pivot off the centre, one side of the dial larger than the
    other. The rim stays where the localiser puts it; the time is unchanged. One homography per image.
    """

    def __init__(self, max_degrees: float, fill: float, distance: float = 4.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_degrees, self.fill, self.distance, self.seed = float(max_degrees), float(fill), float(distance), seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training or self.max_degrees <= 0:
            return images
        count, height, width = ops.shape(images)[0], ops.shape(images)[1], ops.shape(images)[2]
        tilt, axis = random_tilts(count, self.max_degrees, self.generator)
        last = ops.cast(ops.stack([width, height]), "float32") - 1.0  # pixel centres, as PolarWarp samples them
        centre, radius = last / 2.0, self.fill * ops.cast(width, "float32") / 2.0
        corners = ops.convert_to_tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) * last
        start = ops.broadcast_to(corners[None], (count, 4, 2))
        end = centre + tilt_points((start - centre) / radius, tilt, axis, self.distance) * radius
        return ops.image.perspective_transform(images, start, end, fill_value=0.0)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_degrees": self.max_degrees, "fill": self.fill,
                "distance": self.distance, "seed": self.seed}
