"""Storage files that are not what they should be (class 3): a journal that is not an Optuna journal, one truncated
in place while a command runs, a path that is no regular file, a stale journal lock, SQLite URL options. Each stops
the command in one line (never a traceback), before anything is written or blocks; a finished trial's result is
kept for `sweeplab record`."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tiny_study import faulting_study_text, faulting_task_source, storage_operations

import sweeps.storage_faults as storage_faults
from sweeplab.cli import main
from sweeps.storage import open_storage
from sweeps.storage_faults import AtomicJournalFileBackend, PatienceBudget, StorageReplacedError

FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
NOT_A_RECORD = [b"#### garbage ####", b'{"op_code": 99, "worker_id": "x"}', b'{"op_code": 4, "worker_id": "x"}',
                b'{"op_code": "0"}', b"[1, 2]", b'"x"', b"null", b"{}", b"\xff\xfe", b"", b" ", b"[" * 5000]


def write_journal(path: Path, trials: int) -> None:
    """A real journal holding study 'tiny' with `trials` finished trials."""
    storage = optuna.storages.JournalStorage(AtomicJournalFileBackend(str(path)))
    study = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    distribution = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for number in range(trials):
        study.add_trial(optuna.trial.create_trial(value=number / 10, params={"x": number / 10},
                                                  distributions=distribution))


def commands(url: str, folder: Path) -> list[list[str]]:
    """Commands that read a storage; `sweep` of study file tiny.yaml (`tiny_study`) too."""
    return [["best", "tiny", "--storage", url], ["studies", "--storage", url],
            ["report", "--storage", url, "--out", str(folder / "report")],
            ["sweep", str(folder / "tiny.yaml"), "--no-refit", "--storage", url]]


@pytest.fixture
def tiny_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tiny.yaml, a study of a task that trains nothing, in a folder on sys.path."""
    (tmp_path / "tinytask.py").write_text(TASK)
    (tmp_path / "tiny.yaml").write_text(faulting_study_text("tinytask"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CUT_IN_TRIAL", "-1")
    return tmp_path


def assert_one_line(capsys: pytest.CaptureFixture[str], code: int, *names: str) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("sweeplab:")]
    assert code != 0, captured.out + captured.err
    assert "Traceback" not in captured.err and "internal error" not in captured.err, captured.err
    assert len(lines) == 1 and lines[0].startswith("sweeplab: error: "), captured.err
    assert all(name in lines[0] for name in names), lines[0]
    return lines[0]


@FIXTURES
@given(trials=st.integers(1, 3), where=st.integers(0, 100), command=st.integers(0, 3),
       junk=st.one_of(st.sampled_from(NOT_A_RECORD), st.binary(max_size=80)))
@example(trials=2, where=2, command=3, junk=b"#### garbage ####")  # 3-C, by `sweep`
@example(trials=1, where=9, command=0, junk=b"\xff\xfe")  # 3-E: a whole last line, not UTF-8
def test_a_journal_line_that_is_not_an_optuna_record_stops_every_read_command_in_one_line(
        tiny_study: Path, capsys: pytest.CaptureFixture[str], trials: int, where: int, command: int,
        junk: bytes) -> None:
    """Junk (arbitrary bytes, non-UTF-8, not JSON, JSON that is not an object, unknown operations, records Optuna
    cannot apply) as a whole line at any position of a valid journal: every reading command stops with one line
    naming the file, non-zero, no traceback."""
    path = tiny_study / f"j-{uuid.uuid4().hex}.log"
    write_journal(path, trials)
    lines = path.read_bytes().splitlines(keepends=True)
    at = where % (len(lines) + 1)
    path.write_bytes(b"".join(lines[:at]) + junk + b"\n" + b"".join(lines[at:]))
    capsys.readouterr()
    code = main(commands(f"journal://{path}", tiny_study)[command])
    line = assert_one_line(capsys, code, str(path))
    assert "not a readable Optuna journal" in line


@FIXTURES
@given(data=st.binary(min_size=1, max_size=2000), scheme=st.sampled_from(["journal", "sqlite"]))
def test_a_storage_file_of_arbitrary_bytes_stops_a_command_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, scheme: str) -> None:
    """A journal or SQLite file holding arbitrary bytes: one line naming the problem, non-zero, no traceback (a
    journal without a whole line is an unfinished first record: no study in it yet)."""
    path = tmp_path / f"a-{uuid.uuid4().hex}"
    path.write_bytes(data)
    capsys.readouterr()
    code = main(["best", "tiny", "--storage", f"journal://{path}" if scheme == "journal" else f"sqlite:///{path}"])
    line = assert_one_line(capsys, code)
    assert str(path) in line or "no study named 'tiny'" in line


@FIXTURES
@given(trials=st.integers(1, 3), offset=st.integers(0, 10_000), junk=st.binary(min_size=1, max_size=20),
       replace=st.booleans())
