"""sweeplab's dataset registry (not Hugging Face's `datasets`): name -> numpy arrays from the first source found."""

from datasets.registry import DATASETS, DataNotFoundError, Dataset, DatasetInfo, Source, dataset_names, load
from datasets.splits import Splits, check_validation_classes_trained, split

__all__ = ["DATASETS", "DataNotFoundError", "Dataset", "DatasetInfo", "Source", "Splits",
           "check_validation_classes_trained", "dataset_names", "load", "split"]
