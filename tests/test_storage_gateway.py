"""One storage gateway (issue 27, class 3): one patience budget per command, and a storage file removed or replaced
mid-run is recognised before anything more is written to it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tiny_study import faulting_study_text, faulting_task_source, storage_operations

import sweeps.storage_faults as storage_faults
from sweeps.storage import open_storage
from sweeps.storage_faults import (
    PATIENT_METHODS,
    PatienceBudget,
    StorageCorruptError,
    StorageReplacedError,
    StorageUnavailableError,
    make_patient,
)


class FakeClock:
    def __init__(self) -> None:
        self.now, self.slept = 1000.0, 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


class FlakyStorage:
    """A storage whose every method fails (a transient OS error) the number of times a schedule says, then works."""

    def __init__(self, failures: list[int]) -> None:
        self.failures, self.calls = list(failures), 0
        for name in PATIENT_METHODS:
            setattr(self, name, self._method)

    def _method(self, *args: object) -> str:
        if self.failures and self.failures[0] > 0:
            self.failures[0] -= 1
            raise OSError("disk I/O error")
        self.failures.pop(0)
        self.calls += 1
        return "ok"


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fresh patience budget of 20 s on a fake clock."""
    clock = FakeClock()
    fresh = PatienceBudget()
    fresh.clock, fresh.sleep = clock, clock.sleep
    monkeypatch.setattr(storage_faults, "PATIENCE", fresh)
    monkeypatch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "20")
    return clock


@given(failures=st.lists(st.integers(0, 12), min_size=1, max_size=30), names=st.data())
def test_a_command_stalls_at_most_its_patience_in_all(failures: list[int], names: st.DataObject) -> None:
    """Generated outages over a command's calls: whatever their number and length, the command's waits add up to at
    most its one patience budget; calls before the budget ends return their values, none runs after it."""
    clock = FakeClock()
    fresh = PatienceBudget()
    fresh.clock, fresh.sleep = clock, clock.sleep
    storage = make_patient(FlakyStorage(failures), "'test'")
    done, stopped = 0, False
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage_faults, "PATIENCE", fresh)
        patch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "20")
        try:
            for _ in failures:
                name = names.draw(st.sampled_from(PATIENT_METHODS))
                assert getattr(storage, name)(1) == "ok"
                done += 1
        except StorageUnavailableError as error:
            assert "patience of 20 s is spent" in str(error)
            stopped = True
    assert clock.slept <= 20.0
    assert storage.calls == done and (done == len(failures)) != stopped


