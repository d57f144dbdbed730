"""Store a trial result that was kept in its run directory because the storage refused it (`sweeplab record`).

Only a result its run signed for this storage and study is stored (`sweeps.result_signature`: the signature covers
the exact bytes of `trial.json`, everything record trusts about the trial, and `result.json`), for the trial that
`trial.json` names; never over a trial that is still alive (its signed process runs here, or the storage holds a
fresh heartbeat for it); and once (a trial that holds the signature, recorded or completed normally, holds it).

Both files pass one schema check at the door (`read_run`): a file of another shape is refused in one line naming
the file and the key, before the storage is opened.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.trial import TrialState, create_trial

from datasets.regular_files import FileTooLargeError, NotRegularFileError, read_regular_bytes
from sweeps.joining import DEFINITION_ATTR
from sweeps.result_signature import SIGNATURE_ATTR, existing_study_key, trial_alive, verified_signature
from sweeps.run_identity import IDENTITY_FILE
from sweeps.search_options import objective_problem
from sweeps.storage import _redact, claim_lock, file_of, open_storage

RESULT_FILE = "result.json"


class RecordError(RuntimeError):
    """A result that cannot be recorded: malformed files, no storage or study, not signed by its run, no objective,
    a live trial."""


@dataclass(frozen=True)
class TrialIdentity:
    """`trial.json`, checked: what `record` trusts about the trial (all of it signed)."""
    study: str
    trial_number: int
    trial_id: int
    storage: str | None
    params: dict[str, Any]
    distributions: dict[str, BaseDistribution]
    run_id: str
    host: str
    pid: int
    fixed: dict[str, Any] | None = None  # the fixed values it trained with (None: written before they were kept)


@dataclass(frozen=True)
class KeptRun:
    """A run directory's two files: the exact bytes (what the signature covers) and their checked contents."""
    run_dir: Path
    identity_bytes: bytes
    result_bytes: bytes
    identity: TrialIdentity
    task: str
    metrics: dict[str, Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


MAX_RUN_FILE_BYTES = 16 * 2**20  # a trial's description or result is a few kB; a larger file is not one


def _load(path: Path) -> tuple[bytes, Any]:
    try:
        raw = read_regular_bytes(path, MAX_RUN_FILE_BYTES)  # a FIFO, directory or device is named as such, never read
    except FileNotFoundError:
        raise RecordError(f"{path}: missing; only a trial's run directory whose training finished can be recorded") \
            from None
    except (NotRegularFileError, FileTooLargeError) as error:
        raise RecordError(str(error)) from None
    except OSError as error:
        raise RecordError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    try:
        return raw, json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RecordError(f"{path}: not a JSON file ({type(error).__name__}: {str(error)[:120]})") from None


def _field(path: Path, data: dict[str, Any], key: str, check: Any, expected: str) -> Any:
    if key not in data:
        raise RecordError(f"{path}: key {key!r} missing (expected {expected})")
    value = data[key]
    if not check(value):
        raise RecordError(f"{path}: key {key!r} is {_shown(value)}, expected {expected}")
    return value


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value))


