"""Optuna storages from a URL: SQLite (default, under runs/), PostgreSQL, or a JournalStorage file.

Every storage opened here has a heartbeat: a trial whose agent died (no heartbeat for `grace` seconds) is
marked FAIL by the next agent that looks, and re-queued once more by `RetryHeartbeatStaleTrialCallback`.
Intervals come from $SWEEPLAB_HEARTBEAT_SECONDS (default 60) and $SWEEPLAB_GRACE_SECONDS (default 3x).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import os
import sqlite3
import time
import urllib.parse
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

from datasets.atomic import make_folder
from sweeps.storage_faults import (
    AtomicJournalFileBackend,
    FileIdentity,
    PatientOpenLock,
    StorageCorruptError,
    StorageError,
    StorageUnavailableError,
    call_patiently,
    make_patient,
    not_regular,
    patience_seconds,
)

DEFAULT_RUNS_DIR = Path("runs")
HEARTBEAT_KEY = "sweeplab:heartbeat"  # journal trials: wall-clock time of the last heartbeat (system attr)
MAX_RETRY = 3  # a trial whose agent dies this many times in a row is not re-queued again
URL_FORMS = "sqlite:///FILE, postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB or journal:///FILE"
SQLITE_BUSY_SECONDS = 1.0  # SQLite's own wait for a lock (C code, deaf to signals); the gateway's retries do the rest


def runs_dir() -> Path:
    """$SWEEPLAB_RUNS_DIR, or `runs` when it is unset or empty (an empty value, `SWEEPLAB_RUNS_DIR= cmd`, is unset:
    it put the database and every run into the working directory)."""
    return Path(os.environ.get("SWEEPLAB_RUNS_DIR", "").strip() or DEFAULT_RUNS_DIR)


def default_storage_url() -> str:
    return os.environ.get("SWEEPLAB_STORAGE") or f"sqlite:///{runs_dir() / 'sweeplab.db'}"


def storage_url(given: str | None) -> str:
    """The storage a command uses: the one given, or the default when none was given (None). An empty or blank
    URL is refused: it is a mistake (an unset shell variable), not a request for the default."""
    if given is None:
        return default_storage_url()
    if not given.strip():
        raise StorageError(f"storage {given!r}: empty; expected {URL_FORMS} (or leave --storage out for "
                           f"{default_storage_url()})")
    return given


def _seconds(name: str, default: int) -> int:
    """A whole number of seconds from the environment, read like a command-line count (sweeplab.numbers: ASCII
    digits only, so `1_0` and other scripts' digits are refused here as they are on the command line)."""
    import argparse

    from sweeplab.numbers import whole_number

    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return whole_number(1, 10**7)(raw)
    except argparse.ArgumentTypeError as error:
        raise StorageError(f"${name}={raw!r}: {error} (seconds)") from None


def heartbeat_settings() -> tuple[int, int]:
    """(heartbeat interval, grace period) in seconds; the grace must exceed the interval."""
    interval = _seconds("SWEEPLAB_HEARTBEAT_SECONDS", 60)
    grace = _seconds("SWEEPLAB_GRACE_SECONDS", 3 * interval)
    if grace <= interval:
        raise StorageError(f"$SWEEPLAB_GRACE_SECONDS={grace} must be larger than the heartbeat interval {interval}")
    return interval, grace


def last_heartbeat(trial: FrozenTrial) -> float | None:
    """A journal trial's last sign of life (wall-clock seconds): its latest heartbeat, or its start when it has
    not beaten yet; None when it has neither."""
    beat = trial.system_attrs.get(HEARTBEAT_KEY)
    beats = [float(beat)] if isinstance(beat, (int, float)) else []
    beats += [trial.datetime_start.timestamp()] if trial.datetime_start else []
    return max(beats) if beats else None


class HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
    """JournalStorage with heartbeats (Optuna's has none): beats are a trial system attr with a wall-clock time.

    Agents on different nodes compare their clocks, so keep them in sync (NTP) and the grace period generous.
    """

    def __init__(self, backend: Any, heartbeat_interval: int, grace_period: int,
                 stale_callback: Callable[[optuna.Study, FrozenTrial], None] | None) -> None:
        super().__init__(backend)
        self._heartbeat_interval, self._grace_period, self._stale_callback = (heartbeat_interval, grace_period,
                                                                              stale_callback)

    def record_heartbeat(self, trial_id: int) -> None:
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError, KeyError):
            self.set_trial_system_attr(trial_id, HEARTBEAT_KEY, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        deadline = time.time() - self._grace_period
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            if (last_heartbeat(trial) or 0.0) < deadline:
                stale.append(trial._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._stale_callback

    def _sync_with_backend(self) -> None:
        """Optuna's replay, whose errors on another worker's record it cannot apply (a missing field, a value of
        the wrong type) become one StorageCorruptError naming the line. Errors on this worker's own records are
        Optuna's answers (DuplicatedStudyError, UpdateFinishedTrialError, ...) and pass unchanged."""
        replay = self._replay_result
        applying: list[dict[str, Any]] = []

        def tracked(logs: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for log in logs:
                applying[:] = [log]
                yield log

        try:
            replay.apply_logs(tracked(self._backend.read_logs(replay.log_number_read)))
        except StorageUnavailableError:
            raise
        except Exception as error:
            if applying and applying[0].get("worker_id") == replay.worker_id:
                raise
            backend = self._backend
            raise StorageCorruptError(
                f"storage {getattr(backend, 'describe', 'journal')} is not a readable Optuna journal: line "
                f"{replay.log_number_read} is not a record Optuna can apply ({type(error).__name__}: "
                f"{str(error)[:100]}) ({getattr(backend, '_file_path', '')}; fix or move the file, or use another "
                "storage)") from error


class RetryStaleTrial(RetryHeartbeatStaleTrialCallback):
    """Re-queue a dead agent's trial with its parameters; `retried_trial_number` / `retry_history` link them."""

    STALE_USER_ATTRS = frozenset({"fail_reason", "config", "metrics", "agent", "run_dir", "pruned_at_step",
                                  "slurm_task", "result_signature"})  # (sweeps.result_signature.SIGNATURE_ATTR)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trial = copy.deepcopy(trial)
        trial.user_attrs = {key: value for key, value in trial.user_attrs.items() if key not in self.STALE_USER_ATTRS}
        super().__call__(study, trial)


def _check_url(url: str) -> None:
    if url.startswith("journal://"):
        if not url.removeprefix("journal://").startswith("/"):
            raise StorageError(f"storage {_redact(url)!r}: a journal needs an absolute path, e.g. journal:///shared/study.log")
        return
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.split("+")[0] not in {"sqlite", "postgresql", "mysql"}:
        raise StorageError(f"storage {_redact(url)!r}: expected {URL_FORMS}")
    if scheme == "sqlite" and not url.startswith("sqlite:///"):
        raise StorageError(f"storage {_redact(url)!r}: a SQLite URL has three slashes: sqlite:///FILE")
    if scheme == "sqlite" and url in {"sqlite:///", "sqlite:///:memory:"}:
        raise StorageError(f"storage {_redact(url)!r}: agents need a SQLite file that every process can open")
    if scheme.split("+")[0] == "sqlite" and "?" in url:  # SQLAlchemy ignores most (mode=ro) and would write anyway
        options = sorted(urllib.parse.parse_qs(url.split("?", 1)[1], keep_blank_values=True)) or ["?"]
        raise StorageError(f"storage {_redact(url)!r}: a SQLite URL takes no query options ({', '.join(options)}); "
                           "use sqlite:///FILE")


def _refuse_special_file(url: str, path: Path) -> None:
    """A storage path that exists must be a regular file: a FIFO or a device would block or never hold a study."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise StorageError(f"storage {_redact(url)!r}: cannot read {path} ({error})") from error
    kind = not_regular(mode)
    if kind is not None:
        raise StorageError(f"storage {_redact(url)!r}: {path} is {kind}, not a storage file")


OPTUNA_TABLES = {"studies", "version_info", "alembic_version"}


def _sqlite_tables(path: Path) -> set[str] | None:
    """The tables a SQLite file holds (read-only), or None when it cannot be read as SQLite."""
    try:
        connection = sqlite3.connect(f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro", uri=True, timeout=1)
        try:
            return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.Error:
        return None


SCHEMA_SETTLE_SECONDS = 2.0  # another process creating the schema adds its tables one by one within milliseconds


def _refuse_foreign_database(url: str, path: Path) -> None:
    """A SQLite file that holds tables but none of Optuna's belongs to another program: refused before Optuna would
    add its tables beside them. One that lacks some of Optuna's tables (and still lacks them a moment later, so
    not one another process is creating) is damaged: Optuna would silently create an empty `studies` table over
    the trials."""
    if not path.exists() or path.stat().st_size == 0:
        return
    tables = _sqlite_tables(path)
    if not tables:
        return  # unreadable as SQLite, or empty: opening it says what is wrong or creates the schema
    if not tables & OPTUNA_TABLES:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StorageError(f"storage {_redact(url)!r}: {path} is a SQLite database of another program (tables "
                           f"{shown}), not an Optuna storage; give a new file or an existing study's storage")
    if _optuna_tables() - tables:
        time.sleep(SCHEMA_SETTLE_SECONDS)
        tables = _sqlite_tables(path) or set()
    missing = sorted(_optuna_tables() - tables)
    if missing:
        raise StorageCorruptError(f"storage {_redact(url)!r}: {path} lacks Optuna's table(s) {', '.join(missing)}: "
                                  "the file was damaged or edited by hand (or written by an older Optuna: "
                                  "`optuna storage upgrade`)")


def _optuna_tables() -> set[str]:
    """The tables of Optuna's current SQL schema (its own model metadata, so a new Optuna's tables count)."""
    from optuna.storages._rdb import models

    return set(models.BaseModel.metadata.tables)


_OPENED: dict[tuple[str, int, int], optuna.storages.BaseStorage] = {}


def open_storage(url: str | None = None, create: bool = True) -> optuna.storages.BaseStorage:
    """`sqlite:///path.db`, `postgresql+psycopg://...`, or `journal:///path.log` (JournalStorage on a shared FS).

    Its calls are retried with backoff while the storage is locked, full or unreachable (sweeps.storage_faults).
    `create=False` for commands that read a study (best, report, record, ...): a storage file that is not there is
    refused (StorageMissingError) and nothing is created; only the commands that run trials create one.

    One storage per URL and heartbeat setting per process: every caller (objective, artifact upload, agent loop)
    shares its connection pool, so a long-lived agent does not open a new pool per trial."""
    url = storage_url(url)
    _check_url(url)
    patience_seconds()  # a bad setting is refused whether or not the storage exists
    path = file_of(url)
    if not create and path is not None:
        _refuse_special_file(url, path)
        if not path.exists():
            raise StorageMissingError(f"storage {_redact(url)!r}: no such file {path.resolve()} (nothing created: "
                                      "only `sweep`, `agent` and `agents` create a storage)")
    interval, grace = heartbeat_settings()
    key = (absolute_url(url), interval, grace)
    if key not in _OPENED:
        with warnings.catch_warnings():  # heartbeats and the retry callback are "experimental" since Optuna 2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            opened = _open(url, interval, grace, RetryStaleTrial(max_retry=MAX_RETRY))
            path = file_of(key[0])  # already resolved for the key
            written = file_of(url)  # as given: a link there is followed at each check, not once at open
            identity = (FileIdentity(str(path), repr(_redact(url)), os.path.abspath(written) if written else None)
                        if path else None)
            _OPENED[key] = make_patient(opened, repr(_redact(url)), identity)
    return _OPENED[key]


def url_of(storage: object) -> str | None:
    """The URL `open_storage` opened `storage` from (also through Optuna's cache wrapper), or None."""
    candidates = (storage, getattr(storage, "_backend", None))  # Optuna's _CachedStorage keeps ours as `_backend`
    return next((url for (url, _, _), opened in _OPENED.items() if any(opened is item for item in candidates)), None)


FILE_PREFIXES = ("sqlite:///", "journal://")  # URLs whose storage is a file: the prefix, then its path


def _split(url: str) -> tuple[str, Path | None]:
    """(file prefix, file as written) of a SQLite or journal URL; ("", None) for a database server."""
    prefix = next((prefix for prefix in FILE_PREFIXES if url.startswith(prefix)), None)
    return ("", None) if prefix is None else (prefix, Path(url.removeprefix(prefix)))


def file_of(url: str) -> Path | None:
    """The file behind a SQLite or journal URL (as written); None for a database server."""
    return _split(url)[1]


def absolute_url(url: str) -> str:
    """A file URL by absolute path (the same storage whatever the working directory, or node); others unchanged."""
    prefix, path = _split(url)
    return url if path is None else prefix + str(path.resolve())


def _silent_trials_stale(storage: optuna.storages.RDBStorage, grace: int) -> optuna.storages.RDBStorage:
    """Optuna's SQL storage counts a RUNNING trial stale only once it has beaten: one that never beat (asked for by
    another program through Optuna, or its worker killed before the first beat) stayed RUNNING for ever, counted as
    running by every sweep (round 8's 3-c). Here a RUNNING trial with no heartbeat a grace period after its start is
    stale too, failed and re-queued like a dead agent's (a journal's check already works so: `last_heartbeat`)."""
    from sqlalchemy import text

    own = storage._get_stale_trial_ids

    def stale(study_id: int) -> list[int]:
        ids = set(own(study_id))
        deadline = datetime.datetime.now() - datetime.timedelta(seconds=grace)  # Optuna stores local naive times
        quiet = [trial._trial_id for trial in storage.get_all_trials(study_id, deepcopy=False,
                                                                     states=(TrialState.RUNNING,))
                 if trial._trial_id not in ids and trial.datetime_start is not None and trial.datetime_start < deadline]
        if quiet:
            with storage.engine.connect() as connection:
                beaten = {row[0] for row in connection.execute(text("SELECT trial_id FROM trial_heartbeats"))}
            ids |= {trial_id for trial_id in quiet if trial_id not in beaten}
        return sorted(ids)

    storage._get_stale_trial_ids = stale
    return storage


def _open(url: str, interval: int, grace: int, retry: RetryStaleTrial) -> optuna.storages.BaseStorage:
    path = file_of(url)
    if path is not None:
        _refuse_special_file(url, path)
    if url.startswith("journal://"):
        try:
            make_folder(path.parent)
            backend = AtomicJournalFileBackend(str(path), repr(_redact(url)))
            return HeartbeatJournalStorage(backend, interval, grace, retry)
        except OSError as error:
            raise StorageError(f"storage {_redact(url)!r}: cannot open the journal file ({error})") from error
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite:///"):
        _refuse_foreign_database(url, path)
        try:
            make_folder(file_of(url).parent)
        except OSError as error:
            raise StorageError(f"storage {_redact(url)!r}: cannot create its directory ({error})") from error
        # several agents write to one file: SQLite waits briefly for another's write (in C, where a signal cannot
        # act); longer waits are the gateway's retries, which draw on the patience budget and a signal interrupts
        engine_kwargs["connect_args"] = {"timeout": min(SQLITE_BUSY_SECONDS, patience_seconds())}
    elif url.startswith("postgresql"):
        # a row or table lock held by another session fails the statement after a while (then it is retried)
        # instead of blocking this agent for as long as the other holds it
        lock_ms = int(min(60.0, patience_seconds()) * 1000)
        engine_kwargs["connect_args"] = {"connect_timeout": 10, "options": f"-c lock_timeout={lock_ms}"}

    def connect() -> optuna.storages.RDBStorage | Exception:
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=interval,
                                              grace_period=grace, heartbeat_stale_trial_callback=retry)
        except Exception as error:  # another agent's write holds the lock: wait within patience; others stop now
            if "database is locked" in str(error) or "database table is locked" in str(error):
                raise _Locked(error) from error
            return error

    opened = call_patiently(connect, "open", repr(_redact(url)))
    if not isinstance(opened, Exception):
        return _silent_trials_stale(opened, grace)
    detail = next((line for line in str(opened).splitlines() if line.strip()), type(opened).__name__)
    if "no longer compatible with the table schema" in detail or "not compatible" in detail:
        detail = (f"its table schema's version is not one this Optuna ({optuna.__version__}) knows: the file is "
                  "damaged or was written by a newer Optuna")
    raise StorageError(f"storage {_redact(url)!r}: cannot connect ({type(opened).__name__}: {detail.strip()})") \
        from opened


class StorageMissingError(StorageError):
    """A command that only reads a study was given a storage file that does not exist."""


class _Locked(OSError):
    """Opening found the database locked by another process's write: a wait may cure it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error).splitlines()[0] if str(error) else type(error).__name__)


def _redact(url: str) -> str:
    """Hide a password in a URL before it reaches a message."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        if ":" in credentials:
            return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url


@contextlib.contextmanager
def claim_lock(storage: optuna.storages.BaseStorage, url: str | None, study_name: str) -> Iterator[None]:
    """A lock shared by every agent of a study, held while an agent decides to start a trial.

    PostgreSQL: an advisory lock (works across nodes); SQLite and journal files: a lock file next to them
    (Optuna's `JournalFileOpenLock`, safe on NFS and freed after 30 s if its holder died), waited for within the
    command's patience (`storage_faults.PatientOpenLock`).
    """
    url = storage_url(url)
    key = zlib.crc32(f"sweeplab:{study_name}".encode())
    if url.startswith("postgresql") and isinstance(storage, optuna.storages.RDBStorage):
        from sqlalchemy import text

        with storage.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        return
    path = file_of(url)
    if path is None:  # mysql and friends: the claim check below is then best effort
        yield
        return
    lock = PatientOpenLock(f"{path}.{key:08x}.lock", repr(_redact(url)))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
