"""Class 3, the storage changing under a running command (round 7): a queued trial's values outside their range, the
running trial's row deleted, one of Optuna's tables dropped. Each is named in one line at once: the queued values are
refused before they are stored (the trial fails with them as its reason, the study stays readable), a vanished
trial or table is damage, never an internal error or a wait for the whole patience."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState
from test_agents_kill import write_study

from sweeps.optuna_study import create_study
from sweeps.spec import load_spec
from sweeps.storage_faults import StorageCorruptError, StorageUnavailableError, param_problem
from sweeps.trial_loop import ask_holding_stops, run_one_trial

FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=15)
RANGE = optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)  # the tiny study's learning_rate
TRIAL_TABLES = ["trials", "trial_params", "trial_values", "trial_user_attributes", "trial_system_attributes",
                "trial_intermediate_values"]  # what reading one trial touches


def _study(folder: Path) -> tuple[optuna.Study, str]:
    url = f"sqlite:///{folder / 'study.db'}"
    return create_study(load_spec(str(write_study(folder))), url), url


def _objective(trial: optuna.trial.Trial) -> float:
    return trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True)


@FIXTURES
@given(value=st.one_of(st.floats(allow_nan=False), st.integers(-10**6, 10**6)))
def test_a_queued_value_outside_its_range_fails_its_trial_and_the_study_stays_readable(value, tmp_path_factory):
    """Optuna's `enqueue_trial` takes any value (it warns); sweeplab stored it, then refused its own write on every
    read: the study's finished trials could not be read by any command (round 7's 3-a)."""
    study, url = _study(tmp_path_factory.mktemp("queued"))
    study.enqueue_trial({"learning_rate": value})
    state = run_one_trial(study, ask_holding_stops(study), _objective, lambda line: None)
    trials = optuna.load_study(study_name=study.study_name, storage=url).get_trials()  # every trial reads
    inside = param_problem("learning_rate", float(value), RANGE) is None
    assert (state == TrialState.COMPLETE) == inside and len(trials) == 1
    if not inside:  # refused by the gateway, or by Optuna itself first (0 in a log range)
        reason = trials[0].user_attrs["fail_reason"]
        assert trials[0].params == {} and ("does not lie in its distribution" in reason or "invalid value" in reason)


@FIXTURES
@given(value=st.one_of(st.floats(1.0, 3.0), st.integers(1, 3)))
def test_a_value_in_an_integer_range_is_an_integer(value, tmp_path_factory):
    """Round 7's 3-f: `layers: 2.5` was stored in an integer range and trained as 2."""
    distribution = optuna.distributions.IntDistribution(1, 3)
    assert (param_problem("layers", value, distribution) is None) == float(value).is_integer()


@FIXTURES
@given(what=st.sampled_from(["trial row", *TRIAL_TABLES]))
def test_a_trial_or_table_removed_mid_run_is_named_at_once(what, tmp_path_factory, monkeypatch):
    """Round 7's 3-b (the running trial's row deleted: `internal error: KeyError: 'Record does not exist.'`) and 3-c
    (a table dropped: retried for the whole patience)."""
    monkeypatch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "120")
    folder = tmp_path_factory.mktemp("removed")
    study, _ = _study(folder)
    trial = study.ask()
    with sqlite3.connect(folder / "study.db") as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        if what == "trial row":
            connection.execute("DELETE FROM trials WHERE trial_id = ?", (trial._trial_id,))
        else:
            connection.execute(f"DROP TABLE {what}")
    started = time.monotonic()
    with pytest.raises(StorageCorruptError) as refused:
        study._storage.get_trial(trial._trial_id)
        study._storage.set_trial_user_attr(trial._trial_id, "probe", 1)
        study._storage.get_all_trials(study._study_id)
    message = str(refused.value)
    assert time.monotonic() - started < 10 and "\n" not in message
    assert ("no longer exists" if what == "trial row" else f"its table {what!r} was removed") in message, message


def _last_trial_after_an_edit(study: optuna.Study, folder: Path, statement: str, value: object, trials_before: int,
                              inside: bool) -> Callable[[], TrialState]:
    """`trials_before` trials, then an outside `statement` on the storage (with `value`), made before the last
    trial (after the command read the study) or inside it; returns the call that runs that last trial."""
    def edit() -> None:
        with sqlite3.connect(folder / "study.db") as connection:
            connection.execute(statement, (value,))

    for _ in range(trials_before):
        assert run_one_trial(study, ask_holding_stops(study), _objective, lambda line: None) == TrialState.COMPLETE

    def editing(trial: optuna.trial.Trial) -> float:
        edit()
        return _objective(trial)

    if not inside:
        study.directions  # noqa: B018  (read once as a command does at its start)
        edit()
    return lambda: run_one_trial(study, ask_holding_stops(study), editing if inside else _objective, lambda line: None)


