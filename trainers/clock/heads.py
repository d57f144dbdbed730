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
    # outputs of several views of a dial can be averaged before decoding (probabilities, points on a circle); False
    # for a linear reading of the time, whose average across 12 o'clock is wrong (11:58 and 0:02 give 6:00)
    averages_outputs: bool = True

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
        decode=lambda predictions: np.mod(predictions[:, 0] * 60.0, DIAL_MINUTES), averages_outputs=False)


def _classification(classes: int) -> Head:
    """Bins centred on k * 720/classes minutes; decoded at the centre of the most likely bin."""
    width = DIAL_MINUTES / classes

    def loss(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(ops.cast(y_true[:, 0], "int32"), y_pred)

    return Head(
        name="classification", units=classes, activation="softmax", width=1,
        encode_minutes=lambda minutes: (np.round(minutes / width).astype(np.int64) % classes)[:, None], loss=loss,
        decode=lambda predictions: np.argmax(predictions, axis=1) * width, options={"classes": classes})


def hour_given_minute(hour_probabilities: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """Read the hour off the hour hand *given* the minute hand: N x 12 probabilities of the hour (the hand lies in
    [h, h + 1)) and N minute-hand positions (minutes, 0-60, continuous) -> N hours.

    Each candidate hour h puts the hour hand at h + minute / 60; its score is the hand's probability density
    there, interpolated between the hour segments' centres (h + 0.5). Near the hour boundary (minute ~ 0 or ~ 59)
    a hand the classifier split between two hours is given to the one the minute hand agrees with, which removes
    most 12-vs-1 slips; at half past the score is the classifier's own.
    """
    probabilities = np.asarray(hour_probabilities, np.float64)
    position = np.arange(12)[None, :] + np.asarray(minutes, np.float64)[:, None] / 60.0  # N x 12 candidates
    lower = np.floor(position - 0.5)
    fraction = position - 0.5 - lower
    rows = np.arange(len(probabilities))[:, None]
    lower_index = lower.astype(np.int64) % 12
    score = (1 - fraction) * probabilities[rows, lower_index] + fraction * probabilities[rows, (lower_index + 1) % 12]
    return np.argmax(score, axis=1)


def _decode_hour(hour_probabilities: np.ndarray, minutes: np.ndarray, decoding: str) -> np.ndarray:
    if decoding == "given_minute":
        return hour_given_minute(hour_probabilities, minutes)
    return np.argmax(hour_probabilities, axis=1)


HOUR_DECODINGS = ("argmax", "given_minute")


def _multi_head(hour_weight: float, minute_weight: float, hour_decoding: str = "argmax") -> Head:
    """12-class hour (cross-entropy) and minute regression (MSE on minute / 60), weighted."""

    def encode(minutes: np.ndarray) -> np.ndarray:
        return np.stack([minutes // 60, (minutes % 60) / 60.0], axis=1)

    def loss(y_true, y_pred):
        hour_loss = keras.losses.sparse_categorical_crossentropy(ops.cast(y_true[:, 0], "int32"), y_pred[:, :12])
        minute_loss = ops.square(y_true[:, 1] - y_pred[:, 12])
        return hour_weight * hour_loss + minute_weight * minute_loss

    def decode(predictions: np.ndarray) -> np.ndarray:
        minute = np.clip(predictions[:, 12] * 60.0, 0, 59.999)
        return _decode_hour(predictions[:, :12], minute, hour_decoding) * 60.0 + minute

    def output_layers(features: Any) -> Any:  # softmax over 12 hours next to a linear minute
        hours = layers.Dense(12, activation="softmax", name="hour")(features)
        return layers.Concatenate(name="clock")([hours, layers.Dense(1, name="minute")(features)])

    return Head(name="multi_head", units=13, activation=None, width=2, encode_minutes=encode, loss=loss,
                decode=decode, options={"hour_weight": hour_weight, "minute_weight": minute_weight,
                                        "hour_decoding": hour_decoding},
                output_layers=output_layers, averages_outputs=False)


def soft_cross_entropy(probabilities: Any, positions: Any, classes: int, sigma: float) -> Any:
    """Cross-entropy against a circular Gaussian over `classes` bins centred on each (continuous) hand position,
    in bins: class c's centre is c + 0.5. A near miss costs less than a far one, so the dial's order is taught."""
    centres = ops.arange(classes, dtype="float32")[None, :] + 0.5
    distance = ops.mod(centres - positions[:, None] + classes / 2.0, float(classes)) - classes / 2.0
    weights = ops.exp(-0.5 * ops.square(distance / sigma))
    weights = weights / ops.sum(weights, axis=1, keepdims=True)
    return -ops.sum(weights * ops.log(ops.clip(probabilities, 1e-7, 1.0)), axis=1)


def _hands(minute_weight: float, hour_decoding: str, label_sigma: float = 0.0) -> Head:
    """Two classifiers, one per hand: the hour (12 classes) and the minute (60 classes), cross-entropy each.

    `label_sigma` > 0 (minutes of the minute hand): soft targets, a circular Gaussian around where each hand points
    (the hour hand at hour + minute / 60, with the same angular width: sigma / 5 hours)."""

    def encode(minutes: np.ndarray) -> np.ndarray:
        return np.stack([minutes // 60, minutes % 60], axis=1)

    def loss(y_true, y_pred):
        if label_sigma > 0:
            hour_hand = y_true[:, 0] + y_true[:, 1] / 60.0
            hour_loss = soft_cross_entropy(y_pred[:, :12], hour_hand, 12, label_sigma / 5.0)
            minute_loss = soft_cross_entropy(y_pred[:, 12:], y_true[:, 1] + 0.5, 60, label_sigma)
            return hour_loss + minute_weight * minute_loss
        hour_loss = keras.losses.sparse_categorical_crossentropy(ops.cast(y_true[:, 0], "int32"), y_pred[:, :12])
        minute_loss = keras.losses.sparse_categorical_crossentropy(ops.cast(y_true[:, 1], "int32"), y_pred[:, 12:])
        return hour_loss + minute_weight * minute_loss

    def decode(predictions: np.ndarray) -> np.ndarray:
        minute = np.argmax(predictions[:, 12:], axis=1).astype(np.float64)
        # the minute class m covers [m, m + 1): the hand's position is its middle (m = 0 is then inside the hour)
        return _decode_hour(predictions[:, :12], minute + 0.5, hour_decoding) * 60.0 + minute

    def output_layers(features: Any) -> Any:
        hours = layers.Dense(12, activation="softmax", name="hour")(features)
        minutes = layers.Dense(60, activation="softmax", name="minute")(features)
        return layers.Concatenate(name="clock")([hours, minutes])

    return Head(name="hands", units=72, activation=None, width=2, encode_minutes=encode, loss=loss, decode=decode,
                options={"minute_weight": minute_weight, "hour_decoding": hour_decoding, "label_sigma": label_sigma},
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


# name -> builder from the head options (classes, hour_weight, minute_weight, hour_decoding); unused ones are ignored.
HEADS: dict[str, Callable[..., Head]] = {
    "regression": lambda **options: _regression(circular=False),
    "regression_circular": lambda **options: _regression(circular=True),
    "classification": lambda classes=72, **options: _classification(classes),
    "multi_head": lambda hour_weight=1.0, minute_weight=1.0, hour_decoding="argmax", **options: _multi_head(
        hour_weight, minute_weight, hour_decoding),
    "hands": lambda minute_weight=1.0, hour_decoding="given_minute", label_sigma=0.0, **options: _hands(
        minute_weight, hour_decoding, label_sigma),
    "periodic": lambda **options: _periodic(),
    "two_circle": lambda **options: _two_circle(),
}


def make_head(name: str, **options: Any) -> Head:
    """Look a head up by name; `options` are the config's head knobs."""
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; known: {', '.join(HEADS)}")
    if options.get("hour_decoding", "argmax") not in HOUR_DECODINGS:
        raise ValueError(f"unknown hour_decoding {options['hour_decoding']!r}; known: {', '.join(HOUR_DECODINGS)}")
    return HEADS[name](**options)


def representation(head: str, classes: int | None = None) -> str:
    """A readable name for a representation: `classification-72`, `periodic`, ..."""
    return f"{head}-{classes}" if head == "classification" and classes else head
