"""The agent loop: failures recorded with their reason, memory released, journal heartbeats, `agents` command."""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState
from test_agents_kill import ROOT, agent_env, load_study, wait_for_running_trial, write_study

import trainers
from sweeps import objective as study_objective
from sweeps.agent import run_agent
from sweeps.spec import load_spec
from sweeps.storage import HeartbeatJournalStorage, StorageError, heartbeat_settings, open_storage
from trainers.runner import Result


def test_failed_trials_are_recorded_and_the_agent_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 0 raises, 1 runs out of memory, 2 returns NaN, 3 no objective, 4 a NaN loss; the rest are real; the
    budget counts only finished."""
    real_run = trainers.run
    calls: list[int] = []

    def flaky_run(task, config, reporter, run_dir):
        calls.append(len(calls))
        if len(calls) == 1:
            raise ValueError("bad batch")
        if len(calls) == 2:
            raise MemoryError("cannot allocate 4 GiB")
        result = real_run(task, config, reporter, run_dir)
        if len(calls) == 3:
            return Result(result.task, result.config, {**result.metrics, "val/accuracy": math.nan}, run_dir)
        if len(calls) == 4:  # a user's task that returns other metrics than the study's objective (round 9's 6-d)
            return Result(result.task, result.config, {"val/loss": 1.0}, run_dir)
        if len(calls) == 5:  # a diverged run: its accuracy is a number, its loss is not (round 10's 8-a)
            return Result(result.task, result.config, {**result.metrics, "val/loss": math.nan}, run_dir)
        return result

    monkeypatch.setattr(study_objective.trainers, "run", flaky_run)
    spec = load_spec(write_study(tmp_path))
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    summary = run_agent(spec, url, budget=2, root=tmp_path / "runs", log=lambda line: None)
    assert summary.ok and summary.states == {"FAIL": 5, "COMPLETE": 2}
    trials = load_study(url).trials
    assert [trial.state for trial in trials] == [TrialState.FAIL] * 5 + [TrialState.COMPLETE] * 2
    reasons = [trial.user_attrs.get("fail_reason", "") for trial in trials[:5]]
    assert reasons[0] == "ValueError: bad batch"
    assert reasons[1].startswith("out of memory: MemoryError")
    assert "is nan" in reasons[2]
    assert reasons[3] == "the task returned no val/accuracy (the study's objective); it returned val/loss"
    assert reasons[4] == "val/loss is nan: the training diverged"
    assert "ValueError: bad batch" in (Path(trials[0].user_attrs["run_dir"]) / "error.txt").read_text()


def test_agent_stops_when_everything_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_run(*args, **kwargs):
        raise RuntimeError("always")

    monkeypatch.setattr(study_objective.trainers, "run", broken_run)
    spec = load_spec(write_study(tmp_path))
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    summary = run_agent(spec, url, budget=3, max_failures=4, root=tmp_path / "runs", log=lambda line: None)
    assert not summary.ok and "4 failed trials" in summary.stopped_because
    assert len(load_study(url).trials) == 4


def test_memory_is_released_between_trials(tmp_path: Path) -> None:
    """After each trial keras' session is cleared: a new layer gets a fresh name, not dense_N."""
    import keras

    names: list[str] = []

    def after(trial, state) -> None:
        names.append(keras.layers.Dense(1).name)

    spec = load_spec(write_study(tmp_path))
    run_agent(spec, f"sqlite:///{tmp_path / 'optuna.db'}", budget=2, root=tmp_path / "runs", log=lambda line: None,
              after_trial=after)
    assert names == ["dense", "dense"]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_journal_heartbeat_fails_and_requeues_a_silent_trial(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("SWEEPLAB_GRACE_SECONDS", "2")
    storage = open_storage(f"journal:///{tmp_path / 'study.log'}")
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(storage=storage, study_name="beats")
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    storage.record_heartbeat(trial._trial_id)
    optuna.storages.fail_stale_trials(study)
    assert study.trials[0].state == TrialState.RUNNING  # beating: not stale
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    dead, retry = study.trials
    assert dead.state == TrialState.FAIL and retry.state == TrialState.WAITING
    assert optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(retry) == dead.number
    assert retry.params == dead.params
    again = study.ask()  # the retry is what the next agent gets, and it is not stale at once
    assert again.number == retry.number
    assert storage._get_stale_trial_ids(study._study_id) == []


@pytest.mark.parametrize(("variable", "value"), [("SWEEPLAB_HEARTBEAT_SECONDS", "soon"),
                                                 ("SWEEPLAB_HEARTBEAT_SECONDS", "0"),
                                                 ("SWEEPLAB_GRACE_SECONDS", "30")])
def test_bad_heartbeat_settings(variable: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", "60")
    monkeypatch.setenv(variable, value)
    with pytest.raises(StorageError, match=variable.removeprefix("SWEEPLAB_")[:5]):
        heartbeat_settings()


def run_agents(study: Path, url: str, tmp_path: Path, count: int, budget: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "sweeplab.cli", "agents", str(study), "--n", str(count), "--trials", str(budget),
            "--storage", url]
    log = (tmp_path / "agents.log").open("w")
    return subprocess.Popen(argv, cwd=ROOT, env=agent_env(tmp_path / "runs"), stdout=log, stderr=subprocess.STDOUT)


def test_agents_command_shares_one_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    process = run_agents(write_study(tmp_path), url, tmp_path, count=2, budget=4)
    assert process.wait(timeout=300) == 0, (tmp_path / "agents.log").read_text()[-3000:]
    trials = load_study(url).trials
    assert [trial.state for trial in trials].count(TrialState.COMPLETE) == 4 == len(trials)
    log = (tmp_path / "agents.log").read_text()
    assert log.count("joined study") == 2 and log.count("stopping: the study has 4 finished trials") == 2
    assert 1 <= len({trial.user_attrs["agent"] for trial in trials}) <= 2  # a slow starter may find no work left


def test_agents_command_forwards_sigterm(tmp_path: Path) -> None:
    """SIGTERM to `agents` reaches each agent: its trial becomes FAIL with a reason and is re-queued; the command
    exits 128 + SIGTERM with its one line, like a single agent."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    process = run_agents(write_study(tmp_path), url, tmp_path, count=1, budget=50)
    try:
        child = int((_wait_for_line(tmp_path / "agents.log", "pids ").split("pids ")[1]).split(",")[0])
        running = wait_for_running_trial(url, child)
        os.kill(process.pid, signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 128 + signal.SIGTERM, (tmp_path / "agents.log").read_text()[-3000:]
    assert (tmp_path / "agents.log").read_text().strip().splitlines()[-1] == "sweeplab: interrupted (SIGTERM)"
    trials = load_study(url).trials
    stopped = trials[running.number]
    assert stopped.state == TrialState.FAIL
    assert stopped.user_attrs["fail_reason"] == "stopped by SIGTERM during the trial"
    assert [trial for trial in trials if trial.state == TrialState.WAITING
            and trial.system_attrs.get("failed_trial") == running.number]


def _wait_for_line(path: Path, text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text().splitlines() if path.exists() else []:
            if text in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_trial_subprocess_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--trial-subprocess`: each trial trains in its own process; the results land on the parent's trials."""

    def not_here(*args, **kwargs):
        raise AssertionError("the trainer ran in the agent's own process")

    monkeypatch.setattr(study_objective.trainers, "run", not_here)  # children import the real one
    spec = load_spec(write_study(tmp_path))
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    summary = run_agent(spec, url, budget=2, root=tmp_path / "runs", log=lambda line: None, trial_subprocess=True)
    assert summary.ok and summary.states == {"COMPLETE": 2}
    trials = load_study(url).trials
    assert all("val/accuracy" in trial.user_attrs["metrics"] for trial in trials)
    assert all((Path(trial.user_attrs["run_dir"]) / "result.json").exists() for trial in trials)


def test_seeded_samplers_propose_different_points_in_different_agents(monkeypatch):
    """Two agents of one study must not replay the same seeded random/TPE sequence."""
    import optuna

    from sweeps import agent
    from sweeps.optuna_study import build_sampler
    from sweeps.space import suggest_all
    from sweeps.spec import load_spec

    spec = load_spec("keras-mnist-mlp")  # sampler: random, seed 0
    first_points = []
    for name in ("node-a:101", "node-b:202"):
        monkeypatch.setattr(agent, "agent_name", lambda name=name: name)
        options = agent.agent_sampler_options(spec.sampler)
        study = optuna.create_study(sampler=build_sampler(options))
        first_points.append(suggest_all(spec.parameters, study.ask()))
    assert first_points[0] != first_points[1]
    qmc = {"name": "qmc", "seed": 0}
    assert agent.agent_sampler_options(qmc) == qmc  # QMC indexes by trial number: already distinct


def test_one_storage_per_url_so_trials_do_not_open_new_connection_pools(tmp_path, monkeypatch):
    from sweeps.storage import open_storage

    monkeypatch.chdir(tmp_path)
    first = open_storage("sqlite:///db/one.db")
    assert open_storage(f"sqlite:///{tmp_path / 'db' / 'one.db'}") is first  # same file, other spelling
    assert open_storage("sqlite:///db/two.db") is not first
    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", "7")
    assert open_storage("sqlite:///db/one.db") is not first  # other heartbeat settings: another storage


@pytest.mark.parametrize("retried", [True, False])
@pytest.mark.parametrize("then", ["returns", "writes"])
def test_trial_failed_by_another_agents_heartbeat_check_does_not_stop_the_agent(storage_url: str, then: str,
                                                                                retried: bool) -> None:
    """A live agent whose trial was declared dead meanwhile (its beats stalled on a loaded node) logs it and goes
    on, whether the trial then returns (Optuna refuses to tell a FAIL trial: ValueError) or writes to the trial
    (UpdateFinishedTrialError, e.g. reporting a metric); neither may end the agent (both seen under load). The line
    names the retry the heartbeat check queued, and says when there is none (a hand edit: round 7's 3-e)."""
    from sweeps.storage import MAX_RETRY, RetryStaleTrial
    from sweeps.trial_loop import run_one_trial

    study = optuna.create_study(study_name="stale", storage=open_storage(storage_url))
    trial = study.ask()
    lines: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # what fail_stale_trials does
        if retried:
            RetryStaleTrial(max_retry=MAX_RETRY)(study, study._storage.get_trial(trial._trial_id))
        if then == "writes":
            trial.report(0.5, step=1)
        return 0.5

    assert run_one_trial(study, trial, objective, lines.append) == TrialState.FAIL
    assert lines[-1].startswith("trial #0 was ")
    assert ("its retry, trial #1, counts instead" in lines[-1]) == retried
    assert ("was not re-queued" in lines[-1]) == (not retried)
    assert study.trials[0].state == TrialState.FAIL


OUTSIDE_STATES = ["WAITING", "FAIL", "COMPLETE", "PRUNED"]


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.sampled_from(OUTSIDE_STATES), then=st.sampled_from(["returns", "reports", "raises", "prunes"]))
def test_a_running_trial_set_to_any_state_from_outside_is_one_line_not_an_error(tmp_path_factory, state: str,
                                                                                 then: str) -> None:
    """Round 9's 3-a, for the class: a running trial whose state another process rewrote consistently (a hand
    `UPDATE`, another tool) to any other state, whatever its objective then does, ends in one logged line; the
    trial keeps the state written from outside and the loop goes on (before: `Cannot tell a WAITING trial.` ended
    the sweep)."""
    import sqlite3

    from sweeps.trial_loop import run_one_trial

    path = tmp_path_factory.mktemp("outside") / "optuna.db"
    study = optuna.create_study(study_name="outside", storage=open_storage(f"sqlite:///{path}"))
    trial = study.ask()
    lines: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        with sqlite3.connect(path) as connection:
            complete = None if state == "WAITING" else datetime.datetime.now()  # Optuna's own clock
            connection.execute("update trials set state = ?, datetime_complete = ? where trial_id = ?",
                               (state, complete, trial._trial_id))
            if state == "COMPLETE":  # a consistent edit: a complete trial holds its value
                connection.execute("insert into trial_values (trial_id, objective, value, value_type) values "
                                   "(?, 0, 0.25, 'FINITE')", (trial._trial_id,))
        if then == "reports":
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.report(0.5, step=1)
        elif then == "raises":
            raise RuntimeError("the trial's own error")
        elif then == "prunes":
            raise optuna.TrialPruned()
        return 0.5

    assert run_one_trial(study, trial, objective, lines.append) == TrialState.FAIL
    assert lines[-1].startswith("trial #0 was ") and "\n" not in lines[-1], lines
    assert (state in lines[-1]) == (state == "WAITING")
    assert study._storage.get_trial(trial._trial_id).state == TrialState[state]


@given(metrics=st.dictionaries(st.sampled_from(["val/loss", "train/loss", "test/loss", "val/accuracy", "kl",
                                                "g_loss", "test/minutes"]),
                               st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                                         st.booleans(), st.text(max_size=3)), max_size=5))
