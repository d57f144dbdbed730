"""benchmarks.clock_errors: gross errors split by what the localiser did, against the renderer's ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.clock_errors import attribute, localiser_outcomes
from trainers.clock.held_out import HeldOutSet


def test_attribution_splits_the_mean_by_localiser_outcome():
    errors = np.array([0.0, 1.0, 2.0, 1.0, 180.0, 60.0, 0.0, 120.0])
    outcomes = ["ok", "ok", "ok", "ok", "off", "off", "missed", "missed"]
    table = attribute(errors, outcomes)
    assert table["mean_minutes"] == pytest.approx(errors.mean(), abs=1e-3)
    assert table["by_localiser"]["ok"] == {"count": 4, "mean_minutes": 1.0, "share_over_30min": 0.0,
                                           "share_of_mean": round(4 / 364, 4)}
    assert table["by_localiser"]["off"]["count"] == 2 and table["by_localiser"]["off"]["mean_minutes"] == 120.0
    assert table["by_localiser"]["missed"]["share_over_30min"] == 0.5
    assert sum(row["share_of_mean"] for row in table["by_localiser"].values()) == pytest.approx(1.0, abs=1e-3)


def test_outcomes_come_from_the_held_out_sets_ground_truth():
    outcomes = localiser_outcomes(HeldOutSet("default", 101, 40), workers=1)
    assert len(outcomes) == 40 and set(outcomes) <= {"ok", "off", "missed"}
    assert outcomes.count("ok") >= 36  # the localiser frames nearly every default photograph within 8 px
