"""Storage doors (issue 27, classes 1 and 3, from the second outside run): a command that only reads a study never
creates its storage, and names what is there instead (found by walking the real parser, so a new reading command is
covered); a fault no wait cures (read-only, permission denied) stops at once, a curable one is retried with one line
said, never silently; a run's files are named for what they are (a FIFO is not "missing")."""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sweeps.storage_faults as storage_faults
from sweeplab.cli import build_parser, main
from sweeps.record import RecordError, read_run
from sweeps.storage import OPTUNA_TABLES, StorageError, open_storage
from sweeps.storage_faults import PatienceBudget, StorageUnavailableError, StorageUnwritableError, make_patient

FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
WRITERS = {"sweep", "agent", "agents", "slurm"}  # the commands that run trials: they may create a storage
READERS = {  # every other command with --storage, as a newcomer would type it (the storage goes last)
    "best": ["best", "fashion-mlp"], "refit": ["refit", "fashion-mlp"], "studies": ["studies"],
    "report": ["report", "--out", "{o}"], "record": ["record", "{o}"], "dashboard": ["dashboard"],
    "predict": ["predict", "clock", "--study", "fashion-mlp", "--images", "{o}/x.npy"],
}


def _storage_commands() -> set[str]:
    parser = build_parser()
    sub = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return {name for name, child in sub.choices.items()
            if any("--storage" in action.option_strings for action in child._actions)}


def test_every_command_with_a_storage_is_a_writer_or_a_reader_listed_here() -> None:
    assert _storage_commands() == WRITERS | set(READERS)


def _target(kind: str, folder: Path) -> tuple[str, Path | None]:
    """A --storage value of a generated kind and the path it names (None when it names no file)."""
    if kind == "empty":
        return "", None
    if kind == "blank":
        return "  ", None
    if kind == "directory":
        (folder / "adir").mkdir(exist_ok=True)
        return f"sqlite:///{folder / 'adir'}", folder / "adir"
    if kind == "fifo":
        if not (folder / "afifo").exists():
            os.mkfifo(folder / "afifo")
        return f"journal://{folder / 'afifo'}", folder / "afifo"
    if kind == "relative":
        return "sqlite:///relative-missing.db", Path("relative-missing.db")
    name = {"missing-sqlite": "deep/er/x.db", "missing-journal": "deep/er/x.log"}[kind]
    scheme = "sqlite:///" if kind.endswith("sqlite") else "journal://"
    return f"{scheme}{folder / name}", folder / name


@FIXTURES
@given(command=st.sampled_from(sorted(READERS)),
       kind=st.sampled_from(["empty", "blank", "directory", "fifo", "relative", "missing-sqlite", "missing-journal"]))
@example(command="best", kind="relative")  # round 2's 3-b: `best --storage sqlite:///relative.db` created it
@example(command="best", kind="empty")  # round 2's 3-b: `--storage ''` fell back to the default storage
@example(command="record", kind="directory")  # round 2's 1-b: "no such file" for a directory
def test_a_reading_command_never_creates_a_storage_and_names_what_is_there(
        command: str, kind: str, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path_factory.mktemp("doors")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("SWEEPLAB_RUNS_DIR", str(folder / "runs"))
    url, path = _target(kind, folder)
    np.save(folder / "x.npy", np.zeros((1, 150, 150), np.uint8))  # predict reads its images first
    argv = [part.replace("{o}", str(folder)) for part in READERS[command]] + ["--storage", url]
    try:
        code = main(argv)
    except SystemExit as refused:
        code = refused.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("sweeplab")]
    assert "Traceback" not in captured.err and "internal error" not in captured.err, captured.err
    existed = kind in {"directory", "fifo"}
    if command == "studies" and not existed and kind not in {"empty", "blank"}:
        assert code == 0 and "no studies in storage yet" in captured.out, captured  # an answer, nothing created
    elif command != "record":  # record reads its run directory first, refused before the storage
        assert code == 2 and len(lines) == 1, captured.err
        what = {"directory": "a directory", "fifo": "a FIFO", "empty": "empty", "blank": "empty"}.get(kind,
                                                                                                      "no such file")
        assert what in lines[0], lines[0]
    else:
        assert code == 2 and len(lines) == 1, captured.err
    if path is not None and not existed:
        assert not path.exists() and not (folder / "deep").exists(), f"{command} created {path} or its folder"
    assert not (folder / "runs" / "sweeplab.db").exists()  # never the default storage instead


