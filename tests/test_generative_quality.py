"""Sample quality: the Fréchet distance (closed forms on Gaussians), recognisability and diversity, and their
sanity on real MNIST digits."""

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
    feature_classifier,
    feature_extractor,
    frechet_distance,
    gaussian_statistics,
    mean_pairwise_distance,
    outlier_images,
    recognisability,
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


def test_recognisability_counts_confident_labels_per_class():
    probabilities = np.array([[0.95, 0.05, 0.0], [0.0, 0.92, 0.08], [0.5, 0.5, 0.0], [0.9, 0.1, 0.0]])
    scores = recognisability(probabilities)
    assert scores["recognised_share"] == pytest.approx(0.75)  # 0.9 itself counts; the 0.5/0.5 image does not
    assert scores["class_counts"] == [2, 1, 0] and sum(scores["class_counts"]) == 3
    assert scores["classes_present"] == 2
    expected = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)) / np.log(3)
    assert scores["class_entropy"] == pytest.approx(expected)
    with pytest.raises(ValueError):
        recognisability(np.zeros(3))


def test_a_generator_of_one_class_has_one_class_present_and_zero_entropy():
    one_class = np.tile(np.eye(10)[7], (50, 1))
    scores = recognisability(one_class)
    assert scores["recognised_share"] == 1.0 and scores["classes_present"] == 1 and scores["class_entropy"] == 0.0
    assert scores["class_counts"][7] == 50
    every_class = np.tile(np.eye(10), (5, 1))
    assert recognisability(every_class)["class_entropy"] == pytest.approx(1.0)
    assert recognisability(np.full((5, 10), 0.1))["classes_present"] == 0  # nothing confident


def test_mean_pairwise_distance_is_zero_for_copies_and_exact_for_two_points():
    assert mean_pairwise_distance(np.ones((6, 4))) == pytest.approx(0.0, abs=1e-6)
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    points = np.array([[0.0], [1.0], [3.0]])  # distances 1, 3, 2
    assert mean_pairwise_distance(points) == pytest.approx(2.0)


def test_real_digits_are_recognised_of_every_class_and_noise_is_not(mnist_scorer):
    """The recognisability classifier, trained on 500 real training digits and shown noise with a uniform target:
    held-out real digits are mostly labelled confidently, across all 10 classes; uniform noise is not, nor is a
    kind of noise it never saw (salt and pepper); one repeated digit has no diversity."""
    _, other_real = mnist_scorer
    classifier = feature_classifier("mnist", other_real.shape[1:], train_images=500, reject_noise=True)
    real = recognisability(classifier.predict(other_real, verbose=0))
    assert real["recognised_share"] > 0.5 and real["classes_present"] == 10
    rng = np.random.default_rng(0)
    for noise_images in (rng.uniform(size=other_real.shape), rng.uniform(size=other_real.shape) < 0.2):
        noise = recognisability(classifier.predict(noise_images.astype("float32"), verbose=0))
        assert noise["recognised_share"] < 0.05 < real["recognised_share"] - 0.45
    plain = feature_classifier("mnist", other_real.shape[1:], train_images=500)
    assert plain is not classifier  # the Fréchet features' classifier is another model, cached apart
    extractor = feature_extractor("mnist", other_real.shape[1:], train_images=500)
    copies = np.repeat(other_real[:1], 50, axis=0)
    assert mean_pairwise_distance(extractor.predict(copies, verbose=0)) < 1e-3 < mean_pairwise_distance(
        extractor.predict(other_real[:50], verbose=0))


def test_outlier_images_are_noise_and_shuffled_images_with_the_ink_of_real_ones():
    images = np.random.default_rng(1).uniform(size=(20, 6, 6, 1)).astype("float32") ** 4
    outliers = outlier_images(images, 5, seed=3)
    assert outliers.shape == (10, 6, 6, 1) and outliers.dtype == np.float32
    assert 0.4 < outliers[:5].mean() < 0.6  # uniform noise
    for shuffled in outliers[5:]:  # each is a training image's pixels, in another order
        match = [np.array_equal(np.sort(shuffled.ravel()), np.sort(image.ravel())) for image in images]
        assert any(match) and not any(np.array_equal(shuffled, image) for image in images)
    assert np.array_equal(outliers, outlier_images(images, 5, seed=3))


