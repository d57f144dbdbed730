"""The dataset registry: every source in the chain, its error messages, formats, and disjoint splits."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import datasets
from datasets.formats import CorruptDataError, read_idx


def test_our_datasets_package_is_imported_not_hugging_faces():
    assert Path(datasets.__file__).resolve().parent == Path(__file__).resolve().parent.parent / "datasets"


def test_mnist_from_the_mirror_matches_its_published_label_counts(mirror_dir):
    data = datasets.load("mnist")
    assert data.source.startswith("mirror:")
    assert data.x_train.shape == (60000, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(data.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(data.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_fashion_mnist_comes_from_debian_when_the_mirror_lacks_it(mirror_dir):
    data = datasets.load("fashion_mnist")
    assert data.source == "debian: /usr/share/datasets/fashion-mnist"
    assert data.x_train.shape == (60000, 28, 28, 1)
    assert np.bincount(data.y_train).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    assert data.class_names[9] == "Ankle boot"


def test_cifar10_jpeg_mirror_is_decoded_once_then_cached(mirror_dir):
    data = datasets.load("cifar10")
    assert data.x_train.shape == (50000, 32, 32, 3) and data.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    # files are grouped by class inside the tar: the loader must shuffle them
    assert len(set(data.y_train[:50].tolist())) > 5
    cached = list(Path(os.environ["SWEEPLAB_CACHE_DIR"]).glob("cifar10-jpeg-*.npz"))
    assert len(cached) == 1
    again = datasets.load("cifar10")
    np.testing.assert_array_equal(again.x_train[:100], data.x_train[:100])


def test_keras_cache_source_is_used_when_mirror_and_debian_are_absent(monkeypatch, tmp_path, mirror_dir):
    real = datasets.load("mnist")
    keras_home = tmp_path / "keras"
    (keras_home / "datasets").mkdir(parents=True)
    np.savez(keras_home / "datasets" / "mnist.npz", x_train=real.x_train[:500, ..., 0], y_train=real.y_train[:500],
             x_test=real.x_test[:100, ..., 0], y_test=real.y_test[:100])
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.delenv("SWEEPLAB_DATA_DIR")
    data = datasets.load("mnist")
    assert data.source.startswith("keras-cache:")
    assert data.x_train.shape == (500, 28, 28, 1)
    np.testing.assert_array_equal(data.x_train, real.x_train[:500])


def test_cifar_python_batches_in_the_keras_cache_layout(monkeypatch, tmp_path, mirror_dir):
    real = datasets.load("cifar10")
    folder = tmp_path / "keras" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    def write(name: str, images: np.ndarray, labels: np.ndarray) -> None:
        flat = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
        with open(folder / name, "wb") as handle:
            pickle.dump({b"data": flat, b"labels": labels.tolist()}, handle)
    for index in range(1, 6):
        part = slice(index * 20, index * 20 + 20)
        write(f"data_batch_{index}", real.x_train[part], real.y_train[part])
    write("test_batch", real.x_test[:30], real.y_test[:30])
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("SWEEPLAB_DATA_DIR")
    data = datasets.load("cifar10")
    assert data.source.startswith("keras-cache:")
    np.testing.assert_array_equal(data.x_train[:20], real.x_train[20:40])
    np.testing.assert_array_equal(data.x_test, real.x_test[:30])


def test_keras_download_source_adapts_shapes(monkeypatch, mirror_dir):
    """With downloads allowed and nothing local, keras.datasets.<name>.load_data() is called and reshaped."""
    import keras

    real = datasets.load("mnist")
    calls = []

    def fake_download():
        calls.append(1)
        return (real.x_train[:50, ..., 0], real.y_train[:50]), (real.x_test[:10, ..., 0], real.y_test[:10])

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_download)
    monkeypatch.delenv("SWEEPLAB_DATA_DIR")
    monkeypatch.setenv("SWEEPLAB_OFFLINE", "0")
    data = datasets.load("mnist")
    assert calls == [1] and data.source.startswith("keras-download:")
    assert data.x_train.shape == (50, 28, 28, 1) and data.y_train.dtype == np.int64


def test_missing_everywhere_names_every_source_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(tmp_path / "empty-mirror"))
    monkeypatch.setenv("SWEEPLAB_DEBIAN_DATA_DIR", str(tmp_path / "no-debian"))
    with pytest.raises(datasets.DataNotFoundError) as caught:
        datasets.load("fashion_mnist")
    message = str(caught.value)
    for expected in ("mirror:", str(tmp_path / "empty-mirror" / "fashion-mnist"), "debian:", "keras-cache:",
                     "keras-download:", "SWEEPLAB_OFFLINE", "apt-get install dataset-fashion-mnist",
                     "SWEEPLAB_DATA_DIR"):
        assert expected in message


def test_a_corrupt_mirror_file_is_reported_by_name(monkeypatch, tmp_path, mirror_dir):
    broken = tmp_path / "mirror" / "mnist"
    broken.mkdir(parents=True)
    for path in (mirror_dir / "mnist").glob("*.gz"):
        (broken / path.name).write_bytes(path.read_bytes())
    truncated = broken / "train-images-idx3-ubyte.gz"
    truncated.write_bytes(gzip.compress(gzip.decompress(truncated.read_bytes())[:5000]))
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(tmp_path / "mirror"))
    with pytest.raises(datasets.DataNotFoundError, match=r"train-images-idx3-ubyte\.gz: expected 47040000 data bytes"):
        datasets.load("mnist")


def test_idx_reader_rejects_a_file_that_is_not_idx(tmp_path):
    path = tmp_path / "junk.gz"
    path.write_bytes(gzip.compress(b"\x01\x02\x03\x04 not an idx file"))
    with pytest.raises(CorruptDataError, match="bad magic"):
        read_idx(path)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"known: .*cifar10.*mnist"):
        datasets.load("imagenet")


def test_splits_are_disjoint_seeded_and_keep_test_apart(mirror_dir):
    data = datasets.load("mnist")
    splits = datasets.split(data, validation_fraction=0.1, seed=3)
    assert len(set(splits.train_indices) & set(splits.val_indices)) == 0
    assert len(splits.train_indices) + len(splits.val_indices) == 60000
    assert len(splits.val_indices) == 6000
    np.testing.assert_array_equal(splits.x_test, data.x_test)  # test set is the official one, untouched
    again = datasets.split(data, validation_fraction=0.1, seed=3)
    np.testing.assert_array_equal(again.val_indices, splits.val_indices)
    other = datasets.split(data, validation_fraction=0.1, seed=4)
    assert not np.array_equal(other.val_indices, splits.val_indices)


def test_subset_caps_train_and_scales_validation(mirror_dir):
    splits = datasets.split(datasets.load("mnist"), validation_fraction=0.2, subset=400, test_subset=100, seed=0)
    assert len(splits.x_train) == 400 and len(splits.x_val) == 100 and len(splits.x_test) == 100
    assert len(set(splits.train_indices) & set(splits.val_indices)) == 0


def test_a_process_keeps_a_decoded_dataset_read_only_until_its_files_change(monkeypatch, tmp_path, mirror_dir):
    """A sweep's trials load the same dataset: decoded once per process, shared read-only (no trial can change
    what the next one trains on), and read again once a file of its source changes."""
    mirror = tmp_path / "mirror"
    (mirror / "mnist").mkdir(parents=True)
    for path in (mirror_dir / "mnist").glob("*.gz"):
        (mirror / "mnist" / path.name).write_bytes(path.read_bytes())
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(mirror))
    first = datasets.load("mnist")
    assert datasets.load("mnist") is first
    for array in (first.x_train, first.y_train, first.x_test, first.y_test):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1
    labels = mirror / "mnist" / "t10k-labels-idx1-ubyte.gz"
    stat = labels.stat()
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # the file replaced
    again = datasets.load("mnist")
    assert again is not first
    np.testing.assert_array_equal(again.y_test, first.y_test)
    assert datasets.load("mnist") is again


def test_a_source_that_is_not_a_path_here_is_not_kept():
    from datasets.registry import _stamp

    assert _stamp("keras.datasets.mnist.load_data()") is None
    assert _stamp("/no/such/folder") is None
