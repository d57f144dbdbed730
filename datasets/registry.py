"""The dataset registry: name -> where to find it, tried source by source, with one clear error if all fail."""

from __future__ import annotations

import importlib
import pkgutil
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets.formats import CorruptDataError

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Source:
    """One place a dataset may be found. `read` raises FileNotFoundError when absent."""

    kind: str  # "mirror", "debian", "keras-cache", "keras-download", ...
    location: str
    read: Callable[[], Arrays]


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: class names, the ordered sources, and how a user supplies missing data."""

    name: str
    class_names: tuple[str, ...]
    sources: Callable[[], list[Source]]
    how_to_fix: str


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays as shipped (uint8 images NHWC, integer labels), plus where they came from."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


class UnknownDatasetError(KeyError):
    """No dataset of that name is registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class DataNotFoundError(RuntimeError):
    """No source could provide a dataset; the message lists each source tried and the fix."""


DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    DATASETS[info.name] = info
    return info


def _discover() -> None:
    """Import every module of `datasets.catalog`; each registers its datasets."""
    import datasets.catalog as catalog

    for module in pkgutil.iter_modules(catalog.__path__):
        importlib.import_module(f"datasets.catalog.{module.name}")


def dataset_names() -> list[str]:
    _discover()
    return sorted(DATASETS)


def check_dataset_name(name: str) -> None:
    """Raise UnknownDatasetError unless `name` is registered (no data is read)."""
    if name not in dataset_names():
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")


LOADED_KEPT = 2  # datasets a process keeps decoded (a sweep's trials load the same one: ~0.3 s a trial saved)
_LOADED: OrderedDict[tuple, Dataset] = OrderedDict()


def _stamp(location: str) -> tuple | None:
    """What says a source's files are unchanged: the size and modification time of its path and, for a folder, of
    each entry in it; None where the location is not a path on this machine (then nothing is kept)."""
    try:
        path = Path(location)
        if not path.is_absolute() or not path.exists():
            return None
        entries = [path, *sorted(path.iterdir())] if path.is_dir() else [path]
        return tuple((entry.name, stat.st_size, stat.st_mtime_ns) for entry in entries for stat in [entry.stat()])
    except (OSError, ValueError):
        return None


def _frozen(array: np.ndarray) -> np.ndarray:
    """The array, read-only: one decoded copy is shared by every trial of a process, so none may change it."""
    array.flags.writeable = False
    return array


def load(name: str) -> Dataset:
    """Load dataset `name` from the first source that has it. A process keeps the last few datasets it decoded (their
    arrays read-only) and answers again from them while their files are unchanged."""
    _discover()
    if name not in DATASETS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    info = DATASETS[name]
    tried: list[str] = []
    for source in info.sources():
        key = (name, source.kind, source.location, _stamp(source.location))
        if key[-1] is not None and key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
        try:
            x_train, y_train, x_test, y_test = source.read()
        except FileNotFoundError as error:
            tried.append(f"  - {source.kind}: {source.location}: not found ({error})")
            continue
        except (CorruptDataError, OSError, ValueError) as error:
            tried.append(f"  - {source.kind}: {source.location}: unusable ({error})")
            continue
        dataset = Dataset(name=name, x_train=_frozen(x_train), y_train=_frozen(y_train), x_test=_frozen(x_test),
                          y_test=_frozen(y_test), class_names=info.class_names,
                          source=f"{source.kind}: {source.location}")
        if key[-1] is not None:
            _LOADED[key] = dataset
            while len(_LOADED) > LOADED_KEPT:
                _LOADED.popitem(last=False)
        return dataset
    raise DataNotFoundError(f"dataset {name!r} is not available. Sources tried, in order:\n" + "\n".join(tried)
                            + f"\nTo fix: {info.how_to_fix}")
