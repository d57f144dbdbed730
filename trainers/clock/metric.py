"""Common-sense error: minutes between two readings of a 12-hour dial, the short way round (0..360)."""

from __future__ import annotations

import numpy as np

CLASS_COUNTS = (12, 24, 48, 72, 120, 240, 360, 720)  # the classification head's class counts (divisors of 720)

DIAL_MINUTES = 720


def to_minutes(labels: np.ndarray) -> np.ndarray:
    """N x 2 (hour, minute) -> minutes since 12:00 (0..719) as float64."""
    labels = np.asarray(labels)
    return (labels[:, 0] % 12) * 60.0 + labels[:, 1]


def common_sense_minutes(true_minutes: np.ndarray, predicted_minutes: np.ndarray) -> np.ndarray:
    """min(|d|, 720 - |d|) per example, for any real-valued minutes."""
    difference = np.abs(np.asarray(true_minutes, np.float64) - np.asarray(predicted_minutes, np.float64))
    difference = np.mod(difference, DIAL_MINUTES)
    return np.minimum(difference, DIAL_MINUTES - difference)


def error_summary(errors: np.ndarray, prefix: str) -> dict[str, float]:
    """Mean, median, 90th percentile and share over 30 minutes, named `prefix/...`."""
    errors = np.asarray(errors, np.float64)
    return {
        f"{prefix}/cse_minutes": float(errors.mean()),
        f"{prefix}/cse_median": float(np.median(errors)),
        f"{prefix}/cse_p90": float(np.percentile(errors, 90)),
        f"{prefix}/share_over_30min": float((errors > 30).mean()),
    }


HISTOGRAM_EDGES = (0, 1, 2, 5, 10, 30, 60, 120, 180, 360)  # minutes; the last bin includes 360


def signed_minutes(true_minutes: np.ndarray, predicted_minutes: np.ndarray) -> np.ndarray:
    """Predicted minus true, the short way round the dial: -360..360 (late positive)."""
    difference = np.asarray(predicted_minutes, np.float64) - np.asarray(true_minutes, np.float64)
    return np.mod(difference + DIAL_MINUTES / 2, DIAL_MINUTES) - DIAL_MINUTES / 2


def hour_slips(true_minutes: np.ndarray, predicted_minutes: np.ndarray, prefix: str,
               minute_tolerance: float = 5.0) -> dict[str, float]:
    """Readings whose minute is right within `minute_tolerance` but whose hour is wrong, and what they cost.

    `share_hour_slip`: the hour is off by exactly one (e.g. 12:58 read as 1:58); `share_hour_wrong`: off by any
    whole number of hours; `*_minutes`: their contribution to the mean common-sense error (sum / N).
    """
    signed = signed_minutes(true_minutes, predicted_minutes)
    hours_off = np.round(signed / 60.0)
    minute_right = np.abs(signed - 60.0 * hours_off) <= minute_tolerance
    slip = minute_right & (np.abs(hours_off) == 1)
    wrong = minute_right & (hours_off != 0)
    errors = common_sense_minutes(true_minutes, predicted_minutes)
    count = max(len(errors), 1)
    return {
        f"{prefix}/share_hour_slip": float(slip.sum() / count),
        f"{prefix}/hour_slip_minutes": float(errors[slip].sum() / count),
        f"{prefix}/share_hour_wrong": float(wrong.sum() / count),
        f"{prefix}/hour_wrong_minutes": float(errors[wrong].sum() / count),
    }


def error_histogram_counts(errors: np.ndarray) -> dict[str, int]:
    """Counts of common-sense errors per bin of HISTOGRAM_EDGES, keyed `low-high`."""
    counts, _ = np.histogram(np.asarray(errors, np.float64), bins=HISTOGRAM_EDGES)
    bins = zip(HISTOGRAM_EDGES[:-1], HISTOGRAM_EDGES[1:], counts, strict=True)
    return {f"{low}-{high}": int(count) for low, high, count in bins}


def error_report(true_minutes: np.ndarray, predicted_minutes: np.ndarray, prefix: str) -> dict[str, float]:
    """`error_summary` plus the hour-slip measures (flat floats: they go to metrics and trial attributes)."""
    errors = common_sense_minutes(true_minutes, predicted_minutes)
    return {**error_summary(errors, prefix), **hour_slips(true_minutes, predicted_minutes, prefix)}
