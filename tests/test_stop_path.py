"""Class 4, signals: the one stop path holds wherever a stop signal lands.

- raised where Python cannot propagate it (a finaliser, a weakref or garbage-collection callback): nothing on stderr,
  the stop kept and acted on;
- swallowed by a library while a command runs, or delivered after the command's work is done: the command still
  exits 128 + the signal with its one line, never 0;
- delivered to a trial's own process (`--trial-subprocess`): a stop signal fails and re-queues the trial, a kill
  (out of memory) fails it with the signal named and is not retried.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState
from test_agents import run_agents  # at the top: its own @given tests must not be defined inside this one's
from test_agents_kill import write_study

import trainers.stop
from sweeps.signals import STOP_SIGNALS, stop_on_signals

ROOT = Path(__file__).resolve().parent.parent
STOPS = st.sampled_from(STOP_SIGNALS)


@contextlib.contextmanager
def handlers_restored():
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    hook = sys.unraisablehook
    signal.signal(signal.SIGHUP, signal.SIG_DFL)  # under nohup (as CI may run) SIGHUP starts ignored, and stays so
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = hook


def _deliver(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(2)  # the handler runs here, in the main thread, before the sleep ends


@settings(max_examples=6, deadline=None)
@given(signum=STOPS, place=st.sampled_from(["finaliser", "weakref callback", "gc callback"]))
def test_a_stop_raised_where_python_cannot_propagate_it_is_kept_and_reported_nowhere(signum, place):
    """The handler raises inside a finaliser or a callback: Python hands the exception to `sys.unraisablehook`
    (whose default prints "Exception ignored ... Traceback"); the stop path keeps it and passes nothing on, while
    any other unraisable exception still reaches the hook that was there before."""
    reported: list[BaseException] = []

    class Doomed:
        def __del__(self) -> None:
            _deliver(signum)

    class Failing:
        def __del__(self) -> None:
            raise ValueError("an ordinary error in a finaliser")

    class Target:
        pass

    def in_callback(*_) -> None:
        _deliver(signum)

    def on_collect(phase: str, info: dict) -> None:
        if phase == "start":
            gc.callbacks.remove(on_collect)
            _deliver(signum)

    reference = None
    with handlers_restored(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        sys.unraisablehook = lambda unraisable: reported.append(unraisable.exc_value)  # the default, recording
        stop_on_signals()
        if place == "finaliser":
            Doomed()  # collected at once: __del__ runs and the handler raises inside it
        elif place == "weakref callback":
            target = Target()
            reference = weakref.ref(target, in_callback)
            del target  # the callback runs and the handler raises inside it
        else:
            gc.callbacks.append(on_collect)
            gc.collect()
        assert trainers.stop.stop_requested() == signum  # kept: the run's next report or the command raises it
        assert reported == []
        Failing()
        assert [type(error) for error in reported] == [ValueError]
    assert reference is None or reference() is None


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signum=STOPS, command=st.sampled_from([["tasks"], ["studies"]]))
def test_a_stop_a_library_swallows_while_a_command_runs_never_exits_zero(signum, command, capsys):
    """The stop lands while the command writes its output and a library swallows it: the command finishes its
    work, then exits 128 + the signal with its one line."""
    from sweeplab.cli import main

    class SwallowingStream(io.StringIO):
        delivered = False

        def write(self, text: str) -> int:
            if not self.delivered:
                self.delivered = True
                with contextlib.suppress(KeyboardInterrupt):  # what the library does
                    _deliver(signum)
            return super().write(text)

    stream = SwallowingStream()
    with handlers_restored(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        patch.setattr(sys, "stdout", stream)
        code = main(command)
    assert stream.delivered
    assert code == 128 + signum
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"sweeplab: interrupted ({signal.Signals(signum).name})"


@settings(max_examples=3, deadline=None)
@given(signum=STOPS)
def test_a_stop_after_the_commands_work_exits_with_the_signal_and_its_line(signum):
    """Delivered after the command returned (its output written): exit 128 + the signal at once, with its line,
    not 130 from the interpreter's shutdown whatever the signal."""
    script = ("import os, signal, time; signal.signal(signal.SIGHUP, signal.SIG_DFL); from sweeplab.cli import main; "
              "assert main(['tasks']) == 0; "
              f"os.kill(os.getpid(), {int(signum)}); time.sleep(30); raise SystemExit(0)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert done.returncode == 128 + signum, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == f"sweeplab: interrupted ({signal.Signals(signum).name})"
    assert "Traceback" not in done.stderr and done.stdout.strip()  # the command's output was written first


def _studies(url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sweeplab", "studies", "--storage", url], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture(scope="module")
def studies_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float]:
    """A storage with a study and how long `sweeplab studies` on it takes here (seconds, the longest of three)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('end') / 's.db'}"
    optuna.create_study(study_name="s", storage=url).optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    took = []
    for _ in range(3):
        started = time.monotonic()
        assert _studies(url).wait(timeout=120) == 0
        took.append(time.monotonic() - started)
    return url, max(took)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signum=STOPS, at=st.floats(0.35, 1.15))
def test_a_stop_at_any_moment_of_a_commands_end_names_the_signal(studies_run, signum, at):
    """Round 3's 4-d: a signal in the last tenth of a second of `studies`, `best` or `sweep` (the interpreter's
    shutdown, after it resets the handlers) killed the process without a line. At a generated moment from after
    start-up to past the end: the command either ends 0 before the signal reaches a live process (it was sent to an
    exited one) or exits 128 + the signal with its line, never killed by the signal itself."""
    url, took = studies_run
    process = _studies(url)
    time.sleep(at * took)
    sent = process.poll() is None
    if sent:
        os.kill(process.pid, signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode >= 0, f"killed by {signal.Signals(-process.returncode).name} without a line: {err[-500:]}"
    assert "Traceback" not in err, err[-2000:]
    if process.returncode != 0:
        assert sent and process.returncode == 128 + signum, (process.returncode, err[-500:])
        assert err.strip().splitlines()[-1] == f"sweeplab: interrupted ({signal.Signals(signum).name})", err[-500:]


@settings(max_examples=8, deadline=None)
@given(signum=st.sampled_from([*STOP_SIGNALS, signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT]))
def test_a_trial_process_ended_by_a_signal_is_requeued_only_for_a_stop(signum, tmp_path_factory):
    """The trial's own process dies by `signum` before writing its outcome: a stop signal (STOP_SIGNALS) fails the
    trial and re-queues it with its parameters, and the agent goes on; a kill or a crash fails it, names the
    signal, and is not retried (a re-queued out-of-memory trial would die again)."""
    from sweeps import trial_process
    from sweeps.optuna_study import create_study
    from sweeps.spec import load_spec
    from sweeps.trial_loop import run_one_trial

    directory = tmp_path_factory.mktemp("trial-process")
    spec = load_spec(str(write_study(directory)))
    url = f"sqlite:///{directory / 'study.db'}"
    study = create_study(spec, url)
    objective = trial_process.subprocess_objective(spec, url, {}, directory / "runs")
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        patch.setattr(trial_process.subprocess, "run",
                      lambda argv, check: subprocess.CompletedProcess(argv, -int(signum)))
        trial = study.ask()
        state = run_one_trial(study, trial, lambda asked: (asked.suggest_float("learning_rate", 1e-3, 1e-2, log=True),
                                                           objective(asked))[1], lines.append)
    trials = optuna.load_study(study_name=spec.name, storage=url).get_trials()
    failed = trials[trial.number]
    assert state == TrialState.FAIL and failed.state == TrialState.FAIL
    name = signal.Signals(signum).name
    waiting = [other for other in trials if other.state == TrialState.WAITING]
    if signum in STOP_SIGNALS:
        assert failed.user_attrs["fail_reason"] == f"stopped by {name} of its trial process during the trial"
        assert len(waiting) == 1 and waiting[0].system_attrs.get("failed_trial") == trial.number
        assert waiting[0].params == failed.params
    else:
        assert name in failed.user_attrs["fail_reason"] and not waiting


@settings(max_examples=6, deadline=None)
@given(first=STOPS, second=STOPS, gap=st.floats(0.0, 0.3))
def test_a_second_stop_signal_during_the_clean_up_is_recorded_not_raised(first, second, gap):
    """A double Ctrl-C, or a scheduler's TERM then HUP: the second signal lands in the clean-up the first started
    and must not interrupt it; the command reports the first. Long after (a first stop swallowed somewhere that
    never reports), a signal raises again."""
    import sweeps.signals

    with handlers_restored(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        patch.setattr(sweeps.signals, "CLEANUP_SECONDS", 0.5 + gap)
        stop_on_signals()
        with pytest.raises(trainers.stop.Stopped) as raised:
            _deliver(first)
        assert raised.value.signum == first
        time.sleep(gap)
        os.kill(os.getpid(), second)  # inside the clean-up: recorded only
        time.sleep(0.05)
        assert trainers.stop.stop_requested() == first
        time.sleep(0.5 + gap)
        with pytest.raises(trainers.stop.Stopped) as again:
            _deliver(second)
        assert again.value.signum == first  # the command still reports the first signal


@settings(max_examples=4, deadline=None)
@given(first=STOPS, second=STOPS)
def test_a_trial_stopped_twice_is_failed_and_requeued_once(first, second, tmp_path_factory):
    """The second signal arrives while the first's clean-up re-queues the trial (round 2 of the adversarial run
    left such trials RUNNING, or FAIL without a re-queue): the trial is FAIL, one WAITING copy has its params."""
    from sweeps import trial_loop
    from sweeps.optuna_study import create_study
    from sweeps.spec import load_spec

    directory = tmp_path_factory.mktemp("twice")
    spec = load_spec(str(write_study(directory)))
    url = f"sqlite:///{directory / 'study.db'}"
    study = create_study(spec, url)
    real_retry = trial_loop.RetryStaleTrial.__call__

    def retry_after_a_second_signal(self, *args, **kwargs):
        os.kill(os.getpid(), second)
        time.sleep(0.05)
        return real_retry(self, *args, **kwargs)

    def objective(trial):
        trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True)
        _deliver(first)

    with handlers_restored(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        patch.setattr(trial_loop.RetryStaleTrial, "__call__", retry_after_a_second_signal)
        stop_on_signals()
        trial = study.ask()
        with pytest.raises(trainers.stop.Stopped):
            trial_loop.run_one_trial(study, trial, objective, lambda line: None)
    trials = optuna.load_study(study_name=spec.name, storage=url).get_trials()
    assert trials[trial.number].state == TrialState.FAIL
    assert signal.Signals(first).name in trials[trial.number].user_attrs["fail_reason"]
    waiting = [other for other in trials if other.state == TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].params == trials[trial.number].params
    assert not [other for other in trials if other.state == TrialState.RUNNING]


class _Tripwire:
    """A storage that sends this process `signum` after its `at`-th call from the main thread returns."""

    def __init__(self, inner, at: int, signum: int) -> None:
        self._inner, self._at, self._signum, self.calls, self.sent = inner, at, signum, 0, False

    def __getattr__(self, name: str):
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            result = value(*args, **kwargs)
            if threading.current_thread() is threading.main_thread():
                self.calls += 1
                if self.calls == self._at:
                    self.sent = True
                    os.kill(os.getpid(), self._signum)
            return result

        return call


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signum=STOPS, at=st.integers(1, 40), command=st.sampled_from(["sweep", "agent"]))
def test_a_stop_after_any_storage_call_leaves_no_trial_running(signum, at, command, tmp_path_factory):
    """CI once found `agents` stopped with a trial RUNNING: the stop landed between `study.ask()` creating the
    trial and the code that fails and re-queues a stopped trial taking it in hand. A stop after any storage call of
    a sweep's or an agent's trials (the ask, their attributes, the tell, the next claim): it is raised, no trial is
    left RUNNING, and a trial it failed has one WAITING copy with its parameters."""
    import sweeps.agent
    from sweeps.optuna_study import create_study
    from sweeps.spec import load_spec
    from sweeps.trial_loop import run_trials

    directory = tmp_path_factory.mktemp("tripwire")
    spec = load_spec(str(write_study(directory)))
    url = f"sqlite:///{directory / 'study.db'}"
    wires: list[_Tripwire] = []

    def wired(*args, **kwargs) -> optuna.Study:
        study = create_study(*args, **kwargs)
        wires.append(_Tripwire(study._storage, at, signum))
        study._storage = wires[-1]
        return study

    def objective(trial: optuna.trial.Trial) -> float:
        return trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True)

    with handlers_restored(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        patch.setattr(trainers.stop, "_held", [])
        patch.setattr(sweeps.agent, "create_study", wired)
        patch.setattr(sweeps.agent, "make_objective", lambda *args, **kwargs: objective)
        stop_on_signals()
        try:
            if command == "sweep":
                run_trials(wired(spec, url), objective, n_trials=2, log=lambda line: None)
            else:
                sweeps.agent.run_agent(spec, url, budget=2, log=lambda line: None)
        except trainers.stop.Stopped as stop:
            assert wires[0].sent and stop.signum == signum
        else:
            assert not wires[0].sent, "a stop was swallowed"
    trials = optuna.load_study(study_name=spec.name, storage=url).get_trials()
    assert not [trial for trial in trials if trial.state == TrialState.RUNNING], trials
    for failed in (trial for trial in trials if trial.state == TrialState.FAIL):
        assert "stopped by" in failed.user_attrs["fail_reason"]
        copies = [trial for trial in trials if trial.system_attrs.get("failed_trial") == failed.number]
        assert len(copies) == 1 and copies[0].params == failed.params


def _agents_log_and_states(folder: Path, url: str) -> tuple[str, list[TrialState]]:
    log = (folder / "agents.log").read_text()
    try:
        return log, [trial.state for trial in optuna.load_study(study_name="agents-tiny", storage=url).trials]
    except KeyError:  # stopped before it made the study
        return log, []


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.floats(0.1, 4.0))
def test_a_ctrl_c_to_agents_at_any_moment_leaves_no_traceback_and_no_running_trial(at, tmp_path_factory):
    """Round 3's 4-c: SIGINT to `agents` while its children started was forwarded into a child's start-up imports
    (a KeyboardInterrupt traceback). At a generated moment: exit 130 with its line, no traceback from any process,
    no trial left RUNNING."""
    folder = tmp_path_factory.mktemp("agents")
    url = f"sqlite:///{folder / 'optuna.db'}"
    process = run_agents(write_study(folder), url, folder, count=2, budget=4)
    time.sleep(at)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=300) in (0, 130)
    log, states = _agents_log_and_states(folder, url)
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]
    assert TrialState.RUNNING not in states, (states, log[-2000:])
    if process.returncode == 130:
        assert "sweeplab: interrupted (SIGINT)" in log


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.floats(0.2, 6.0))
def test_a_sigint_to_a_trial_process_at_any_moment_requeues_its_trial_quietly(at, tmp_path_factory):
    """Round 3's 4-b: SIGINT to an agent's trial process (`--trial-subprocess`) became a KeyboardInterrupt: a
    traceback from an import, or a stop swallowed by a weakref callback while the trial trained on. Now it ends the
    trial process like TERM: the trial is failed and re-queued (or had completed), no traceback, the agent goes on."""
    from test_agents_kill import agent_env

    folder = tmp_path_factory.mktemp("trialproc")
    url = f"sqlite:///{folder / 'optuna.db'}"
    study = write_study(folder)
    log = (folder / "agent.log").open("w")
    agent = subprocess.Popen([sys.executable, "-m", "sweeplab.cli", "agent", str(study), "--storage", url, "--trials",
                              "2"], cwd=ROOT, env=agent_env(folder / "runs"), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    child = None
    while child is None and time.monotonic() < deadline and agent.poll() is None:
        found = subprocess.run(["pgrep", "-P", str(agent.pid)], capture_output=True, text=True).stdout.split()
        child = int(found[0]) if found else None
        time.sleep(0.05)
    if child is not None:
        time.sleep(at)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGINT)
    assert agent.wait(timeout=300) == 0
    text = (folder / "agent.log").read_text()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
    trials = optuna.load_study(study_name="agents-tiny", storage=url).trials
    assert TrialState.RUNNING not in [trial.state for trial in trials]
    assert [trial.state for trial in trials].count(TrialState.COMPLETE) == 2, [trial.state for trial in trials]


@settings(max_examples=8, deadline=None)
@given(raised=st.sampled_from([SystemExit(0), SystemExit(1), SystemExit("bye"), SystemExit(None), KeyboardInterrupt(),
                               KeyboardInterrupt("typed")]))
def test_an_exit_the_trials_own_code_raises_is_its_failure_not_a_stop(raised, tmp_path_factory):
    """Round 6's 4-b/4-c: a `train` that called sys.exit(0) ended the command with rc 0 and its trial re-queued; one
    that raised KeyboardInterrupt was reported as "interrupted by SIGINT", though no signal came. With no stop
    signal recorded, either is this trial's failure (FAIL, not re-queued, its reason saying so) and the loop goes on."""
    from sweeps.trial_loop import run_one_trial

    directory = tmp_path_factory.mktemp("own-exit")
    study = optuna.create_study(storage=f"sqlite:///{directory / 's.db'}")

    def objective(trial):
        trial.suggest_float("x", 0.0, 1.0)
        raise raised

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        trial = study.ask()
        state = run_one_trial(study, trial, objective, lambda line: None)
    trials = study.get_trials()
    assert state == TrialState.FAIL and trials[0].state == TrialState.FAIL
    assert "with no stop signal received" in trials[0].user_attrs["fail_reason"]
    assert type(raised).__name__ in trials[0].user_attrs["fail_reason"]
    assert not [other for other in trials if other.state == TrialState.WAITING]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signum=STOPS, where=st.sampled_from(["held", "released"]))
