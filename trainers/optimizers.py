"""Optimizer registry: name -> keras optimizer built from the flat config (unused knobs are ignored)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

OPTIMIZERS: dict[str, Callable[[Any], keras.optimizers.Optimizer]] = {
    "sgd": lambda c: keras.optimizers.SGD(c.learning_rate, momentum=c.momentum, nesterov=c.nesterov),
    "rmsprop": lambda c: keras.optimizers.RMSprop(c.learning_rate, rho=c.rho, momentum=c.momentum),
    "adam": lambda c: keras.optimizers.Adam(c.learning_rate, beta_1=c.beta_1, beta_2=c.beta_2),
    "adamw": lambda c: keras.optimizers.AdamW(c.learning_rate, beta_1=c.beta_1, beta_2=c.beta_2,
                                              weight_decay=c.weight_decay),
    "nadam": lambda c: keras.optimizers.Nadam(c.learning_rate, beta_1=c.beta_1, beta_2=c.beta_2),
    "adadelta": lambda c: keras.optimizers.Adadelta(c.learning_rate, rho=c.rho),
}


def build_optimizer(config: Any) -> keras.optimizers.Optimizer:
    """Config needs `optimizer`, `learning_rate` and the knobs its optimizer reads."""
    return OPTIMIZERS[config.optimizer](config)
