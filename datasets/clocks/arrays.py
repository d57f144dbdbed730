"""Clock sets on disk in the course format (images.npy N x150x150 uint8, labels.npy N x2), the render cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from datasets import settings
from datasets.atomic import atomic_write_all
from datasets.clocks.render import render_clocks
from datasets.clocks.variation import Variation
from datasets.formats import CorruptDataError, read_npy_array
from datasets.regular_files import NotRegularFileError, open_regular


def validate_images(images: np.ndarray, source: str = "images") -> np.ndarray:
    """N x H x W (or N x H x W x 1) uint8 square images -> N x H x W; anything else is a CorruptDataError."""
    if images.dtype != np.uint8:
        raise CorruptDataError(f"{source}: expected uint8 grey images, got dtype {images.dtype}")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1] != images.shape[2] or images.shape[1] < 8:
        raise CorruptDataError(f"{source}: expected shape (N, 150, 150) (square grey images), got {images.shape}")
    if images.shape[0] == 0:
        raise CorruptDataError(f"{source}: holds no images (shape {images.shape}); expected at least one")
    return images


def validate_labels(labels: np.ndarray, count: int, source: str = "labels") -> np.ndarray:
    """N x 2 whole numbers (hour 0-11, minute 0-59) -> int64. Ranges are checked on the values as given, before the
    cast, so a value the cast would wrap (uint64 2**64-1 becomes -1, float 1e308 an arbitrary integer) is named as
    it is."""
    if labels.ndim != 2 or labels.shape[1] != 2:
        raise CorruptDataError(f"{source}: expected shape (N, 2) of (hour, minute), got {labels.shape}")
    if labels.shape[0] != count:
        raise CorruptDataError(f"{source}: {labels.shape[0]} labels for {count} images")
    if not _whole_numbers(labels):
        raise CorruptDataError(f"{source}: expected integer hour and minute, got dtype {labels.dtype}")
    for column, name, top in ((0, "hours", 11), (1, "minutes", 59)):
        values = labels[:, column]
        if count and (values.min() < 0 or values.max() > top):
            raise CorruptDataError(f"{source}: {name} must lie in 0..{top}, found {values.min()}..{values.max()}")
    return labels.astype(np.int64)


def _whole_numbers(labels: np.ndarray) -> bool:
    """Integers, or floats that are all finite whole numbers (NaN and infinity are not)."""
    if np.issubdtype(labels.dtype, np.integer):
        return True
    return bool(np.issubdtype(labels.dtype, np.floating) and np.isfinite(labels).all()
                and (np.mod(labels, 1) == 0).all())


def read_npy(path: Path) -> np.ndarray:
    """np.load with one-line errors: FileNotFoundError when absent, CorruptDataError when unreadable."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open_regular(path, "rb") as handle:  # a FIFO or a directory is refused in one line, not waited on
            return read_npy_array(handle, os.fstat(handle.fileno()).st_size, str(path))
    except NotRegularFileError as error:
        raise CorruptDataError(str(error)) from None
    except OSError as error:
        raise CorruptDataError(f"{path}: not a readable .npy array ({error})") from None


def load_clock_arrays(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check `images.npy` + `labels.npy` from a directory (rendered or real photographs)."""
    directory = Path(directory)
    images = validate_images(read_npy(directory / "images.npy"), str(directory / "images.npy"))
    labels = validate_labels(read_npy(directory / "labels.npy"), len(images), str(directory / "labels.npy"))
    return images, labels


def save_clock_arrays(directory: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write the pair as one (`atomic_write_all`): a stop never leaves one render's images beside another's labels."""
    directory = Path(directory)
    atomic_write_all({directory / name: (lambda temporary, array=array: np.save(temporary, array))
                      for name, array in (("images.npy", images), ("labels.npy", labels))})
    return directory


def rendered_set_dir(n: int, seed: int, variation: Variation) -> Path:
    """The array cache's folder of the rendered set (n, seed, variation); what is derived from it sits beside it."""
    return settings.array_cache_dir() / f"clocks-n{n}-seed{seed}-{variation.key()}"


def rendered_clocks(n: int, seed: int = 0, variation: Variation | None = None,
                    workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Render once per (n, seed, variation) into the array cache; later calls (and other agents) read it."""
    variation = variation or Variation()
    directory = rendered_set_dir(n, seed, variation)
    if (directory / "labels.npy").exists():
        try:
            return load_clock_arrays(directory)
        except (CorruptDataError, FileNotFoundError):
            pass  # a torn cache entry: render again
    images, labels = render_clocks(n, seed, variation, workers)
    save_clock_arrays(directory, images, labels)
    return images, labels
