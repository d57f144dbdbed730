"""Common-sense minutes, and every label head: encode/decode round trip, noise tolerance, losses."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from trainers.clock.heads import HEADS, make_head
from trainers.clock.metric import CLASS_COUNTS, common_sense_minutes, error_summary, to_minutes

ALL_LABELS = np.stack(np.divmod(np.arange(720), 60), axis=1)
HEAD_CASES = [(name, None) for name in HEADS if name != "classification"] + [
    ("classification", classes) for classes in CLASS_COUNTS]


def _perfect_outputs(name: str, targets: np.ndarray, classes: int | None) -> np.ndarray:
    """What a perfect network would output for encoded targets."""
    if name == "classification":
        return np.eye(classes)[targets[:, 0].astype(int)]
    if name == "multi_head":
        return np.concatenate([np.eye(12)[targets[:, 0].astype(int)], targets[:, 1:]], axis=1)
    if name == "hands":
        return np.concatenate([np.eye(12)[targets[:, 0].astype(int)], np.eye(60)[targets[:, 1].astype(int)]], axis=1)
    return targets


def test_common_sense_wraps_round_the_dial():
    assert common_sense_minutes(np.array([11 * 60 + 55]), np.array([5]))[0] == pytest.approx(10)
    assert common_sense_minutes(np.array([0]), np.array([360]))[0] == pytest.approx(360)
    assert common_sense_minutes(np.array([30]), np.array([30 + 720]))[0] == pytest.approx(0)
    assert to_minutes(np.array([[11, 55], [0, 5]])).tolist() == [715, 5]


def test_common_sense_is_symmetric_and_bounded():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 720, 1000), rng.uniform(0, 720, 1000)
    forward, backward = common_sense_minutes(a, b), common_sense_minutes(b, a)
    np.testing.assert_allclose(forward, backward)
    assert forward.min() >= 0 and forward.max() <= 360
    np.testing.assert_allclose(forward, np.minimum(np.abs(a - b), 720 - np.abs(a - b)))


def test_error_summary():
    errors = np.arange(0, 100, dtype=float)
    summary = error_summary(errors, "test")
    assert summary["test/cse_minutes"] == pytest.approx(errors.mean())
    assert summary["test/cse_median"] == pytest.approx(49.5)
    assert summary["test/cse_p90"] == pytest.approx(np.percentile(errors, 90))
    assert summary["test/share_over_30min"] == pytest.approx(69 / 100)


@pytest.mark.parametrize(("name", "classes"), HEAD_CASES)
def test_round_trip(name, classes):
    head = make_head(name, classes=classes) if classes else make_head(name)
    targets = head.encode(ALL_LABELS)
    assert targets.dtype == np.float32 and targets.shape == (720, head.width)
    decoded = head.decode(_perfect_outputs(name, targets, classes))
    assert decoded.min() >= 0 and decoded.max() < 720
    errors = common_sense_minutes(to_minutes(ALL_LABELS), decoded)
    limit = 720 / classes / 2 if classes else 1e-3  # bins decode to their centre
    assert errors.max() <= limit + 1e-6


@pytest.mark.parametrize("name", ["periodic", "two_circle", "regression_circular", "multi_head"])
def test_decoding_tolerates_small_output_noise(name):
    head = make_head(name)
    outputs = _perfect_outputs(name, head.encode(ALL_LABELS), None).astype(np.float64)
    outputs[:, -1] += np.random.default_rng(1).normal(0, 0.01, size=len(outputs))  # on the fine component
    errors = common_sense_minutes(to_minutes(ALL_LABELS), head.decode(outputs))
    assert errors.max() < 6  # no hour flips at the hour boundary


@pytest.mark.parametrize(("name", "classes"), [(name, None) for name in HEADS if name != "classification"]
                         + [("classification", 72)])
def test_loss_prefers_the_right_answer(name, classes):
    head = make_head(name, classes=classes) if classes else make_head(name)
    targets = head.encode(ALL_LABELS[::37])
    right = _perfect_outputs(name, targets, classes).astype(np.float32)
    wrong_labels = ALL_LABELS[::37].copy()
    wrong_labels[:, 0] = (wrong_labels[:, 0] + 5) % 12
    wrong = _perfect_outputs(name, head.encode(wrong_labels), classes).astype(np.float32)
    if name in ("classification", "multi_head", "hands"):  # probabilities strictly inside (0, 1)
        right, wrong = (0.9 * array + 0.1 / array.shape[1] if name in ("classification", "hands") else array
                        for array in (right, wrong))
    loss = lambda outputs: float(keras.ops.mean(head.loss(targets, outputs)))  # noqa: E731
    assert np.isfinite(loss(right)) and loss(right) < loss(wrong)


def test_circular_regression_loss_wraps():
    plain, circular = make_head("regression"), make_head("regression_circular")
    truth, guess = np.array([[0.1]], np.float32), np.array([[11.9]], np.float32)
    assert float(keras.ops.mean(circular.loss(truth, guess))) == pytest.approx(0.04, rel=1e-3)
    assert float(keras.ops.mean(plain.loss(truth, guess))) == pytest.approx(11.8**2, rel=1e-3)


def test_unknown_head_is_refused():
    with pytest.raises(ValueError, match="unknown head"):
        make_head("sundial")


def test_soft_labels_charge_a_near_miss_less_than_a_far_one_and_wrap_round_the_dial():
    """hands with label_sigma: the minute predicted one minute off costs less than ten off, 59 vs 0 is one minute
    apart (the dial wraps), the hour hand at 11:58 is nearly at 12, and the right answer still costs least."""
    head = make_head("hands", label_sigma=1.5)
    targets = head.encode(np.array([[11, 58]]))

    def cost(hour_class: int, minute_class: int) -> float:
        hours, minutes = 0.9 * np.eye(12)[[hour_class]] + 0.1 / 12, 0.9 * np.eye(60)[[minute_class]] + 0.1 / 60
        outputs = np.concatenate([hours, minutes], axis=1).astype(np.float32)
        return float(keras.ops.mean(head.loss(targets, outputs)))

    assert cost(11, 58) < cost(11, 59) < cost(11, 48) and cost(11, 0) < cost(11, 48)  # 0 is 2 minutes from 58
    assert cost(0, 58) < cost(10, 58)  # the hour hand at 11:58 is next to 12 (class 0), far from 10
    assert head.options["label_sigma"] == 1.5 and make_head("hands").options["label_sigma"] == 0.0