def test_the_budget_refills_after_a_quiet_patience_period(budget: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two outages of 15.5 s each (5 retries, no jitter): the second would overdraw the 20 s budget, unless a whole
    patience period without a wait came between them."""
    monkeypatch.setattr(storage_faults.random, "random", lambda: 0.5)
    storage = make_patient(FlakyStorage([5, 5, 5, 0]), "'test'")
    storage.get_trial(1)
    assert budget.slept == 15.5
    budget.now += 21
    storage.get_trial(1)  # refilled
    assert budget.slept == 31.0
    budget.now += 5
    with pytest.raises(StorageUnavailableError):
        storage.get_trial(1)  # the same outage going on: no refill


@given(kind=st.sampled_from(["sqlite", "journal"]), action=st.sampled_from(["remove", "copy", "other", "move"]),
       at=st.integers(0, 4))
def test_a_storage_file_removed_or_replaced_mid_run_stops_the_next_call(kind: str, action: str, at: int) -> None:
    """At a generated moment the storage file is removed, replaced by a copy of itself (a restored backup), by
    another storage, or moved away: the next call raises StorageReplacedError and the file now at the path is left
    byte for byte as it was."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"study-{uuid.uuid4().hex}.{'db' if kind == 'sqlite' else 'log'}"
        url = f"sqlite:///{path}" if kind == "sqlite" else f"journal://{path}"
        storage = open_storage(url)
        study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
        operations = storage_operations(storage, study_id)
        for operation in operations[:at]:
            operation()
        if action == "remove":
            path.unlink()
        elif action == "copy":
            shutil.copy(path, path.with_suffix(".bak"))
            os.replace(path.with_suffix(".bak"), path)
        elif action == "other":
            other = open_storage(url.replace(path.name, "other-" + path.name))
            other.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
            os.replace(Path(directory) / ("other-" + path.name), path)
        else:
            os.replace(path, path.with_suffix(".moved"))
        before = path.read_bytes() if path.exists() else None
        with pytest.raises(StorageReplacedError, match=r"removed|replaced"):
            operations[at]()
        assert (path.read_bytes() if path.exists() else None) == before


TASK = faulting_task_source("""
    Path(os.environ["STORAGE_FILE"]).unlink()  # someone removes the study's database while the trial runs
""")


def test_sweep_whose_database_is_removed_mid_trial_stops_in_one_line_and_keeps_the_result(tmp_path: Path) -> None:
    (tmp_path / "vanishing.py").write_text(TASK)
    (tmp_path / "vanishing.yaml").write_text(faulting_study_text("vanishing"))
    database = tmp_path / "study.db"
    env = {**os.environ, "STORAGE_FILE": str(database), "SWEEPLAB_RUNS_DIR": str(tmp_path / "runs")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-m", "sweeplab", "sweep", "vanishing.yaml", "--storage",
                           f"sqlite:///{database}"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("sweeplab: error")]
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(errors) == 1, done.stderr
    assert str(database) in errors[0] and "removed" in errors[0] and "sweeplab record" in errors[0]
    assert not database.exists()  # nothing recreated it behind the user's back
    results = list((tmp_path / "runs").rglob("result.json"))
    assert len(results) == 1  # the one trial that ran kept its result for `sweeplab record`



class SlowFlakyStorage(FlakyStorage):
    """A FlakyStorage whose failed tries each take time on the fake clock (SQLite's busy wait, a slow network)."""

    def __init__(self, failures: list[int], clock: FakeClock, busy: float) -> None:
        super().__init__(failures)
        self.clock, self.busy = clock, busy

    def _method(self, *args: object) -> str:
        if self.failures and self.failures[0] > 0:
            self.clock.now += self.busy
        return super()._method(*args)


@given(failures=st.lists(st.integers(0, 30), min_size=1, max_size=10), busy=st.floats(0.0, 3.0),
       patience=st.sampled_from([2, 3, 20]), names=st.data())
def test_the_time_a_failed_try_takes_is_drawn_from_the_patience(failures, busy, patience, names) -> None:
    """Round 10's 3-e: a locked SQLite database made a 2 s patience stall 6 s, each try's own 1 s busy wait not
    counted. Whatever the outages and however long a failed try takes, a command stalls at most its patience plus
    the one try under way."""
    clock = FakeClock()
    fresh = PatienceBudget()
    fresh.clock, fresh.sleep = clock, clock.sleep
    storage = make_patient(SlowFlakyStorage(failures, clock, busy), "'test'")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage_faults, "PATIENCE", fresh)
        patch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", str(patience))
        with contextlib.suppress(StorageUnavailableError):
            for _ in failures:
                getattr(storage, names.draw(st.sampled_from(PATIENT_METHODS)))(1)
    assert clock.now - 1000.0 <= patience + busy + 1e-9


@given(wrapper=st.sampled_from([OSError, RuntimeError, optuna.exceptions.StorageInternalError]),
       signum=st.sampled_from([2, 15, 1]), chained=st.booleans(), name=st.sampled_from(PATIENT_METHODS))
def test_a_stop_a_library_wrapped_in_its_own_error_is_a_stop_not_a_fault(wrapper, signum, chained, name) -> None:
    """Round 10's 4-a: a stop signal that landed inside SQLAlchemy came out as its OperationalError; the gateway
    took it for a storage fault and retried ("retrying within this command's patience of 600 s"). A stop anywhere
    in an error's chain is raised as the stop, at once, whatever wraps it."""
    from sweeps.signals import Stopped

    class Wrapping:
        calls = 0

    def method(*args: object) -> str:
        Wrapping.calls += 1
        try:
            raise Stopped(signum)
        except Stopped as stop:
            if chained:
                raise wrapper("database is locked") from stop
            raise wrapper("database is locked")  # noqa: B904 (the implicit context, as libraries leave it)

    storage = FlakyStorage([])
    setattr(storage, name, method)
    make_patient(storage, "'test'")
    with pytest.raises(Stopped) as stopped:
        getattr(storage, name)(1)
    assert stopped.value.signum == signum and Wrapping.calls == 1


