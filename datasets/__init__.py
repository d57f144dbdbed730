"""sweeplab's dataset registry (not Hugging Face's `datasets`): name -> numpy arrays from the first source found.

The names below load lazily: every command checks its folder settings (`datasets.settings`) at its start, before
its stop handlers matter most, and must not wait for numpy to do it."""

from __future__ import annotations

from datasets.lazy import lazy_names

_PUBLIC = {"DATASETS": "datasets.registry", "DataNotFoundError": "datasets.registry", "Dataset": "datasets.registry",
           "DatasetInfo": "datasets.registry", "Source": "datasets.registry", "dataset_names": "datasets.registry",
           "load": "datasets.registry", "Splits": "datasets.splits",
           "check_validation_classes_trained": "datasets.splits", "split": "datasets.splits"}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy_names(__name__, _PUBLIC)
