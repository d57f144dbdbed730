"""Storage faults (a locked database, a full disk, a dropped connection): retry with backoff, then say what happened.

Optuna reports every SQLAlchemy error as "invalid data in the commit, e.g. exceeding max length"; the real cause
(`database is locked`, `database or disk is full`, `connection refused`) is in the exception chain. Every storage
opened by `sweeps.storage.open_storage` goes through `make_patient`: its calls are retried with exponential
backoff, all of them drawing on one patience budget per command of $SWEEPLAB_STORAGE_PATIENCE_SECONDS (default 600:
a command stalls at most that long in all, however many calls fail; the budget refills after a whole patience period
without a wait), then raise StorageUnavailableError, a one-line user error naming the storage and the cause. A
storage file removed or replaced while the command runs (another inode at its path) stops it before the next call
(StorageReplacedError): nothing is written into a different study; a journal only grows, so one truncated or
overwritten in place (same inode) is recognised the same way. A journal whose whole lines are not Optuna records
(junk, non-UTF-8, not JSON, unknown operations) stops the command in one line naming the file and the line
(StorageCorruptError), wherever it is read. Waiting for a journal's lock file draws on the same patience budget, so a
stale lock stops the command in one line naming it. Intermediate values (pruning reports) are best effort: a trial
keeps training when one cannot be written, since its metrics are in the run directory anyway. The first wait for a
cause prints one line (a retry is never silent); a fault no wait cures (a read-only file, directory or mount,
permission denied) is not retried: it stops the command at once in one line (StorageUnwritableError).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import inspect
import json
import math
import os
import random
import re
import shlex
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import optuna

from sweeplab.numbers import is_number
from trainers.stop import seconds_since_first_stop

PATIENT_METHODS = (
    "create_new_trial", "set_trial_param", "set_trial_state_values", "set_trial_user_attr", "set_trial_system_attr",
    "set_study_user_attr", "set_study_system_attr", "get_study_id_from_name", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "get_all_studies", "get_trial", "get_all_trials",
    "get_n_trials", "get_trial_id_from_study_id_trial_number", "create_new_study",
    "get_best_trial", "get_study_name_from_id", "get_trial_number_from_id", "get_trial_params",
    "get_trial_user_attrs", "get_trial_system_attrs", "delete_study",
    "_get_stale_trial_ids",  # read by optuna.storages.fail_stale_trials before every trial
    # what Optuna's cache wrapper (_CachedStorage, which every Study puts around an RDB storage) calls on it instead
    # of the public methods: a full disk at trial creation bypassed the gateway through `_create_new_trial`
    "_create_new_trial", "_get_trials", "_set_trial_param", "_get_best_trial_id",
)
NOT_RETRIED = ("get_heartbeat_interval", "get_heartbeat_stale_trial_callback",  # settings, no storage access
               "record_heartbeat")  # the heartbeat thread's own call: a missed beat is retried by the next one
BEST_EFFORT_METHODS = ("set_trial_intermediate_value",)
MAX_BACKOFF_SECONDS = 30.0
STOP_PATIENCE_SECONDS = 5.0  # how long the clean-up after a stop signal may wait for the storage


class StorageError(RuntimeError):
    """The storage URL or a storage setting is malformed, or the database cannot be reached."""


class StorageUnavailableError(RuntimeError):
    """The storage stayed unreachable or unwritable for the whole patience period."""


class StorageReplacedError(StorageUnavailableError):
    """The storage file was removed or replaced by another file while this command used it."""


class StorageCorruptError(StorageUnavailableError):
    """The storage file is not a readable storage (a journal line that is not an Optuna record, a FIFO, ...)."""


class StorageUnwritableError(StorageUnavailableError):
    """The storage refuses writes for good (read-only file, directory or mount; permission denied)."""


class StorageLockedError(StorageUnavailableError):
    """A journal's lock file stayed held for this command's whole patience."""


FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def not_regular(mode: int) -> str | None:
    """What a file of this mode is when it is not a regular file ("a FIFO"), else None."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in FILE_KINDS if test(mode)), "not a regular file")