@given(kind=st.sampled_from(["sqlite", "journal"]), action=st.sampled_from(["other", "remove", "same"]),
       at=st.integers(0, 3))
def test_a_storage_named_through_a_link_stops_when_the_link_is_re_pointed(kind: str, action: str, at: int) -> None:
    """Round 10's 3-b: a sweep on `sqlite:///db` where `db` is a link went on writing into the old file after the
    link was re-pointed, while the URL named another. At a generated moment the link is re-pointed to another
    storage or removed: the next call raises StorageReplacedError; re-pointed to the same file, nothing changes."""
    with tempfile.TemporaryDirectory() as directory:
        suffix = "db" if kind == "sqlite" else "log"
        first, other = Path(directory) / f"a.{suffix}", Path(directory) / f"b.{suffix}"
        link = Path(directory) / f"study-{uuid.uuid4().hex}.{suffix}"
        for target in (other, first):  # both real storages (the link names `first`)
            link.unlink(missing_ok=True)
            link.symlink_to(target)
            url = f"sqlite:///{link}" if kind == "sqlite" else f"journal://{link}"
            storage = open_storage(url)
            study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], f"s-{target.name}")
        for _ in range(at):
            storage.create_new_trial(study_id)
        link.unlink()
        if action == "other":
            link.symlink_to(other)
        elif action == "same":
            link.symlink_to(first)
        if action == "same":
            storage.create_new_trial(study_id)
        else:
            with pytest.raises(StorageReplacedError):
                storage.create_new_trial(study_id)


@given(failures=st.integers(1, 4), signum=st.sampled_from([2, 15, 1]), name=st.sampled_from(PATIENT_METHODS))
def test_a_storage_call_made_while_a_stop_is_handled_is_retried_not_taken_for_the_stop(failures, signum,
                                                                                       name) -> None:
    """Round 11's 4-a: the clean-up of a stop (failing and re-queueing the trial) runs while the stop is handled, so
    each "database is locked" it met carried the stop as its context and was raised as the stop: the trial was left
    RUNNING without a word. A stop raised inside the call is a stop; the one its caller handles is not the call's."""
    from sweeps.signals import Stopped

    clock = FakeClock()
    fresh = PatienceBudget()
    fresh.clock, fresh.sleep = clock, clock.sleep
    storage = make_patient(FlakyStorage([failures]), "'test'")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage_faults, "PATIENCE", fresh)
        patch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "20")
        try:
            raise Stopped(signum)
        except Stopped:
            assert getattr(storage, name)(1) == "ok"  # retried through the lock, not raised as the stop
    assert storage.calls == 1 and clock.slept > 0


@given(message=st.sampled_from(["database disk image is malformed", "file is not a database",
                                "database is locked", "disk I/O error"]), name=st.sampled_from(PATIENT_METHODS))
def test_a_damaged_database_is_named_at_once_not_waited_for(message, name) -> None:
    """Round 11's 3-f: a SQLite file cut short mid-run ("database disk image is malformed") was retried for the whole
    600 s patience. Damage is named at once; a lock or an I/O error is still waited for."""
    class Damaged(FlakyStorage):
        def _method(self, *args: object) -> str:
            if self.failures and self.failures[0] > 0:
                self.failures[0] -= 1
                raise OSError(message)
            return super()._method(*args)

    clock = FakeClock()
    fresh = PatienceBudget()  # each example its own budget
    fresh.clock, fresh.sleep = clock, clock.sleep
    storage = make_patient(Damaged([2]), "'test'")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage_faults, "PATIENCE", fresh)
        patch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", "20")
        if "lock" in message or "I/O" in message:
            assert getattr(storage, name)(1) == "ok" and clock.slept > 0
        else:
            with pytest.raises(StorageCorruptError, match="damaged or cut short"):
                getattr(storage, name)(1)
            assert clock.slept == 0
