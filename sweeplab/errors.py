"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the command line or its inputs, explained in one line."""


def user_error_types() -> tuple[type[BaseException], ...]:
    from datasets.formats import CorruptDataError
    from datasets.registry import DataNotFoundError, UnknownDatasetError
    from datasets.settings import SettingError
    from sweeps.joining import StudyConflictError
    from sweeps.names import UnsafeNameError
    from sweeps.record import RecordError
    from sweeps.run_identity import RunDirInUseError
    from sweeps.spec import SpecError
    from sweeps.storage import StorageError
    from sweeps.storage_faults import StorageUnavailableError
    from trainers.config import ConfigError
    from trainers.registry import UnknownTaskError

    return (UserError, SpecError, ConfigError, DataNotFoundError, UnknownDatasetError, UnknownTaskError,
            StorageError, CorruptDataError, UnsafeNameError,
            StudyConflictError, StorageUnavailableError, RunDirInUseError, RecordError, SettingError)
