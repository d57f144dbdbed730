"""One Adam for several players: a learning-rate multiplier per variable (the GAN's generator and discriminator).

Keras calls `update_step(gradient, variable, learning_rate)` once per variable on every backend: TensorFlow
through its distribution-strategy update, JAX inside `stateless_apply`'s StatelessScope, torch in the base optimizer's
loop (torch swaps only `keras.optimizers.Adam` itself for its fused multi-tensor Adam, never a subclass).
Scaling the learning rate there scales each variable's step and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras


class PerVariableAdam(keras.optimizers.Adam):
    """Adam whose step for a variable uses `learning_rate * multipliers[variable.path]` (1.0 for paths not given).

    Paths are resolved once, in `build`: every given path must name exactly one of the variables the
    optimizer is built on, so a typo or two layers sharing a name fail loudly instead of training at the
    wrong rate. The multipliers are plain floats in `get_config`, so the optimizer round-trips through
    `from_config`.
    """

    def __init__(self, learning_rate: float = 0.001, multipliers: Mapping[str, float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.multipliers = {str(path): float(value) for path, value in (multipliers or {}).items()}
        self._variable_multipliers: list[float] = []

    def build(self, var_list: list[keras.Variable]) -> None:
        if self.built:
            return
        paths = [variable.path for variable in var_list]
        unknown = sorted(set(self.multipliers) - set(paths))
        if unknown:
            raise ValueError(f"learning-rate multipliers for unknown variables {unknown}; "
                             f"the optimizer is built on {paths}")
        shared = sorted({path for path in self.multipliers if paths.count(path) > 1})
        if shared:
            raise ValueError(f"several variables share the paths {shared}: give their layers distinct names")
        super().build(var_list)
        self._variable_multipliers = [self.multipliers.get(path, 1.0) for path in paths]

    def update_step(self, gradient, variable, learning_rate) -> None:
        """Adam's step with this variable's learning rate (`variable` is the native TensorFlow variable there)."""
        multiplier = self._variable_multipliers[self._get_variable_index(variable)]
        super().update_step(gradient, variable, learning_rate * multiplier)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "multipliers": dict(self.multipliers)}
