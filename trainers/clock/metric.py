"""Common-sense error: minutes between two readings of a 12-hour dial, the short way round (0..360)."""

from __future__ import annotations

import numpy as np

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