class FailingStorage:
    """Every method fails with the given error `fails` times, then answers."""

    def __init__(self, error: BaseException, fails: int) -> None:
        self.error, self.fails, self.calls = error, fails, 0
        for name in storage_faults.PATIENT_METHODS:
            setattr(self, name, self._method)

    def _method(self, *args: object) -> str:
        self.calls += 1
        if self.calls <= self.fails:
            raise self.error
        return "ok"


def _sqlite_error(message: str) -> BaseException:
    """An error as Optuna raises it: a storage error whose cause is SQLite's."""
    import optuna

    try:
        try:
            raise sqlite3.OperationalError(message)
        except sqlite3.OperationalError as cause:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from cause
    except optuna.exceptions.StorageInternalError as error:
        return error


PERMANENT = st.one_of(
    st.sampled_from([errno.EACCES, errno.EPERM, errno.EROFS]).map(lambda code: OSError(code, os.strerror(code))),
    st.sampled_from(["attempt to write a readonly database", "attempt to write a readonly database (8)"])
    .map(_sqlite_error))
CURABLE = st.one_of(
    st.sampled_from([errno.EIO, errno.ENOSPC, errno.ESTALE, errno.EAGAIN])
    .map(lambda code: OSError(code, os.strerror(code))),
    st.sampled_from(["database is locked", "disk I/O error", "database or disk is full"]).map(_sqlite_error))


@FIXTURES
@given(error=st.one_of(PERMANENT.map(lambda e: (e, True)), CURABLE.map(lambda e: (e, False))), fails=st.integers(1, 6),
       method=st.sampled_from(storage_faults.PATIENT_METHODS))
def test_a_fault_no_wait_cures_stops_at_once_and_a_curable_one_is_retried_out_loud(
        error: tuple[BaseException, bool], fails: int, method: str, capsys: pytest.CaptureFixture[str]) -> None:
    fault, permanent = error
    slept: list[float] = []
    budget = PatienceBudget()
    budget.sleep = slept.append
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage_faults, "PATIENCE", budget)
        patch.setattr(storage_faults, "_ANNOUNCED", set())
        patch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "600")
        storage = make_patient(FailingStorage(fault, fails), "'s.db'")
        if permanent:
            with pytest.raises(StorageUnwritableError, match=r"cannot be written: .*a wait does not cure it"):
                getattr(storage, method)(1)
            assert slept == [] and storage.calls == 1  # not retried: no silent stall
        else:
            assert getattr(storage, method)(1) == "ok"
            assert len(slept) == fails and storage.calls == fails + 1
            err = capsys.readouterr().err
            said = [line for line in err.splitlines() if "retrying within this command's patience" in line]
            assert len(said) == 1 and "'s.db'" in said[0], err  # said once, not once per retry
    assert isinstance(StorageUnwritableError("x"), StorageUnavailableError)  # the CLI's one-line user error


@FIXTURES
@given(fails=st.integers(1, 40), stop_at=st.integers(0, 40), method=st.sampled_from(storage_faults.PATIENT_METHODS))
def test_after_a_stop_signal_the_storage_is_waited_for_seconds_not_the_patience(fails: int, stop_at: int,
                                                                                 method: str) -> None:
    """Round 3's 4-a: a signal during a long storage outage raised, but the clean-up's own storage calls (fail and
    re-queue the trial) waited out the rest of a 10-minute patience. Whatever the outage and whenever the stop
    comes, the waits after it add up to at most STOP_PATIENCE_SECONDS."""
    import trainers.stop

    slept: list[float] = []
    budget = PatienceBudget()
    budget.sleep = slept.append
    storage = make_patient(FailingStorage(OSError(errno.EIO, "disk I/O error"), fails), "'s.db'")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage_faults, "PATIENCE", budget)
        patch.setattr(trainers.stop, "_requested", [])
        patch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "600")
        real_sleep = budget.sleep

        def sleep(seconds: float) -> None:
            real_sleep(seconds)
            if len(slept) == stop_at:
                trainers.stop.request_stop(15)

        budget.sleep = sleep
        if stop_at == 0:
            trainers.stop.request_stop(15)
        try:
            getattr(storage, method)(1)
        except StorageUnavailableError as error:
            assert "after the stop signal" in str(error) or "patience of 600 s is spent" in str(error), error
        before = sum(slept[:stop_at])
        assert sum(slept) - before <= storage_faults.STOP_PATIENCE_SECONDS + 1e-9


