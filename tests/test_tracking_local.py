"""W&B sweeps without a server: W&B's `sweeps` engine (own venv, JSON over a pipe) proposes and stops runs, our
trainer trains them, each run logged offline."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeplab.cli import main
from sweeps.spec import load_spec
from sweeps.wandb_local import SweepEngine, run_local_sweep
from sweeps.wandb_sweep import to_wandb_sweep


def test_engine_serves_random_and_grid_and_refuses_bad_configs():
    space = {"x": {"min": 0.0, "max": 1.0}, "c": {"values": ["a", "b"]}}
    with SweepEngine() as engine:
        proposal = engine.request({"action": "next", "config": {"method": "random", "parameters": space}}, "run")
        assert 0.0 <= proposal["config"]["x"]["value"] <= 1.0 and proposal["config"]["c"]["value"] in {"a", "b"}
        grid = {"method": "grid", "parameters": {"c": {"values": ["a", "b"]}}}
        first = engine.request({"action": "next", "config": grid, "runs": []}, "run")
        done = [{"name": "r0", "state": "finished", "config": first["config"]}]
        second = engine.request({"action": "next", "config": grid, "runs": done}, "run")
        assert {first["config"]["c"]["value"], second["config"]["c"]["value"]} == {"a", "b"}
        done.append({"name": "r1", "state": "finished", "config": second["config"]})
        assert engine.request({"action": "next", "config": grid, "runs": done}, "run") is None
        assert engine.request({"action": "validate", "config": {"method": "nope", "parameters": space}}, "errors")


def test_local_bayes_sweep_runs_three_offline_runs(tiny_classify, _runs_dir):
    spec = load_spec("fashion-mlp")  # tpe -> bayes, median pruner -> hyperband
    sweep = to_wandb_sweep(spec)
    assert sweep["method"] == "bayes" and sweep["early_terminate"]["type"] == "hyperband"
    runs = run_local_sweep(spec, 3, {**tiny_classify, "dense_layers": 1})
    assert len(runs) == 3 and all(run.state == "finished" for run in runs)
    assert len({json.dumps(run.config, sort_keys=True) for run in runs}) == 3  # the engine proposed three configs
    for run in runs:
        assert spec.objective in run.summary_metrics
        assert list(Path(run.wandb_dir).glob("*.wandb")), run.wandb_dir
        assert (Path(run.run_dir) / "metrics.jsonl").exists()
    saved = json.loads((_runs_dir / "fashion-mlp-wandb" / "sweep.json").read_text())
    assert [run["name"] for run in saved["runs"]] == [run.name for run in runs]


def test_hyperband_stops_the_bad_run(tiny_classify):
    spec = load_spec("mnist-mlp")  # its learning rate range widened to hold the bad run's 1e-7 (W&B runs a value
    spec = dataclasses.replace(spec, parameters=[  # only when the study could sample it)
        dataclasses.replace(parameter, low=1e-7) if parameter.name == "learning_rate" else parameter
        for parameter in spec.parameters])
    sweep = to_wandb_sweep(spec)
    sweep.update(method="grid", early_terminate={"type": "hyperband", "min_iter": 1, "eta": 3})
    sweep["parameters"] = {**{name: {"value": value} for name, value in spec.fixed.items()},
                           "optimizer": {"value": "adam"}, "learning_rate": {"values": [0.003, 1e-7]}}
    runs = run_local_sweep(spec, 2, {**tiny_classify, "epochs": 3, "dense_layers": 1}, sweep=sweep)
    good, bad = runs
    assert good.config["learning_rate"]["value"] == 0.003 and good.stopped_at is None and len(good.history) == 3
    assert bad.stopped_at == 1 and len(bad.history) == 1 and bad.state == "finished"
    assert bad.history[0][spec.objective] < good.history[0][spec.objective]
    summaries = [wandb_summary(Path(run.wandb_dir)) for run in runs]
    assert [summary["exit_code"] for summary in summaries] == [0, 0]  # a stopped run is not a failed one
    assert summaries[1]["summary"]["stopped_early"] is True and summaries[1]["step"] == 1
    assert "stopped_early" not in summaries[0]["summary"] and summaries[0]["summary"]["epoch"] == 3


def wandb_summary(run_path: Path) -> dict:
    """State, config and summary of an offline run, read from its `.wandb` log by wandb itself."""
    wandb = Path(sys.executable).parent / "wandb"
    output = subprocess.run([str(wandb), "leet", "inspect", "--summary", "--json", str(run_path)],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(output)


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
ANSWERS = st.one_of(TEXT, st.sampled_from(['{"x": 1}', '{"error": "boom"}', '[1]', '"s"', "null",
                                                           '{"errors": []}', "Traceback (most recent call last):"]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=ANSWERS, newline=st.booleans(), code=st.integers(0, 255))
def test_a_sweep_engine_that_is_not_one_is_named_in_one_line(answer, newline, code, tmp_path_factory, monkeypatch,
                                                             capsys):
    """Round 9's 6-c: `SWEEPLAB_SWEEPS_PYTHON=/bin/false` gave `the sweep engine exited (code None)`, the setting
    unnamed; junk or JSON of another shape was an internal error. Whatever a program there answers (generated text,
    exit code), `wandb-local` ends with exit 2 and one line naming it and the setting."""
    folder = tmp_path_factory.mktemp("engine")
    script = folder / "engine.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s{chr(92) + "n" if newline else ""}" "$ANSWER"\nexit {code}\n')
    script.chmod(0o755)
    monkeypatch.setenv("ANSWER", answer)
    monkeypatch.setenv("SWEEPLAB_SWEEPS_PYTHON", str(script))
    assert main(["wandb-local", "fashion-mlp", "--trials", "1", "--no-wandb"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "SWEEPLAB_SWEEPS_PYTHON" in error[0] and str(script) in error[0], error


def test_the_engine_finds_wandbs_sweeps_whatever_pythonpath_says(monkeypatch):
    """Round 10's 6-a: with PYTHONPATH naming the checkout, the engine imported this project's `sweeps/` package
    instead of W&B's and every request failed. It runs isolated from the environment."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    with SweepEngine() as engine:
        assert engine.request({"action": "validate", "config": {"method": "random", "parameters": {
            "x": {"min": 0.0, "max": 1.0}}}}, "errors") == []
