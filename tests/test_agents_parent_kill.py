"""Round 13's 4-d: one agent of `sweeplab agents --n 2` killed with SIGKILL. The parent sees its child die at once:
it names the signal, says which agent died, and fails and re-queues that agent's running trial itself, so the
sibling takes it up now rather than after the heartbeat's grace period (3 x 60 s by default)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from optuna.trial import TrialState
from test_agents_kill import ROOT, load_study, wait_for_running_trial
from tiny_study import faulting_study_text, faulting_task_source

GRACE_SECONDS = 300  # far beyond the test's patience: the heartbeat check cannot be what fails the trial
SLEEPY_TASK = faulting_task_source("import time\ntime.sleep(4)")  # long enough for the kill to land inside


def _start_agents(folder: Path, url: str) -> subprocess.Popen:
    (folder / "agentstask.py").write_text(SLEEPY_TASK)
    study = folder / "agents-tiny.yaml"  # the name `load_study` reads
    study.write_text("study: agents-tiny\n" + faulting_study_text("agentstask").replace("trials: 3", "trials: 2"))
    env = {**os.environ, "SWEEPLAB_RUNS_DIR": str(folder / "runs"), "PYTHONUNBUFFERED": "1",
           "SWEEPLAB_HEARTBEAT_SECONDS": "30", "SWEEPLAB_GRACE_SECONDS": str(GRACE_SECONDS)}
    argv = [sys.executable, "-m", "sweeplab", "agents", str(study), "--n", "2", "--storage", url]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=(folder / "out.log").open("w"),
                            stderr=(folder / "err.log").open("w"))


def _child_pids(log: Path, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "pids " in line:
                return [int(pid) for pid in line.split("pids ")[1].split(", ")]
        time.sleep(0.2)
    raise AssertionError(f"`agents` never named its children:\n{log.read_text()}")


def _wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds it took `condition()` to hold; fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - start


def test_a_sigkilled_agent_is_named_at_once_and_its_trial_failed_before_the_grace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    parent = _start_agents(tmp_path, url)
    children: list[int] = []
    try:
        children = _child_pids(tmp_path / "out.log")
        victim = children[0]
        running = wait_for_running_trial(url, victim, timeout=120)
        time.sleep(0.5)  # inside the trial
        os.kill(victim, signal.SIGKILL)
        _wait_until(lambda: "was killed by SIGKILL" in (tmp_path / "err.log").read_text(), timeout=10)
        dead = load_study(url).trials[running.number]
        assert dead.state == TrialState.FAIL  # at once, not after GRACE_SECONDS
        assert dead.user_attrs["fail_reason"].endswith(f":{victim} was killed by SIGKILL during the trial")
        code = parent.wait(timeout=180)
    finally:
        if parent.poll() is None:  # a failure: its agents, each in its own process group, would go on alone
            parent.kill()
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    errors = (tmp_path / "err.log").read_text().splitlines()
    said = [line for line in errors if line.startswith("sweeplab: agent")]
    assert said == [f"sweeplab: agent 1 of 2 (pid {victim}) was killed by SIGKILL; its running trial "
                    f"#{running.number} is failed and re-queued now; the other agents go on"], errors
    assert code == 1
    assert errors[-1] == f"sweeplab: 1 of 2 agents failed: pid {victim} killed by SIGKILL"
    trials = load_study(url).trials
    retry = [trial for trial in trials if trial.system_attrs.get("failed_trial") == running.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE and retry[0].params == running.params
    assert [trial.state for trial in trials].count(TrialState.COMPLETE) == 2


@given(code=st.integers(-70, 255))
def test_a_childs_exit_is_told_in_words_never_as_a_negative_code(code: int) -> None:
    from sweeplab.commands.agents import exit_words

    words = exit_words(code)
    assert "exit -" not in words
    if code < 0:
        names = {int(number): number.name for number in signal.Signals}
        assert words == f"killed by {names.get(-code, f'signal {-code}')}"
    else:
        assert words.endswith(f"exit {code}" + (")" if words.startswith("stopped by") else ""))