def test_every_storage_method_optunas_cache_calls_goes_through_the_gateway() -> None:
    """Round 3's 3-a: a full disk at trial creation was an internal error, because Optuna's cache wrapper creates
    trials through the backend's private `_create_new_trial`, which the gateway did not wrap. Read from Optuna's own
    source, so a method a new Optuna version calls is caught here."""
    import inspect
    import re

    from optuna.storages import _cached_storage

    called = set(re.findall(r"self\._backend\.(\w+)\(", inspect.getsource(_cached_storage)))
    covered = set(storage_faults.PATIENT_METHODS) | set(storage_faults.BEST_EFFORT_METHODS)
    assert called - covered - set(storage_faults.NOT_RETRIED) == set()
    assert "_create_new_trial" in called


@FIXTURES
@given(error=CURABLE, which=st.sampled_from(["file", "directory"]),
       method=st.sampled_from(storage_faults.PATIENT_METHODS))
def test_a_storage_file_made_read_only_mid_run_stops_at_once_whatever_the_error_says(
        error: BaseException, which: str, method: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Round 3's 3-c: a SQLite file made immutable during a trial fails with "disk I/O error", which was retried for
    the whole patience. Whatever error the storage gives, a file or directory that now refuses writes stops the
    command at once."""
    import subprocess

    folder = tmp_path_factory.mktemp("ro")
    path = folder / "s.db"
    path.write_bytes(b"")
    identity = storage_faults.FileIdentity(str(path), "'s.db'")
    target = path if which == "file" else folder
    if subprocess.run(["chattr", "+i", str(target)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        slept: list[float] = []
        budget = PatienceBudget()
        budget.sleep = slept.append
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(storage_faults, "PATIENCE", budget)
            storage = make_patient(FailingStorage(error, 3), "'s.db'", identity)
            with pytest.raises(StorageUnwritableError, match="cannot be written"):
                getattr(storage, method)(1)
        assert slept == []
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=False)


IDENTIFIER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@FIXTURES
@given(tables=st.lists(IDENTIFIER.filter(lambda name: name not in OPTUNA_TABLES and not name.startswith("sqlite")),
                       min_size=1, max_size=4, unique=True), create=st.booleans())
def test_a_sqlite_database_of_another_program_is_never_written_into(
        tables: list[str], create: bool, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Round 3's 3-d: `sweep` added Optuna's tables to another application's database. Whatever its tables, the
    gateway refuses it, for writing and reading commands alike, and leaves its bytes as they were."""
    path = tmp_path_factory.mktemp("foreign") / "other.db"
    connection = sqlite3.connect(path)
    for table in tables:
        connection.execute(f'CREATE TABLE "{table}" (id INTEGER, name TEXT)')
        connection.execute(f'INSERT INTO "{table}" VALUES (1, ?)', ("alice",))
    connection.commit()
    connection.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="a SQLite database of another program"):
        open_storage(f"sqlite:///{path}", create=create)
    assert path.read_bytes() == before


