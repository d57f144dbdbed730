"""Joining a study that already exists in a storage: only with the same definition.

Otherwise a second study file that reuses a name would silently add its losses among the first one's accuracies,
or trials of another dataset, fixed values or space among the first one's. A study's definition (task, objective,
direction, fixed values, the space, the promotion's fidelity, and the task's own resolved defaults for the fixed
part) is stored with it when created; joining with any difference is refused with the differences listed, unless
`--accept-changes` (SWEEPLAB_ACCEPT_CHANGES=1) asks to continue it on purpose, which stores the new definition.
The command line's `--set` values are part of the definition compared (a value set there is a fixed value, and a
searched parameter set there leaves the space), so every join path must pass them (`check_join(..., overrides)`).
A field a stored definition lacks (stored before it was compared) is stored on the first join, never refused.
Budget, sampler, pruner, refit and prior may change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

DEFINITION_ATTR = "definition"
EARLIER_PARAMETERS_ATTR = "earlier_parameters"  # names searched or fixed by definitions replaced with --accept-changes
ACCEPT_ENV = "SWEEPLAB_ACCEPT_CHANGES"
TASK_DEFAULTS = "task_defaults"  # the task's resolved defaults for the fixed part (stored on first join when absent)


class StudyConflictError(ValueError):
    """A study file asks to join a stored study of the same name that measures something else."""


def task_defaults(spec: Any, overrides: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The values the task's own code gives the fixed part of a trial (its declared defaults and presets): every
    resolved config value that is neither searched nor set by the study file or --set. None when the config does
    not resolve without the searched values (nothing to compare)."""
    from trainers.config import as_dict
    from trainers.runner import resolve_config

    overrides = dict(overrides or {})
    try:
        resolved = as_dict(resolve_config(spec.task_info, spec.fixed, overrides))
    except Exception:  # a task that needs a searched value to resolve, or is not importable here: not compared
        return None
    given = {parameter.name for parameter in spec.parameters} | set(spec.fixed) | set(overrides)
    return {key: value for key, value in resolved.items() if key not in given}


