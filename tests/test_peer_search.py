"""The peer benchmark's arithmetic on hand-made events: a higher fidelity supersedes a lower one, the answer at a
checkpoint is the last one before it, and intervals and margins are the t / Welch ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.peer_search import interval, margin, markdown, summarise, timeline, value_at


def test_a_promoted_result_and_the_refit_supersede_better_looking_low_rung_ones():
    events = [{"elapsed_s": 10, "val": 0.80, "test": 0.79, "level": "low"},
              {"elapsed_s": 20, "val": 0.82, "test": 0.81, "level": "low"},
              {"elapsed_s": 30, "val": 0.78, "test": 0.86, "level": "promoted"},  # lower val, higher fidelity
              {"elapsed_s": 40, "val": 0.81, "test": 0.85, "level": "low"},  # a late low-rung model: ignored
              {"elapsed_s": 50, "val": 0.88, "test": 0.89, "level": "refit"}]
    assert timeline(events) == [(10, 0.79), (20, 0.81), (30, 0.86), (50, 0.89)]
    points = timeline(events)
    assert value_at(points, 5) is None and value_at(points, 45) == 0.86 and value_at(points, 50) == 0.89


@given(st.lists(st.tuples(st.floats(0, 300), st.floats(0, 1), st.floats(0, 1)), max_size=30))
def test_a_peer_timeline_is_the_best_by_validation_so_far(models):
    events = [{"elapsed_s": elapsed, "val": val, "test": test} for elapsed, val, test in models]
    points = timeline(events)
    for elapsed in {event["elapsed_s"] for event in events}:  # the answer read at each moment (ties included)
        seen = [event for event in events if event["elapsed_s"] <= elapsed]
        best = max(item["val"] for item in seen)
        assert value_at(points, elapsed) in [event["test"] for event in seen if event["val"] == best]


def test_interval_and_margin():
    row = interval([0.8, 0.9, 1.0])
    assert row["mean"] == pytest.approx(0.9) and row["ci95"][0] == pytest.approx(0.9 - 4.303 * 0.1 / 3 ** 0.5, 1e-3)
    assert interval([None, 0.5])["n"] == 1 and interval([])["mean"] is None
    difference = margin([0.9, 0.91, 0.92], [0.85, 0.86, 0.87])
    assert difference["difference"] == pytest.approx(0.05) and difference["ci95"][0] > 0


def test_summary_and_table():
    runs = {"sweeplab": {"0": [(30.0, 0.88)], "1": [(40.0, 0.9)]}, "random": {"0": [(200.0, 0.8)], "1": []}}
    summary = summarise(runs, 300.0)
    assert summary["checkpoints_s"] == [60, 150, 300]
    assert summary["tools"]["random"]["1min"]["n"] == 0 and summary["tools"]["random"]["5min"]["n"] == 1
    table = markdown(summary, runs)
    assert "| sweeplab (2) | 89.00 [" in table and "80.00 (n=1)" in table


def test_an_interval_beyond_the_metric_range_is_clipped_and_marked():
    runs = {"sweeplab": {"0": [(30.0, 0.5)], "1": [(30.0, 0.99)]}, "random": {"0": [(30.0, 0.90)], "1": [(30.0, 0.91)]}}
    table = markdown(summarise(runs, 60.0), runs)
    assert "| 74.50 [0.0, 100.0]* |" in table and "is clipped to it" in table.splitlines()[-1]
    assert "| 90.50 [84.1, 96.9] |" in table  # inside [0, 100]: unmarked
    assert "random at the budget: -16.00 points [-100.00, +100.00]*" in table  # a difference lies in [-100, 100]


def test_a_tool_whose_process_fails_records_nothing_and_says_so(tmp_path, monkeypatch):
    """A tool that cannot run (here: a study that does not exist; in the field: keras-tuner not installed) must stop
    the benchmark, not leave an empty part that every rerun would keep and skip."""
    from benchmarks import machine, peer_search

    monkeypatch.setattr(machine, "describe_machine", lambda: {})
    with pytest.raises(RuntimeError, match="random seed 0: its process exited"):
        machine.measured_parts(tmp_path, ["random"], [0], lambda tool, seed: f"{tool}-{seed}.json",
                               lambda tool, seed: peer_search.run_one(tool, "no-such-study", seed, 60.0, 1),
                               lambda *args: "")
    assert list(tmp_path.iterdir()) == []
