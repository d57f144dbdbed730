"""A user's own task, declared in the user's module and named from a study file as `task: module:function`.

    @dataclass
    class Config:
        learning_rate: float = param(1e-3, low=1e-5, high=1.0)
        optimizer: str = param("adam", choices=("adam", "sgd"))

    @task(config=Config, objective="val/accuracy", direction="maximize")
    def train(config: Config, reporter, run_dir) -> dict[str, float]: ...

The declaration is checked when the module is imported (types, bounds, defaults inside them, the objective's
name); every problem is one `UserTaskError` line naming the module, the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args, get_origin, get_type_hints

from trainers.bounds import METADATA_KEY, Bound
from trainers.config import ConfigError, check_value
from trainers.registry import Task, UserTaskError, register_task

PLAIN_TYPES = (bool, int, float, str)


def param(default: Any, *, low: float | None = None, high: float | None = None,
          choices: tuple[Any, ...] | list[Any] | None = None) -> Any:
    """A config field with its allowed values: `low`/`high` (inclusive) for numbers, or `choices`."""
    if (low is None) != (high is None):
        raise UserTaskError(f"param({default!r}): give both low and high, or neither")
    numbers = all(isinstance(end, (int, float)) and not isinstance(end, bool) and math.isfinite(end)
                  for end in (low, high)) if low is not None else True
    if not numbers or (low is not None and low > high):
        raise UserTaskError(f"param({default!r}, low={low!r}, high={high!r}): expected finite numbers, low <= high")
    bound = Bound(float(low), float(high)) if low is not None else None
    metadata = {METADATA_KEY: {"bound": bound, "choices": tuple(choices) if choices is not None else None}}
    return dataclasses.field(default=default, metadata=metadata)


def _check_annotation(where: str, name: str, annotation: Any) -> None:
    if annotation in PLAIN_TYPES:
        return
    if get_origin(annotation) is Literal and all(isinstance(choice, PLAIN_TYPES) for choice in get_args(annotation)):
        return
    if get_origin(annotation) in (typing.Union, types.UnionType):
        options = [option for option in get_args(annotation) if option is not type(None)]
        if len(options) == 1:
            return _check_annotation(where, name, options[0])
    raise UserTaskError(f"{where}: field {name!r} has type {annotation!r}; a config field is bool, int, float, str "
                        "or Literal[...] (one value a study can set)")


def check_declaration(where: str, config_type: Any, objective: Any, direction: Any,
                      directions: Mapping[str, str]) -> None:
    """Refuse a declaration no study could run, with one line: non-dataclass config, unsupported field types,
    defaults outside their bounds or choices, an objective that is not `split/name`, a direction not max/min."""
    if not (isinstance(config_type, type) and dataclasses.is_dataclass(config_type)):
        raise UserTaskError(f"{where}: config= must be a @dataclass class, got {config_type!r}")
    for name, wanted in ((objective, "objective"), *((metric, "metrics") for metric in directions)):
        if not (isinstance(name, str) and name.count("/") == 1 and all(name.split("/"))):
            raise UserTaskError(f"{where}: {wanted}={name!r}; expected a metric name 'split/name' (val/accuracy)")
    for value in (direction, *directions.values()):
        if value not in ("maximize", "minimize"):
            raise UserTaskError(f"{where}: direction {value!r}; expected 'maximize' or 'minimize'")
    if directions.get(objective, direction) != direction:  # which one would a study of this objective follow?
        raise UserTaskError(f"{where}: metrics= says {objective!r} is to {directions[objective]}, but the objective's "
                            f"direction is {direction!r}; give it once, or the same in both")
    try:
        hints = get_type_hints(config_type)
    except Exception as error:
        raise UserTaskError(f"{where}: cannot read the config's type hints ({error})") from None
    for field in dataclasses.fields(config_type):
        _check_annotation(where, field.name, hints[field.name])
        declared = field.metadata.get(METADATA_KEY, {})
        number_types = {hints[field.name], *get_args(hints[field.name])} & {int, float}
        if declared.get("bound") is not None and not number_types:  # a range on text or true/false: never checked
            raise UserTaskError(f"{where}: field {field.name!r} has type {hints[field.name]!r} but declares low/high; "
                                "a range applies to int and float fields (give choices= for others)")
        if field.default is dataclasses.MISSING:
            raise UserTaskError(f"{where}: field {field.name!r} has no default; every config field needs one")
        try:
            check_value(field.name, field.default, hints[field.name], config_type)
        except ConfigError as error:
            raise UserTaskError(f"{where}: default of {error}") from None


def task(*, config: type, objective: str = "val/accuracy", direction: str = "maximize",
         metrics: Mapping[str, str] | None = None, description: str = "",
         smoke: Mapping[str, Any] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare `train(config, reporter, run_dir) -> {metric: value}` as a sweeplab task named `module:function`.

    `metrics` lists other metrics a study may choose as its objective, with their directions."""
    directions = dict(metrics or {})

    def declare(train: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(train):
            raise UserTaskError(f"@task decorates a function train(config, reporter, run_dir), got {train!r}")
        reference = f"{train.__module__}:{train.__qualname__}"
        check_declaration(reference, config, objective, direction, directions)
        declared = Task(name=reference, config_type=config, train=train, objective=objective, direction=direction,
                        description=description or (train.__doc__ or "").strip().split("\n")[0],
                        metrics=tuple(directions), directions=directions, smoke=dict(smoke or {}))
        register_task(declared)
        train.sweeplab_task = declared  # type: ignore[attr-defined]
        return train

    return declare