def test_bytes_spliced_anywhere_into_a_journal_never_give_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], trials: int, offset: int, junk: bytes,
        replace: bool) -> None:
    """Arbitrary bytes inserted into (or written over) a valid journal at any offset of its whole lines: `best`
    either still reads it (the bytes happened to leave valid records) or stops in one line; never a traceback."""
    path = tmp_path / f"s-{uuid.uuid4().hex}.log"
    write_journal(path, trials)
    data = path.read_bytes()
    at = offset % len(data)  # before the final newline: the spliced line stays a whole line
    spliced = data[:at] + junk + data[at + (len(junk) if replace else 0):]
    path.write_bytes(spliced if spliced.endswith(b"\n") else spliced + b"\n")
    capsys.readouterr()
    code = main(["best", "tiny", "--storage", f"journal://{path}"])
    if code != 0:
        assert_one_line(capsys, code)
    else:
        assert "Traceback" not in capsys.readouterr().err


@given(at=st.integers(0, 4), keep=st.floats(0.0, 1.0, exclude_max=True), regrow=st.booleans())
def test_a_journal_truncated_in_place_stops_the_next_call_and_is_left_as_it_is(at: int, keep: float,
                                                                                regrow: bool) -> None:
    """At a generated moment the journal is cut, in place (same inode), to any shorter length, and maybe grown
    again by another writer past its old size: the next call raises StorageReplacedError and writes nothing."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"t-{uuid.uuid4().hex}.log"
        storage = open_storage(f"journal://{path}")
        study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
        operations = storage_operations(storage, study_id)
        for operation in operations[:at]:
            operation()
        os.truncate(path, int(path.stat().st_size * keep))
        if regrow:  # another process writes a study of its own into the emptied file
            other = optuna.storages.JournalStorage(AtomicJournalFileBackend(str(path)))
            for number in range(3):
                other.create_new_study([optuna.study.StudyDirection.MINIMIZE], f"other-{number}")
        before = path.read_bytes()
        with pytest.raises(StorageReplacedError, match=r"truncated|overwritten"):
            operations[at]()
        assert path.read_bytes() == before


TASK = faulting_task_source("""
    journal, trial = Path(os.environ["STORAGE_FILE"]), len(list(run_dir.parent.iterdir())) - 1
    if trial == int(os.environ["CUT_IN_TRIAL"]):  # someone cuts the journal in place while this trial runs
        os.truncate(journal, int(journal.stat().st_size * float(os.environ["KEEP"])))
        Path(os.environ["CUT_COPY"]).write_bytes(journal.read_bytes())
""")


def _sweep_of_task(folder: Path, prefix: str, task: str, storage: str, env: dict[str, str]) -> tuple[int, str]:
    """`sweep --no-refit` in `folder` of a faulting user task saved there under a fresh module name (its study file
    beside it), with `env` and runs in `folder/runs`: the exit code and what it wrote to stderr."""
    module = f"{prefix}_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(task)
    (folder / f"{module}.yaml").write_text(faulting_study_text(module))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**env, "SWEEPLAB_RUNS_DIR": str(folder / "runs")}.items():
            patch.setenv(name, value)
        patch.chdir(folder)
        patch.syspath_prepend(str(folder))
        err = io.StringIO()
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            code = main(["sweep", f"{module}.yaml", "--no-refit", "--storage", storage])
    return code, err.getvalue()


@settings(max_examples=max(3, settings.default.max_examples // 8))
@given(cut_in=st.integers(0, 1), keep=st.floats(0.0, 1.0, exclude_max=True))
def test_a_sweep_whose_journal_is_truncated_mid_trial_stops_in_one_line_and_keeps_the_result(
        cut_in: int, keep: float) -> None:
    """A real sweep on a real journal; during a generated trial the journal is cut to a generated shorter length:
    the sweep stops in one line naming the file and `sweeplab record`, the trial's result is kept in its run
    directory, and nothing more is written into the journal."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        journal = folder / "study.log"
        code, stderr = _sweep_of_task(folder, "cut", TASK, f"journal://{journal}", {
            "STORAGE_FILE": str(journal), "CUT_IN_TRIAL": str(cut_in), "KEEP": repr(keep),
            "CUT_COPY": str(folder / "cut.bytes")})
        errors = [line for line in stderr.splitlines() if line.startswith("sweeplab:")]
        assert code != 0, stderr
        assert "Traceback" not in stderr and len(errors) == 1, stderr
        assert str(journal) in errors[0] and "truncated" in errors[0] and "sweeplab record" in errors[0], errors
        assert journal.read_bytes() == (folder / "cut.bytes").read_bytes()  # nothing written after the cut
        kept = sorted((folder / "runs").rglob("result.json"))
        assert len(kept) == cut_in + 1 and str(kept[-1].parent) in errors[0]


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("scheme", ["journal", "sqlite"])
def test_a_storage_path_that_is_no_regular_file_is_refused_at_open(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, scheme: str) -> None:
    """A FIFO (opening it would block), a directory or a device: refused in one line before anything opens it."""
    if kind == "fifo":
        path = tmp_path / f"{scheme}-fifo"
        os.mkfifo(path)
    elif kind == "directory":
        path = tmp_path / f"{scheme}-dir"
        path.mkdir()
    else:
        path = Path("/dev/null")
    started = time.monotonic()
    code = main(["best", "tiny", "--storage", f"journal://{path}" if scheme == "journal" else f"sqlite:///{path}"])
    assert_one_line(capsys, code, str(path), "not a storage file")
    assert time.monotonic() - started < 10


