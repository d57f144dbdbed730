"""The sampler and pruner options a study file may give, with their types and ranges, described once.

Optuna checks some of them only when a trial runs, some never (a negative `n_startup_trials`, `multivariate: 3`);
here every value is checked when the study file loads. A pruner's `floor` must lie inside the objective's range
(an accuracy floor of 5 would prune every trial). Options allowed alone may still contradict each other (a
hyperband `min_resource` above its `max_resource`): `check_combination` refuses those.
"""

from __future__ import annotations

import math
from typing import Any

SAMPLERS = {"qmc": {"seed", "scramble"}, "random": {"seed"}, "tpe": {"seed", "n_startup_trials", "multivariate"},
            "grid": {"seed"}}
# every pruner also takes `floor`: prune a trial whose latest value is worse (e.g. chance accuracy after epoch 1)
PRUNERS = {"none": {"floor"}, "median": {"n_startup_trials", "n_warmup_steps", "floor"},
           "hyperband": {"min_resource", "max_resource", "reduction_factor", "floor"},
           "successive_halving": {"min_resource", "reduction_factor", "min_early_stopping_rate", "bootstrap_count",
                                  "floor"}}
# option -> (kind, low, high); "int|auto" also takes the string "auto"
OPTION_TYPES: dict[str, tuple[str, float, float]] = {
    "seed": ("int", 0, 2**32 - 1), "n_startup_trials": ("int", 0, 1_000_000), "multivariate": ("bool", 0, 0),
    "scramble": ("bool", 0, 0), "n_warmup_steps": ("int", 0, 1_000_000), "min_resource": ("int|auto", 1, 1_000_000),
    "max_resource": ("int|auto", 1, 1_000_000), "reduction_factor": ("int", 2, 1000),
    "min_early_stopping_rate": ("int", 0, 1000), "bootstrap_count": ("int", 0, 1_000_000),
    "floor": ("number", -math.inf, math.inf),
}
# the range an objective's values can take, by its metric name's last part
METRIC_RANGES = {"accuracy": (0.0, 1.0), "cse_minutes": (0.0, 360.0), "loss": (0.0, math.inf),
                 "frechet_distance": (0.0, math.inf)}


class OptionError(ValueError):
    """One option's value is not allowed; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def metric_range(metric: str) -> tuple[float, float]:
    return METRIC_RANGES.get(metric.rsplit("/", 1)[-1], (-math.inf, math.inf))


def check_option(name: str, value: Any, objective: str) -> None:
    """Raise OptionError unless `value` is allowed for option `name` (of a study optimising `objective`)."""
    kind, low, high = OPTION_TYPES[name]
    if kind == "bool":
        if not isinstance(value, bool):
            raise OptionError(name, f"expected true or false, got {value!r}")
        return
    if kind == "int|auto" and value == "auto":
        return
    integer = isinstance(value, int) and not isinstance(value, bool)
    number = (integer or isinstance(value, float)) and math.isfinite(value)
    if (kind != "number" and not integer) or not number:
        raise OptionError(name, f"expected {'a finite number' if kind == 'number' else 'an integer'}, got {value!r}")
    if name == "floor":
        low, high = metric_range(objective)
        if value in (low, high):  # at the best end every trial is pruned, at the worst end none: never meant
            raise OptionError(name, f"{value!r} is an end of {objective}'s range [{low:g}, {high:g}]; a floor there "
                              "prunes every trial or none: expected a value strictly inside it")
    if not low <= value <= high:
        raise OptionError(name, f"{value!r} is out of range; expected a value in [{low:g}, {high:g}]"
                          + (f" ({objective}'s range)" if name == "floor" else ""))


def check_combination(name: str, options: dict[str, Any]) -> None:
    """Raise OptionError when options of sampler or pruner `name`, each allowed alone, contradict each other."""
    low, high = options.get("min_resource", "auto"), options.get("max_resource", "auto")
    if name == "hyperband" and "auto" not in (low, high) and low > high:
        raise OptionError("min_resource", f"{low!r} is above max_resource {high!r}; expected min_resource <= "
                          "max_resource (the first rung cannot train longer than the last)")
    if name == "qmc" and options.get("seed") is not None and options.get("scramble") is False:
        raise OptionError("seed", "a seed acts only on a scrambled sequence; with scramble: false leave it out "
                          "(the sequence is fixed)")


def objective_problem(objective: str, value: Any) -> str | None:
    """Why a trial's objective value cannot be stored, or None: it must be a finite number (not a bool) inside the
    metric's range (an accuracy of 5.0, or `True` returned by a user's train function, would rank first)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"objective {objective} is {value!r}, not a number"
    if not math.isfinite(value):
        return f"objective {objective} is {value}"
    low, high = metric_range(objective)
    if not low <= value <= high:
        return f"objective {objective} is {value!r}, outside its range [{low:g}, {high:g}]"
    return None
