"""Helpers a user's own task calls: its data as the platform splits it, and a Keras fit that reports every epoch.

A user's train function is then a few lines: `splits = load_data(...)`, build the model, `return fit_keras(...)`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import keras
import numpy as np

import datasets
from datasets.formats import CorruptDataError, read_npy_array
from datasets.regular_files import open_regular
from datasets.splits import unseen_classes
from trainers.fit import standard_callbacks
from trainers.reporter import Reporter

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
TRAINING_DTYPE = np.dtype("float32")  # what fit_keras (and Keras' default floatx) trains on
CHECK_CHUNK = 4096  # examples cast at a time when checking that images stay finite in TRAINING_DTYPE
MAX_CLASSES = 100_000  # a label implying more classes is a mistake (a 10**9-way output layer never finishes building)


def _refuse_more_than_memory(path: Path, size: int) -> None:
    """Compressed members that would inflate to more than half the memory available now are refused before one
    byte is inflated (round 15's observation: a 540 KB `.npz` inflated to 512 MB before its labels were checked)."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a system that says
        return
    if size > available // 2:
        raise CorruptDataError(f"{path}: its arrays would take {size / 2**30:.1f} GiB once decompressed, more than "
                               f"half of the {available / 2**30:.1f} GiB of memory available now")


def _read_npz(path: Path) -> datasets.Dataset:
    """A `.npz` with x_train, y_train, x_test, y_test: each holding examples, images (N, ...) numeric and finite as
    float32 (check_trainable), labels integers 0..K-1 of the same length; K (the class count) comes from y_train,
    is at most MAX_CLASSES and at most the number of training examples, and every class of y_test occurs in y_train.
    Refused before any model is built, in one CorruptDataError line naming the file and the array."""
    if not path.exists():
        raise datasets.DataNotFoundError(f"{path}: no such data file (expected a .npz with {', '.join(NPZ_KEYS)})")
    try:
        with open_regular(path, "rb") as opened, zipfile.ZipFile(opened) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            missing = [key for key in NPZ_KEYS if key not in members]
            if missing:
                raise CorruptDataError(f"{path}: missing array {missing[0]!r}; expected {', '.join(NPZ_KEYS)}")
            _refuse_more_than_memory(path, sum(members[key].file_size for key in NPZ_KEYS))
            arrays = {}
            for key in NPZ_KEYS:
                with archive.open(members[key]) as handle:
                    arrays[key] = read_npy_array(handle, members[key].file_size, f"{path}:{key}")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        if isinstance(error, CorruptDataError):
            raise
        raise CorruptDataError(f"{path}: not a readable .npz ({error})") from None
    for key in NPZ_KEYS:
        if arrays[key].ndim == 0 or arrays[key].shape[0] == 0:
            raise CorruptDataError(f"{path}: {key} holds no examples (shape {arrays[key].shape}); expected at least "
                                   "one along the first axis")
    for part in ("train", "test"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if images.dtype.kind not in "uif" or images.ndim < 2 or 0 in images.shape[1:]:
            raise CorruptDataError(f"{path}: x_{part} must be a numeric array (N, ...) with at least one value per "
                                   f"example, got {images.dtype} {images.shape}")
        check_trainable(images, f"{path}: x_{part}")
        if labels.dtype.kind not in "ui" or labels.shape != (len(images),):
            raise CorruptDataError(f"{path}: y_{part} must be integer labels of shape ({len(images)},), got "
                                   f"{labels.dtype} {labels.shape}")
        if len(labels) and labels.min() < 0:
            raise CorruptDataError(f"{path}: y_{part} holds negative labels")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise CorruptDataError(f"{path}: x_train and x_test shapes differ beyond the first axis")
    y_train, y_test = arrays["y_train"], arrays["y_test"]
    classes = int(y_train.max()) + 1  # labels 0..K-1: K from the training labels
    limit = min(MAX_CLASSES, len(y_train))
    if len(np.unique(y_train)) < 2:
        raise CorruptDataError(f"{path}: y_train holds one class only (label {int(y_train.max())}); a classifier "
                               "needs at least two")
    if classes > limit:
        raise CorruptDataError(f"{path}: y_train's largest label {int(y_train.max())} implies {classes} classes; "
                               f"expected labels 0..K-1 with K at most {limit:,} (at most {MAX_CLASSES:,} and at most "
                               f"the {len(y_train):,} training examples)")
    _check_test_classes(path, y_train, y_test)
    return datasets.Dataset(name=path.stem, class_names=tuple(str(index) for index in range(classes)),
                            source=str(path), **arrays)


def _check_test_classes(path: Path, y_train: np.ndarray, y_test: np.ndarray) -> None:
    """Every class of y_test occurs in y_train: a model is not tested on a class it never saw (K, from y_train's
    largest label, may still hold classes neither has)."""
    unseen, shown = unseen_classes(y_test, y_train)
    if len(unseen):
        raise CorruptDataError(f"{path}: y_test holds {len(unseen)} class(es) that y_train never holds: {shown}; every "
                               "label of y_test must occur in y_train (a model is not tested on a class it never saw)")


def check_trainable(images: np.ndarray, source: str) -> None:
    """Images finite in the dtype they are trained in (TRAINING_DTYPE): NaN, infinity and finite values beyond its
    range (float64 1e308 becomes inf as float32) are one CorruptDataError line naming `source` (file: array)."""
    if images.dtype.kind != "f":  # integers of any width are finite float32 numbers
        return
    for start in range(0, len(images), CHECK_CHUNK):  # cast a chunk at a time: no second copy of a large array
        chunk = images[start:start + CHECK_CHUNK]
        if not np.isfinite(chunk).all():
            raise CorruptDataError(f"{source} holds NaN or infinite values; expected finite numbers")
        with np.errstate(over="ignore"):
            cast = chunk.astype(TRAINING_DTYPE)
        if not np.isfinite(cast).all():
            largest = float(np.abs(chunk[~np.isfinite(cast)]).max())
            raise CorruptDataError(f"{source} holds {largest:.3g}, beyond {TRAINING_DTYPE} (training's dtype), whose "
                                   f"largest magnitude is {float(np.finfo(TRAINING_DTYPE).max):.3g}; scale the images")


def load_data(source: str, *, validation_fraction: float = 0.1, subset: int = 0, test_subset: int = 0,
              seed: int = 0) -> tuple[datasets.Splits, datasets.Dataset]:
    """A registered dataset (`mnist`, `fashion_mnist`, `cifar10`, ...) or a `.npz` file, split as built-in tasks
    split theirs (a seeded validation share carved from training; `subset` caps the training examples)."""
    if Path(source).suffix.lower() == ".npz":  # `.NPZ` too (round 8's 8-a: an "unknown dataset")
        data = _read_npz(Path(source))
    elif Path(source).exists():
        raise CorruptDataError(f"{source}: a file, not a .npz archive; expected a dataset name "
                               f"({', '.join(datasets.dataset_names())}) or a NAME.npz file")
    else:
        data = datasets.load(source)
    splits = datasets.split(data, validation_fraction, subset, test_subset, seed)
    for name in ("x_train", "x_val", "x_test"):
        if len(getattr(splits, name)) == 0:  # e.g. 2 training examples and validation_fraction 0.9
            raise CorruptDataError(f"{source}: the {name.removeprefix('x_')} split is empty ({len(data.x_train)} "
                                   f"training examples, validation_fraction={validation_fraction}); give more "
                                   "examples or a smaller validation_fraction")
    datasets.check_validation_classes_trained(splits, source)
    return splits, data


def scaled(images: np.ndarray, source: str = "images") -> np.ndarray:
    """uint8 pixels to float32 in [0, 1]; other numbers cast to float32, refused (check_trainable) where that is
    not finite, so arrays a user's own loader hands to fit_keras pass the same check as a .npz."""
    check_trainable(images, source)
    return images.astype(TRAINING_DTYPE) / 255.0 if images.dtype == np.uint8 else images.astype(TRAINING_DTYPE)


def fit_keras(model: keras.Model, splits: datasets.Splits, *, epochs: int, batch_size: int, reporter: Reporter,
              run_dir: Path | None = None, save_model: bool = False, patience: int = 0) -> dict[str, float]:
    """Fit a compiled classifier (metrics=["accuracy"]), reporting every epoch (pruning, tracking, progress), test
    once; returns `val/accuracy`, `val/loss`, `test/accuracy`, `test/loss`, `train/epochs`, `model/params`."""
    x_train, x_val, x_test = (scaled(getattr(splits, name), name) for name in ("x_train", "x_val", "x_test"))
    history = model.fit(x_train, splits.y_train, validation_data=(x_val, splits.y_val), epochs=epochs,
                        batch_size=batch_size, verbose=0, callbacks=standard_callbacks(reporter, patience))
    val = model.evaluate(x_val, splits.y_val, batch_size=1024, verbose=0, return_dict=True)
    test = model.evaluate(x_test, splits.y_test, batch_size=1024, verbose=0, return_dict=True)
    if run_dir is not None and save_model:
        model.save(Path(run_dir) / "model.keras")
    return {"val/accuracy": float(val["accuracy"]), "val/loss": float(val["loss"]),
            "test/accuracy": float(test["accuracy"]), "test/loss": float(test["loss"]),
            "train/epochs": float(len(history.history.get("loss", []))), "model/params": float(model.count_params())}
