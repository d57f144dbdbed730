"""Joining a study that already exists in a storage: only with the same definition.

Otherwise a second study file that reuses a name would silently add its losses among the first one's accuracies,
or trials of another dataset, fixed values or space among the first one's. A study's definition (task, objective,
direction, fixed values, the space, the promotion's fidelity) is stored with it when created; joining with any
difference is refused with the differences listed, unless `--accept-changes` (SWEEPLAB_ACCEPT_CHANGES=1) asks
to continue it on purpose, which stores the new definition. Budget, sampler, pruner, refit and prior may change.
"""

from __future__ import annotations

import json
import os
from typing import Any

DEFINITION_ATTR = "definition"
ACCEPT_ENV = "SWEEPLAB_ACCEPT_CHANGES"


class StudyConflictError(ValueError):
    """A study file asks to join a stored study of the same name that measures something else."""


def definition(spec: Any) -> dict[str, Any]:
    """What makes two studies' trials comparable, as plain JSON values."""
    space = {parameter.name: {"kind": parameter.kind, "low": parameter.low, "high": parameter.high,
                              "log": parameter.log, "step": parameter.step, "choices": parameter.choices,
                              "when": parameter.when} for parameter in spec.parameters}
    raw = {"task": spec.task, "objective": spec.objective, "direction": spec.direction, "fixed": spec.fixed,
           "space": space, "promoted_fidelity": (spec.promote or {}).get("set")}
    return json.loads(json.dumps(raw, sort_keys=True, default=str))


def differences(stored: Any, wanted: Any, prefix: str = "") -> list[str]:
    """`key: stored -> wanted` for every leaf that differs (dicts compared key by key)."""
    if isinstance(stored, dict) and isinstance(wanted, dict):
        found = []
        for key in sorted(set(stored) | set(wanted), key=str):
            found += differences(stored.get(key), wanted.get(key), f"{prefix}.{key}" if prefix else str(key))
        return found
    return [] if stored == wanted else [f"{prefix}: {stored!r} -> {wanted!r}"]


def accepting_changes() -> bool:
    return os.environ.get(ACCEPT_ENV, "") == "1"


def check_definition(attrs: dict[str, Any], spec: Any) -> None:
    """Refuse (one line, the differences listed) a study file whose definition differs from the stored one."""
    stored = attrs.get(DEFINITION_ATTR)
    if stored is None or accepting_changes():
        return
    found = differences(stored, definition(spec))
    if found:
        shown = "; ".join(found[:6]) + (f"; and {len(found) - 6} more" if len(found) > 6 else "")
        raise StudyConflictError(
            f"study {spec.name!r} in the storage was defined differently from {spec.path}: {shown}. Give the study "
            "file another `study:` name (or use another --storage) to start a new study, or pass --accept-changes "
            "to continue this one on purpose")


def check_join(storage: Any, spec: Any) -> None:
    """Raise StudyConflictError when `storage` holds a study named `spec.name` with another task, objective or
    direction; nothing to check when there is no such study yet."""
    try:
        study_id = storage.get_study_id_from_name(spec.name)
    except KeyError:
        return
    directions = [direction.name.lower() for direction in storage.get_study_directions(study_id)]
    attrs = storage.get_study_user_attrs(study_id)
    stored = {"task": attrs.get("task"), "objective": attrs.get("objective"),
              "direction": directions[0] if len(directions) == 1 else "/".join(directions)}
    wanted = {"task": spec.task, "objective": spec.objective, "direction": spec.direction}
    differs = [key for key in wanted if stored[key] is not None and stored[key] != wanted[key]]
    if differs:
        def describe(values: dict[str, Any]) -> str:
            return f"task {values['task']}, objective {values['objective']} ({values['direction']})"

        where = f" (from {attrs['spec_path']})" if attrs.get("spec_path") else ""
        raise StudyConflictError(
            f"study {spec.name!r} in the storage{where} has {describe(stored)}, but {spec.path} asks for "
            f"{describe(wanted)}; give this study file another `study:` name or use another --storage")
    check_definition(attrs, spec)