class FileIdentity:
    """The file a storage URL named when it was opened (device and inode); `check` refuses any other file there."""

    def __init__(self, path: str, describe: str, given: str | None = None) -> None:
        self.path, self.describe = path, describe
        self.given = given if given is not None and given != path else None  # the name as written, a link maybe
        self.identity = self._stat()

    def _stat(self, path: str | None = None) -> tuple[int, int] | None:
        try:
            status = os.stat(path or self.path)
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino

    def emptied(self) -> bool:
        """The file is still there, and holds nothing (cut to 0 bytes by hand or by another program)."""
        try:
            return os.stat(self.path).st_size == 0
        except OSError:
            return False

    def unwritable(self) -> bool:
        """The file (or, for SQLite's journal, its directory) refuses writes now: read-only, immutable, a read-only
        mount. SQLite reports a file made immutable mid-run as "disk I/O error", which alone would look curable."""
        directory = os.path.dirname(self.path) or "."
        return os.path.exists(self.path) and not (os.access(self.path, os.W_OK) and os.access(directory, os.W_OK))

    def at_file_size_limit(self) -> bool:
        """The process may not write files as large as this one is about to grow (`ulimit -f`: SQLite reports
        "disk I/O error", a journal "File too large"); no wait raises the limit."""
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return False
        return limit != resource.RLIM_INFINITY and size + 64 * 1024 >= limit  # SQLite grows by pages, journals by lines

    def check(self) -> None:
        now = self._stat()
        if now != self.identity:
            what = "removed" if now is None else "replaced by another file"
            raise StorageReplacedError(f"storage {self.describe}: its file {self.path} was {what} while this command "
                                       "ran; stopped so that nothing is written into a different study")
        if self.given is not None and self._stat(self.given) != self.identity:  # round 10's 3-b: a link re-pointed
            raise StorageReplacedError(f"storage {self.describe}: its name {self.given} no longer leads to the file "
                                       f"this command opened ({self.path}): a link was re-pointed or removed while "
                                       "it ran; stopped so that nothing is written into a different study")


def call_patiently(function: Callable[[], Any], name: str, describe: str) -> Any:
    """`function()` retried like a storage method (the same patience budget), for calls outside a storage object."""
    return _retrying(function, name, describe, False, None)()


