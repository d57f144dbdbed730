"""Pseudo-classes for a self-conditioned GAN: k-means clusters of the training images' pixels (no labels)."""

from __future__ import annotations

import numpy as np


def pixel_clusters(images: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each image's k-means cluster over its raw pixels (`count` clusters, one Lloyd run of at most 100 steps,
    seeded) and the clusters' shares of the images, the prior the samples' clusters are drawn from."""
    from sklearn.cluster import KMeans

    flat = images.reshape(len(images), -1)
    if count > len(flat):
        raise ValueError(f"{count} clusters need at least as many images; got {len(flat)}")
    labels = KMeans(count, n_init=1, max_iter=100, random_state=seed).fit_predict(flat)
    shares = np.bincount(labels, minlength=count) / len(labels)
    return labels.astype("int64"), shares
