"""Pixel permutation: one fixed, seeded shuffle of pixel positions, applied identically to every image and split."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from datasets.registry import Dataset


def pixel_permutation(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Indices of a random permutation of the H*W pixel positions of images of `shape` (H, W[, C]).

    Channels of a pixel move together: a colour pixel stays one colour pixel, only its position changes.
    """
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"expected an image shape (H, W) or (H, W, C), got {shape}")
    return np.random.default_rng(seed).permutation(int(shape[0]) * int(shape[1]))


def permute_images(x: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Move pixel `permutation[i]` of every image in `x` (N, H, W[, C]) to position i."""
    if x.ndim not in (3, 4):
        raise ValueError(f"expected images shaped (N, H, W) or (N, H, W, C), got {x.shape}")
    height, width = x.shape[1], x.shape[2]
    if permutation.shape != (height * width,):
        raise ValueError(f"permutation has {permutation.shape} indices; images have {height}x{width} pixels")
    flat = x.reshape(x.shape[0], height * width, *x.shape[3:])
    return np.ascontiguousarray(flat[:, permutation]).reshape(x.shape)


def flat_permutation(permutation: np.ndarray, channels: int) -> np.ndarray:
    """The same permutation on flattened H*W*C vectors (what a Flatten layer sees): for permuting MLP weights."""
    return (permutation[:, None] * channels + np.arange(channels)[None, :]).reshape(-1)


def permutation_digest(permutation: np.ndarray) -> str:
    """A short fingerprint so two runs can check that they used the same permutation."""
    return hashlib.sha256(np.asarray(permutation, dtype=np.int64).tobytes()).hexdigest()[:16]


def permute_dataset(dataset: Dataset, seed: int) -> Dataset:
    """The dataset with one permutation (from `seed`) applied to train and test; the seed goes into metadata.

    Validation is carved from the permuted training set afterwards, so all three splits share the permutation.
    """
    permutation = pixel_permutation(dataset.input_shape, seed)
    metadata = {**dataset.metadata, "permuted_pixels": True, "permutation_seed": int(seed),
                "permutation_digest": permutation_digest(permutation)}
    return dataclasses.replace(dataset, x_train=permute_images(dataset.x_train, permutation),
                               x_test=permute_images(dataset.x_test, permutation), metadata=metadata)