@FIXTURES
@given(version=st.text(min_size=1, max_size=20).filter(lambda text: "\x00" not in text))
def test_a_damaged_schema_version_is_named_as_damage_not_as_an_old_optuna(
        version: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Round 3's 3-b: a corrupted alembic_version told the user to update Optuna."""
    import optuna

    path = tmp_path_factory.mktemp("schema") / "s.db"
    optuna.create_study(study_name="s", storage=f"sqlite:///{path}")
    connection = sqlite3.connect(path)
    current = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    connection.execute("UPDATE alembic_version SET version_num = ?", (version,))
    connection.commit()
    connection.close()
    if version == current:
        return
    with pytest.raises(StorageError) as refused:
        open_storage(f"sqlite:///{path}", create=False)
    message = str(refused.value)
    assert "damaged or was written by a newer Optuna" in message and "\n" not in message, message
    assert "updating optuna" not in message.lower()


KINDS = ["missing", "fifo", "directory", "device", "garbage"]


@FIXTURES
@given(identity=st.sampled_from(KINDS), result=st.sampled_from(KINDS))
@example(identity="fifo", result="garbage")  # round 2's 1-a: a FIFO trial.json was "missing"
def test_a_run_file_is_named_for_what_it_is(identity: str, result: str,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    run = tmp_path_factory.mktemp("run")
    for name, kind in (("trial.json", identity), ("result.json", result)):
        path = run / name
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "directory":
            path.mkdir()
        elif kind == "device":
            path.symlink_to("/dev/zero")  # read forever if it were opened as a file
        elif kind == "garbage":
            path.write_bytes(b"\x00not json")
    with pytest.raises(RecordError) as refused:
        read_run(run)
    message = str(refused.value)
    assert "\n" not in message and "trial.json" in message  # trial.json is read first
    expected = {"missing": "missing", "fifo": "is a FIFO", "directory": "is a directory",
                "device": "is a character device", "garbage": "not a JSON file"}[identity]
    assert expected in message, message


DAMAGES = [("trials", "state"), ("trial_values", "value"), ("trial_params", "distribution_json"),
           ("trial_params", "param_value"), ("trial_intermediate_values", "intermediate_value"),
           ("trial_user_attributes", "value_json"), ("trial_values", "value_type"),
           ("study_user_attributes", "value_json")]  # round 5: a study's task or definition of another type


@pytest.fixture(scope="module")
def stored_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite storage with a finished study (values, params, intermediate values, user attributes)."""
    import optuna

    path = tmp_path_factory.mktemp("damage") / "s.db"

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("metrics", {"val/accuracy": 0.5})
        trial.set_user_attr("run_dir", "runs/x/0000")
        trial.report(0.25, step=1)
        return (trial.suggest_float("x", 0.0, 1.0) + trial.suggest_int("n", 1, 3)) / 4  # an accuracy, in [0, 1]

    study = optuna.create_study(study_name="fashion-mlp", storage=f"sqlite:///{path}", direction="maximize")
    for key, value in (("task", "classify"), ("objective", "val/accuracy"), ("definition", {"task": "classify"})):
        study.set_user_attr(key, value)
    study.optimize(objective, n_trials=3)
    return path


@FIXTURES
@given(where=st.sampled_from(DAMAGES), text=st.one_of(st.text(max_size=12), st.sampled_from(["BOGUS", "{broken", "abc",
                                                                                            "1e999", "[]", "null"])),
       command=st.sampled_from([["best", "fashion-mlp"], ["studies"], ["report", "--out", "{out}"]]))
@example(where=("trials", "state"), text="BOGUS", command=["best", "fashion-mlp"])  # round 4's 3
@example(where=("trial_values", "value"), text="abc", command=["best", "fashion-mlp"])
@example(where=("trial_params", "distribution_json"), text="{broken", command=["best", "fashion-mlp"])
def test_a_row_damaged_by_hand_is_one_line_never_an_internal_error(
        stored_study: Path, where: tuple[str, str], text: str, command: list[str],
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    """Round 4: hand-damaged rows of a SQLite storage (a state not among Optuna's, text as a value, a distribution
    that is not JSON) ended `best` in internal errors. Any generated text in any of these columns: the command
    answers (exit 0) or refuses in one line (exit 2), never an internal error."""
    import shutil

    path = tmp_path_factory.mktemp("damaged") / "d.db"
    shutil.copy(stored_study, path)
    table, column = where
    connection = sqlite3.connect(path)
    connection.execute(f"UPDATE {table} SET {column} = ?", (text,))
    connection.commit()
    connection.close()
    code = main([part.replace("{out}", str(path.parent / "report")) for part in command]
                + ["--storage", f"sqlite:///{path}"])
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err, err[-1500:]
    assert code in (0, 2), (code, err[-500:])
    if code == 2:
        assert len([line for line in err.splitlines() if line.startswith("sweeplab: error:")]) == 1, err


def _damaged_copy(stored: Path, tmp_path_factory: pytest.TempPathFactory, *statements: tuple[str, tuple]) -> Path:
    import shutil

    path = tmp_path_factory.mktemp("damaged") / "d.db"
    shutil.copy(stored, path)
    connection = sqlite3.connect(path)
    for statement, parameters in statements:
        connection.execute(statement, parameters)
    connection.commit()
    connection.close()
    return path


SEMANTIC_DAMAGES = st.one_of(
    st.tuples(st.just("number"), st.integers(-10**6, 2)),  # a negative number, or one another trial holds (0..2)
    st.tuples(st.just("value"), st.sampled_from([float("inf"), float("-inf")])),
    st.tuples(st.just("intermediate"), st.sampled_from([float("inf"), float("-inf")])),
    st.tuples(st.just("x"), st.one_of(st.floats(1.0001, 1e300), st.floats(-1e300, -0.0001))),  # x in [0, 1]
    st.tuples(st.just("n"), st.one_of(st.integers(4, 10**9), st.integers(-10**9, 0))),  # n in 1..3
    # round 6: what Optuna's own rules or a single-objective study forbid
    st.tuples(st.just("number"), st.integers(3, 10**6)),  # beyond its trial id (2): numbers count from 0
    st.tuples(st.sampled_from(["no value", "two values", "two directions", "running unstarted"]), st.just(0)),
    st.tuples(st.just("started later"), st.integers(1, 10**6)),  # seconds after its completion
    st.tuples(st.just("nested attr"), st.integers(2_000, 50_000)),  # JSON deeper than the parser recurses
    st.tuples(st.just("value"), st.one_of(st.floats(1.0001, 1e308), st.floats(-1e308, -0.0001))),  # accuracy: [0, 1]
)


@FIXTURES
@given(damage=SEMANTIC_DAMAGES, command=st.sampled_from([["best", "fashion-mlp"], ["studies"],
                                                         ["report", "--out", "{out}"]]))
@example(damage=("number", 0), command=["best", "fashion-mlp"])  # round 5's 3-d: the better trial vanished
@example(damage=("value", float("inf")), command=["best", "fashion-mlp"])  # 3-e
@example(damage=("n", 99), command=["best", "fashion-mlp"])  # 3-f: shown as `layers 99` for a space of 1..3
@example(damage=("number", -5), command=["best", "fashion-mlp"])  # 3-g
def test_stored_values_no_write_could_leave_are_refused_not_shown(
        stored_study: Path, damage: tuple[str, float], command: list[str],
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    """Round 5: rows that decode but that no write could have left (two trials with one number, a negative number,
    an infinite value stored as finite, a parameter outside its distribution) were shown or silently dropped.
    Every command that reads the study refuses them in one line naming the trial."""
    kind, number = damage
    whole = int(number) if abs(number) < 10**9 else 0
    statement = {
        "number": ("UPDATE trials SET number = ? WHERE number = 1", (number,)),
        "value": ("UPDATE trial_values SET value = ? WHERE trial_id = 2", (number,)),
        "intermediate": ("UPDATE trial_intermediate_values SET intermediate_value = ? WHERE trial_id = 2", (number,)),
        "x": ("UPDATE trial_params SET param_value = ? WHERE param_name = 'x' AND trial_id = 2", (number,)),
        "n": ("UPDATE trial_params SET param_value = ? WHERE param_name = 'n' AND trial_id = 2", (number,)),
        "no value": ("DELETE FROM trial_values WHERE trial_id = 2", ()),
        "two values": ("INSERT INTO trial_values(trial_id, objective, value, value_type) VALUES (2, 1, 0.5, 'FINITE')",
                       ()),
        "two directions": ("INSERT INTO study_directions(direction, study_id, objective) VALUES ('MINIMIZE', 1, 1)",
                           ()),
        "running unstarted": ("UPDATE trials SET state = 'RUNNING', datetime_start = NULL, datetime_complete = NULL "
                              "WHERE trial_id = 2", ()),
        "started later": ("UPDATE trials SET datetime_start = datetime(datetime_complete, ?) WHERE trial_id = 2",
                          (f"+{whole} seconds",)),
        "nested attr": ("UPDATE trial_user_attributes SET value_json = ? WHERE trial_id = 2 AND key = 'metrics'",
                        ("[" * whole,)),
    }[kind]
    if kind == "number" and number == 1:
        return  # unchanged
    path = _damaged_copy(stored_study, tmp_path_factory, statement)
    code = main([part.replace("{out}", str(path.parent / "report")) for part in command]
                + ["--storage", f"sqlite:///{path}"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sweeplab: error:")]
    assert code == 2 and len(lines) == 1, (code, err[-800:])
    named = "trial #" in lines[0] or kind in ("two directions", "nested attr")
    assert named and ("damaged or edited by hand" in lines[0] or "was damaged" in lines[0]), lines[0]


@FIXTURES
@given(dropped=st.sets(st.sampled_from(["studies", "trials", "trial_values", "trial_params", "study_directions",
                                        "trial_user_attributes", "version_info", "study_user_attributes"]),
                       min_size=1, max_size=3),
       command=st.sampled_from([["best", "fashion-mlp"], ["studies"], ["record", "{run}"]]))
@example(dropped={"studies"}, command=["best", "fashion-mlp"])  # round 5's 3-c: read as "no study named ..."
def test_a_dropped_optuna_table_is_named_as_damage(stored_study: Path, dropped: set[str], command: list[str],
                                                  tmp_path_factory: pytest.TempPathFactory,
                                                  capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import sweeps.storage as storage_module

    monkeypatch.setattr(storage_module, "SCHEMA_SETTLE_SECONDS", 0.01)
    path = _damaged_copy(stored_study, tmp_path_factory, ("PRAGMA foreign_keys = OFF", ()),
                         *((f"DROP TABLE {table}", ()) for table in sorted(dropped)))
    before = path.read_bytes()
    run = path.parent / "run"
    code = main([part.replace("{run}", str(run)) for part in command] + ["--storage", f"sqlite:///{path}"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sweeplab: error:")]
    assert code == 2 and len(lines) == 1, (code, err[-800:])
    if command[0] != "record":  # record first reads its run directory (missing here) and says so
        assert "lacks Optuna's table(s)" in lines[0] and sorted(dropped)[0] in lines[0], lines[0]
    assert path.read_bytes() == before, "a damaged storage is never written (Optuna would recreate the table)"


@FIXTURES
@given(kind=st.sampled_from(["fifo", "directory", "device", "missing", "garbage"]))
@example(kind="device")  # round 4: a result.sig linked to /dev/zero was "not signed (edited, copied ...)"
def test_a_signature_file_is_named_for_what_it_is(kind: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from datasets.regular_files import NotRegularFileError
    from sweeps.result_signature import verified_signature

    run = tmp_path_factory.mktemp("sig")
    path = run / "result.sig"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "garbage":
        path.write_bytes(b"\xff\xfe not a signature")
    if kind in {"fifo", "directory", "device"}:
        with pytest.raises(NotRegularFileError, match=r"result\.sig: is a"):
            verified_signature(run, b"key", 1, b"{}", b"{}")
    else:
        assert verified_signature(run, b"key", 1, b"{}", b"{}") is None  # no signature, or not this one


@FIXTURES
@given(write=st.one_of(
    st.tuples(st.sampled_from(["trials", "trial_values", "trial_params", "trial_user_attributes",
                               "study_user_attributes", "trial_system_attributes"]), st.just("INSERT")),
    st.tuples(st.sampled_from(["trials", "study_user_attributes"]), st.just("UPDATE"))))
def test_a_database_that_refuses_a_write_stops_at_once_not_after_the_patience(
        stored_study: Path, write: tuple[str, str], tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Round 6: a trigger that aborts writes (an IntegrityError) was retried for the whole patience (600 s), and
    Optuna itself answers a refused finish with a silent False (the trial stayed RUNNING). Any write the steps
    below make (every table they insert into, those they update), refused by the database: the command stops at
    once in one line naming the cause. (Heartbeats are best effort by design: a missed beat is absorbed by the
    grace period; intermediate values: see the next test.)"""
    table, operation = write
    import time

    import optuna

    monkeypatch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "600")
    path = _damaged_copy(stored_study, tmp_path_factory, (
        f"CREATE TRIGGER refuse BEFORE {operation} ON {table} BEGIN SELECT RAISE(ABORT, 'refused by hand'); END", ()))
    storage = open_storage(f"sqlite:///{path}")
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError, match="refuses the write"):
        study = optuna.load_study(study_name="fashion-mlp", storage=storage)
        study.set_user_attr("note", "new")  # an insert
        study.set_user_attr("note", "newer")  # an update
        for _ in range(2):  # the second round updates what the first inserted
            trial = study.ask()
            trial.suggest_float("x", 0.0, 1.0)
            trial.set_user_attr("metrics", {"val/accuracy": 0.5})
            trial.storage.set_trial_system_attr(trial._trial_id, "note", 1)
            trial.report(0.5, 1)
            trial.report(0.6, 1)
            study.tell(trial, 0.5)
    assert time.monotonic() - started < 10


