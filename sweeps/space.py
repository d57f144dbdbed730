"""Search-space parameters as data, compiled to Optuna suggestions and to W&B sweep parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter. `when` makes it conditional for Optuna: {other_param: [values it applies to]}."""

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def applies(self, values: dict[str, Any]) -> bool:
        return all(values.get(name) in allowed for name, allowed in self.when.items())

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for this parameter."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)

    def distribution(self) -> Any:
        """The matching `optuna.distributions` object (for enqueueing and reading trials back)."""
        import optuna.distributions as distributions

        if self.kind == "categorical":
            return distributions.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return distributions.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return distributions.FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def to_wandb(self) -> dict[str, Any]:
        """W&B sweep syntax. W&B has no conditionals: a `when` parameter is always sampled and ignored otherwise."""
        if self.kind == "categorical":
            return {"values": list(self.choices)}
        if self.kind == "int":
            if self.log:
                return {"distribution": "q_log_uniform_values", "min": int(self.low), "max": int(self.high),
                        "q": int(self.step or 1)}
            if self.step and self.step != 1:
                return {"distribution": "q_uniform", "min": int(self.low), "max": int(self.high), "q": int(self.step)}
            return {"distribution": "int_uniform", "min": int(self.low), "max": int(self.high)}
        if self.log:
            return {"distribution": "log_uniform_values", "min": float(self.low), "max": float(self.high)}
        if self.step:
            return {"distribution": "q_uniform", "min": float(self.low), "max": float(self.high), "q": float(self.step)}
        return {"distribution": "uniform", "min": float(self.low), "max": float(self.high)}

    def contains(self, value: Any) -> bool:
        """True when `value` is one of the choices, or a number inside [low, high]."""
        if self.kind == "categorical":
            return value in self.choices
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        inside = float(self.low) <= float(value) <= float(self.high)
        return inside and (self.kind == "float" or float(value).is_integer())

    def at_edge(self, value: Any, fraction: float = 0.05) -> bool:
        """True when a numeric value lies in the outer `fraction` of the range (the playbook's edge warning)."""
        if self.kind == "categorical" or value is None:
            return False
        low, high, value = float(self.low), float(self.high), float(value)
        if self.log:
            low, high, value = math.log(low), math.log(high), math.log(max(value, 1e-300))
        span = high - low
        return span > 0 and (value - low <= fraction * span or high - value <= fraction * span)


def suggest_all(parameters: list[Parameter], trial: Any, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Suggest every parameter whose `when` condition holds, in declaration order; `given` values (fixed ones,
    command-line overrides) take part in the conditions but are not suggested."""
    values: dict[str, Any] = dict(given or {})
    suggested: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.applies(values):
            values[parameter.name] = suggested[parameter.name] = parameter.suggest(trial)
    return suggested