def test_a_result_with_a_loss_that_is_not_finite_is_no_result(metrics) -> None:
    """Round 10's 8-a, for every metric set: a run whose loss (any metric named ...loss) is NaN or infinite diverged,
    whatever its accuracy says; other metrics and other kinds of value do not decide it."""
    from sweeps.objective import diverged

    bad = [name for name, value in metrics.items() if name.endswith("loss") and isinstance(value, float)
           and not math.isfinite(value)]
    problem = diverged(metrics)
    assert (problem is not None) == bool(bad)
    assert problem is None or problem.split(" is ")[0] in bad


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edit=st.sampled_from([("epochs: 1", "epochs: 2"), ("subset: 300", "subset: 301"),
                             ("high: 1.0e-1", "high: 2.0e-1"), ("task: classify", "task: nosuchtask")]))
def test_a_study_file_changed_under_a_trial_process_stops_the_command_in_one_line(edit, tmp_path_factory) -> None:
    """Round 11's 2-b: a study file (or task) edited while `agent --trial-subprocess` ran made every later trial
    process end in a traceback, each trial FAIL as "trial process died (exit code 1)", ten times. The trial process
    refuses the changed file in one line; its trial fails with that reason and the command stops."""
    from tiny_study import tiny_study_text

    from sweeps.optuna_study import create_study
    from sweeps.trial_loop import ask_holding_stops, run_one_trial
    from sweeps.trial_process import TrialSetupError, subprocess_objective

    folder = tmp_path_factory.mktemp("edited")
    path = folder / "edited.yaml"
    path.write_text(tiny_study_text("edited", 2))
    url = f"sqlite:///{folder / 'optuna.db'}"
    spec = load_spec(path)
    study = create_study(spec, url)
    old, new = edit
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    trial = ask_holding_stops(study)
    with pytest.raises(TrialSetupError) as refused:
        run_one_trial(study, trial, subprocess_objective(spec, url, None, folder / "runs"), lambda line: None)
    stored = study._storage.get_trial(trial._trial_id)
    assert stored.state == TrialState.FAIL and stored.user_attrs["fail_reason"].startswith("not started: ")
    assert "\n" not in str(refused.value) and "Traceback" not in str(refused.value)