def test_a_stop_before_a_trial_trains_never_names_the_last_trials_result_as_its_own(signum, where,
                                                                                   tmp_path_factory):
    """Round 7's 4-a: a stop between trial #0's tell and trial #1's run directory said trial #1 'had finished: its
    result is kept in .../0000', trial #0's directory. A stop before the objective claims its own directory: the
    re-queued trial is named without a kept result."""
    from sweeps.optuna_study import create_study
    from sweeps.run_identity import claim_trial_dir
    from sweeps.spec import load_spec
    from sweeps.trial_loop import ask_holding_stops, run_one_trial

    directory = tmp_path_factory.mktemp("stale-dir")
    spec = load_spec(str(write_study(directory)))
    study = create_study(spec, f"sqlite:///{directory / 'study.db'}")
    previous = claim_trial_dir(directory / "runs", spec.name, study.ask())  # the last trial's finished directory
    (previous / "result.json").write_text("{}")
    lines: list[str] = []
    with handlers_restored(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainers.stop, "_requested", [])
        patch.setattr(trainers.stop, "_held", [])
        stop_on_signals()
        trial = ask_holding_stops(study)
        if where == "held":  # recorded while held, raised when the trial is taken in hand
            os.kill(os.getpid(), signum)
        with pytest.raises(trainers.stop.Stopped):
            run_one_trial(study, trial, lambda asked: _deliver(signum), lines.append)
    assert lines and f"trial #{trial.number} interrupted by" in lines[-1], lines
    assert "kept in" not in lines[-1] and str(previous) not in lines[-1], lines