def definition(spec: Any, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What makes two studies' trials comparable, as plain JSON values: the study file's definition with the
    command line's `--set` values (`overrides`) in it (a value set there is fixed, not searched), and the task's
    resolved defaults for the fixed part."""
    overrides = dict(overrides or {})
    space = {parameter.name: {"kind": parameter.kind, "low": parameter.low, "high": parameter.high,
                              "log": parameter.log, "step": parameter.step, "choices": parameter.choices,
                              "when": parameter.when} for parameter in spec.parameters
             if parameter.name not in overrides}
    raw = {"task": spec.task, "objective": spec.objective, "direction": spec.direction,
           "fixed": {**spec.fixed, **overrides}, "space": space,
           "promoted_fidelity": (spec.promote or {}).get("set"), TASK_DEFAULTS: task_defaults(spec, overrides)}
    return json.loads(json.dumps(raw, sort_keys=True, default=str))


def differences(stored: Any, wanted: Any, prefix: str = "") -> list[str]:
    """`key: stored -> wanted` for every leaf that differs (dicts compared key by key)."""
    if isinstance(stored, dict) and isinstance(wanted, dict):
        found = []
        for key in sorted(set(stored) | set(wanted), key=str):
            found += differences(stored.get(key), wanted.get(key), f"{prefix}.{key}" if prefix else str(key))
        return found
    return [] if stored == wanted else [f"{prefix}: {stored!r} -> {wanted!r}"]


def definition_names(stored: Any) -> set[str]:
    """The names a stored definition searches or fixes."""
    if not isinstance(stored, dict):
        return set()
    return {str(name) for part in ("space", "fixed") if isinstance(stored.get(part), dict) for name in stored[part]}


def known_parameters(attrs: dict[str, Any]) -> set[str] | None:
    """Every parameter name a trial of the study may hold: its definition's, and those of definitions it replaced
    with --accept-changes. None for a study stored before definitions were (nothing to check against)."""
    if not isinstance(attrs.get(DEFINITION_ATTR), dict):
        return None
    earlier = attrs.get(EARLIER_PARAMETERS_ATTR)
    return definition_names(attrs[DEFINITION_ATTR]) | ({str(name) for name in earlier}
                                                       if isinstance(earlier, list) else set())


def _effective(stored: dict[str, Any], wanted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both definitions with the task's defaults folded into the fixed values, when both hold them: a value fixed
    in the file that equals the task's default is the same study (round 7's 2-b: `seed: 0` written out was refused
    as `fixed.seed: None -> 0; task_defaults.seed: 0 -> None`)."""
    if not all(isinstance(side.get(key), dict) for side in (stored, wanted) for key in ("fixed", TASK_DEFAULTS)):
        return stored, wanted

    moved = set(stored["fixed"]) ^ set(wanted["fixed"])  # fixed on one side only: the other's default stands in

    def fold(side: dict[str, Any]) -> dict[str, Any]:
        defaults = side[TASK_DEFAULTS]
        return {**side, "fixed": {**{key: defaults[key] for key in moved if key in defaults}, **side["fixed"]},
                TASK_DEFAULTS: {key: value for key, value in defaults.items() if key not in moved}}

    return fold(stored), fold(wanted)


def accepting_changes() -> bool:
    from datasets.settings import env_flag

    return env_flag(ACCEPT_ENV)


def _from_set(difference: str, overrides: Mapping[str, Any]) -> str:
    key = difference.split(":", 1)[0]
    name = key.split(".", 1)[1] if key.startswith(("fixed.", "space.")) else None
    name = name.split(".", 1)[0] if name else None
    return f"{difference} (from --set {name}={overrides[name]})" if name in overrides else difference


def check_definition(attrs: dict[str, Any], spec: Any, overrides: Mapping[str, Any] | None = None,
                     storage: Any = None, study_id: int | None = None) -> None:
    """Refuse (one line, the differences listed) a study file, with its --set values, whose definition differs from
    the stored one. A field the stored definition lacks (stored before it was compared) is not a difference: it is
    stored now, on this first join."""
    stored = attrs.get(DEFINITION_ATTR)
    if not isinstance(stored, dict):
        return
    overrides = dict(overrides or {})
    wanted = definition(spec, overrides)
    changed = _incompatible_parameters(stored, wanted)
    if changed:  # not even on purpose: Optuna refuses every trial of such a study ("dynamic value space")
        raise StudyConflictError(
            f"study {spec.name!r} in the storage searched {', '.join(changed)} otherwise than {spec.path} "
            "declares; Optuna cannot continue a study whose parameters changed kind, log scale or choices, also "
            "not with --accept-changes: give the study file another `study:` name (or use another --storage)")
    if accepting_changes():
        return
    missing = {key: value for key, value in wanted.items() if key not in stored}
    found = [_from_set(found, overrides) for found in file_differences(stored, spec, overrides)]
    if found:
        shown = "; ".join(found[:6]) + (f"; and {len(found) - 6} more" if len(found) > 6 else "")
        given = f" with --set {', '.join(f'{key}={value}' for key, value in overrides.items())}" if overrides else ""
        raise StudyConflictError(
            f"study {spec.name!r} in the storage was defined differently from {spec.path}{given}: {shown}. Give the "
            "study file another `study:` name (or use another --storage) to start a new study, or pass "
            "--accept-changes to continue this one on purpose")
    if missing and storage is not None and study_id is not None:
        storage.set_study_user_attr(study_id, DEFINITION_ATTR, {**stored, **missing})


def file_differences(stored: Any, spec: Any, overrides: Mapping[str, Any] | None = None) -> list[str]:
    """`key: stored -> file` for each way the study file (with `overrides`) defines the study otherwise than its
    stored definition; none when no definition is stored."""
    if not isinstance(stored, dict):
        return []
    wanted = definition(spec, overrides)
    return differences(*_effective(stored, {key: value for key, value in wanted.items() if key in stored}))


def _incompatible_parameters(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The parameters both definitions search whose distributions Optuna cannot continue (its
    `check_distribution_compatibility`): another kind (float, int, categorical), another log flag, other choices."""
    before, after = stored.get("space"), wanted.get("space")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    changed = []
    for name, parameter in sorted(after.items()):
        old = before.get(name)
        if not isinstance(parameter, dict) or not isinstance(old, dict):
            continue
        if parameter.get("kind") != old.get("kind"):
            changed.append(f"{name} (kind {old.get('kind')} -> {parameter.get('kind')})")
        elif parameter.get("choices") is not None and old.get("choices") is not None \
                and parameter["choices"] != old["choices"]:
            changed.append(f"{name} (choices)")
        elif parameter.get("kind") != "categorical" and bool(parameter.get("log")) != bool(old.get("log")):
            changed.append(f"{name} (log {bool(old.get('log'))} -> {bool(parameter.get('log'))})")
    return changed


def check_join(storage: Any, spec: Any, overrides: Mapping[str, Any] | None = None) -> None:
    """Raise StudyConflictError when `storage` holds a study named `spec.name` with another task, objective or
    direction, or another definition (the study file with the command line's `--set` values, `overrides`);
    nothing to check when there is no such study yet."""
    try:
        study_id = storage.get_study_id_from_name(spec.name)
    except KeyError:
        return
    attrs = check_identity(storage, spec, study_id)
    if not isinstance(attrs.get(DEFINITION_ATTR), dict) and not accepting_changes():
        _check_trials_space(storage, study_id, spec, overrides)
    check_definition(attrs, spec, overrides, storage, study_id)
    from optuna.trial import TrialState

    from sweeps.storage_faults import StorageCorruptError

    finished = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.COMPLETE,))
    if (problem := unknown_parameter(spec.name, finished, storage.get_study_user_attrs(study_id))) is not None:
        raise StorageCorruptError(problem)  # at the join, not after the sweep has trained (round 9's 2-a)


def unknown_parameter(study_name: str, trials: list[Any], attrs: dict[str, Any]) -> str | None:
    """The line for the first trial holding a parameter no definition of the study searched or fixed (the storage
    was damaged or edited by hand), or None."""
    known = known_parameters(attrs)
    for trial in trials if known is not None else []:
        if unknown := sorted(set(trial.params) - known):
            return (f"study {study_name!r}: trial #{trial.number} holds parameter {unknown[0]!r}, which no "
                    "definition of the study searched or fixed: the storage was damaged or edited by hand")
    return None


def check_identity(storage: Any, spec: Any, study_id: int) -> dict[str, Any]:
    """Raise StudyConflictError when the stored study has another task, objective or direction than `spec` (a
    command that reads a study named by its file ranks it by the file's direction: round 9's 3-b); else return the
    study's user attrs."""
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
    return attrs


def _check_trials_space(storage: Any, study_id: int, spec: Any, overrides: Mapping[str, Any] | None) -> None:
    """A study holding trials but no stored definition (one stored before definitions were, or whose definition was
    deleted: round 8's 3-d) is compared by what its trials hold: a parameter the file searches that a trial searched
    over another distribution is a different study."""
    wanted = {parameter.name: parameter.distribution() for parameter in spec.parameters
              if parameter.name not in (overrides or {})}
    for trial in storage.get_all_trials(study_id, deepcopy=False):
        for name, distribution in trial.distributions.items():
            if name in wanted and distribution != wanted[name]:
                raise StudyConflictError(
                    f"study {spec.name!r} in the storage holds trial #{trial.number}, which searched {name} over "
                    f"{distribution}, not over {wanted[name]} as {spec.path} declares (the study has no stored "
                    "definition to compare); give the study file another `study:` name (or use another --storage), "
                    "or pass --accept-changes to continue it on purpose")