@FIXTURES
@given(trials_before=st.integers(0, 2), inside=st.booleans(), name=st.text(min_size=1, max_size=12))
def test_a_study_renamed_mid_run_stops_the_command_at_its_next_tell(trials_before, inside, name, tmp_path_factory):
    """Round 10's 3-d: the study renamed from outside mid-run; the sweep told its trials into `other`, exit 0."""
    folder = tmp_path_factory.mktemp("renamed")
    study, _ = _study(folder)
    last = _last_trial_after_an_edit(study, folder, "UPDATE studies SET study_name = ?", name, trials_before, inside)
    if name == study.study_name:
        assert last() == TrialState.COMPLETE
        return
    with pytest.raises(StorageUnavailableError) as refused:
        last()
    assert f"was renamed {name!r}" in str(refused.value)
    assert all(t.state != TrialState.COMPLETE for t in study._storage.get_all_trials(study._study_id)[trials_before:])


@FIXTURES
@given(trials_before=st.integers(0, 2), inside=st.booleans(), flipped=st.sampled_from(["MINIMIZE", "NOT_SET"]))
def test_a_direction_rewritten_mid_run_stops_the_command_at_its_next_read(trials_before, inside, flipped,
                                                                         tmp_path_factory):
    """Round 9's 3-b: another process rewrote the study's direction while a sweep ran; the sweep trained on and told
    its trials into a study now ranked the other way. The next read of the directions (every tell makes one) is one
    line naming the change; the trial is not told."""
    folder = tmp_path_factory.mktemp("direction")
    study, _ = _study(folder)
    last = _last_trial_after_an_edit(study, folder, "UPDATE study_directions SET direction = ?", flipped,
                                     trials_before, inside)
    with pytest.raises(StorageUnavailableError) as refused:  # the storage's own line, with what was kept
        last()
    message = str(refused.value)
    assert "direction changed from MAXIMIZE to " + flipped in message and "\n" not in message
    assert all(t.state != TrialState.COMPLETE for t in study._storage.get_all_trials(study._study_id)[trials_before:])


@FIXTURES
@given(command=st.sampled_from(["best", "refit"]), flipped=st.sampled_from(["MINIMIZE", "NOT_SET"]),
       by_file=st.booleans())
def test_a_command_that_ranks_a_study_by_its_file_refuses_a_stored_direction_that_differs(command, flipped, by_file,
                                                                                          tmp_path_factory, capsys,
                                                                                          monkeypatch):
    """Round 9's 3-b, its second half: `best tiny.yaml` ranked a study whose stored direction had been rewritten
    to minimize, worst trial first, without a word. Named by its file, a study's stored task, objective and
    direction must be the file's (one line naming both); named by its name alone, it is ranked as stored."""
    from sweeplab.cli import main
    from sweeps import storage as storage_module

    folder = tmp_path_factory.mktemp("ranked")
    study, url = _study(folder)
    assert run_one_trial(study, ask_holding_stops(study), _objective, lambda line: None) == TrialState.COMPLETE
    with sqlite3.connect(folder / "study.db") as connection:
        connection.execute("UPDATE study_directions SET direction = ?", (flipped,))
    monkeypatch.setattr(storage_module, "_OPENED", {})  # the command opens the storage afresh, as a new process
    by_file = by_file or command == "refit"  # refit needs the study file
    named = str(folder / "agents-tiny.yaml") if by_file else study.study_name
    code = main([command, named, "--storage", url, *(["--refit-set", "epochs=1"] if command == "refit" else [])])
    error = capsys.readouterr().err.strip().splitlines()
    if by_file:
        assert code == 2 and len(error) == 1 and "(maximize)" in error[0] and f"({flipped.lower()})" in error[0]
    else:
        assert "direction" not in " ".join(error)


@FIXTURES
@given(kind=st.sampled_from(["sqlite", "journal"]), trials=st.integers(1, 3))
def test_trials_are_told_on_every_kind_of_storage(kind, trials, tmp_path_factory):
    """Round 10's 3-a: the tell's read of the directions past Optuna's cache took a journal storage's file backend
    for the cache's inner storage, and every journal sweep ended after its first trial in an internal error."""
    from sweeps.optuna_study import create_study as create

    folder = tmp_path_factory.mktemp(kind)
    url = f"sqlite:///{folder / 'study.db'}" if kind == "sqlite" else f"journal:///{folder / 'study.log'}"
    study = create(load_spec(str(write_study(folder))), url)
    states = [run_one_trial(study, ask_holding_stops(study), _objective, lambda line: None) for _ in range(trials)]
    assert states == [TrialState.COMPLETE] * trials


@FIXTURES
@given(error=st.sampled_from([AttributeError, KeyError, TypeError, RuntimeError]), where=st.sampled_from(
    ["directions", "objective_after_result"]))
def test_a_fault_of_sweeplabs_own_never_leaves_its_trial_running(error, where, tmp_path_factory, monkeypatch):
    """Whatever unexpected error leaves a trial's run (a bug of sweeplab's own, like round 10's 3-a), the error
    still ends the command, and the trial is FAIL naming it, not RUNNING for ever."""
    from sweeps import trial_loop

    study, _ = _study(tmp_path_factory.mktemp("fault"))

    def broken(*args, **kwargs):
        raise error("a bug")

    with monkeypatch.context() as patch, pytest.raises(error):
        patch.setattr(trial_loop, "_check_study_unchanged" if where == "directions" else "trim_native_heap", broken)
        run_one_trial(study, ask_holding_stops(study), _objective, lambda line: None)
    trial = study._storage.get_all_trials(study._study_id)[0]
    assert trial.state == TrialState.FAIL and trial.user_attrs["fail_reason"].startswith(
        f"internal error: {error.__name__}")


