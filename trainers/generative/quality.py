"""Sample quality: a Fréchet distance in the feature space of a small CNN the project trains per dataset.

This is NOT the Inception FID: the features are the 64-unit penultimate layer of a small classifier trained
once on the dataset's own labels (cached under `datasets.settings.array_cache_dir()`), so values compare
trials of one dataset and image size only, never across datasets or with published FIDs.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import scipy.linalg
from keras import layers

import datasets
from datasets import settings
from datasets.atomic import atomic_write
from trainers.generative.data import resize_images

FEATURES = 64  # width of the feature layer
FEATURE_NET_VERSION = 1  # bump when the architecture or training recipe changes (invalidates caches)
_EXTRACTORS: dict[str, keras.Model] = {}
_CLASSIFIERS: dict[str, keras.Model] = {}
CONFIDENT = 0.9  # softmax probability at which a generated image counts as recognised


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector and covariance matrix of N x D features."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors as an N x D array, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray,
                     eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)) between two Gaussians."""
    with warnings.catch_warnings():  # a singular product is handled just below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root, _ = scipy.linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(root).all():  # singular product: nudge the diagonals, as pytorch-fid does
        offset = np.eye(len(cov_a)) * eps
        root = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    difference = mean_a - mean_b
    return float(max(difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root), 0.0))


def build_feature_classifier(image_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Conv/pool blocks until the map is at most 8 pixels wide, a `features` dense layer, a softmax."""
    inputs = keras.Input(shape=image_shape)
    x, side, filters = inputs, image_shape[0], 32
    while side > 8:
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
        side, filters = -(-side // 2), min(filters * 2, 128)
    x = layers.Flatten()(x)
    features = layers.Dense(FEATURES, activation="relu", name="features")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(layers.Dropout(0.3)(features))
    return keras.Model(inputs, outputs, name="feature_classifier")


def _cache_path(dataset: str, image_shape: tuple[int, ...], train_images: int, reject_noise: bool = False) -> Path:
    key = f"{dataset}|{image_shape}|{train_images}|v{FEATURE_NET_VERSION}|{keras.__version__}"
    key += "|outlier-exposure" if reject_noise else ""
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return settings.array_cache_dir() / "frechet-features" / f"{dataset}-{digest}.weights.h5"


def outlier_images(images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` uniform-noise images and `count` training images with their pixels shuffled (one permutation):
    images of no class, with the intensity range and the ink of real ones."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(size=(count, *images.shape[1:])).astype("float32")
    chosen = images[rng.permutation(len(images))[:count]]
    flat = chosen.reshape(len(chosen), -1)
    shuffled = flat[:, rng.permutation(flat.shape[1])].reshape(chosen.shape)
    return np.concatenate([noise, shuffled])


def feature_classifier(dataset: str, image_shape: tuple[int, ...], train_images: int = 6000,
                       seed: int = 0, reject_noise: bool = False) -> keras.Model:
    """The softmax classifier behind the features: trained once on `train_images` real training images of
    `dataset` with their labels (never on generated images), then read from the cache.

    With `reject_noise` (the recognisability classifier) it is also shown outliers (`outlier_images`, up to
    5,000 of each kind) with a uniform target (outlier exposure, Hendrycks et al. 2019): a classifier trained on
    real images alone reads uniform noise as one class with confidence (measured: 77-100% of noise images for 3
    of 5 seeds at 500 MNIST images, 60% "bag" at 60,000 Fashion-MNIST images); with it, 0% for every seed."""
    path = _cache_path(dataset, tuple(image_shape), train_images, reject_noise)
    if str(path) in _CLASSIFIERS:
        return _CLASSIFIERS[str(path)]
    data = datasets.load(dataset)
    classifier = build_feature_classifier(tuple(image_shape), data.num_classes)
    if path.exists():
        classifier.load_weights(path)
    else:
        order = np.random.default_rng(seed).permutation(len(data.x_train))[:train_images]
        images = resize_images(data.x_train[order], image_shape[0]).astype("float32") / 255.0
        if images.shape[-1] != image_shape[-1]:
            raise ValueError(f"{dataset} has {images.shape[-1]} channels, the features expect {image_shape[-1]}")
        epochs = int(np.clip(6000 // max(len(images), 1), 2, 20))  # at least ~6k examples seen, whatever the size
        targets = np.eye(data.num_classes, dtype="float32")[data.y_train[order]]
        if reject_noise:
            outliers = outlier_images(images, min(len(images), 5000), seed + 1)
            images = np.concatenate([images, outliers])
            targets = np.concatenate([targets, np.full((len(outliers), data.num_classes), 1.0 / data.num_classes,
                                                       dtype="float32")])
        classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        classifier.fit(images, targets, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
        atomic_write(path, classifier.save_weights)  # parallel agents never read half a file
    _CLASSIFIERS[str(path)] = classifier
    return classifier


def feature_extractor(dataset: str, image_shape: tuple[int, ...], train_images: int = 6000,
                      seed: int = 0) -> keras.Model:
    """The feature model for `dataset` at `image_shape`: the cached classifier's `features` layer."""
    path = str(_cache_path(dataset, tuple(image_shape), train_images))
    if path not in _EXTRACTORS:
        classifier = feature_classifier(dataset, image_shape, train_images, seed)
        _EXTRACTORS[path] = keras.Model(classifier.inputs, classifier.get_layer("features").output,
                                        name="frechet_features")
    return _EXTRACTORS[path]


class FrechetScorer:
    """Fréchet distance of image sets to a fixed reference set, in one dataset's feature space."""

    def __init__(self, extractor: keras.Model, reference_images: np.ndarray) -> None:
        self.extractor = extractor
        self.reference = gaussian_statistics(self.features(reference_images))

    def features(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.extractor.predict(np.asarray(images, dtype="float32"), batch_size=256, verbose=0))

    def distance(self, images: np.ndarray) -> float:
        return frechet_distance(*self.reference, *gaussian_statistics(self.features(images)))


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance between every two rows: how different a set's images are from each other (a
    collapsed generator scores near 0; compare with the same measure on as many real images)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors as an N x D array, got shape {features.shape}")
    squared = np.sum(features**2, axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * features @ features.T, 0.0))
    count = len(features)
    return float(distances[np.triu_indices(count, k=1)].mean())


def recognisability(probabilities: np.ndarray, threshold: float = CONFIDENT) -> dict[str, Any]:
    """From an N x classes softmax: the share of images labelled with confidence >= `threshold`, how many of those
    fall in each class, how many classes are present, and the entropy of that spread over log(classes) (1 when
    the confident labels are spread evenly over every class, 0 when they are all one class or there are none)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or not len(probabilities):
        raise ValueError(f"need an N x classes array of probabilities, got shape {probabilities.shape}")
    classes = probabilities.shape[1]
    confident = probabilities.max(axis=1) >= threshold
    counts = np.bincount(probabilities[confident].argmax(axis=1), minlength=classes)
    shares = counts[counts > 0] / max(int(counts.sum()), 1)
    entropy = float(-(shares * np.log(shares)).sum() / np.log(classes)) if classes > 1 else 0.0
    return {"recognised_share": float(confident.mean()), "class_counts": [int(count) for count in counts],
            "classes_present": int((counts > 0).sum()), "class_entropy": max(entropy, 0.0) + 0.0}  # never -0.0
