"""Joining a study that already exists in a storage: only with the same task, objective and direction.

Otherwise a second study file that reuses a name would silently add its losses among the first one's
accuracies, and one of them would become the "best" trial.
"""

from __future__ import annotations

from typing import Any


class StudyConflictError(ValueError):
    """A study file asks to join a stored study of the same name that measures something else."""


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