@settings(FIXTURES, max_examples=3)
@given(value=st.floats(1e-3, 0.05))
def test_a_requeued_trial_in_a_widened_space_trains_its_values_without_optunas_raw_warning(value, tmp_path_factory,
                                                                                            recwarn):
    """Round 10's 1-b: a stale trial re-queued into a space widened with --accept-changes printed Optuna's raw
    "Inconsistent parameter values" warning; the retry trains the values it was asked with, quietly."""
    from sweeps.objective import make_objective
    from sweeps.spec import load_spec as load

    folder = tmp_path_factory.mktemp("widened")
    study, _ = _study(folder)
    narrow = optuna.distributions.FloatDistribution(1e-3, 0.05, log=True)
    study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, params={"learning_rate": value},
                                              distributions={"learning_rate": narrow},
                                              system_attrs={"fixed_params": {"learning_rate": value}}))
    spec = load(str(write_study(folder)))  # its space: 1e-3..1e-1, wider than the queued trial's
    trial = ask_holding_stops(study)
    run_one_trial(study, trial, make_objective(spec, root=folder / "runs"), lambda line: None)
    assert study.trials[-1].params["learning_rate"] == value
    assert not [w for w in recwarn if "Inconsistent parameter values" in str(w.message)]


@FIXTURES
@given(edit=st.sampled_from(["delete", "change"]), value=st.floats(1e-3, 1e-2))
def test_a_running_trials_parameters_edited_from_outside_fail_it_instead_of_being_told(edit, value,
                                                                                     tmp_path_factory):
    """Round 12's 3-k (unchanged through round 15): the running trial's `trial_params` deleted by hand, and the trial
    was told COMPLETE and ranked with `-` for every parameter. The tell compares the storage's parameters with those
    the trial trained with; any difference fails the trial in one line."""
    folder = tmp_path_factory.mktemp("params")
    study, url = _study(folder)

    def objective(trial: optuna.trial.Trial) -> float:
        trained = trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True)
        with sqlite3.connect(folder / "study.db") as connection:  # another process, while the trial trains
            if edit == "delete":
                connection.execute("DELETE FROM trial_params WHERE trial_id = ?", (trial._trial_id,))
            else:
                connection.execute("UPDATE trial_params SET param_value = ? WHERE trial_id = ?",
                                   (value, trial._trial_id))
        return trained

    trial = ask_holding_stops(study)
    trained = {}
    state = run_one_trial(study, trial, lambda t: trained.setdefault("value", objective(t)), lambda line: None)
    stored = optuna.load_study(study_name=study.study_name, storage=url).get_trials()[0]
    if edit == "delete" or stored.params.get("learning_rate") != trained["value"]:
        assert state == stored.state == TrialState.FAIL
        assert "learning_rate" in stored.user_attrs["fail_reason"] and "removed or changed" in \
            stored.user_attrs["fail_reason"]
    else:  # the "change" wrote the value the trial had drawn: nothing differs
        assert state == stored.state == TrialState.COMPLETE


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["agent", "sweep"]))
def test_parameters_edited_while_a_trial_trains_fail_it_in_an_agents_trial_process_too(command, tmp_path_factory):
    """3-k for the default `agent`, whose trial trains in its own process (the agent does not know the parameters
    the process drew: that process compares them), and for `sweep`, in one process."""
    import os
    import subprocess
    import sys

    from tiny_study import faulting_study_text, faulting_task_source

    folder = tmp_path_factory.mktemp("params-process")
    (folder / "edited.py").write_text(faulting_task_source("""
        import sqlite3
        with sqlite3.connect(os.environ["STORAGE_FILE"]) as connection:  # another process, while the trial trains
            connection.execute("DELETE FROM trial_params WHERE trial_id IN "
                               "(SELECT trial_id FROM trials WHERE state = 'RUNNING')")
    """))
    (folder / "edited.yaml").write_text(faulting_study_text("edited").replace("trials: 3", "trials: 1"))
    database = folder / "study.db"
    env = {**os.environ, "STORAGE_FILE": str(database), "SWEEPLAB_RUNS_DIR": str(folder / "runs")}
    env.pop("PYTHONPATH", None)
    extra = ["--max-failures", "1"] if command == "agent" else []
    done = subprocess.run([sys.executable, "-m", "sweeplab", command, "edited.yaml", "--storage",
                           f"sqlite:///{database}", *extra], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    trials = optuna.load_study(study_name="edited", storage=f"sqlite:///{database}").get_trials()
    assert trials and all(trial.state == TrialState.FAIL for trial in trials), [t.state for t in trials]
    assert all("removed or changed" in trial.user_attrs.get("fail_reason", "") for trial in trials)
