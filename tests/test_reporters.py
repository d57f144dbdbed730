"""The reporter seam: every reporter sees the resolved config at start and the outcome once at the end."""

from __future__ import annotations

import io
import json

import pytest

import trainers
from trainers.config import as_dict
from trainers.reporter import ConsoleReporter, Reporter, StopTrial


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


class Recorder(Reporter):
    def __init__(self, stop_after: int | None = None) -> None:
        self.events: list[tuple] = []
        self.stop_after = stop_after

    def start(self, config):
        self.events.append(("start", dict(config)))

    def report(self, step, metrics):
        self.events.append(("report", step))

    def should_stop(self):
        return self.stop_after is not None and self.events[-1] == ("report", self.stop_after)

    def end(self, outcome, metrics=None):
        self.events.append(("end", outcome, metrics))


def test_console_bar_counts_the_resolved_epochs():
    """`--set model=keras_cnn` takes its 12 epochs from the model's preset: the bar must know it."""
    resolved = as_dict(trainers.resolve_config(trainers.get_task("classify"), {"model": "keras_cnn"}))
    reporter = ConsoleReporter("run", stream=TerminalStream())
    reporter.start(resolved)
    assert reporter.bar.total == 12
    reporter.report(1, {"val/accuracy": 0.5})
    assert reporter.bar.n == 1
    reporter.end("complete", {})


def test_start_sees_overrides_and_presets_and_end_sees_the_outcome(tiny_classify, tmp_path):
    recorder = Recorder()
    result = trainers.run("classify", {**tiny_classify, "model": "keras_mlp", "epochs": 2}, recorder, tmp_path)
    kind, config = recorder.events[0]
    assert kind == "start" and config["epochs"] == 2 and config["optimizer"] == "rmsprop"  # override, then preset
    assert config == json.loads((tmp_path / "config.json").read_text())["config"]  # the run dir records the same
    assert [event for event in recorder.events if event[0] == "report"] == [("report", 1), ("report", 2)]
    assert recorder.events[-1] == ("end", "complete", result.metrics)


def test_a_stopped_run_ends_pruned_and_a_broken_one_failed(tiny_classify):
    pruned = Recorder(stop_after=1)
    with pytest.raises(StopTrial):
        trainers.run("classify", {**tiny_classify, "epochs": 3}, pruned)
    assert pruned.events[-1] == ("end", "pruned", None)

    failing = Recorder()
    with pytest.raises(ValueError):
        trainers.run("classify", {**tiny_classify, "model": "geron_cnn", "padding": "valid", "conv_blocks": 6}, failing)
    assert failing.events[-1] == ("end", "failed", None)
    assert sum(event[0] == "end" for event in failing.events) == 1
