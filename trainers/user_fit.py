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
from trainers.fit import standard_callbacks
from trainers.reporter import Reporter

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _read_npz(path: Path) -> datasets.Dataset:
    """A `.npz` with x_train, y_train, x_test, y_test: images (N, ...) numeric and finite, labels integers."""
    if not path.is_file():
        raise datasets.DataNotFoundError(f"{path}: no such data file (expected a .npz with {', '.join(NPZ_KEYS)})")
    try:
        with zipfile.ZipFile(path) as archive:
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
    for part in ("train", "test"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if images.dtype.kind not in "uif" or images.ndim < 2:
            raise CorruptDataError(f"{path}: x_{part} must be a numeric array (N, ...), got {images.dtype} "
                                   f"{images.shape}")
        if images.dtype.kind == "f" and not np.isfinite(images).all():
            raise CorruptDataError(f"{path}: x_{part} holds NaN or infinite values")
        if labels.dtype.kind not in "ui" or labels.shape != (len(images),):
            raise CorruptDataError(f"{path}: y_{part} must be integer labels of shape ({len(images)},), got "
                                   f"{labels.dtype} {labels.shape}")
        if len(labels) and labels.min() < 0:
            raise CorruptDataError(f"{path}: y_{part} holds negative labels")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise CorruptDataError(f"{path}: x_train and x_test shapes differ beyond the first axis")
    classes = int(max(arrays["y_train"].max(initial=0), arrays["y_test"].max(initial=0))) + 1
    return datasets.Dataset(name=path.stem, class_names=tuple(str(index) for index in range(classes)),
                            source=str(path), **arrays)


def load_data(source: str, *, validation_fraction: float = 0.1, subset: int = 0, test_subset: int = 0,
              seed: int = 0) -> tuple[datasets.Splits, datasets.Dataset]:
    """A registered dataset (`mnist`, `fashion_mnist`, `cifar10`, ...) or a `.npz` file, split as built-in tasks
    split theirs (a seeded validation share carved from training; `subset` caps the training examples)."""
    data = _read_npz(Path(source)) if str(source).endswith(".npz") else datasets.load(source)
    return datasets.split(data, validation_fraction, subset, test_subset, seed), data


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
