"""Three real `sweeplab agent` processes share a 6-trial study; one is SIGKILLed in the middle of a trial.

The dead agent's trial must become FAIL through the heartbeat, be re-queued (linked to it) and finished by
another agent, and the study must end with exactly 6 COMPLETE trials: on PostgreSQL and on a journal file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from postgres_server import postgres_bin_dir, postgres_server
from tiny_study import tiny_study_text

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 6
STUDY_FILE = tiny_study_text("agents-tiny", BUDGET)


def write_study(directory: Path) -> Path:
    path = directory / "agents-tiny.yaml"
    path.write_text(STUDY_FILE)
    return path


def agent_env(runs: Path) -> dict[str, str]:
    """Short heartbeat so a dead agent's trial is failed within seconds."""
    return {**os.environ, "SWEEPLAB_RUNS_DIR": str(runs), "SWEEPLAB_HEARTBEAT_SECONDS": "2",
            "SWEEPLAB_GRACE_SECONDS": "10", "PYTHONUNBUFFERED": "1"}


def start_agent(study: Path, url: str, runs: Path, log: Path, budget: int = BUDGET) -> subprocess.Popen:
    argv = [sys.executable, "-m", "sweeplab.cli", "agent", str(study), "--storage", url, "--trials", str(budget)]
    return subprocess.Popen(argv, cwd=ROOT, env=agent_env(runs), stdout=log.open("w"), stderr=subprocess.STDOUT)


def load_study(url: str) -> optuna.Study:
    from sweeps.storage import open_storage

    return optuna.load_study(study_name="agents-tiny", storage=open_storage(url))


def wait_for_running_trial(url: str, pid: int, timeout: float = 180) -> optuna.trial.FrozenTrial:
    """Poll the storage until agent `pid` is inside a trial (parameters sampled, trainer started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for trial in load_study(url).get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if trial.user_attrs.get("agent", "").endswith(f":{pid}") and "run_dir" in trial.user_attrs:
                    return trial
        except KeyError:  # the study is not created yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"agent {pid} never ran a trial within {timeout} s")


def kill_one_of_three(url: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    logs = [tmp_path / f"agent{index}.log" for index in range(3)]
    study = write_study(tmp_path)
    agents = [start_agent(study, url, runs, log) for log in logs]
    victim, survivors = agents[0], agents[1:]
    try:
        killed = wait_for_running_trial(url, victim.pid)
        time.sleep(0.5)  # well inside the trial
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        codes = [agent.wait(timeout=300) for agent in survivors]
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
    output = "\n".join(log.read_text()[-3000:] for log in logs)
    assert victim.returncode == -signal.SIGKILL
    assert codes == [0, 0], output

    trials = load_study(url).get_trials(deepcopy=False)
    numbers = [trial.number for trial in trials]
    assert len(numbers) == len(set(numbers)), "a trial number was counted twice"
    complete = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    assert len(complete) == BUDGET, output
    assert not [trial for trial in trials if trial.state == TrialState.PRUNED]
    assert not [trial for trial in trials if trial.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert len({trial.user_attrs["run_dir"] for trial in complete}) == BUDGET

    dead = trials[killed.number]
    assert dead.state == TrialState.FAIL
    retries = [trial for trial in trials if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(
        trial) == killed.number]
    assert retries, f"trial #{killed.number} was not re-queued"
    retry = retries[0]
    assert retry.number > killed.number
    assert retry.state == TrialState.COMPLETE
    assert retry.user_attrs["retried_trial_number"] == killed.number
    assert retry.user_attrs["retry_history"] == [killed.number]
    assert retry.params == dead.params  # the same point of the search space is tried again
    assert not retry.user_attrs["agent"].endswith(f":{victim.pid}")
    assert "fail_reason" not in retry.user_attrs


@pytest.mark.postgres
@pytest.mark.skipif(postgres_bin_dir() is None, reason="PostgreSQL server binaries absent "
                                                       "(apt-get install postgresql)")
def test_killed_agent_on_postgresql(tmp_path: Path) -> None:
    with postgres_server() as url:
        kill_one_of_three(url, tmp_path)


def test_killed_agent_on_journal_file(tmp_path: Path) -> None:
    kill_one_of_three(f"journal:///{tmp_path / 'shared' / 'study.log'}", tmp_path)
