"""`sweeplab slurm` on a real one-node Slurm cluster (tests/slurm_cluster.py): a 2-task job array finishes a
6-trial study; `scancel` of one task mid-trial leaves its trial FAIL, retried by the other agent, and the study
still ends with exactly its budget; a bad partition or time limit is one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from slurm_cluster import PARTITION, ensure_slurm, slurm_cluster
from tiny_study import tiny_study_text

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 6
STUDY_FILE = tiny_study_text("slurm-tiny", BUDGET)
# Generous: on a loaded 2-core machine a live agent's heartbeat thread can stall for 20+ s, and a live trial
# failed by the other agent's heartbeat check would (rightly) not count. A SIGKILLed agent is noticed after GRACE.
HEARTBEAT, GRACE = "3", "60"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"}


@pytest.fixture(scope="module")
def slurm_env() -> Iterator[dict[str, str]]:
    reason = ensure_slurm()
    if reason:
        pytest.skip(reason)
    with slurm_cluster() as env:
        yield env


def run_env(slurm_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The submitting environment: the cluster's SLURM_CONF, this worktree first on the path, short heartbeats."""
    return {**slurm_env, "SWEEPLAB_RUNS_DIR": str(tmp_path / "runs"), "SWEEPLAB_HEARTBEAT_SECONDS": HEARTBEAT,
            "SWEEPLAB_GRACE_SECONDS": GRACE, "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def sweeplab(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sweeplab.cli", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def submit(env: dict[str, str], tmp_path: Path, url: str) -> str:
    study = tmp_path / "slurm-tiny.yaml"
    study.write_text(STUDY_FILE)
    result = sweeplab(env, "slurm", str(study), "--agents", "2", "--storage", url, "--trials", str(BUDGET),
                      "--time", "20", "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"submitted job (\d+)", result.stdout)
    assert match, result.stdout
    assert f"squeue -r -j {match.group(1)}" in result.stdout and f"sacct -j {match.group(1)}" in result.stdout
    return match.group(1)


def sacct(env: dict[str, str], job: str, *extra: str) -> str:
    return subprocess.run(["sacct", "-j", job, *extra], env=env, capture_output=True, text=True, timeout=60,
                          check=True).stdout


def task_states(env: dict[str, str], job: str) -> dict[str, str]:
    lines = sacct(env, job, "-n", "-P", "-X", "-o", "JobID,State").splitlines()
    return {task: state.split()[0] for task, state in (line.split("|") for line in lines)}  # "CANCELLED by 0"


def wait_for_job(env: dict[str, str], job: str, timeout: float = 600) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = task_states(env, job)
        if len(states) == 2 and set(states.values()) <= TERMINAL:
            return states
        time.sleep(1)
    raise AssertionError(f"job {job} did not finish within {timeout:.0f} s: {task_states(env, job)}")


def load_study(url: str, env: dict[str, str]) -> optuna.Study:
    from sweeps.storage import open_storage

    return optuna.load_study(study_name="slurm-tiny", storage=open_storage(url))


def logs_of(tmp_path: Path) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in sorted((tmp_path / "logs").glob("*")))


def test_two_task_array_finishes_the_study(slurm_env: dict[str, str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    env = run_env(slurm_env, tmp_path)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    job = submit(env, tmp_path, url)
    states = wait_for_job(env, job)
    print(sacct(env, job, "-o", "JobID,JobName%20,Partition,State,ExitCode,Elapsed,NodeList"))
    assert states == {f"{job}_0": "COMPLETED", f"{job}_1": "COMPLETED"}, logs_of(tmp_path)

    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", HEARTBEAT)
    monkeypatch.setenv("SWEEPLAB_GRACE_SECONDS", GRACE)
    trials = load_study(url, env).get_trials(deepcopy=False)
    print("final trial states:", [(trial.number, trial.state.name, trial.user_attrs.get("slurm_task"))
                                  for trial in trials])
    assert [trial.state for trial in trials] == [TrialState.COMPLETE] * BUDGET, logs_of(tmp_path)
    assert {trial.user_attrs["slurm_task"] for trial in trials} <= {f"{job}_0", f"{job}_1"}
    logs = sorted((tmp_path / "logs").glob("slurm-tiny-*.log"))
    assert [path.name for path in logs] == [f"slurm-tiny-{job}_0.log", f"slurm-tiny-{job}_1.log"]
    assert all("joined study 'slurm-tiny'" in path.read_text() for path in logs)
    script = next((tmp_path / "logs").glob("slurm-tiny-*.sbatch")).read_text()
    assert "optuna.db" not in script  # the storage travels in the environment, not in the script

    status = sweeplab(env, "slurm", "status", job, "--storage", url)
    assert status.returncode == 0, status.stderr
    print(status.stdout)
    for task in (f"{job}_0", f"{job}_1"):
        assert re.search(rf"^{task}\s+COMPLETED\s", status.stdout, flags=re.MULTILINE), status.stdout
    assert "study: COMPLETE 6" in status.stdout


def wait_for_running_trial(url: str, task: str, timeout: float = 300) -> optuna.trial.FrozenTrial:
    """Poll until the agent of array task `task` is inside a trial (parameters sampled, trainer started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for trial in load_study(url, {}).get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if trial.user_attrs.get("slurm_task") == task and "run_dir" in trial.user_attrs:
                    return trial
        except KeyError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"array task {task} never ran a trial within {timeout} s")


@pytest.mark.parametrize("signal_name", ["TERM", "KILL"])
def test_scancel_of_one_task_fails_its_trial_and_the_other_agent_retries_it(
        slurm_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signal_name: str) -> None:
    """TERM: plain `scancel JOB_TASK` (the agent fails and re-queues its trial itself). KILL: `scancel
    --signal=KILL JOB_TASK.0` (the agent dies silently; the surviving agent's heartbeat check fails and re-queues
    the trial)."""
    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", HEARTBEAT)
    monkeypatch.setenv("SWEEPLAB_GRACE_SECONDS", GRACE)
    env = run_env(slurm_env, tmp_path)
    url = f"journal://{tmp_path / 'study.log'}"
    job = submit(env, tmp_path, url)
    victim, survivor = f"{job}_0", f"{job}_1"
    killed = wait_for_running_trial(url, victim)
    time.sleep(0.5)
    # `scancel --signal=KILL JOB_TASK` would cancel the task (SIGTERM first); on its step .0 SIGKILL hits the agent.
    scancel = ["scancel", victim] if signal_name == "TERM" else ["scancel", "--signal=KILL", f"{victim}.0"]
    subprocess.run(scancel, env=env, check=True, timeout=30)
    states = wait_for_job(env, job)
    print(sacct(env, job, "-o", "JobID,JobName%20,State,ExitCode,Elapsed,NodeList"))
    print(logs_of(tmp_path))
    assert states[survivor] == "COMPLETED", logs_of(tmp_path)
    assert states[victim] == ("CANCELLED" if signal_name == "TERM" else "FAILED"), states

    trials = load_study(url, env).get_trials(deepcopy=False)
    print("final trial states:", [(trial.number, trial.state.name, trial.user_attrs.get("slurm_task"),
                                   trial.user_attrs.get("retried_trial_number")) for trial in trials])
    assert sum(trial.state == TrialState.COMPLETE for trial in trials) == BUDGET, logs_of(tmp_path)
    assert not [trial for trial in trials if trial.state in (TrialState.RUNNING, TrialState.WAITING)]
    dead = trials[killed.number]
    assert dead.state == TrialState.FAIL
    retries = [trial for trial in trials if trial.user_attrs.get("retried_trial_number") == killed.number]
    assert len(retries) == 1, f"trial #{killed.number} was not re-queued exactly once"
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == dead.params
    assert retries[0].user_attrs["slurm_task"] == survivor
    if signal_name == "TERM":  # the agent caught SIGTERM, failed its trial and re-queued it itself
        assert "stopped by SIGTERM" in dead.user_attrs["fail_reason"]
    else:  # the agent died silently (the survivor's heartbeat check failed the trial, no reason recorded), or
        # SIGKILL reached the step's trial child first and the agent recorded that death before its own
        reason = dead.user_attrs.get("fail_reason")
        assert reason is None or "killed by SIGKILL" in reason, dead.user_attrs
        assert "interrupted" not in (tmp_path / "logs" / f"slurm-tiny-{victim}.log").read_text()


@pytest.mark.parametrize(("flags", "message"), [
    (["--partition", "no-such-partition"], "sbatch refused the job: Batch job submission failed: Invalid partition"),
    (["--time", "2:00:00"], "sbatch refused the job: Batch job submission failed: Requested time limit is invalid"),
])
def test_bad_partition_or_time_limit_is_one_line(slurm_env: dict[str, str], tmp_path: Path, flags: list[str],
                                                 message: str) -> None:
    env = run_env(slurm_env, tmp_path)
    study = tmp_path / "slurm-tiny.yaml"
    study.write_text(STUDY_FILE)
    result = sweeplab(env, "slurm", str(study), "--agents", "2", "--storage", f"sqlite:///{tmp_path / 'o.db'}",
                      *flags)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("sweeplab")]  # not TF's start-up log
    assert len(lines) == 1 and lines[0].startswith(f"sweeplab: error: {message}"), result.stderr
    assert "Traceback" not in result.stderr
    queue = subprocess.run(["squeue", "-h", "-p", PARTITION], env=env, capture_output=True, text=True, check=True)
    assert queue.stdout.strip() == ""