def test_a_sqlite_url_with_query_options_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`?mode=ro` is ignored by SQLAlchemy, which would write anyway: refused, nothing created."""
    database = tmp_path / "x.db"
    assert_one_line(capsys, main(["studies", "--storage", f"sqlite:///{database}?mode=ro"]), "mode")
    assert not database.exists()


@pytest.fixture
def patience(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_faults, "PATIENCE", PatienceBudget())
    monkeypatch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "2")


@pytest.mark.parametrize("target", ["/nonexistent-target", "journal"])
def test_a_stale_journal_lock_stops_a_write_within_patience_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], patience: None, target: str) -> None:
    """A lock left by a writer killed mid-append (a dangling link, or one to the journal): the write waits at most
    the command's patience, then stops in one line naming the lock file and how to remove it; reads work."""
    path = tmp_path / "sl.log"
    write_journal(path, 1)
    os.symlink(str(path) if target == "journal" else target, f"{path}.lock")
    storage = open_storage(f"journal://{path}")
    study_id = storage.get_study_id_from_name("tiny")
    started = time.monotonic()
    with pytest.raises(storage_faults.StorageLockedError, match=r"rm .*sl\.log\.lock"):
        storage.set_study_user_attr(study_id, "k", 1)
    assert time.monotonic() - started < 5
    assert main(["best", "tiny", "--storage", f"journal://{path}"]) == 0


HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


def test_a_signal_stops_a_command_waiting_on_a_locked_sqlite_database_within_seconds(tmp_path: Path) -> None:
    """Another process holds the database locked: SQLite's own wait is short, the gateway's retries (which a
    signal interrupts) do the rest, so SIGTERM stops `best` within about a second, not after SQLite's timeout."""
    database = tmp_path / "x.db"
    optuna.create_study(study_name="tiny", storage=f"sqlite:///{database}")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(database)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = {**os.environ, "SWEEPLAB_STORAGE_PATIENCE_SECONDS": "60"}
        command = subprocess.Popen([sys.executable, "-m", "sweeplab", "best", "tiny", "--storage",
                                    f"sqlite:///{database}"], env=env, stderr=subprocess.PIPE, text=True)
        time.sleep(6)  # imported, opened, and waiting on the lock
        assert command.poll() is None
        sent = time.monotonic()
        command.send_signal(signal.SIGTERM)
        _, stderr = command.communicate(timeout=30)
        assert time.monotonic() - sent < 3, stderr
        assert command.returncode == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr
    finally:
        holder.kill()
        holder.wait()
    with sqlite3.connect(database) as connection:  # the lock is gone with its holder
        assert connection.execute("select count(*) from studies").fetchone() == (1,)


def test_optunas_own_answers_on_this_workers_records_pass_unchanged(tmp_path: Path) -> None:
    """Replaying this worker's own record may raise Optuna's answer (a study created twice, as two agents racing
    to create it do): that is not a corrupt journal."""
    storage = open_storage(f"journal://{tmp_path / 'race.log'}")
    storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    with pytest.raises(optuna.exceptions.DuplicatedStudyError):
        storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    assert [study.study_name for study in storage.get_all_studies()] == ["s"]


EMPTYING_TASK = faulting_task_source("""
    os.truncate(os.environ["STORAGE_FILE"], 0)  # someone empties the SQLite file while the trial runs
""")


def test_a_sqlite_file_emptied_mid_trial_is_named_as_emptied() -> None:
    """Round 12's 3-l: a SQLite file cut to 0 bytes mid-run was named as "its table 'trials' was removed"."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "study.db"
        code, stderr = _sweep_of_task(Path(directory), "empty", EMPTYING_TASK, f"sqlite:///{database}",
                                      {"STORAGE_FILE": str(database)})
        errors = [line for line in stderr.splitlines() if line.startswith("sweeplab:")]
        assert code != 0 and len(errors) == 1, stderr
        assert "emptied (0 bytes)" in errors[0] and str(database) in errors[0], errors
