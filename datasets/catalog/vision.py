"""MNIST, Fashion-MNIST and CIFAR-10: mirror dir, Debian's /usr/share/datasets, keras' cache, keras' download."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets import settings
from datasets.cache import cached_arrays
from datasets.formats import read_cifar_batches, read_cifar_jpeg_tar, read_idx_dataset
from datasets.registry import Arrays, DatasetInfo, Source, register_dataset

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DIGITS = tuple(str(digit) for digit in range(10))


def _keras_download(loader_name: str) -> Source:
    """The real `keras.datasets` download (skipped when `SWEEPLAB_OFFLINE=1`)."""

    def read() -> Arrays:
        if not settings.downloads_allowed():
            raise FileNotFoundError("downloads disabled by SWEEPLAB_OFFLINE=1")
        import keras

        try:
            (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, loader_name).load_data()
        except Exception as error:  # keras raises plain Exception on network failure
            raise FileNotFoundError(f"download failed: {error}") from error
        return _with_channels(x_train), np.ravel(y_train).astype(np.int64), \
            _with_channels(x_test), np.ravel(y_test).astype(np.int64)

    return Source("keras-download", f"keras.datasets.{loader_name}.load_data()", read)


def _with_channels(images: np.ndarray) -> np.ndarray:
    return images[..., None] if images.ndim == 3 else images


def _read_npz(path: Path) -> Arrays:
    if not path.exists():
        raise FileNotFoundError(str(path))
    with np.load(path, allow_pickle=False) as archive:
        return (_with_channels(archive["x_train"]), archive["y_train"].astype(np.int64),
                _with_channels(archive["x_test"]), archive["y_test"].astype(np.int64))


def _first_existing(paths: list[Path]) -> Path:
    return next((path for path in paths if path.exists()), paths[0])


def _idx_source(kind: str, directory: Path | None) -> Source:
    def read() -> Arrays:
        if directory is None:
            raise FileNotFoundError("SWEEPLAB_DATA_DIR is not set")
        return read_idx_dataset(directory)

    return Source(kind, str(directory) if directory else "$SWEEPLAB_DATA_DIR", read)


def mnist_sources() -> list[Source]:
    mirror = settings.mirror_dir()
    return [
        _idx_source("mirror", mirror / "mnist" if mirror else None),
        _idx_source("debian", settings.debian_dir() / "mnist"),
        Source("keras-cache", str(settings.keras_cache_dir() / "mnist.npz"),
               lambda: _read_npz(settings.keras_cache_dir() / "mnist.npz")),
        _keras_download("mnist"),
    ]


def fashion_mnist_sources() -> list[Source]:
    mirror = settings.mirror_dir()
    return [
        _idx_source("mirror", mirror / "fashion-mnist" if mirror else None),
        _idx_source("debian", settings.debian_dir() / "fashion-mnist"),
        _idx_source("keras-cache", settings.keras_cache_dir() / "fashion-mnist"),
        _keras_download("fashion_mnist"),
    ]


def _cifar_mirror() -> Arrays:
    mirror = settings.mirror_dir()
    if mirror is None:
        raise FileNotFoundError("SWEEPLAB_DATA_DIR is not set")
    batches = mirror / "cifar10" / "cifar-10-batches-py"
    if batches.exists():
        return read_cifar_batches(batches)
    archive = mirror / "cifar10" / "cifar10-jpeg.tar.gz"
    if not archive.exists():
        raise FileNotFoundError(f"{archive} (or {batches}/)")
    return cached_arrays(archive, "cifar10-jpeg", lambda: read_cifar_jpeg_tar(archive, list(CIFAR10_CLASSES)))


def _cifar_keras_cache() -> Arrays:
    root = settings.keras_cache_dir()
    return read_cifar_batches(_first_existing([root / "cifar-10-batches-py-target" / "cifar-10-batches-py",
                                               root / "cifar-10-batches-py"]))


def cifar10_sources() -> list[Source]:
    mirror = settings.mirror_dir()
    return [
        Source("mirror", str(mirror / "cifar10") if mirror else "$SWEEPLAB_DATA_DIR", _cifar_mirror),
        Source("debian", str(settings.debian_dir() / "cifar10" / "cifar-10-batches-py"),
               lambda: read_cifar_batches(settings.debian_dir() / "cifar10" / "cifar-10-batches-py")),
        Source("keras-cache", str(settings.keras_cache_dir() / "cifar-10-batches-py"), _cifar_keras_cache),
        _keras_download("cifar10"),
    ]


_MIRROR_HINT = ("point SWEEPLAB_DATA_DIR at a mirror directory holding {folder}, or connect to the internet "
                "(and unset SWEEPLAB_OFFLINE) so keras.datasets can download it")

register_dataset(DatasetInfo("mnist", DIGITS, mnist_sources, _MIRROR_HINT.format(folder="mnist/*-ubyte.gz")))
register_dataset(DatasetInfo(
    "fashion_mnist", FASHION_CLASSES, fashion_mnist_sources,
    "run `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or "
    + _MIRROR_HINT.format(folder="fashion-mnist/*-ubyte.gz")))
register_dataset(DatasetInfo(
    "cifar10", CIFAR10_CLASSES, cifar10_sources,
    _MIRROR_HINT.format(folder="cifar10/cifar10-jpeg.tar.gz or cifar10/cifar-10-batches-py/")))
