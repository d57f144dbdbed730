"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""

from __future__ import annotations

import sys


class UserError(Exception):
    """A mistake in the command line or its inputs, explained in one line."""


_USER_ERRORS = (("datasets.formats", "CorruptDataError"), ("datasets.ownership", "ForeignOutputError"),
                ("datasets.registry", "DataNotFoundError"),
                ("datasets.registry", "UnknownDatasetError"), ("datasets.settings", "SettingError"),
                ("sweeps.joining", "StudyConflictError"), ("sweeps.names", "UnsafeNameError"),
                ("sweeps.record", "RecordError"), ("sweeps.run_identity", "RunDirInUseError"),
                ("sweeps.spec", "SpecError"), ("sweeps.storage", "StorageError"),
                ("sweeps.storage_faults", "StorageUnavailableError"), ("trainers.config", "ConfigError"),
                ("trainers.registry", "UnknownTaskError"),
                ("trainers.fit", "NonFiniteLossError"))  # a run that diverged: its loss and epoch in one line


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exception types the CLI prints as one line. Only those whose module is loaded: an error of a type whose
    module was never imported cannot have been raised, and importing them all would load numpy and Optuna for a
    one-line refusal."""
    return (UserError, *(getattr(sys.modules[module], name) for module, name in _USER_ERRORS
                         if module in sys.modules))
