"""Provenance of a kept result: a run signs its `result.json` for its storage, study and trial, so `sweeplab record`
stores only a result that run produced, once, and never over a trial that is still alive.

The key is a random secret of the study, kept in the storage (a study system attr) and read by the objective when
the trial starts (the storage is reachable then: it just created the trial). The signature is an HMAC-SHA256 over
the study id, the trial id and number, the run's id and the bytes of `result.json`; an edited value, a result
copied from another run, study or storage does not verify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
from pathlib import Path
from typing import Any

KEY_ATTR = "sweeplab:result_key"
SIGNATURE_FILE = "result.sig"
SIGNATURE_ATTR = "result_signature"  # trial user attr: the signature of the result it holds


def study_key(storage: Any, study_id: int) -> bytes:
    """The study's signing key, created on first use."""
    attrs = storage.get_study_system_attrs(study_id)
    if KEY_ATTR not in attrs:
        storage.set_study_system_attr(study_id, KEY_ATTR, secrets.token_hex(32))
        attrs = storage.get_study_system_attrs(study_id)
    return bytes.fromhex(attrs[KEY_ATTR])


def signature(key: bytes, identity: dict[str, Any], result: bytes) -> str:
    bound = f"{identity['study_id']}|{identity['trial_id']}|{identity['trial_number']}|{identity['run_id']}|"
    return hmac.new(key, bound.encode() + result, hashlib.sha256).hexdigest()


def sign_result(run_dir: Path, key: bytes, study_id: int) -> None:
    """Write `result.sig` beside the run's `result.json` (after training; nothing when there is no result)."""
    result, identity_path = run_dir / "result.json", run_dir / "trial.json"
    if result.is_file() and identity_path.is_file():
        identity = {**json.loads(identity_path.read_text()), "study_id": study_id}
        (run_dir / SIGNATURE_FILE).write_text(signature(key, identity, result.read_bytes()) + "\n")


def verified_signature(run_dir: Path, key: bytes, study_id: int, identity: dict[str, Any]) -> str | None:
    """The run's signature when it matches its result for this study and trial, else None."""
    path = run_dir / SIGNATURE_FILE
    if not path.is_file():
        return None
    expected = signature(key, {**identity, "study_id": study_id}, (run_dir / "result.json").read_bytes())
    given = path.read_text().strip()
    return given if hmac.compare_digest(given, expected) else None


def process_alive(identity: dict[str, Any]) -> bool | None:
    """Whether the run's process lives (True/False) when it ran on this host, else None (unknown)."""
    if identity.get("host") != socket.gethostname() and identity.get("host") != os.uname().nodename:
        return None
    try:
        os.kill(int(identity["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return None
    return True


def trial_alive(storage: Any, study_id: int, trial_id: int, identity: dict[str, Any]) -> bool:
    """A RUNNING trial is alive when its process runs here, or (elsewhere) while its heartbeat is within grace."""
    local = process_alive(identity)
    if local is not None:
        return local
    stale = getattr(storage, "_get_stale_trial_ids", None)
    return stale is None or trial_id not in stale(study_id)
