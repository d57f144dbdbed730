"""Image grids: tile a batch into one picture, save it as PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from datasets.atomic import atomic_write, make_folder


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (or uint8) -> uint8, clipped."""
    if images.dtype == np.uint8:
        return images
    return (np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)


def tile(images: np.ndarray, columns: int = 8, padding: int = 2) -> np.ndarray:
    """Tile N images (N,H,W[,C]) into one grid image (rows x columns), padding between tiles."""
    images = to_uint8(np.asarray(images))
    if images.ndim == 3:
        images = images[..., None]
    count, height, width, channels = images.shape
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, channels), 255,
                   dtype=np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid[..., 0] if channels == 1 else grid


def save_png(path: Path, image: np.ndarray) -> Path:
    """Write `image` as a PNG through the write door (whole or not at all; never through a link)."""
    path = Path(path)
    make_folder(path.parent)
    image = to_uint8(np.asarray(image))
    if image.ndim == 3 and image.shape[-1] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    def write(temporary: str) -> None:
        if not cv2.imwrite(temporary, image):
            raise OSError(f"could not write {path}")

    return atomic_write(path, write)
