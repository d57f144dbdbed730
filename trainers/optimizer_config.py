"""The optimiser's knobs, declared once for every task that trains with one Keras optimizer (classify, clock); plain
data, no framework import. `trainers.optimizers.build_optimizer` reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class OptimizerConfig:
    """Optimizer, learning rate and schedule; each optimizer reads the knobs it has and ignores the others."""

    optimizer: Literal["sgd", "rmsprop", "adam", "adamw", "nadam", "adadelta"] = "adam"
    learning_rate: float = 1e-3  # the peak rate with a schedule
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: linear warm-up, then cosine decay to 0
    warmup_epochs: float = 0.0  # linear warm-up from 0 (cosine schedule only)
    momentum: float = 0.0  # sgd, rmsprop
    nesterov: bool = False  # sgd
    rho: float = 0.9  # rmsprop, adadelta
    beta_1: float = 0.9  # adam, adamw, nadam
    beta_2: float = 0.999
    weight_decay: float = 0.004  # adamw
