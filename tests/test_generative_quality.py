"""The Fréchet quality metric: closed forms on Gaussians, and sanity on real MNIST features."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from trainers.generative.data import load_image_splits
from trainers.generative.quality import (
    FEATURES,
    FrechetScorer,
    feature_extractor,
    frechet_distance,
    gaussian_statistics,
)

DEFAULT_MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"  # as in conftest.py


def test_equal_covariances_leave_the_squared_mean_difference():
    covariance = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert frechet_distance(np.zeros(2), covariance, np.array([3.0, 4.0]), covariance) == pytest.approx(25.0)


def test_diagonal_covariances_match_the_closed_form():
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # 1 + 1 + 0
    assert frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b)) == pytest.approx(expected)


def test_statistics_of_samples_approach_the_true_distance():
    rng = np.random.default_rng(0)
    first = rng.normal(0.0, 1.0, size=(20000, 2))
    second = rng.normal(1.0, 2.0, size=(20000, 2))
    expected = 2 * 1.0 + 2 * (2.0 - 1.0) ** 2  # mean term + trace term per dimension
    measured = frechet_distance(*gaussian_statistics(first), *gaussian_statistics(second))
    assert measured == pytest.approx(expected, rel=0.05)
    with pytest.raises(ValueError):
        gaussian_statistics(np.zeros((1, 3)))


@pytest.fixture(scope="module")
def mnist_scorer() -> tuple[FrechetScorer, np.ndarray]:
    """Features of a small CNN trained on 500 real MNIST digits from the mirror; held-out digits to score."""
    mirror = Path(os.environ.get("SWEEPLAB_DATA_DIR") or DEFAULT_MIRROR)
    if not (mirror / "mnist").exists():
        pytest.fail(f"data mirror not found at {mirror}: set SWEEPLAB_DATA_DIR")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWEEPLAB_DATA_DIR", str(mirror))
        data = load_image_splits("mnist", subset=1200)
        extractor = feature_extractor("mnist", data.image_shape, train_images=500)
    assert extractor.output_shape == (None, FEATURES)
    return FrechetScorer(extractor, data.x_train[:500]), data.x_train[500:1000]


def test_real_images_are_near_themselves_and_far_from_noise(mnist_scorer):
    scorer, other_real = mnist_scorer
    reference = scorer.reference
    noise = np.random.default_rng(0).uniform(size=other_real.shape).astype("float32")
    same = frechet_distance(*reference, *reference)
    real = scorer.distance(other_real)
    random = scorer.distance(noise)
    assert same == pytest.approx(0.0, abs=1e-6)
    assert random > 10 * real > 0  # held-out real digits are much closer than noise


def test_distance_grows_as_noise_is_added(mnist_scorer):
    scorer, other_real = mnist_scorer
    rng = np.random.default_rng(1)
    distances = [scorer.distance(np.clip(other_real + rng.normal(0, sigma, other_real.shape), 0, 1).astype("float32"))
                 for sigma in (0.0, 0.15, 0.3, 0.6)]
    assert all(low < high for low, high in itertools.pairwise(distances)), distances


def test_feature_weights_are_cached_and_reused(mnist_scorer, monkeypatch):
    from datasets import settings
    from trainers.generative import quality

    cached = list((settings.array_cache_dir() / "frechet-features").glob("mnist-*.weights.h5"))
    assert cached, "the trained feature classifier was not cached"
    quality._EXTRACTORS.clear()  # a fresh process: must load the weights, not retrain
    monkeypatch.setattr(quality.keras.Model, "fit", lambda *args, **kwargs: pytest.fail("retrained"))
    extractor = feature_extractor("mnist", (28, 28, 1), train_images=500)
    scorer, other_real = mnist_scorer
    np.testing.assert_allclose(extractor.predict(other_real[:8], verbose=0), scorer.features(other_real[:8]),
                               rtol=1e-5, atol=1e-5)
