"""Optimizer registry: name -> keras optimizer built from the flat config (unused knobs are ignored)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

LearningRate = float | keras.optimizers.schedules.LearningRateSchedule

# name -> (config, learning rate or schedule) -> optimizer
OPTIMIZERS: dict[str, Callable[[Any, LearningRate], keras.optimizers.Optimizer]] = {
    "sgd": lambda c, rate: keras.optimizers.SGD(rate, momentum=c.momentum, nesterov=c.nesterov),
    "rmsprop": lambda c, rate: keras.optimizers.RMSprop(rate, rho=c.rho, momentum=c.momentum),
    "adam": lambda c, rate: keras.optimizers.Adam(rate, beta_1=c.beta_1, beta_2=c.beta_2),
    "adamw": lambda c, rate: keras.optimizers.AdamW(rate, beta_1=c.beta_1, beta_2=c.beta_2,
                                                    weight_decay=c.weight_decay),
    "nadam": lambda c, rate: keras.optimizers.Nadam(rate, beta_1=c.beta_1, beta_2=c.beta_2),
    "adadelta": lambda c, rate: keras.optimizers.Adadelta(rate, rho=c.rho),
}


def learning_rate(config: Any, steps_per_epoch: int) -> LearningRate:
    """`learning_rate` as is, or (`lr_schedule: cosine`) a per-step warm-up then cosine decay over the epochs."""
    if getattr(config, "lr_schedule", "constant") != "cosine":
        return config.learning_rate
    total = max(1, steps_per_epoch * config.epochs)
    warmup = min(total - 1, round(steps_per_epoch * config.warmup_epochs))
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate, decay_steps=total - warmup,
        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)


def build_optimizer(config: Any, steps_per_epoch: int = 1, scheduled: bool = True) -> keras.optimizers.Optimizer:
    """Config needs `optimizer`, `learning_rate` and the knobs its optimizer reads (and `lr_schedule`, `epochs`);
    `scheduled=False`: a plain learning rate that a callback sets (trainers.time_budget.BudgetedCosine)."""
    return OPTIMIZERS[config.optimizer](config, learning_rate(config, steps_per_epoch) if scheduled
                                        else config.learning_rate)