class PatienceBudget:
    """One budget of waiting per command: every retry of every call draws on it, the time a failed try itself took
    (SQLite's busy wait, a slow network) as well as the sleeps between tries (round 10's 3-e: a 2 s patience stalled
    6 s), so a command stalls at most `patience_seconds()` in all, plus the one try under way; it refills once a
    whole patience period has passed without a wait."""

    clock: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self) -> None:
        self.spent, self.last_wait, self.after_stop = 0.0, float("-inf"), 0.0

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds` when the budget allows it (True), else False without sleeping. Once a stop signal has
        come, the clean-up it started (failing and re-queueing the trial) waits at most STOP_PATIENCE_SECONDS after
        it, whatever patience is left: a stopped command ends within seconds, not after its patience."""
        if seconds_since_first_stop() is not None:
            if self.after_stop + seconds > STOP_PATIENCE_SECONDS:
                return False
            self.after_stop += seconds
        total = patience_seconds()
        if self.clock() - self.last_wait > total:
            self.spent = 0.0
        if self.spent >= total:
            return False
        seconds = min(seconds, total - self.spent)  # the last sleep ends with the budget, not past it
        self.sleep(seconds)
        self.spent += seconds
        self.last_wait = self.clock()
        return True

    def charge(self, seconds: float) -> None:
        """Count the time a failed try took against the budget (and, after a stop signal, against its seconds)."""
        if seconds_since_first_stop() is not None:
            self.after_stop += seconds
        if self.clock() - seconds - self.last_wait > patience_seconds():
            self.spent = 0.0
        self.spent += seconds
        self.last_wait = self.clock()


PATIENCE = PatienceBudget()  # this process's (this command's) budget


def patience_seconds() -> float:
    raw = os.environ.get("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "")
    plain = re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,9})?", raw.strip())  # no `1_0`, exponent, inf or other digits
    value = float(raw) if plain else 600.0 if not raw.strip() else -1.0
    if not value > 0:
        raise StorageError(f"$SWEEPLAB_STORAGE_PATIENCE_SECONDS={raw!r}: expected a positive number of seconds "
                           "written as 1 to 9 digits, optionally a point and 1 to 9 more (e.g. 600 or 2.5; no "
                           "exponent, sign or inf)")
    return value


# the exception the caller of a storage call was handling when it made the call (a stop being cleaned up): every
# error raised inside the call carries it as context, but it is not the call's own (round 11's 4-a: a "database is
# locked" during the clean-up of a stop was read as the stop itself, and the trial was left RUNNING without a word)
_HANDLED: contextvars.ContextVar[BaseException | None] = contextvars.ContextVar("handled", default=None)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and those it was raised from or during (`__cause__`, else `__context__`), outermost first; within a
    storage call, not past the exception its caller was handling."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    handled = _HANDLED.get()
    while current is not None and current not in chain and current is not handled:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def root_cause(error: BaseException) -> str:
    """The innermost useful message of an exception chain, on one line (`OperationalError: database is locked`)."""
    for candidate in reversed(_chain(error)):
        text = getattr(candidate, "orig", None) or candidate
        message = next((line.strip() for line in str(text).splitlines() if line.strip()), "")
        if message and "invalid data in the commit" not in message:
            return f"{type(text).__name__}: {message}"[:300]
    return f"{type(error).__name__}: {error}"[:300]


PERMANENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG}  # EFBIG: beyond `ulimit -f`
PERMANENT_CAUSES = ("readonly database", "read-only file system", "permission denied", "file too large")


def _chain_says(error: BaseException, errnos: set[int], causes: tuple[str, ...]) -> bool:
    """Some error of the chain has one of `errnos`, or its message (a driver's `orig` first) one of `causes`."""
    for current in _chain(error):
        if isinstance(current, OSError) and current.errno in errnos:
            return True
        if any(cause in str(getattr(current, "orig", None) or current).lower() for cause in causes):
            return True
    return False


def is_permanent(error: BaseException) -> bool:
    """Faults no wait cures: a read-only or permission-denied storage (a file, its directory, a mount). Retrying
    them would stall the command silently for its whole patience."""
    return _chain_says(error, PERMANENT_ERRNOS, PERMANENT_CAUSES)


WRITE_FAILURE_CAUSES = ("disk i/o error", "file too large", "disk is full", "no space left")


def is_write_failure(error: BaseException) -> bool:
    """An error a write that could not grow the file raises (SQLite's "disk I/O error" or "database or disk is
    full", a journal's EFBIG or ENOSPC): only such an error near `ulimit -f` is the file-size limit's doing."""
    return _chain_says(error, {errno.EFBIG, errno.ENOSPC}, WRITE_FAILURE_CAUSES)


PARAM_WRITES = ("set_trial_param", "_set_trial_param")


def param_problem(name: Any, value: Any, distribution: Any) -> str | None:
    """Why a parameter's internal value does not lie inside its distribution, or None. Stricter than Optuna's
    `_contains` for integers: 2.5 is not inside an integer range (Optuna would store it and train on 2)."""
    if not isinstance(distribution, optuna.distributions.BaseDistribution):
        return None
    integral = isinstance(distribution, optuna.distributions.IntDistribution) and not (
        is_number(value) and math.isfinite(value) and float(value).is_integer())
    try:
        inside = not integral and distribution._contains(value)
    except (TypeError, ValueError, IndexError):
        inside = False
    return None if inside else f"parameter {name!r} = {value!r} does not lie in its distribution {distribution}"


def _refuse_param_outside(arguments: tuple[Any, ...]) -> None:
    """A parameter write whose value lies outside its own distribution (a queued trial's fixed value, Optuna's
    `enqueue_trial`, is written as given, with only a warning) is refused before it is written: stored, it would
    make every later read of the study refuse it as damaged. The trial fails with this line as its reason."""
    if len(arguments) >= 4 and (problem := param_problem(arguments[1], arguments[2], arguments[3])) is not None:
        raise ValueError(f"{problem}: refused before it was stored (a queued trial's value?)")


def _vanished(method: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
              error: BaseException) -> str | None:
    """What disappeared from under a running command, or None: the trial a call names (Optuna's "Record does not
    exist." for a trial id) or one of Optuna's tables ("no such table"). At open, a missing table is waited for and
    named (`sweeps.storage`); here, mid-run, nothing a wait cures."""
    table = re.search(r"no such table: (\w+)", root_cause(error))
    if table:
        return f"its table {table.group(1)!r} was removed"
    if not isinstance(error, KeyError):
        return None
    try:
        parameters = list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return None
    if parameters[:1] in (["trial_id"], ["study_id"]):  # a study deleted under a running sweep (round 8's 3-b)
        return f"{parameters[0].replace('_', ' ')} {_arguments(method, args, kwargs)[0]} no longer exists"
    return None


def is_refused(error: BaseException) -> bool:
    """The database refused the write itself (an integrity constraint or a trigger that aborts it): the same write
    is refused again after any wait. Not an answer Optuna made of one (a study that exists already)."""
    if isinstance(error, (optuna.exceptions.DuplicatedStudyError, optuna.exceptions.UpdateFinishedTrialError,
                          LookupError, ValueError)):
        return False
    return any(type(current).__name__ == "IntegrityError" for current in _chain(error))  # sqlite3, SQLAlchemy, psycopg


_ANNOUNCED: set[tuple[str, str, bool]] = set()


def _announce_wait(describe: str, cause: str) -> None:
    """One line the first time this command waits on a storage for a cause: a retry is never silent."""
    stopping = seconds_since_first_stop() is not None
    if (describe, cause, stopping) not in _ANNOUNCED:
        _ANNOUNCED.add((describe, cause, stopping))
        within = (f"for at most {STOP_PATIENCE_SECONDS:.0f} s after the stop signal, to record the stop" if stopping
                  else f"within this command's patience of {patience_seconds():.0f} s "
                  "($SWEEPLAB_STORAGE_PATIENCE_SECONDS)")
        print(f"sweeplab: warning: storage {describe}: {cause}; retrying {within}", file=sys.stderr, flush=True)


# a trial's attributes that sweeplab writes and reads back, with their types (round 8's 3-g: a `promoted_from` of
# another type changed which trials `best` ranks)
OWN_ATTRS = {"metrics": dict, "config": dict, "fail_reason": str, "run_dir": str, "promoted_from": int,
             "pruned_at_step": int, "retried_trial_number": int, "recorded_for_trial_number": int, "overrides": dict,
             "agent": str, "result_signature": str, "retry_history": list}
OWN_STUDY_ATTRS = {"definition": dict, "task": str, "objective": str, "spec_path": str}  # a study's


def _checked(result: Any, name: str, describe: str) -> Any:
    """A read's trials as Optuna decoded them, refused when a stored value is not a number (SQLite keeps whatever a
    hand edit wrote; Optuna passes text through as a trial's value): StorageCorruptError, one line."""
    if name == "get_study_directions" and isinstance(result, list) and len(result) != 1:
        raise StorageCorruptError(f"storage {describe}: a study holds {len(result)} objective directions (read by "
                                  f"{name}); a sweeplab study has one: the file was damaged or edited by hand")
    if name == "get_all_studies" and isinstance(result, list):
        for study in result:  # a sweeplab study (it holds its definition) has one direction; another's may have more
            if "definition" in getattr(study, "user_attrs", {}) and len(getattr(study, "directions", [])) != 1:
                raise StorageCorruptError(f"storage {describe}: study {study.study_name!r} holds "
                                          f"{len(study.directions)} objective directions (read by {name}); a "
                                          "sweeplab study has one: the file was damaged or edited by hand")
        return result
    if name == "get_study_user_attrs" and isinstance(result, dict):
        for key, kind in OWN_STUDY_ATTRS.items():
            if key in result and not isinstance(result[key], kind):
                raise StorageCorruptError(f"storage {describe}: the study's attribute {key!r} is not {kind.__name__} "
                                          "(read by get_study_user_attrs): the file was damaged or edited by hand")
        return result
    trials = result if isinstance(result, list) else [result]
    numbers_seen: set[int] = set()
    for trial in trials:
        if not isinstance(trial, optuna.trial.FrozenTrial):
            return result
        problem = _trial_damage(trial)
        if problem is None and trial.number in numbers_seen:
            problem = "is stored twice (two trials with one number)"
        if problem is not None:
            raise StorageCorruptError(f"storage {describe}: trial #{trial.number} {problem} (read by {name}): the file "
                                      "was damaged or edited by hand")
        numbers_seen.add(trial.number)
    return result


def _trial_damage(trial: optuna.trial.FrozenTrial) -> str | None:
    """What no sweeplab or Optuna write leaves in a trial, or None: a negative number, a value or intermediate
    value that is not a finite number (sweeplab completes a trial only with a finite value and reports only finite
    ones), one of sweeplab's attributes of another type, and what Optuna's own rules forbid (a parameter outside its
    distribution, a COMPLETE trial without a value, ...)."""
    if not isinstance(trial.number, int) or trial.number < 0:
        return "has a negative number"
    if trial.number > trial._trial_id:  # a number counts the study's earlier trials, an id every study's
        return f"has a number beyond its trial id {trial._trial_id} (numbers count a study's trials from 0)"
    if len(trial.values or []) > 1:
        return f"holds {len(trial.values)} objective values (a sweeplab study has one)"
    values = [*(trial.values or []), *trial.intermediate_values.values()]
    if not all(is_number(value) for value in values):
        return "holds a value that is not a number"
    if not all(math.isfinite(value) for value in values):
        return "holds a value that is not finite (Inf or NaN)"
    if trial.datetime_start and trial.datetime_complete and trial.datetime_complete < trial.datetime_start:
        return "finished before it started"
    for key, kind in OWN_ATTRS.items():
        value = trial.user_attrs.get(key)
        if key in trial.user_attrs and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            return f"has attribute {key!r} that is not {kind.__name__}"
    for name, distribution in trial.distributions.items():
        if isinstance(distribution, optuna.distributions.IntDistribution) and name in trial.params \
                and (problem := param_problem(name, trial.params[name], distribution)) is not None:
            return f"holds {problem}"
    try:  # Optuna's own consistency rules: a COMPLETE trial has its value, a started one its start time, every
        trial._validate()  # parameter lies inside its own distribution
    except (ValueError, TypeError, IndexError) as error:
        return f"is inconsistent as {trial.state.name} ({str(error)[:120]})"
    return None


DAMAGED_FILE_CAUSES = ("database disk image is malformed", "file is not a database")  # SQLite's words


def is_undecodable(error: BaseException) -> bool:
    """A read that found a stored value Optuna cannot decode (a state not among its enum's values, text where a
    number belongs, a distribution that is not JSON): damage, not a fault a wait cures or a question's answer (a
    missing study is a KeyError, no finished trial a ValueError: both pass unchanged)."""
    return isinstance(error, (TypeError, ArithmeticError, json.JSONDecodeError, UnicodeDecodeError, IndexError,
                              RecursionError)) or (
        isinstance(error, LookupError) and not isinstance(error, KeyError))


def is_transient(error: BaseException) -> bool:
    """Errors a wait may cure: storage-internal (SQLAlchemy) errors and OS errors (full disk, lost NFS, ...)."""
    if isinstance(error, (optuna.exceptions.UpdateFinishedTrialError, optuna.exceptions.DuplicatedStudyError,
                          KeyError, ValueError, TypeError)):
        return False
    if isinstance(error, (optuna.exceptions.StorageInternalError, OSError)):
        return True
    return any(type(error).__module__.startswith(prefix) for prefix in ("sqlalchemy", "psycopg", "sqlite3"))


def _directions_kept(seen: dict[Any, Any], study_id: Any, directions: Any, describe: str) -> None:
    """A study's directions never change (Optuna has no call that changes them): ones that differ from those this
    command read first were rewritten by another process, and every trial told since would be ranked the other way
    (round 9's 3-b: the sweep went on, `best` ranked the study upside down). StorageCorruptError, one line."""
    first = seen.setdefault(study_id, directions)
    if first != directions:
        def names(values: Any) -> str:
            return "/".join(getattr(value, "name", str(value)) for value in values)

        raise StorageCorruptError(f"storage {describe}: study id {study_id}'s objective direction changed from "
                                  f"{names(first)} to {names(directions)} while this command ran: it was edited by "
                                  "another process (an Optuna study's direction never changes)")


def _retrying(method: Callable[..., Any], name: str, describe: str, best_effort: bool,
              identity: FileIdentity | None, directions: dict[Any, Any] | None = None) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        token = _HANDLED.set(sys.exc_info()[1])
        try:
            return attempt(*args, **kwargs)
        finally:
            _HANDLED.reset(token)

    def attempt(*args: Any, **kwargs: Any) -> Any:
        delay, attempts = 0.5, 0
        while True:
            attempts += 1
            if identity is not None:
                identity.check()
            if name in PARAM_WRITES:
                _refuse_param_outside(_arguments(method, args, kwargs))
            started = PATIENCE.clock()
            try:
                before = _refusals()
                result = _checked(method(*args, **kwargs), name, describe)
                if name == "get_study_directions" and directions is not None and isinstance(result, list):
                    _directions_kept(directions, _arguments(method, args, kwargs)[0], result, describe)
                elif name == "create_new_study" and directions is not None:  # Optuna's cache never reads them back
                    directions[result] = list(_arguments(method, args, kwargs)[0])
                if name == "set_trial_state_values" and result is False:
                    _refused_finish(method, args, kwargs, describe)
                refused = _refusals() != before
                if refused and name in READ_BACK:
                    _check_written(method, name, args, kwargs, describe)
                elif refused and best_effort:
                    print(f"sweeplab: warning: {describe}: {name} refused by the database (IntegrityError); the trial "
                          "goes on", file=sys.stderr, flush=True)
                return result
            except StorageCorruptError:
                raise
            except Exception as error:
                stop = next((link for link in _chain(error) if isinstance(link, (KeyboardInterrupt, SystemExit))), None)
                if stop is not None:  # a stop a library wrapped in its own error (round 10's 4-a): a stop, not a fault
                    raise stop from None
                if attempts > 1 and name == "set_trial_state_values" and _already_set(method, args, error):
                    return True  # an earlier attempt committed before its connection failed
                if is_refused(error):
                    raise _refusal(describe, f"the write ({root_cause(error)})") from error
                if (vanished := _vanished(method, name, args, kwargs, error)) is not None:
                    if identity is not None and identity.emptied():  # round 12's 3-l: named as what happened
                        vanished = f"its file {identity.path} was emptied (0 bytes)"
                    raise StorageCorruptError(f"storage {describe}: {vanished} (by {name}) while this command ran: "
                                              "the file was damaged or edited by hand") from error
                size_limited = identity is not None and is_write_failure(error) and identity.at_file_size_limit()
                if is_permanent(error) or size_limited or (identity is not None and identity.unwritable()):
                    raise StorageUnwritableError(
                        f"storage {describe} cannot be written: {root_cause(error)} ("
                        + ("the file reached this process's file-size limit, `ulimit -f`; " if size_limited else
                           "read-only or not permitted; ")
                        + "a wait does not cure it: check the file's and its directory's permissions and limits)") \
                        from error
                if _chain_says(error, set(), DAMAGED_FILE_CAUSES):  # no wait cures a damaged file (round 11's 3-f)
                    raise StorageCorruptError(f"storage {describe}: {root_cause(error)} (by {name}): the file was "
                                              "damaged or cut short while this command ran") from error
                undecodable = is_undecodable(error) or (  # a best trial's "none finished yet" is an answer
                    isinstance(error, ValueError) and "best" not in name)
                if name.lstrip("_").startswith("get_") and undecodable:
                    raise StorageCorruptError(f"storage {describe}: a stored record cannot be read by {name} "
                                              f"({root_cause(error)}): the file was damaged or edited by hand") \
                        from error
                if not is_transient(error):
                    raise
                if best_effort:
                    print(f"sweeplab: warning: {describe}: {name} skipped ({root_cause(error)}); the trial goes on",
                          file=sys.stderr, flush=True)
                    return None
                PATIENCE.charge(PATIENCE.clock() - started)
                _announce_wait(describe, root_cause(error))
                if not PATIENCE.wait(delay * (0.5 + random.random())):
                    spent = (f"given up {STOP_PATIENCE_SECONDS:.0f} s after the stop signal"
                             if seconds_since_first_stop() is not None else
                             f"this command's patience of {patience_seconds():.0f} s is spent, "
                             "$SWEEPLAB_STORAGE_PATIENCE_SECONDS")
                    raise StorageUnavailableError(f"storage {describe} unavailable: {root_cause(error)} (still failing "
                                                  f"after {attempts} tries; {spent})") from error
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    return call


def _refusal(describe: str, what: str) -> StorageCorruptError:
    """The one line for a write the database itself refused (an integrity constraint or a trigger)."""
    return StorageCorruptError(f"storage {describe} refuses {what}: a constraint or trigger in the database, not a "
                               "fault a wait cures; was it edited by hand?")


def _arguments(method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """A storage call's arguments in order, however passed (Optuna's cache passes some by keyword)."""
    return tuple(inspect.signature(method).bind(*args, **kwargs).arguments.values())


def _refused_finish(method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], describe: str) -> None:
    """Optuna's SQL storage answers False, silently, when the database refuses (IntegrityError) the write that
    finishes a trial, which would leave it RUNNING with its result unstored. False is also its answer when a
    waiting trial was claimed by another worker first: that one is not a finish, and passes."""
    trial_id, state = _arguments(method, args, kwargs)[:2]
    storage = getattr(method, "__self__", None)
    if not isinstance(state, optuna.trial.TrialState) or not state.is_finished() or storage is None:
        return
    stored = storage.get_trial(trial_id).state
    if stored != state:
        raise _refusal(describe, f"the write that finishes a trial as {state.name} (it stays {stored.name})")


def _already_set(method: Callable[..., Any], args: tuple[Any, ...], error: BaseException) -> bool:
    if not isinstance(error, optuna.exceptions.UpdateFinishedTrialError) or len(args) < 2:
        return False
    storage = getattr(method, "__self__", None)
    try:
        return storage is not None and storage.get_trial(args[0]).state == args[1]
    except Exception:
        return False


_REFUSALS = threading.local()  # how many writes the database refused in this thread (SQLAlchemy's handle_error)


def _refusals() -> int:
    return getattr(_REFUSALS, "count", 0)


def _watch_refusals(storage: optuna.storages.BaseStorage) -> None:
    """Count the writes an SQL database refuses (IntegrityError): Optuna's SQL storage swallows them in most of its
    setters, meant for two workers racing to write the same record, so a refused write would vanish silently."""
    engine = getattr(storage, "engine", None)
    if engine is None:
        return
    from sqlalchemy import event

    def refused(context: Any) -> None:
        if type(context.original_exception).__name__ == "IntegrityError":
            _REFUSALS.count = _refusals() + 1

    event.listen(engine, "handle_error", refused)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


# After a write the database refused, what must read back for it to count as written (another worker may have
# written the same record first: then it reads back the same and passes).
READ_BACK: dict[str, Callable[[Any, tuple[Any, ...]], bool]] = {
    "set_study_user_attr": lambda s, a: _same(s.get_study_user_attrs(a[0]).get(a[1]), a[2]),
    "set_study_system_attr": lambda s, a: _same(s.get_study_system_attrs(a[0]).get(a[1]), a[2]),
    "set_trial_user_attr": lambda s, a: _same(s.get_trial(a[0]).user_attrs.get(a[1]), a[2]),
    "set_trial_system_attr": lambda s, a: _same(s.get_trial(a[0]).system_attrs.get(a[1]), a[2]),
    "set_trial_param": lambda s, a: a[1] in s.get_trial(a[0]).params,
    "_set_trial_param": lambda s, a: a[1] in s.get_trial(a[0]).params,
}


def _check_written(method: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                   describe: str) -> None:
    storage = getattr(method, "__self__", None)
    args = _arguments(method, args, kwargs)
    if storage is None or len(args) < 2 or READ_BACK[name](storage, args):
        return
    raise _refusal(describe, f"the write of {name.lstrip('_')} ({args[1]!r}; an IntegrityError)")


def make_patient(storage: optuna.storages.BaseStorage, describe: str,
                 identity: FileIdentity | None = None) -> optuna.storages.BaseStorage:
    """Wrap the storage's methods (on this instance) in retries with backoff, each call first checking that the
    storage file is still the one opened (`identity`); returns the same object."""
    _watch_refusals(storage)
    directions: dict[Any, Any] = {}  # each study's directions as first read: they never change
    for name in PATIENT_METHODS + BEST_EFFORT_METHODS:
        method = getattr(storage, name, None)
        if method is not None:
            setattr(storage, name, _retrying(method, name, describe, name in BEST_EFFORT_METHODS, identity,
                                             directions))
    return storage


class PatientLockMixin:
    """Optuna's lock files, waited for within this command's patience: Optuna's own `acquire` spins forever on a
    dangling lock symlink (its staleness check follows the link) and takes no account of patience. A lock held
    unchanged (same inode and mtime, by `lstat`, so a dangling link counts) for Optuna's grace period is released as
    Optuna does; a wait longer than the patience left stops the command in one line naming the lock file."""

    _lock_file: str
    grace_period: int | None

    def __init__(self, filepath: str, describe: str, grace_period: int | None = 30) -> None:
        super().__init__(filepath, grace_period)  # Optuna's lock (the next class in the MRO)
        self.describe = describe

    def _create(self) -> None:  # each lock kind creates its file its own way
        raise NotImplementedError

    release: Callable[[], None]  # Optuna's

    def acquire(self) -> bool:
        delay, seen, since, started = 0.001, None, time.monotonic(), time.monotonic()
        while True:
            try:
                self._create()
                return True
            except FileExistsError:
                pass
            try:
                status = os.lstat(self._lock_file)
            except FileNotFoundError:
                continue  # released meanwhile
            holder = (status.st_ino, status.st_mtime_ns)
            if holder != seen:
                seen, since = holder, time.monotonic()
            elif self.grace_period is not None and time.monotonic() - since > self.grace_period:
                print(f"sweeplab: warning: {self.describe}: lock file {self._lock_file} unchanged for "
                      f"{self.grace_period} s; released as stale", file=sys.stderr, flush=True)
                with contextlib.suppress(RuntimeError):  # another waiter released it first
                    self.release()
                seen, delay = None, 0.001
                continue
            if not PATIENCE.wait(delay):
                raise StorageLockedError(
                    f"storage {self.describe}: its lock file {self._lock_file} stayed held for "
                    f"{time.monotonic() - started:.0f} s (this command's patience of {patience_seconds():.0f} s is "
                    "spent, $SWEEPLAB_STORAGE_PATIENCE_SECONDS); if no other process uses this storage (one killed "
                    f"while it wrote leaves it behind), remove it: rm {shlex.quote(self._lock_file)}")
            delay = min(delay * 2, 1.0)


class PatientSymlinkLock(PatientLockMixin, optuna.storages.journal.JournalFileSymlinkLock):
    """The lock every Optuna journal writer takes (`<journal>.lock`, a symlink), waited for within patience."""

    def _create(self) -> None:
        os.symlink(self._lock_target_file, self._lock_file)


class PatientOpenLock(PatientLockMixin, optuna.storages.journal.JournalFileOpenLock):
    """An O_EXCL lock file, waited for within patience."""

    def _create(self) -> None:
        os.close(os.open(self._lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))


JOURNAL_OPERATIONS = frozenset(int(op) for op in optuna.storages.journal._storage.JournalOperation)
HEAD_BYTES = 512  # a journal's first bytes (its first record names a unique worker): the file is still the same


class AtomicJournalFileBackend(optuna.storages.journal.JournalFileBackend):
    """A journal file read and written through checks.

    Appends are all or nothing: on a full disk Optuna's backend leaves half a line, and the next successful append
    glues onto it into a line no reader can parse. Here a failed append is cut off, and a torn last record left by
    anything else (a writer killed mid-append, another tool) is repaired before the next append: the file is cut
    back to its last whole record, the original kept beside it as `<journal>.torn-<time>`.

    Reads accept only whole lines that are Optuna records (a JSON object with a known op_code) and raise
    StorageCorruptError naming the line otherwise; an unterminated last line is a write in progress (or torn) and
    waits. A journal only grows: one shorter than the bytes already read or written, or whose first bytes changed
    (truncated or overwritten in place, same inode), raises StorageReplacedError before anything is read or
    written. The file must be a regular file (a FIFO would block)."""

    def __init__(self, file_path: str, describe: str | None = None) -> None:
        self.describe = describe or repr(f"journal://{file_path}")
        self._file_path = file_path
        self._lock = PatientSymlinkLock(file_path, self.describe)
        self._log_number_offset: dict[int, int] = {0: 0}
        self._seen, self._head, self._tail = 0, b"", b""
        os.close(self._open(os.O_RDONLY | os.O_CREAT))

    def _open(self, flags: int) -> int:
        """A descriptor of the journal (never blocking on a FIFO), refused unless it is a regular file."""
        descriptor = os.open(self._file_path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
        kind = not_regular(os.fstat(descriptor).st_mode)
        if kind is not None:
            os.close(descriptor)
            raise StorageCorruptError(f"storage {self.describe}: {self._file_path} is {kind}, not a journal file")
        return descriptor

    def _unreadable(self, what: str) -> StorageCorruptError:
        return StorageCorruptError(f"storage {self.describe} is not a readable Optuna journal: {what} "
                                   f"({self._file_path}; fix or move the file, or use another storage)")

    def _check_grown(self, descriptor: int) -> int:
        """The journal's size now; StorageReplacedError if it is shorter than this process saw it, or its first
        bytes or the bytes just before what this process read changed (cut, then written again)."""
        size = os.fstat(descriptor).st_size
        if size < self._seen:
            what = f"truncated in place ({size} bytes, {self._seen} before)"
        elif (self._head and os.pread(descriptor, len(self._head), 0) != self._head) or \
                (self._tail and os.pread(descriptor, len(self._tail), self._seen - len(self._tail)) != self._tail):
            what = "truncated or overwritten in place (records it had read changed)"
        else:
            return size
        raise StorageReplacedError(f"storage {self.describe}: its file {self._file_path} was {what} while this "
                                   "command ran; stopped so that nothing is written into a different study")

    def _saw(self, descriptor: int, offset: int) -> None:
        if offset <= self._seen:
            return
        self._seen = offset
        self._tail = os.pread(descriptor, min(offset, HEAD_BYTES), offset - min(offset, HEAD_BYTES))
        if not self._head:
            self._head = os.pread(descriptor, min(offset, HEAD_BYTES), 0)

    def _record(self, line: bytes, number: int) -> dict[str, Any]:
        where = f"line {number + 1}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise self._unreadable(f"{where} is not UTF-8") from None
        try:
            log = json.loads(text)
        except (ValueError, RecursionError):
            raise self._unreadable(f"{where} is not JSON") from None
        if not isinstance(log, dict):
            raise self._unreadable(f"{where} is not a JSON object")
        op_code = log.get("op_code")
        if type(op_code) is not int or op_code not in JOURNAL_OPERATIONS:
            raise self._unreadable(f"{where} has an unknown op_code {op_code!r}"[:200])
        return log

    def read_logs(self, log_number_from: int) -> Any:
        descriptor = self._open(os.O_RDONLY)
        with os.fdopen(descriptor, "rb") as file:
            size = self._check_grown(descriptor)
            number = log_number_from if log_number_from in self._log_number_offset else 0
            offset = self._log_number_offset[number]
            file.seek(offset)
            try:
                while offset < size:
                    line = file.readline(size - offset)
                    if not line.endswith(b"\n"):
                        break  # a record being written (or torn): read once it is whole
                    log = self._record(line, number)
                    offset += len(line)
                    self._log_number_offset[number + 1] = offset
                    if number >= log_number_from:
                        yield log
                    number += 1
            finally:  # what this process has read, once per read rather than per record (two preads each)
                self._saw(descriptor, offset)

    def _repair_torn_tail(self, descriptor: int) -> None:
        size = os.lseek(descriptor, 0, os.SEEK_END)
        if size == 0 or os.pread(descriptor, 1, size - 1) == b"\n":
            return
        whole = 0  # the offset just after the last newline
        for offset in range(size, 0, -65536):
            block = os.pread(descriptor, min(65536, offset), max(0, offset - 65536))
            if b"\n" in block:
                whole = max(0, offset - 65536) + block.rindex(b"\n") + 1
                break
        kept = f"{self._file_path}.torn-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        with open(self._file_path, "rb") as original, open(kept, "xb") as copy:
            shutil.copyfileobj(original, copy)
        os.ftruncate(descriptor, whole)
        print(f"journal {self._file_path}: its last record was torn ({size - whole} bytes); cut back to the last "
              f"whole record, the original kept as {kept}", file=sys.stderr, flush=True)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        from optuna.storages.journal._file import get_lock_file

        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
        with get_lock_file(self._lock):
            descriptor = self._open(os.O_RDWR | os.O_APPEND | os.O_CREAT)
            try:  # unbuffered, so nothing is left in a buffer to be flushed after the cut
                self._check_grown(descriptor)  # before anything is written into a truncated file
                self._repair_torn_tail(descriptor)
                start = os.lseek(descriptor, 0, os.SEEK_END)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(descriptor, view):]
                    os.fsync(descriptor)
                except OSError:
                    os.ftruncate(descriptor, start)
                    raise
                self._saw(descriptor, start + len(data))
            finally:
                os.close(descriptor)