def test_a_refused_intermediate_value_is_skipped_with_a_warning_not_silently(
        stored_study: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    """Intermediate values are best effort (a trial goes on without one), but a refused one is said, not lost
    silently as Optuna's SQL storage would."""
    import optuna

    path = _damaged_copy(stored_study, tmp_path_factory, (
        "CREATE TRIGGER refuse BEFORE INSERT ON trial_intermediate_values BEGIN SELECT RAISE(ABORT, 'no'); END", ()))
    study = optuna.load_study(study_name="fashion-mlp", storage=open_storage(f"sqlite:///{path}"))
    trial = study.ask()
    trial.report(0.5, 1)
    assert "set_trial_intermediate_value refused by the database" in capsys.readouterr().err


ULIMIT_SCRIPT = """
import sys, optuna
from sweeps.storage import open_storage
from sweeps.storage_faults import StorageUnavailableError
optuna.logging.set_verbosity(optuna.logging.ERROR)
try:
    study = optuna.create_study(study_name="s", storage=open_storage(sys.argv[1]), load_if_exists=True)
    for number in range(100_000):
        trial = study.ask()
        trial.set_user_attr("padding", "x" * 4000)
        study.tell(trial, 0.5)
except StorageUnavailableError as error:
    print("STOPPED", type(error).__name__, error)
"""


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["sqlite", "journal"]), blocks=st.integers(300, 900))
def test_a_file_size_limit_stops_at_once_not_after_the_patience(kind, blocks, tmp_path_factory) -> None:
    """Round 6: under `ulimit -f` a SQLite storage ("disk I/O error") and a journal (EFBIG) were retried for the
    whole patience. Any limit: the command stops within seconds, naming the limit."""
    import subprocess
    import sys
    import time

    folder = tmp_path_factory.mktemp("ulimit")
    url = f"sqlite:///{folder / 's.db'}" if kind == "sqlite" else f"journal:///{folder / 's.log'}"
    started = time.monotonic()
    env = {**os.environ, "SWEEPLAB_STORAGE_PATIENCE_SECONDS": "600", "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run(["bash", "-c", f'ulimit -f {blocks}; exec "$0" -c "$1" "$2"', sys.executable,
                           ULIMIT_SCRIPT, url], capture_output=True, text=True, timeout=120, env=env)
    assert time.monotonic() - started < 60, done.stderr[-500:]
    assert "STOPPED StorageUnwritableError" in done.stdout and "ulimit -f" in done.stdout, (done.stdout[-500:],
                                                                                          done.stderr[-800:])
