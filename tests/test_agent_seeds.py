"""Round 13's 6-e: agents of one study with a seeded sampler draw different points; one sweep, or one agent by its
name, replays the same sequence from the same seed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState
from tiny_study import faulting_study_text, faulting_task_source, tiny_study_text

from sweeps import trial_process
from sweeps.agent import agent_sampler_options
from sweeps.optuna_study import create_study
from sweeps.space import suggest_all
from sweeps.spec import StudySpec, load_spec
from sweeps.trial_loop import ask_holding_stops, run_one_trial
from sweeps.trial_process import subprocess_objective

AGENT_NAMES = st.tuples(st.text("abcdefghij-.", min_size=1, max_size=12), st.integers(1, 4_194_304)).map(
    lambda host_pid: f"{host_pid[0]}:{host_pid[1]}")


def _draws(spec: StudySpec, sampler: dict, count: int = 3) -> list[dict]:
    """The parameters a fresh study with `sampler` proposes for its first `count` trials (as `sweep` asks them)."""
    study = create_study(dataclasses.replace(spec, sampler=sampler), optuna.storages.InMemoryStorage())
    return [suggest_all(spec.parameters, study.ask()) for _ in range(count)]


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory: pytest.TempPathFactory) -> StudySpec:
    path = tmp_path_factory.mktemp("seeds") / "seeds-tiny.yaml"
    path.write_text(tiny_study_text("seeds-tiny", 4))
    return load_spec(path)


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), sampler=st.sampled_from(["random", "tpe"]),
       names=st.lists(AGENT_NAMES, min_size=2, max_size=2, unique=True))
def test_one_sweep_or_agent_replays_its_seed_and_two_agents_draw_apart(tiny_spec: StudySpec, seed: int,
                                                                       sampler: str, names: list[str]) -> None:
    """The rule (docs/cluster.md): `sweep` uses the file's seed as given; an agent adds a hash of its name."""
    options = {"name": sampler, "seed": seed}
    assert _draws(tiny_spec, options) == _draws(tiny_spec, options)
    first, second = (agent_sampler_options(options, name) for name in names)
    assert _draws(tiny_spec, first) == _draws(tiny_spec, first)
    assert _draws(tiny_spec, first)[0] != _draws(tiny_spec, second)[0]


def test_trial_processes_of_two_agents_draw_different_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two agents each asked a trial before either trial process started, so both processes found the same trial
    count: each seeded its sampler with the study file's seed plus that count and drew the same point (every
    configuration ran twice under `agents --n 2`). Each trial process now draws with its agent's seed."""
    (tmp_path / "seedtask.py").write_text(faulting_task_source("pass"))
    path = tmp_path / "seedtask.yaml"
    path.write_text(faulting_study_text("seedtask").replace("{name: random}", "{name: random, seed: 0}"))
    spec, url = load_spec(path), f"sqlite:///{tmp_path / 'optuna.db'}"
    study = create_study(spec, url)
    asked = [ask_holding_stops(study), ask_holding_stops(study)]
    for trial, agent in zip(asked, ("node-a:101", "node-b:202"), strict=True):
        monkeypatch.setattr(trial_process, "agent_name", lambda agent=agent: agent, raising=False)
        state = run_one_trial(study, trial, subprocess_objective(spec, url, None, tmp_path / "runs"), lambda _: None)
        assert state == TrialState.COMPLETE
    first, second = (study._storage.get_trial(trial._trial_id).params for trial in asked)
    assert first != second
