"""Pixel permutation: the transform, MLP invariance, the comparison's statistics and a tiny end-to-end run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datasets.registry import Dataset
from datasets.transforms import flat_permutation, permute_dataset, permute_images, pixel_permutation


def _dataset(channels: int = 1) -> Dataset:
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (20, 6, 5, channels), dtype=np.uint8)
    x_test = np.concatenate([x_train[:3], rng.integers(0, 256, (4, 6, 5, channels), dtype=np.uint8)])
    return Dataset("toy", x_train, np.arange(20) % 3, x_test, np.arange(7) % 3, ("a", "b", "c"))


def test_pixel_permutation_is_a_seeded_bijection() -> None:
    permutation = pixel_permutation((6, 5, 1), seed=3)
    assert sorted(permutation.tolist()) == list(range(30))
    assert np.array_equal(permutation, pixel_permutation((6, 5), seed=3))
    assert not np.array_equal(permutation, pixel_permutation((6, 5), seed=4))
    assert not np.array_equal(permutation, np.arange(30))
    with pytest.raises(ValueError):
        pixel_permutation((30,), seed=0)


def test_permute_images_is_invertible_and_moves_channels_together() -> None:
    data = _dataset(channels=3)
    permutation = pixel_permutation(data.input_shape, seed=1)
    permuted = permute_images(data.x_train, permutation)
    assert permuted.shape == data.x_train.shape and permuted.dtype == np.uint8
    assert np.array_equal(permute_images(permuted, np.argsort(permutation)), data.x_train)
    flat_original = data.x_train.reshape(20, 30, 3)
    assert np.array_equal(permuted.reshape(20, 30, 3)[:, 0], flat_original[:, permutation[0]])  # whole RGB pixel
    with pytest.raises(ValueError):
        permute_images(data.x_train, permutation[:-1])


def test_permute_dataset_applies_one_permutation_to_every_split_and_records_the_seed() -> None:
    data = _dataset()
    permuted = permute_dataset(data, seed=11)
    assert permuted.metadata["permutation_seed"] == 11 and permuted.metadata["permuted_pixels"] is True
    assert permuted.metadata["permutation_digest"] == permute_dataset(data, 11).metadata["permutation_digest"]
    assert permuted.metadata["permutation_digest"] != permute_dataset(data, 12).metadata["permutation_digest"]
    # the first three test images are copies of training images: they must stay identical after permuting
    assert np.array_equal(permuted.x_test[:3], permuted.x_train[:3])
    assert not np.array_equal(permuted.x_train, data.x_train)
    assert np.array_equal(np.sort(permuted.x_train.reshape(20, -1), axis=1), np.sort(data.x_train.reshape(20, -1),
                                                                                        axis=1))
    assert np.array_equal(permuted.y_train, data.y_train) and data.metadata == {}


def test_trainer_splits_share_the_permutation(mirror_dir) -> None:
    """Validation is carved after permuting: each validation image is the permuted original."""
    import datasets
    from trainers.classification import prepare_splits
    from trainers.registry import get_task
    from trainers.runner import resolve_config

    config = resolve_config(get_task("classify"), {"dataset": "mnist", "model": "geron_mlp", "subset": 50,
                                                   "test_subset": 20, "permute_pixels": True, "permutation_seed": 5})
    splits, data = prepare_splits(config)
    original = datasets.load("mnist")
    permutation = pixel_permutation(original.input_shape, 5)
    assert data.metadata["permutation_seed"] == 5
    assert np.array_equal(splits.x_val, permute_images(original.x_train[splits.val_indices], permutation))
    assert np.array_equal(splits.x_train, permute_images(original.x_train[splits.train_indices], permutation))
    assert np.array_equal(data.x_test, permute_images(original.x_test, permutation))


def test_mlp_with_permuted_first_layer_gives_identical_outputs_on_permuted_inputs() -> None:
    import keras

    from trainers.models.classifiers import build_mlp
    from trainers.registry import get_task
    from trainers.runner import resolve_config

    config = resolve_config(get_task("classify"), {"model": "geron_mlp", "dense_units": 16, "dense_layers": 2})
    images = np.random.default_rng(0).uniform(size=(8, 6, 5, 3)).astype("float32")
    permutation = pixel_permutation(images.shape[1:], seed=2)
    keras.utils.set_random_seed(0)
    model = build_mlp(config, images.shape[1:], 4)
    twin = build_mlp(config, images.shape[1:], 4)
    weights = model.get_weights()
    weights[0] = weights[0][flat_permutation(permutation, channels=3)]  # first Dense kernel: rows = inputs
    twin.set_weights(weights)
    original = model.predict(images, verbose=0)
    assert np.allclose(twin.predict(permute_images(images, permutation), verbose=0), original, atol=1e-6)
    assert not np.allclose(model.predict(permute_images(images, permutation), verbose=0), original, atol=1e-3)


def test_permutation_info_reads_paired_differences() -> None:
    from analysis.permutation import permutation_info

    rows = []
    mlp_shift = [0.003, -0.002, 0.0]  # permuted - original per seed: noise around 0
    for seed, noise in enumerate([0.004, -0.003, 0.001]):
        for permuted in (False, True):
            rows.append({"model": "mlp", "dataset": "mnist", "seed": seed, "permuted": permuted,
                         "score": 0.95 + noise + (mlp_shift[seed] if permuted else 0.0)})
            rows.append({"model": "cnn", "dataset": "mnist", "seed": seed, "permuted": permuted,
                         "score": 0.98 + noise - (0.2 + noise / 2 if permuted else 0.0)})
    info = permutation_info(pd.DataFrame(rows), "test/accuracy", 0, {"mlp": "preset", "cnn": "preset"})
    table = info.differences.set_index("model")
    assert table.loc["cnn", "difference"] == pytest.approx(-0.2 - 0.002 / 6)
    assert table.loc["cnn", "observed"] == "worse" and table.loc["cnn", "explanation"] == "as expected"
    assert table.loc["mlp", "difference"] == pytest.approx(0.001 / 3)
    assert table.loc["mlp", "t low"] < 0 < table.loc["mlp", "t high"]
    assert table.loc["mlp", "observed"] == "unchanged" and table.loc["mlp", "explanation"] == "as expected"
    assert table.loc["mlp", "original mean"] == pytest.approx(0.95 + 0.002 / 3)
    assert info.seeds == (0, 1, 2)
