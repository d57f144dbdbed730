"""Images for the generative tasks: one dataset (optionally one class), resized, scaled to [0, 1], split."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import datasets
from trainers.config import ConfigError


@dataclass(frozen=True)
class ImageSplits:
    """float32 NHWC images in [0, 1]; labels kept for the feature classifier and for audits."""

    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    dataset: str
    source: str
    classes: int = 0  # the dataset's class count (before any class filter); labels index its class names

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Square-resize uint8 NHWC images with area interpolation (for downscaling, e.g. clocks 150 -> 64)."""
    if size <= 0 or images.shape[1:3] == (size, size):
        return images
    import cv2

    resized = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) for image in images])
    return resized[..., None] if resized.ndim == 3 else resized


def filter_class(data: datasets.Dataset, class_filter: str) -> datasets.Dataset:
    """Keep one class, named as in the dataset's `class_names` (e.g. `horse` for CIFAR-10, `3` for MNIST)."""
    if not class_filter:
        return data
    if class_filter not in data.class_names:
        raise ConfigError(f"class_filter: {class_filter!r} is not a class of {data.name}; "
                          f"choose one of {', '.join(data.class_names)}")
    label = data.class_names.index(class_filter)
    train, test = data.y_train == label, data.y_test == label
    return dataclasses.replace(data, x_train=data.x_train[train], y_train=data.y_train[train],
                               x_test=data.x_test[test], y_test=data.y_test[test])


def load_image_splits(dataset: str, class_filter: str = "", image_size: int = 0, subset: int = 0,
                      validation_fraction: float = 0.1, test_subset: int = 0, seed: int = 0) -> ImageSplits:
    """Load, filter, split (seeded validation carved from train), resize and scale one dataset."""
    data = filter_class(datasets.load(dataset), class_filter)
    splits = datasets.split(data, validation_fraction, subset, test_subset, seed)

    def prepare(images: np.ndarray) -> np.ndarray:
        return resize_images(images, image_size).astype("float32") / np.float32(255.0)

    return ImageSplits(x_train=prepare(splits.x_train), x_val=prepare(splits.x_val), x_test=prepare(splits.x_test),
                       y_train=splits.y_train, dataset=dataset, source=data.source, classes=len(data.class_names))