def read_run(run_dir: Path) -> KeptRun:
    """The one door: both files read once, as bytes, and checked against their schema; any other shape is one
    `RecordError` line naming the file and the key."""
    identity_path, result_path = run_dir / IDENTITY_FILE, run_dir / RESULT_FILE
    identity_bytes, data = _load(identity_path)
    result_bytes, result = _load(result_path)
    if not isinstance(data, dict):
        raise RecordError(f"{identity_path}: is {_shown(data)}, expected an object with the trial's identity")
    study = _field(identity_path, data, "study", lambda v: isinstance(v, str) and v != "", "the study's name")
    number = _field(identity_path, data, "trial_number", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    trial_id = _field(identity_path, data, "trial_id", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    storage = _field(identity_path, data, "storage", lambda v: v is None or isinstance(v, str), "a URL or null")
    params = _field(identity_path, data, "params", lambda v: isinstance(v, dict) and all(map(_scalar, v.values())),
                    "an object of parameter values")
    texts = _field(identity_path, data, "distributions",
                   lambda v: isinstance(v, dict) and all(isinstance(t, str) for t in v.values()),
                   "an object of Optuna distributions (JSON text)")
    run_id = _field(identity_path, data, "run_id", lambda v: isinstance(v, str) and v != "", "the run's id")
    host = _field(identity_path, data, "host", lambda v: isinstance(v, str), "the host name")
    pid = _field(identity_path, data, "pid", lambda v: _is_int(v) and v > 0, "a process id")
    if set(params) != set(texts):
        raise RecordError(f"{identity_path}: keys 'params' and 'distributions' name different parameters "
                          f"({sorted(set(params) ^ set(texts))})")
    distributions = {}
    for name, text in texts.items():
        try:
            distribution = json_to_distribution(text)
            inside = distribution._contains(distribution.to_internal_repr(params[name]))
        except Exception as error:  # any unreadable distribution: the same refusal
            raise RecordError(f"{identity_path}: key 'distributions.{name}' is not an Optuna distribution of its "
                              f"value ({type(error).__name__}: {str(error)[:80]})") from None
        if not inside:
            raise RecordError(f"{identity_path}: key 'params.{name}' = {params[name]!r} lies outside its distribution")
        distributions[name] = distribution
    if not isinstance(result, dict):
        raise RecordError(f"{result_path}: is {_shown(result)}, expected an object with 'task' and 'metrics'")
    task = _field(result_path, result, "task", lambda v: isinstance(v, str) and v != "", "the task's name")
    metrics = _field(result_path, result, "metrics",
                     lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v), "an object of metrics")
    fixed = _field(identity_path, data, "fixed", lambda v: isinstance(v, dict) and all(map(_scalar, v.values())),
                   "an object of the fixed values it trained with") if "fixed" in data else None
    identity = TrialIdentity(study, number, trial_id, storage, params, distributions, run_id, host, pid, fixed)
    return KeptRun(run_dir, identity_bytes, result_bytes, identity, task, metrics)


def _announce_lock(path: Path, shown: str) -> None:
    """One line when another process holds the SQLite file's write lock: the wait that follows is not a hang."""
    try:
        connection = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=rw", uri=True, timeout=0.2)
    except sqlite3.Error:
        return
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            print(f"sweeplab record: waiting for the storage lock on {shown} (another process holds it; waits up to "
                  "$SWEEPLAB_STORAGE_PATIENCE_SECONDS, then stops)", file=sys.stderr, flush=True)
    except sqlite3.Error:
        pass
    finally:
        connection.close()


def open_existing(url: str) -> Any:
    """The storage at `url`, which must already exist: a SQLite or journal file that is not there is refused (never
    created empty)."""
    if url.startswith("sqlite:///"):  # before opening, which may wait for the lock
        _announce_lock(file_of(url), _redact(url))
    return open_storage(url, create=False)  # refuses a missing or special file, creates nothing


def record_result(run_dir: Path, storage_url: str | None = None) -> str:
    """Tell the still-RUNNING (dead) trial its value, or add the result as a new COMPLETE trial when the original
    was failed meanwhile (heartbeat); nothing when a trial already holds it. Returns what was done."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    identity = run.identity
    url = identity.storage if storage_url is None else storage_url
    if url is None or "***" in url:
        raise RecordError(f"{run_dir}: give --storage (trial.json keeps the URL without its password)")
    shown = _redact(url)
    storage = open_existing(url)
    try:
        study_id = storage.get_study_id_from_name(identity.study)
    except KeyError:
        raise RecordError(f"{run_dir / IDENTITY_FILE}: key 'study' names {identity.study!r}, which storage {shown} "
                          "does not hold") from None
    try:
        signed = verified_signature(run_dir, existing_study_key(storage, study_id), study_id, run.identity_bytes,
                                    run.result_bytes)
    except NotRegularFileError as error:
        raise RecordError(str(error)) from None
    except OSError as error:
        raise RecordError(f"{run_dir / 'result.sig'}: cannot be read ({error.strerror or type(error).__name__})") \
            from None
    if signed is None:
        raise RecordError(f"{run_dir}: trial.json and result.json are not signed by its run for study "
                          f"{identity.study!r} in storage {shown} (edited, copied from another run, study or storage, "
                          "or written before results and trial descriptions were signed); nothing stored")
    with claim_lock(storage, url, identity.study):  # two records of one run at once: the second sees the first's
        return _store(storage, run, signed, shown)


def _store(storage: Any, run: KeptRun, signed: str, shown: str) -> str:
    """The check and the write, under the study's claim lock (`record_result`)."""
    identity, run_dir = run.identity, run.run_dir
    study = optuna.load_study(study_name=identity.study, storage=storage)
    trials = study.get_trials(deepcopy=False)
    holder = next((trial for trial in trials  # the trial itself, or the one a record added for it (not a re-queue)
                   if trial.state == TrialState.COMPLETE and trial.user_attrs.get(SIGNATURE_ATTR) == signed
                   and identity.trial_number in {trial.number, trial.user_attrs.get("recorded_for_trial_number")}),
                  None)
    if holder is not None:
        signed_value = run.metrics.get(study.user_attrs.get("objective"))
        if holder.value != signed_value:  # the signature attribute is written before the value: it alone proves little
            raise RecordError(f"trial #{holder.number} of {study.study_name} carries this run's signature but holds "
                              f"the value {holder.value!r}, not the signed result's {signed_value!r}: the storage was "
                              "edited; nothing stored")
        return f"trial #{holder.number} of {study.study_name} already holds this result; nothing stored"
    original = next((trial for trial in trials if trial._trial_id == identity.trial_id), None)
    if original is None or original.number != identity.trial_number:
        raise RecordError(f"{run_dir}: study {study.study_name!r} in storage {shown} has no trial #"
                          f"{identity.trial_number} (id {identity.trial_id}); nothing stored")
    objective = study.user_attrs.get("objective")
    value = run.metrics.get(objective)
    if (problem := objective_problem(str(objective), value)) is not None:  # the objective's own door, as a trial's
        raise RecordError(f"{run_dir / RESULT_FILE}: key 'metrics.{objective}' (the study's objective): {problem}")
    if study.user_attrs.get("task") not in {None, run.task}:
        raise RecordError(f"{run_dir / RESULT_FILE}: key 'task' is {run.task!r}, not the study's task "
                          f"{study.user_attrs['task']!r}")
    if original.state == TrialState.COMPLETE:
        return f"trial #{original.number} of {study.study_name} is already complete; nothing stored"
    # The config shown and refit is built from what is signed or stored, never from the run's unsigned config.json
    # (an edited one decided what the refit trained: round 6's 1-a): the fixed values it trained with (signed in its
    # trial.json: the study's may have changed since, with --accept-changes: round 10's 1-a), then the signed params.
    fixed = identity.fixed if identity.fixed is not None else (
        (study.user_attrs.get(DEFINITION_ATTR) or {}).get("fixed") or {})
    config = {**(fixed if isinstance(fixed, dict) else {}), **identity.params}
    attrs = {"config": config, "metrics": run.metrics, "run_dir": str(run_dir),
             "recorded_from_run_dir": True, SIGNATURE_ATTR: signed}
    if original.state == TrialState.RUNNING:
        if trial_alive(storage, original._trial_id, identity.host, identity.pid):
            raise RecordError(f"trial #{original.number} of {study.study_name} is still running (its process on "
                              f"{identity.host} or its heartbeat in the storage is alive); record its result after "
                              "it ends")
        try:
            for key, attr in attrs.items():
                storage.set_trial_user_attr(original._trial_id, key, attr)
            study.tell(original.number, value)
        except optuna.exceptions.UpdateFinishedTrialError:  # finished meanwhile by a process not under the lock
            return f"trial #{original.number} of {study.study_name} finished meanwhile; nothing stored"
        except (ValueError, RuntimeError) as error:
            raise RecordError(f"trial #{original.number} of {study.study_name}: the storage refused its result "
                              f"({error})") from None
        return f"recorded trial #{original.number} of {study.study_name}: {objective}={value:.6g}"
    if original.state != TrialState.FAIL:
        raise RecordError(f"trial #{original.number} of {study.study_name} is {original.state.name.lower()}; "
                          "nothing stored")
    added = create_trial(params=identity.params, distributions=identity.distributions, value=value,
                         user_attrs={**attrs, "recorded_for_trial_number": identity.trial_number})
    try:
        study.add_trial(added)
    except ValueError as error:
        raise RecordError(f"{run_dir}: study {study.study_name!r} refuses the trial's parameters ({error})") from None
    number = study.get_trials(deepcopy=False)[-1].number
    return (f"trial #{identity.trial_number} of {study.study_name} was no longer running; its result is now "
            f"trial #{number}: {objective}={value:.6g}")
