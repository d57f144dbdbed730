"""Sensible ranges of every numeric config value, by field name, shared by all tasks and by search-space ranges.

A value outside its range can never train (a negative learning rate, `subset=-5`) or is nonsense (`beta_1=1.5`,
`epochs=1e15`): `resolve()` refuses it before any trial starts, and a study file's `space` may not reach outside
it. A field name means the same in every task; tests require every numeric field of every task to be listed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bound:
    """low <= value <= high; `open_low` / `open_high` make an end exclusive."""

    low: float
    high: float
    open_low: bool = False
    open_high: bool = False

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def describe(self) -> str:
        opening, closing = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"{opening}{_number(self.low)}, {_number(self.high)}{closing}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


FRACTION = Bound(0, 1, open_low=True, open_high=True)  # a share of a split: neither none nor all
RATE = Bound(0, 1, open_high=True)  # dropout, smoothing, decay rates of moving averages
LEARNING_RATE = Bound(0, 10, open_low=True)
PENALTY = Bound(0, 10)
COUNT = Bound(0, 100_000_000)  # examples kept (0 = all)
SEED = Bound(0, 2**32 - 1)

BOUNDS: dict[str, Bound] = {
    # data
    "subset": COUNT, "test_subset": COUNT, "n_images": Bound(1, 10_000_000),
    "feature_train_images": Bound(1, 10_000_000),
    "validation_fraction": FRACTION, "test_fraction": FRACTION, "image_size": Bound(0, 4096),
    "polar_angles": Bound(0, 4096), "polar_radii": Bound(0, 4096), "polar_wrap": Bound(0, 2048),
    "render_workers": Bound(1, 256), "seed": SEED, "render_seed": SEED, "permutation_seed": SEED,
    # augmentation
    "augment_shift": RATE, "augment_brightness": RATE, "augment_contrast": RATE,
    "augment_rotation_degrees": Bound(0, 180), "augment_turn_degrees": Bound(0, 180),
    "augment_invert": Bound(0, 1), "augment_erase": Bound(0, 1), "augment_noise": Bound(0, 0.5),
    "augment_blur": Bound(0, 5),
    "augment_perspective": Bound(0, 0.5), "augment_tilt_degrees": Bound(0, 70),
    "test_turns": Bound(0, 16), "test_shift_pixels": Bound(0, 16), "test_shift": Bound(0, 16),
    "test_turn_degrees": Bound(0, 180, open_low=True),
    # architecture
    "dense_layers": Bound(0, 64), "dense_units": Bound(0, 65_536), "dense_shrink": Bound(0, 8, open_low=True),
    "conv_filters": Bound(1, 4096), "filters": Bound(1, 4096), "filter_growth": Bound(0, 8, open_low=True),
    "conv_blocks": Bound(0, 16), "convs_per_block": Bound(1, 16), "kernel_size": Bound(1, 64),
    "stem_kernel_size": Bound(1, 64), "strides": Bound(1, 16), "pool_size": Bound(1, 16), "layers": Bound(1, 6),
    "latent_dim": Bound(1, 4096), "classes": Bound(1, 720),
    "input_dropout": RATE, "dense_dropout": RATE, "conv_dropout": RATE, "discriminator_dropout": RATE,
    # losses and their weights
    "label_smoothing": RATE, "kernel_l1": PENALTY, "kernel_l2": PENALTY, "bias_l1": PENALTY, "bias_l2": PENALTY,
    "beta": Bound(0, 1000), "hour_weight": Bound(0, 1000), "minute_weight": Bound(0, 1000),
    "label_sigma": Bound(0, 30),
    # optimisation
    "learning_rate": LEARNING_RATE, "generator_learning_rate": LEARNING_RATE,
    "discriminator_learning_rate": LEARNING_RATE, "momentum": RATE, "rho": RATE, "beta_1": RATE, "beta_2": RATE,
    "generator_ema": RATE, "self_conditional": Bound(0, 10_000),
    "weight_decay": Bound(0, 1), "batch_size": Bound(1, 65_536), "epochs": Bound(1, 100_000),
    "warmup_epochs": Bound(0, 100_000), "batch_norm_momentum": RATE, "train_minutes": Bound(0, 525_600),
    "patience": Bound(0, 100_000), "steps_per_execution": Bound(1, 100_000),
    # outputs
    "grid_images": Bound(1, 1024), "frechet_samples": Bound(0, 1_000_000), "worst_count": Bound(0, 10_000),
}
UNLISTED = Bound(-1e12, 1e12)  # a new field not yet listed: at least finite and not absurd


METADATA_KEY = "sweeplab"  # dataclass field metadata a user's `param(low=, high=, choices=)` writes


def declared(config_type: type | None, name: str) -> dict[str, Any]:
    """What a user's config declares of field `name` (`bound`, `choices`); empty for built-in configs."""
    if config_type is None or not dataclasses.is_dataclass(config_type):
        return {}
    for field in dataclasses.fields(config_type):
        if field.name == name:
            return dict(field.metadata.get(METADATA_KEY, {}))
    return {}


def bound_of(name: str, config_type: type | None = None) -> Bound:
    """A user's declared bound wins; otherwise the shared range of that field name."""
    return declared(config_type, name).get("bound") or BOUNDS.get(name, UNLISTED)


def out_of_bounds(name: str, value: Any, config_type: type | None = None) -> str | None:
    """Why `value` cannot be `name` (one line), or None when it is allowed: within the declared choices, and for a
    number within its range."""
    choices = declared(config_type, name).get("choices")
    if choices is not None and value not in choices:
        return f"{name}: {value!r} is not allowed; expected one of {list(choices)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    bound = bound_of(name, config_type)
    try:
        inside = bound.contains(float(value))
    except OverflowError:  # an integer past float's range (round 17's 6-b): outside every bound
        inside = False
    if inside:
        return None
    if isinstance(value, int) and (digits := len(str(abs(value)))) > 30:
        return f"{name}: an integer of {digits} digits is out of range; expected a value in {bound.describe()}"
    return f"{name}: {value!r} is out of range; expected a value in {bound.describe()}"