LOGGED_STOP = """
import logging, os, signal, sys, time
from sweeps.signals import stop_on_signals
import trainers.stop
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # under nohup (as CI may run) SIGHUP starts ignored
stop_on_signals()
try:
    os.kill(os.getpid(), {signum})
    time.sleep(2)
except trainers.stop.Stopped:
    logging.getLogger({name!r}).error("Exception during reset or similar", exc_info=True)
try:
    raise ValueError("an ordinary error")
except ValueError:
    logging.getLogger({name!r}).error("an ordinary failure", exc_info=True)
sys.exit(0 if trainers.stop.stop_requested() == {signum} else 3)
"""


@settings(max_examples=8, deadline=None)
@given(signum=STOPS, name=st.sampled_from(["sqlalchemy.pool.impl.QueuePool", "sqlalchemy.engine", "optuna.storages",
                                           "urllib3", "somelibrary"]))
def test_a_stop_a_library_catches_and_logs_is_kept_and_not_printed(signum, name):
    """CI: SIGQUIT landed in SQLAlchemy's pool while the garbage collector finalised a connection; SQLAlchemy caught
    the `Stopped` and logged it with its traceback ("Exception during reset or similar"). Such a record is dropped
    (the stop is recorded and acted on); an ordinary error a library logs still prints."""
    result = subprocess.run([sys.executable, "-c", LOGGED_STOP.format(signum=int(signum), name=name)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Exception during reset" not in result.stderr and "Stopped" not in result.stderr, result.stderr
    assert "an ordinary failure" in result.stderr and "ValueError: an ordinary error" in result.stderr


def test_a_trial_process_whose_parent_folder_is_gone_ends_1_in_one_line(tmp_path, capsys):
    """Ctrl-C reaches the agent and its trial process together: the agent removes the folder for the outcome while
    the child still writes it. The child says so in one line and ends 1, no traceback, no file."""
    from sweeps.trial_process import _report

    gone = tmp_path / "gone" / "result.json"
    assert _report(gone, {"value": 0.5}) == 1
    assert not gone.parent.exists()
    error = capsys.readouterr().err
    assert "has stopped" in error and "Traceback" not in error and len(error.strip().splitlines()) == 1
    kept = tmp_path / "result.json"
    assert _report(kept, {"value": 0.5}) == 0 and json.loads(kept.read_text()) == {"value": 0.5}
