"""Store a trial result that was kept in its run directory because the storage refused it (`sweeplab record`).

Only a result its run signed for this storage, study and trial (`sweeps.result_signature`) is stored; never over a
trial that is still alive; and once (a second `record` finds the signature already stored).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
from optuna.distributions import json_to_distribution
from optuna.trial import TrialState, create_trial

from sweeps.result_signature import SIGNATURE_ATTR, study_key, trial_alive, verified_signature
from sweeps.run_identity import read_identity
from sweeps.storage import open_storage


class RecordError(RuntimeError):
    """A result that cannot be recorded: no storage or study, not signed by its run, no objective, a live trial."""


def record_result(run_dir: Path, storage_url: str | None = None) -> str:
    """Tell the still-RUNNING trial its value, or add the result as a new COMPLETE trial when the original was
    failed meanwhile (heartbeat) or is not there; nothing when it is already recorded. Returns what was done."""
    identity = read_identity(run_dir)
    metrics = json.loads((run_dir / "result.json").read_text())["metrics"]
    url = storage_url or identity.get("storage")
    if not url or "***" in url:
        raise RecordError(f"{run_dir}: give --storage (trial.json keeps the URL without its password)")
    storage = open_storage(url)
    try:
        study = optuna.load_study(study_name=identity["study"], storage=storage)
    except KeyError:
        raise RecordError(f"no study {identity['study']!r} in storage {identity.get('storage')}") from None
    study_id = storage.get_study_id_from_name(study.study_name)
    signed = verified_signature(run_dir, study_key(storage, study_id), study_id, identity)
    if signed is None:
        raise RecordError(f"{run_dir}: result.json is not signed by its run for trial #{identity['trial_number']} of "
                        f"study {study.study_name!r} in this storage (edited, copied from another run, study or "
                        "storage, or written before results were signed); nothing stored")
    holder = next((trial for trial in study.get_trials(deepcopy=False)
                   if trial.user_attrs.get(SIGNATURE_ATTR) == signed), None)
    if holder is not None:
        return f"trial #{holder.number} of {study.study_name} already holds this result"
    objective = study.user_attrs.get("objective")
    value = metrics.get(objective)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordError(f"{run_dir}: result.json has no finite {objective} (the study's objective)")
    config = json.loads((run_dir / "config.json").read_text()).get("config", {}) \
        if (run_dir / "config.json").exists() else {}
    attrs = {"config": config, "metrics": metrics, "run_dir": str(run_dir), "recorded_from_run_dir": True,
             SIGNATURE_ATTR: signed}
    original = next((trial for trial in study.get_trials(deepcopy=False)
                     if trial.number == identity["trial_number"] and trial.params == identity["params"]), None)
    if original is not None and original.state == TrialState.COMPLETE and original.value == value:
        return f"trial #{original.number} of {study.study_name} already holds this result ({objective}={value:.6g})"
    if original is not None and original.state == TrialState.RUNNING:
        if trial_alive(storage, study_id, original._trial_id, identity):
            raise RecordError(f"trial #{original.number} of {study.study_name} is still running (its process or "
                            "heartbeat is alive); record its result after it ends")
        for key, attr in attrs.items():
            storage.set_trial_user_attr(original._trial_id, key, attr)
        study.tell(original.number, value)
        return f"recorded trial #{original.number} of {study.study_name}: {objective}={value:.6g}"
    distributions = {name: json_to_distribution(text) for name, text in identity["distributions"].items()}
    added = create_trial(params=identity["params"], distributions=distributions, value=value,
                         user_attrs={**attrs, "recorded_for_trial_number": identity["trial_number"]})
    study.add_trial(added)
    number = study.get_trials(deepcopy=False)[-1].number
    return (f"trial #{identity['trial_number']} of {study.study_name} was no longer running; its result is now "
            f"trial #{number}: {objective}={value:.6g}")
