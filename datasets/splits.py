"""Train/validation/test splits: validation carved from training with a fixed seed; test held apart."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.registry import Dataset


@dataclass(frozen=True)
class Splits:
    """Three disjoint parts. Trainers read `test` once, after training."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_indices: np.ndarray  # indices into the dataset's training set, recorded for audits
    val_indices: np.ndarray


def split(dataset: Dataset, validation_fraction: float = 0.1, subset: int = 0, test_subset: int = 0,
          seed: int = 0) -> Splits:
    """Carve a seeded validation split from the training set; `subset` caps the training examples kept."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    if subset < 0 or test_subset < 0:
        raise ValueError("subset and test_subset must be >= 0")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(dataset.x_train))
    n_val = max(1, round(len(order) * validation_fraction))
    val_indices, train_indices = order[:n_val], order[n_val:]
    if subset:
        train_indices = train_indices[:subset]
        val_indices = val_indices[: max(1, round(subset * validation_fraction / (1 - validation_fraction)))]
    x_test, y_test = dataset.x_test, dataset.y_test
    if test_subset:
        test_order = np.random.default_rng(seed + 1).permutation(len(x_test))[:test_subset]
        x_test, y_test = x_test[test_order], y_test[test_order]
    return Splits(
        x_train=dataset.x_train[train_indices], y_train=dataset.y_train[train_indices],
        x_val=dataset.x_train[val_indices], y_val=dataset.y_train[val_indices],
        x_test=x_test, y_test=y_test, train_indices=train_indices, val_indices=val_indices,
    )


def unseen_classes(scored: np.ndarray, trained: np.ndarray) -> tuple[np.ndarray, str]:
    """The classes `scored` holds that `trained` never does, and the first ten of them in words for a message."""
    unseen = np.setdiff1d(np.unique(scored), np.unique(trained))
    shown = ", ".join(str(label) for label in unseen[:10]) + (f" (and {len(unseen) - 10} more)"
                                                              if len(unseen) > 10 else "")
    return unseen, shown


def check_validation_classes_trained(splits: Splits, source: str) -> None:
    """Every class the validation part holds occurs in the training part: a class whose only examples the carve
    took (one example per class) is scored but never trained, and the search would rank configurations on it.
    One CorruptDataError line naming `source`, before any training."""
    from datasets.formats import CorruptDataError

    if splits.y_val.ndim != 1 or splits.y_val.dtype.kind not in "iu":
        return  # not class labels (the clock's times, one-hot rows)
    untrained, shown = unseen_classes(splits.y_val, splits.y_train)
    if len(untrained):
        raise CorruptDataError(
            f"{source}: the validation split holds {len(untrained)} class(es) the training split never holds "
            f"({shown}); the seeded carve took every example of them ({len(splits.y_train):,} training and "
            f"{len(splits.y_val):,} validation examples): give each class at least two examples, a larger subset or "
            "a smaller validation_fraction")
