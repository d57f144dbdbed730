"""Helpers a user's own task calls: its data as the platform splits it, and a Keras fit that reports every epoch.

A user's train function is then a few lines: `splits = load_data(...)`, build the model, `return fit_keras(...)`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np

import datasets
from datasets.formats import CorruptDataError, read_npy_array
from datasets.regular_files import open_regular
from trainers.fit import standard_callbacks
from trainers.reporter import Reporter

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_CLASSES = 100_000  # a label implying more classes is a mistake (a 10**9-way output layer never finishes building)


def _read_npz(path: Path) -> datasets.Dataset:
    """A `.npz` with x_train, y_train, x_test, y_test: each holding examples, images (N, ...) numeric and finite,
    labels integers 0..K-1 of the same length; K (the class count) comes from y_train, is at most MAX_CLASSES and
    at most the number of training examples, and y_test holds no label outside it. Refused before any model is
    built, in one CorruptDataError line naming the file and the array."""
    if not path.exists():
        raise datasets.DataNotFoundError(f"{path}: no such data file (expected a .npz with {', '.join(NPZ_KEYS)})")
    try:
        with open_regular(path, "rb") as opened, zipfile.ZipFile(opened) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            missing = [key for key in NPZ_KEYS if key not in members]
            if missing:
                raise CorruptDataError(f"{path}: missing array {missing[0]!r}; expected {', '.join(NPZ_KEYS)}")
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
        if images.dtype.kind == "f" and not np.isfinite(images).all():
            raise CorruptDataError(f"{path}: x_{part} holds NaN or infinite values")
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
    if int(y_test.max()) >= classes:
        raise CorruptDataError(f"{path}: y_test holds label {int(y_test.max())}, outside the training classes "
                               f"0..{classes - 1} (from y_train)")
    return datasets.Dataset(name=path.stem, class_names=tuple(str(index) for index in range(classes)),
                            source=str(path), **arrays)


def load_data(source: str, *, validation_fraction: float = 0.1, subset: int = 0, test_subset: int = 0,
              seed: int = 0) -> tuple[datasets.Splits, datasets.Dataset]:
    """A registered dataset (`mnist`, `fashion_mnist`, `cifar10`, ...) or a `.npz` file, split as built-in tasks
    split theirs (a seeded validation share carved from training; `subset` caps the training examples)."""
    data = _read_npz(Path(source)) if str(source).endswith(".npz") else datasets.load(source)
    splits = datasets.split(data, validation_fraction, subset, test_subset, seed)
    for name in ("x_train", "x_val", "x_test"):
        if len(getattr(splits, name)) == 0:  # e.g. 2 training examples and validation_fraction 0.9
            raise CorruptDataError(f"{source}: the {name.removeprefix('x_')} split is empty ({len(data.x_train)} "
                                   f"training examples, validation_fraction={validation_fraction}); give more "
                                   "examples or a smaller validation_fraction")
    return splits, data


def scaled(images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1]; float arrays are taken as they are."""
    return images.astype("float32") / 255.0 if images.dtype == np.uint8 else images.astype("float32")


def fit_keras(model: keras.Model, splits: datasets.Splits, *, epochs: int, batch_size: int, reporter: Reporter,
              run_dir: Path | None = None, save_model: bool = False, patience: int = 0) -> dict[str, float]:
    """Fit a compiled classifier (metrics=["accuracy"]), reporting every epoch (pruning, tracking, progress), test
    once; returns `val/accuracy`, `val/loss`, `test/accuracy`, `test/loss`, `train/epochs`, `model/params`."""
    x_train, x_val, x_test = scaled(splits.x_train), scaled(splits.x_val), scaled(splits.x_test)
    history = model.fit(x_train, splits.y_train, validation_data=(x_val, splits.y_val), epochs=epochs,
                        batch_size=batch_size, verbose=0, callbacks=standard_callbacks(reporter, patience))
    val = model.evaluate(x_val, splits.y_val, batch_size=1024, verbose=0, return_dict=True)
    test = model.evaluate(x_test, splits.y_test, batch_size=1024, verbose=0, return_dict=True)
    if run_dir is not None and save_model:
        model.save(Path(run_dir) / "model.keras")
    return {"val/accuracy": float(val["accuracy"]), "val/loss": float(val["loss"]),
            "test/accuracy": float(test["accuracy"]), "test/loss": float(test["loss"]),
            "train/epochs": float(len(history.history.get("loss", []))), "model/params": float(model.count_params())}
