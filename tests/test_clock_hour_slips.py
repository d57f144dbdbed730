"""Hour slips (minute right, hour off by one) on hand-made readings, and reading the hour given the minute."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.clocks import render_clocks
from trainers import get_task, resolve_config
from trainers.clock.backbone import build_clock_model
from trainers.clock.heads import hour_given_minute, make_head
from trainers.clock.metric import common_sense_minutes, error_histogram_counts, error_report, hour_slips, to_minutes
from trainers.clock.predict import resize_images
from trainers.clock.training import chosen_decoding, head_of

CLOCK = get_task("clock")


def _minutes(*times: tuple[int, int]) -> np.ndarray:
    return np.array([hour % 12 * 60 + minute for hour, minute in times], np.float64)


def test_hour_slips_on_hand_made_readings():
    true = _minutes((12, 58), (3, 0), (5, 10), (1, 0), (6, 30), (11, 2))
    read = _minutes((1, 58), (2, 57), (7, 10), (1, 40), (6, 30), (10, 0))
    # 12:58 -> 1:58 slips (60 min, across 12); 2:57 is 3 min early, not a slip; 7:10 is two hours off;
    # 1:40 has the minute wrong; 6:30 is right; 10:00 for 11:02 is one hour and two minutes early: a slip (62 min).
    measures = hour_slips(true, read, "test")
    assert measures["test/share_hour_slip"] == pytest.approx(2 / 6)
    assert measures["test/hour_slip_minutes"] == pytest.approx((60 + 62) / 6)
    assert measures["test/share_hour_wrong"] == pytest.approx(3 / 6)
    assert measures["test/hour_wrong_minutes"] == pytest.approx((60 + 62 + 120) / 6)


def test_minute_tolerance_decides_what_counts_as_a_slip():
    true, read = _minutes((4, 0)), _minutes((5, 8))  # an hour and eight minutes late
    assert hour_slips(true, read, "t")["t/share_hour_slip"] == 0
    assert hour_slips(true, read, "t", minute_tolerance=10)["t/share_hour_slip"] == 1


def test_error_report_and_histogram():
    true = _minutes((1, 0), (2, 0), (3, 0), (4, 0))
    read = _minutes((1, 0), (2, 3), (4, 0), (10, 0))  # errors 0, 3, 60, 360
    report = error_report(true, read, "x")
    assert report["x/cse_minutes"] == pytest.approx((0 + 3 + 60 + 360) / 4)
    assert report["x/share_hour_slip"] == pytest.approx(1 / 4) and report["x/share_over_30min"] == pytest.approx(0.5)
    counts = error_histogram_counts(np.array([0, 3, 60, 360, 0.5]))
    assert counts["0-1"] == 2 and counts["2-5"] == 1 and counts["60-120"] == 1 and counts["180-360"] == 1
    assert sum(counts.values()) == 5


def _hour_probabilities(mass: dict[int, float]) -> np.ndarray:
    probabilities = np.zeros((1, 12))
    for hour, value in mass.items():
        probabilities[0, hour] = value
    return probabilities


def test_hour_given_minute_follows_the_minute_hand_near_the_hour():
    # 1:02: the hour hand sits just past 1; a classifier torn 60:40 towards 12 is overruled by the minute hand.
    assert hour_given_minute(_hour_probabilities({0: 0.6, 1: 0.4}), np.array([2.0]))[0] == 1
    # 12:58: the hand sits just before 1; 60:40 towards 1 is overruled the other way.
    assert hour_given_minute(_hour_probabilities({0: 0.4, 1: 0.6}), np.array([58.0]))[0] == 0
    # across 12: 11:59 with the classifier leaning to 12 o'clock (hour 0) stays 11.
    assert hour_given_minute(_hour_probabilities({11: 0.45, 0: 0.55}), np.array([59.0]))[0] == 11
    # half past: no boundary nearby, the classifier's own choice stands.
    assert hour_given_minute(_hour_probabilities({3: 0.4, 4: 0.6}), np.array([30.0]))[0] == 4
    # a confident classifier is never overruled.
    assert hour_given_minute(_hour_probabilities({0: 0.95, 1: 0.05}), np.array([2.0]))[0] == 0


def test_hands_head_decodes_the_hour_given_the_minute():
    outputs = np.zeros((1, 72))
    outputs[0, [0, 1]] = 0.6, 0.4  # hour torn between 12 and 1
    outputs[0, 12 + 2] = 1.0  # minute hand on 2
    coupled, alone = make_head("hands"), make_head("hands", hour_decoding="argmax")
    assert coupled.decode(outputs)[0] == pytest.approx(62) and alone.decode(outputs)[0] == pytest.approx(2)
    with pytest.raises(ValueError, match="hour_decoding"):
        make_head("hands", hour_decoding="sundial")


def test_auto_hour_decoding_keeps_the_better_reading_of_the_validation_set():
    config = resolve_config(CLOCK, {**CLOCK.smoke, "image_size": 32, "head": "hands", "hour_decoding": "auto"})
    head = head_of(config)
    assert head.options["hour_decoding"] == "given_minute"  # what training reports with
    model = build_clock_model(config, 32, head)
    images, labels = render_clocks(40, seed=2)
    prepared = resize_images(images, 32)
    chosen, errors = chosen_decoding(config, head, model, prepared, to_minutes(labels))
    outputs = np.asarray(model.predict(prepared, verbose=0), np.float64)
    for decoding in ("argmax", "given_minute"):
        reading = make_head("hands", hour_decoding=decoding).decode(outputs)
        assert errors[f"val/cse_minutes_{decoding}"] == pytest.approx(
            common_sense_minutes(to_minutes(labels), reading).mean())
    assert errors[f"val/cse_minutes_{chosen.options['hour_decoding']}"] == min(errors.values())
    fixed = resolve_config(CLOCK, {**CLOCK.smoke, "head": "hands", "hour_decoding": "argmax"})
    as_configured = head_of(fixed)
    kept, no_errors = chosen_decoding(fixed, as_configured, model, prepared, to_minutes(labels))
    assert kept is as_configured and no_errors == {}
