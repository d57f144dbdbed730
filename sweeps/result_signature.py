"""Provenance of a kept result: a run signs its `trial.json` and `result.json` for its storage and study, so
`sweeplab record` stores only a result that run produced, for the trial it describes, once, and never over a trial
that is still alive.

The key is a random secret of the study, kept in the storage (a study system attr) and read by the objective when
the trial starts (the storage is reachable then: it just created the trial). The signature (version 2) is an
HMAC-SHA256 over the study id and the SHA-256 of the exact bytes of both files: `trial.json` holds everything
`record` trusts about the trial (study, trial id and number, params, distributions, run id, host, pid), `result.json`
the metrics. Any edit of either file, a result copied from another run, study or storage does not verify.

A trial that completes normally stores its signature (`SIGNATURE_ATTR`), so a copy of its run directory is
"already recorded", never a second trial.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from datasets.atomic import write_text
from datasets.regular_files import open_regular

KEY_ATTR = "sweeplab:result_key"
SIGNATURE_FILE = "result.sig"
SIGNATURE_ATTR = "result_signature"  # trial user attr: the signature of the result it holds
VERSION = b"sweeplab-result-v2"


def study_key(storage: Any, study_id: int) -> bytes:
    """The study's signing key, created on first use (by the objective, when a trial starts)."""
    attrs = storage.get_study_system_attrs(study_id)
    if KEY_ATTR not in attrs:
        storage.set_study_system_attr(study_id, KEY_ATTR, secrets.token_hex(32))
        attrs = storage.get_study_system_attrs(study_id)
    return bytes.fromhex(attrs[KEY_ATTR])


def existing_study_key(storage: Any, study_id: int) -> bytes | None:
    """The study's signing key, or None when no trial of it ever signed (`record` writes nothing to find out)."""
    value = storage.get_study_system_attrs(study_id).get(KEY_ATTR)
    try:
        return bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        return None


def signature(key: bytes, study_id: int, identity: bytes, result: bytes) -> str:
    """HMAC over the study id and the exact bytes of `trial.json` (`identity`) and `result.json` (`result`)."""
    message = b"|".join([VERSION, str(int(study_id)).encode(), hashlib.sha256(identity).hexdigest().encode(),
                         hashlib.sha256(result).hexdigest().encode()])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_result(run_dir: Path, key: bytes, study_id: int, trial: Any = None) -> str | None:
    """Write `result.sig` beside the run's `result.json` and return the signature (after training; None when there
    is no result). Given the live `trial`, nothing is signed unless `trial.json` still describes it (its id, number
    and params): a description edited while the trial trained is never signed."""
    result, identity_path = run_dir / "result.json", run_dir / "trial.json"
    if not (result.is_file() and identity_path.is_file()):
        return None
    identity_bytes = identity_path.read_bytes()
    if trial is not None:
        try:
            identity = json.loads(identity_bytes)
        except (ValueError, RecursionError):
            return None
        if not isinstance(identity, dict) or (identity.get("trial_id"), identity.get("trial_number"),
                                              identity.get("params")) != (trial._trial_id, trial.number,
                                                                          dict(trial.params)):
            return None
    signed = signature(key, study_id, identity_bytes, result.read_bytes())
    write_text(run_dir / SIGNATURE_FILE, signed + "\n")
    return signed


def verified_signature(run_dir: Path, key: bytes | None, study_id: int, identity: bytes,
                       result: bytes) -> str | None:
    """The run's signature when it matches these exact bytes of its `trial.json` and `result.json` for this study,
    else None (no key, no signature file, or any byte differs)."""
    path = run_dir / SIGNATURE_FILE
    if key is None:
        return None
    try:  # through the regular-file door: a FIFO or device named result.sig is refused as such (NotRegularFileError)
        with open_regular(path, "rb") as handle:
            given = handle.read(1024).decode("ascii").strip()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return None
    expected = signature(key, study_id, identity, result)
    return given if hmac.compare_digest(given.encode(), expected.encode()) else None


def process_alive(host: str, pid: int) -> bool | None:
    """Whether the run's (signed) process lives (True/False) when it ran on this host, else None (unknown)."""
    if host not in {socket.gethostname(), os.uname().nodename}:
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process: alive
    return True


def heartbeat_fresh(storage: Any, trial_id: int) -> bool | None:
    """From the storage itself: True while the trial's latest heartbeat is within the grace period, False when it is
    older, None when the storage keeps no heartbeat for it."""
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval:
        return None
    grace = getattr(storage, "grace_period", None) or getattr(storage, "_grace_period", None) or 2 * interval
    from optuna.storages import RDBStorage

    if isinstance(storage, RDBStorage):
        import sqlalchemy
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(storage.scoped_session) as session:
            now = session.execute(sqlalchemy.func.now()).scalar()
            beat = (session.query(models.TrialHeartbeatModel.heartbeat)
                    .filter(models.TrialHeartbeatModel.trial_id == trial_id).scalar())
        if beat is None or now is None:
            return None
        return now.replace(tzinfo=None) - beat.replace(tzinfo=None) <= datetime.timedelta(seconds=grace)
    from sweeps.storage import last_heartbeat

    beat = last_heartbeat(storage.get_trial(trial_id))  # a journal: as its own stale check reads it
    return time.time() - beat <= grace if beat is not None else None


def trial_alive(storage: Any, trial_id: int, host: str, pid: int) -> bool:
    """Whether a RUNNING trial is alive, from evidence no one can edit: on this host its signed process decides (a
    sweep's heartbeat thread dies with it, so a crashed run's result can be recorded at once); elsewhere the storage's
    heartbeat for it: alive while fresh, and with no heartbeat at all it counts as alive (never written over)."""
    local = process_alive(host, pid)
    if local is not None:
        return local
    return heartbeat_fresh(storage, trial_id) is not False
