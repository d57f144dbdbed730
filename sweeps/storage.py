"""Optuna storages from a URL: SQLite (default, under runs/), PostgreSQL, or a JournalStorage file."""

from __future__ import annotations

import os
from pathlib import Path

import optuna

DEFAULT_RUNS_DIR = Path("runs")


def runs_dir() -> Path:
    return Path(os.environ.get("SWEEPLAB_RUNS_DIR", DEFAULT_RUNS_DIR))


def default_storage_url() -> str:
    return os.environ.get("SWEEPLAB_STORAGE") or f"sqlite:///{runs_dir() / 'sweeplab.db'}"


class StorageError(RuntimeError):
    """The storage URL is malformed or the database cannot be reached."""


def open_storage(url: str | None = None) -> optuna.storages.BaseStorage:
    """`sqlite:///path.db`, `postgresql://...`, or `journal:///path.log` (Optuna JournalStorage on a shared FS)."""
    url = url or default_storage_url()
    if url.startswith("journal://"):
        path = Path(url.removeprefix("journal://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    elif not url.startswith(("postgresql", "mysql", "sqlite")):
        raise StorageError(f"storage {url!r}: expected sqlite:///FILE, postgresql://USER@HOST/DB or journal:///FILE")
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    except Exception as error:  # sqlalchemy raises many kinds; the user needs one line
        raise StorageError(f"storage {url!r}: cannot connect ({type(error).__name__}: {str(error).splitlines()[0]})") \
            from error
