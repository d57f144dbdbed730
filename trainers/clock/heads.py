"""Label representations ("heads"): encode labels, output layer, loss (keras.ops only), decode to minutes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from trainers.clock.metric import DIAL_MINUTES, to_minutes

CLASS_COUNTS = (12, 24, 48, 72, 120, 240, 360, 720)
TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class Head:
    """One representation. Targets are float32 N x `width`; the model's last layer has `units` outputs."""

    name: str
    units: int
    activation: str | None
    width: int  # columns of the encoded targets
    encode_minutes: Callable[[np.ndarray], np.ndarray]
    loss: Callable[[Any, Any], Any]
    decode: Callable[[np.ndarray], np.ndarray]  # predictions -> minutes since 12:00 in [0, 720)
    options: dict[str, Any] = field(default_factory=dict)
    output_layers: Callable[[Any], Any] | None = None  # features -> outputs; default one Dense(units, activation)

    def encode(self, labels: np.ndarray) -> np.ndarray:
        return self.encode_minutes(to_minutes(labels)).astype(np.float32)

    def output(self, features: Any) -> Any:
        if self.output_layers is not None:
            return self.output_layers(features)
        return layers.Dense(self.units, activation=self.activation, name="clock")(features)


def _angle_encoding(minutes: np.ndarray, period: float) -> np.ndarray:
    angle = TWO_PI * np.asarray(minutes, np.float64) / period
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def _angle_decoding(sine: np.ndarray, cosine: np.ndarray, period: float) -> np.ndarray:
    return np.mod(np.arctan2(sine, cosine) / TWO_PI * period, period)


def _regression(circular: bool) -> Head:
    def loss(y_true, y_pred):
        difference = y_true - y_pred
        if circular:  # the short way round the dial, in hours
            difference = ops.mod(difference + 6.0, 12.0) - 6.0
        return ops.mean(ops.square(difference), axis=-1)

    return Head(
        name="regression_circular" if circular else "regression", units=1, activation=None, width=1,
        encode_minutes=lambda minutes: (minutes / 60.0)[:, None], loss=loss,
        decode=lambda predictions: np.mod(predictions[:, 0] * 60.0, DIAL_MINUTES))


def _classification(classes: int) -> Head:
    """Bins centred on k * 720/classes minutes; decoded at the centre of the most likely bin."""
    width = DIAL_MINUTES / classes

    def loss(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(ops.cast(y_true[:, 0], "int32"), y_pred)

    return Head(
        name="classification", units=classes, activation="softmax", width=1,
        encode_minutes=lambda minutes: (np.round(minutes / width).astype(np.int64) % classes)[:, None], loss=loss,
        decode=lambda predictions: np.argmax(predictions, axis=1) * width, options={"classes": classes})


def _multi_head(hour_weight: float, minute_weight: float) -> Head:
    """12-class hour (cross-entropy) and minute regression (MSE on minute / 60), weighted."""

    def encode(minutes: np.ndarray) -> np.ndarray:
        return np.stack([minutes // 60, (minutes % 60) / 60.0], axis=1)

    def loss(y_true, y_pred):
        hour_loss = keras.losses.sparse_categorical_crossentropy(ops.cast(y_true[:, 0], "int32"), y_pred[:, :12])
        minute_loss = ops.square(y_true[:, 1] - y_pred[:, 12])
        return hour_weight * hour_loss + minute_weight * minute_loss

    def decode(predictions: np.ndarray) -> np.ndarray:
        minute = np.clip(predictions[:, 12] * 60.0, 0, 59.999)
        return np.argmax(predictions[:, :12], axis=1) * 60.0 + minute

    def output_layers(features: Any) -> Any:  # softmax over 12 hours next to a linear minute
        hours = layers.Dense(12, activation="softmax", name="hour")(features)
        return layers.Concatenate(name="clock")([hours, layers.Dense(1, name="minute")(features)])

    return Head(name="multi_head", units=13, activation=None, width=2, encode_minutes=encode, loss=loss,
                decode=decode, options={"hour_weight": hour_weight, "minute_weight": minute_weight},
                output_layers=output_layers)


def _mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def _periodic() -> Head:
    """sin/cos of the hour hand's angle (which carries the minutes too)."""
    return Head(name="periodic", units=2, activation=None, width=2,
                encode_minutes=lambda minutes: _angle_encoding(minutes, DIAL_MINUTES), loss=_mse,
                decode=lambda predictions: _angle_decoding(predictions[:, 0], predictions[:, 1], DIAL_MINUTES))


def _two_circle() -> Head:
    """sin/cos of both hands; the minute hand gives the minutes, the hour hand picks the hour."""

    def encode(minutes: np.ndarray) -> np.ndarray:
        return np.concatenate([_angle_encoding(minutes, DIAL_MINUTES), _angle_encoding(minutes % 60, 60)], axis=1)

    def decode(predictions: np.ndarray) -> np.ndarray:
        coarse = _angle_decoding(predictions[:, 0], predictions[:, 1], DIAL_MINUTES)
        minute = _angle_decoding(predictions[:, 2], predictions[:, 3], 60)
        hour = np.mod(np.round((coarse - minute) / 60.0), 12)
        return hour * 60.0 + minute

    return Head(name="two_circle", units=4, activation=None, width=4, encode_minutes=encode, loss=_mse,
                decode=decode)


# name -> builder from the head options (classes, hour_weight, minute_weight); unused options are ignored.
HEADS: dict[str, Callable[..., Head]] = {
    "regression": lambda **options: _regression(circular=False),
    "regression_circular": lambda **options: _regression(circular=True),
    "classification": lambda classes=72, **options: _classification(classes),
    "multi_head": lambda hour_weight=1.0, minute_weight=1.0, **options: _multi_head(hour_weight, minute_weight),
    "periodic": lambda **options: _periodic(),
    "two_circle": lambda **options: _two_circle(),
}


def make_head(name: str, **options: Any) -> Head:
    """Look a head up by name; `options` are the config's head knobs."""
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; known: {', '.join(HEADS)}")
    return HEADS[name](**options)


def representation(head: str, classes: int | None = None) -> str:
    """A readable name for a representation: `classification-72`, `periodic`, ..."""
    return f"{head}-{classes}" if head == "classification" and classes else head
