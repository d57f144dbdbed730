"""Figures a person can look at: image grids upscaled by nearest neighbour with a thin gutter, reconstruction
pairs (inputs above outputs) and latent interpolations, as uint8 arrays ready for `datasets.images.save_png`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from datasets.images import tile, to_uint8

TARGET_SIDE = 112  # pixels an upscaled image is aimed at: 28 px digits x4, 64 px faces x2
GUTTER = 2  # white pixels between tiles (not scaled)


def linear_path(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """`steps` points from `start` to `end` inclusive (rows), for latent interpolation."""
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1.0 - weights) * start[None, :] + weights * end[None, :]


def scale_for(side: int) -> int:
    """The integer nearest-neighbour factor that brings a `side`-pixel image closest to TARGET_SIDE."""
    if side < 1:
        raise ValueError(f"image side must be >= 1, got {side}")
    return max(1, round(TARGET_SIDE / side))


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """N x H x W [x C] -> N x factor*H x factor*W [x C], each pixel repeated (no smoothing)."""
    if factor < 1:
        raise ValueError(f"upscale factor must be >= 1, got {factor}")
    return np.repeat(np.repeat(to_uint8(np.asarray(images)), factor, axis=1), factor, axis=2)


def grid(images: np.ndarray, columns: int = 8, factor: int | None = None, gutter: int = GUTTER) -> np.ndarray:
    """Upscale N images (by `scale_for(side)` unless given) and tile them, `columns` per row."""
    images = np.asarray(images)
    factor = scale_for(images.shape[1]) if factor is None else factor
    return tile(upscale(images, factor), columns=columns, padding=gutter)


def grid_shape(count: int, columns: int, side: int, factor: int, gutter: int = GUTTER) -> tuple[int, int]:
    """(height, width) in pixels of `grid` for `count` square images of `side` pixels."""
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    tile_side = side * factor
    return rows * (tile_side + gutter) + gutter, columns * (tile_side + gutter) + gutter


def reconstruction_rows(inputs: np.ndarray, outputs: np.ndarray, columns: int = 8) -> np.ndarray:
    """Images ordered so a grid with `columns` per row shows each input row directly above its output row."""
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} inputs but {len(outputs)} reconstructions")
    rows = []
    for start in range(0, len(inputs), columns):
        rows += [inputs[start:start + columns], outputs[start:start + columns]]
    return np.concatenate(rows)


def interpolation_images(decode: Callable[[np.ndarray], np.ndarray], starts: np.ndarray, ends: np.ndarray,
                         steps: int = 10) -> np.ndarray:
    """`steps` decoded images per (start, end) latent pair along the straight line between them, row after row."""
    latents = np.concatenate([linear_path(start, end, steps) for start, end in zip(starts, ends, strict=True)])
    return decode(latents.astype("float32"))
