"""A journal whose last record is torn (a writer killed mid-append, at any byte) is never glued onto: the next
append cuts it back to the last whole record, keeps the original beside it, and every whole record survives."""

from __future__ import annotations

import json

import optuna
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeps.storage_faults import AtomicJournalFileBackend


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.integers(1, 6), cut=st.integers(1, 200), junk=st.binary(max_size=40).filter(lambda b: b"\n" not in b))
def test_a_torn_tail_is_repaired_before_the_next_append(tmp_path_factory, records, cut, junk):
    folder = tmp_path_factory.mktemp("journal")
    path = folder / "study.log"
    storage = optuna.storages.JournalStorage(AtomicJournalFileBackend(str(path)))
    study = optuna.create_study(study_name="s", storage=storage)
    for value in range(records):
        study.add_trial(optuna.trial.create_trial(value=float(value)))
    whole = path.read_bytes()
    last_record = whole.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    torn = whole + (last_record[: max(1, cut % len(last_record))] if cut % 2 else junk or b"{")
    path.write_bytes(torn)  # a writer died mid-append

    again = optuna.storages.JournalStorage(AtomicJournalFileBackend(str(path)))
    reopened = optuna.load_study(study_name="s", storage=again)
    reopened.add_trial(optuna.trial.create_trial(value=99.0))  # the append that would glue onto the torn record

    lines = path.read_bytes().splitlines()
    assert all(json.loads(line) for line in lines)  # every record whole
    fresh = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(
        AtomicJournalFileBackend(str(path))))
    assert [trial.value for trial in fresh.trials] == [*map(float, range(records)), 99.0]
    (kept,) = folder.glob("study.log.torn-*")
    assert kept.read_bytes() == torn
