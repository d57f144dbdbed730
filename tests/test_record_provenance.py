"""`sweeplab record` stores only what a run produced for that trial: whatever is edited, swapped or replayed in a run
directory (any field of trial.json or result.json: the signature covers both files' bytes) is refused in one line; a
file of another shape is refused in one line naming the file and the key; a genuine result is stored once, and a
copy of a completed run is "already recorded"; a trial that is still alive is never overwritten; a storage that does
not exist is named as given and never created. A user's toy task (no framework) makes the runs quick."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution, distribution_to_json
from optuna.trial import TrialState

from sweeplab.cli import main
from sweeps.record import RecordError, record_result
from sweeps.result_signature import SIGNATURE_ATTR, SIGNATURE_FILE, sign_result, study_key
from sweeps.run_identity import claim_trial_dir
from sweeps.storage import StorageMissingError, file_of, open_storage

TOY = '''
from dataclasses import dataclass
import sweeplab
from sweeplab import param

@dataclass
class Config:
    rate: float = param(0.5, low=0.0, high=1.0)
    units: int = param(8, low=1, high=64)

@sweeplab.task(config=Config, objective="val/accuracy", direction="maximize")
def train(config, reporter, run_dir):
    return {"val/accuracy": config.rate}
'''
FILES = ("trial.json", "result.json")
SCHEMA_KEYS = {"trial.json": ("study", "trial_number", "trial_id", "storage", "params", "distributions", "run_id",
                              "host", "pid"),
               "result.json": ("task", "metrics")}
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished three-trial study of the toy task; its run directories carry signed results."""
    folder = tmp_path_factory.mktemp("record")
    (folder / "toy.py").write_text(TOY)
    (folder / "study.yaml").write_text("task: toy:train\nfixed: {units: 8}\n"
                                       "space:\n  rate: {type: float, low: 0.0, high: 1.0}\n"
                                       "sampler: {name: random, seed: 1}\nbudget: {trials: 3}\n")
    url = f"sqlite:///{folder / 's.db'}"
    env = {**{key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
           "SWEEPLAB_RUNS_DIR": str(folder / "runs")}
    result = subprocess.run([sys.executable, "-m", "sweeplab", "sweep", "study.yaml", "--storage", url], cwd=folder,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dirs = sorted(path.parent for path in (folder / "runs" / "study").glob("*/result.json"))
    assert len(run_dirs) == 3 and all((run_dir / SIGNATURE_FILE).is_file() for run_dir in run_dirs)
    for run_dir in run_dirs:  # the edits below change one field and nothing else: the files re-serialise exactly
        for name in FILES:
            assert dump_text(json.loads((run_dir / name).read_text())) == (run_dir / name).read_text()
    return url, run_dirs


def dump_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def snapshot(url: str) -> list[tuple]:
    """Every trial as the storage holds it: nothing may be added or changed by a refused record."""
    return [(trial.number, trial.state, trial.value, trial.params, trial.user_attrs.get(SIGNATURE_ATTR))
            for trial in optuna.load_study(study_name="study", storage=url).get_trials()]


def copy_run(source: Path, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("copy") / "run"
    shutil.copytree(source, run_dir)
    return run_dir


def leaves(data: Any, prefix: tuple = ()) -> list[tuple]:
    """The path of every value in a JSON document (objects walked key by key)."""
    if isinstance(data, dict) and data:
        return [path for key, value in data.items() for path in leaves(value, (*prefix, key))]
    return [prefix]


def with_value(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    return {**data, path[0]: with_value(data[path[0]], path[1:], value)}


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**9, 10**9) |
                    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                                    max_size=3),
                    max_leaves=6)
# plausible forgeries: a value inside the space, another distribution (a wider one, a categorical), another trial
DISTRIBUTIONS = st.sampled_from([FloatDistribution(0.0, 100.0), FloatDistribution(0.0, 1.0, step=0.5),
                                 IntDistribution(0, 5000), CategoricalDistribution([0.1, 0.9])]).map(
    distribution_to_json)
PLAUSIBLE = st.one_of(st.floats(0.0, 1.0), st.integers(0, 5000), DISTRIBUTIONS, st.text(min_size=1, max_size=8))


@settings(suppress_health_check=HEALTH)
@given(data=st.data())
def test_an_edit_of_any_field_of_trial_json_or_result_json_is_refused(swept, tmp_path_factory, data):
    """Generated: which run, which file, which field (every value in either file, params, distributions, trial id
    and number, pid, host, run id, metrics ...), and a new value, arbitrary or plausible; or a parameter added with
    its distribution (a fixed value smuggled in, 1-B). Formatting is kept, so only the value differs."""
    url, run_dirs = swept
    before = snapshot(url)
    run_dir = copy_run(run_dirs[data.draw(st.integers(0, 2), "run")], tmp_path_factory)
    name = data.draw(st.sampled_from(FILES), "file")
    original = json.loads((run_dir / name).read_text())
    if name == "trial.json" and data.draw(st.booleans(), "add a parameter"):
        extra = data.draw(st.sampled_from(["units", "layers", "rate2"]), "name")
        edited = {**original, "params": {**original["params"], extra: data.draw(st.integers(1, 5000), "value")},
                  "distributions": {**original["distributions"],
                                    extra: distribution_to_json(IntDistribution(1, 5000))}}
    else:
        path = data.draw(st.sampled_from(leaves(original)), "field")
        value = data.draw(st.one_of(JSON, PLAUSIBLE).filter(
            lambda new: json.dumps(new, sort_keys=True) != json.dumps(_at(original, path), sort_keys=True)), "value")
        edited = with_value(original, path, value)
    (run_dir / name).write_text(dump_text(edited))
    with pytest.raises(RecordError) as refused:
        record_result(run_dir, url)
    assert "\n" not in str(refused.value)
    assert snapshot(url) == before  # nothing added, nothing changed


def _at(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


@settings(suppress_health_check=HEALTH)
@given(kind=st.sampled_from(["result.json", "trial.json", SIGNATURE_FILE, "signature-text"]), other=st.integers(1, 2),
       text=st.text(alphabet="0123456789abcdef", max_size=64))
def test_files_swapped_between_runs_or_forged_signatures_are_refused(swept, tmp_path_factory, kind, other, text):
    url, run_dirs = swept
    before = snapshot(url)
    run_dir = copy_run(run_dirs[0], tmp_path_factory)
    if kind == "signature-text":
        (run_dir / SIGNATURE_FILE).write_text(text)
    else:  # another run's genuine file under this run's other files
        shutil.copy(run_dirs[other] / kind, run_dir / kind)
    with pytest.raises(RecordError, match="not signed by its run"):
        record_result(run_dir, url)
    assert snapshot(url) == before


def test_a_copy_of_a_completed_run_is_already_recorded(swept, tmp_path_factory):
    """1-A: normal completion stores the signature on the trial; a copy of the run directory adds nothing."""
    url, run_dirs = swept
    before = snapshot(url)
    assert all(signature for *_, signature in before)
    for run_dir in run_dirs:
        assert "already holds" in record_result(copy_run(run_dir, tmp_path_factory), url)
    assert snapshot(url) == before


def _shapes(original: dict) -> st.SearchStrategy:
    keys = sorted(original)
    return st.one_of(
        st.tuples(st.just("document"), JSON),  # any JSON at all: a list, a number, an object of anything
        st.tuples(st.just("drop"), st.sampled_from(keys)),
        st.tuples(st.just("replace"), st.tuples(st.sampled_from(keys), JSON)),
        st.tuples(st.just("bytes"), st.binary(max_size=40)),
    )


@settings(suppress_health_check=HEALTH)
@given(data=st.data())
def test_a_file_of_any_other_shape_is_one_line_naming_it(swept, tmp_path_factory, capsys, data):
    """1-C/1-D/1-E: through the command line, any shape of trial.json or result.json is refused with exit 2 in one
    line that names the file (and the key, when one is missing); never an internal error or a traceback."""
    url, run_dirs = swept
    before = snapshot(url)
    run_dir = copy_run(run_dirs[0], tmp_path_factory)
    name = data.draw(st.sampled_from(FILES), "file")
    original = json.loads((run_dir / name).read_text())
    kind, detail = data.draw(_shapes(original), "shape")
    if kind == "document":
        (run_dir / name).write_text(json.dumps(detail))
    elif kind == "drop":
        (run_dir / name).write_text(dump_text({key: value for key, value in original.items() if key != detail}))
    elif kind == "replace":
        key, value = detail
        (run_dir / name).write_text(dump_text({**original, key: value}))
    else:
        (run_dir / name).write_bytes(detail)
    unchanged = (run_dir / name).read_bytes() == (run_dirs[0] / name).read_bytes()
    capsys.readouterr()
    code = main(["record", str(run_dir), "--storage", url])
    err = capsys.readouterr().err
    if unchanged:
        assert code == 0
        return
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("sweeplab: error:") and "Traceback" not in err and "internal error" not in err, err
    assert name in lines[0], err
    if kind == "drop" and detail in SCHEMA_KEYS[name]:
        assert repr(detail) in lines[0], err
    assert snapshot(url) == before


@pytest.mark.parametrize("scheme", ["sqlite:///", "journal://"])
def test_a_storage_that_does_not_exist_is_named_as_given_and_not_created(swept, tmp_path, scheme):
    """1-F: the storage given is the one used and named; record never creates one."""
    _, run_dirs = swept
    missing = tmp_path / "nonexist.db"
    with pytest.raises(StorageMissingError) as refused:  # the storage gateway's refusal, for every reading command
        record_result(run_dirs[0], f"{scheme}{missing}")
    assert str(missing) in str(refused.value) and not missing.exists()


LIVE_RUN = '''
import json, sys
from pathlib import Path
import optuna
from optuna.distributions import FloatDistribution
from sweeps.result_signature import sign_result, study_key
from sweeps.run_identity import claim_trial_dir
from sweeps.storage import open_storage

study = optuna.load_study(study_name="study", storage=open_storage(sys.argv[1]))
trial = study.ask({"rate": FloatDistribution(0.0, 1.0)})
run_dir = claim_trial_dir(Path(sys.argv[2]), "study", trial)
(run_dir / "result.json").write_text(json.dumps({"task": "toy:train", "metrics": {"val/accuracy": 0.25}}))
assert sign_result(run_dir, study_key(study._storage, study._study_id), study._study_id, trial)
print(run_dir, flush=True)
sys.stdin.read()  # alive until the test closes stdin
'''


def test_a_live_trial_is_never_overwritten_and_a_dead_one_is_recorded_once(swept, tmp_path, tmp_path_factory):
    """1-G: a trial whose (signed) process lives is refused; an edited pid is refused as unsigned; once the
    process has died, the result is stored once, and a copy of it is already recorded."""
    url, _ = swept
    child = subprocess.Popen([sys.executable, "-c", LIVE_RUN, url, str(tmp_path / "runs")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        run_dir = Path(child.stdout.readline().strip())
        with pytest.raises(RecordError, match="still running"):
            record_result(run_dir, url)
        forged = copy_run(run_dir, tmp_path_factory)
        identity = json.loads((forged / "trial.json").read_text())
        (forged / "trial.json").write_text(dump_text({**identity, "pid": 999_999}))
        with pytest.raises(RecordError, match="not signed by its run"):
            record_result(forged, url)
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    identity = json.loads((run_dir / "trial.json").read_text())
    study = optuna.load_study(study_name="study", storage=open_storage(url))
    assert study._storage.get_trial(identity["trial_id"]).state == TrialState.RUNNING
    assert "recorded trial" in record_result(run_dir, url)
    assert "already holds" in record_result(run_dir, url)
    assert "already holds" in record_result(copy_run(run_dir, tmp_path_factory), url)
    stored = study._storage.get_trial(identity["trial_id"])
    assert stored.state == TrialState.COMPLETE and stored.value == 0.25
    assert Path(stored.user_attrs["run_dir"]) == run_dir


def _signed_run(url: str, root: Path, value: float, host: str | None = None) -> tuple[Path, optuna.Study, Any]:
    """A trial asked here, its run directory and signed result, as if run on `host`."""
    study = optuna.load_study(study_name="study", storage=open_storage(url))
    trial = study.ask({"rate": FloatDistribution(0.0, 1.0)})
    run_dir = claim_trial_dir(root, "study", trial)
    if host is not None:
        identity = json.loads((run_dir / "trial.json").read_text())
        (run_dir / "trial.json").write_text(dump_text({**identity, "host": host}))
    (run_dir / "result.json").write_text(json.dumps({"task": "toy:train", "metrics": {"val/accuracy": value}}))
    assert sign_result(run_dir, study_key(study._storage, study._study_id), study._study_id, trial)
    return run_dir, study, trial


@pytest.mark.parametrize("scheme", ["sqlite:///", "journal://"])
def test_a_trial_elsewhere_is_alive_while_its_heartbeat_is_fresh(tmp_path, monkeypatch, scheme):
    """On another host only the storage's heartbeat tells: none (SQLite) or fresh is alive; stale is dead."""
    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("SWEEPLAB_GRACE_SECONDS", "2")
    url = f"{scheme}{tmp_path / 'beats.db'}"
    study = optuna.create_study(study_name="study", storage=open_storage(url), direction="maximize")
    study.set_user_attr("objective", "val/accuracy")
    study.set_user_attr("task", "toy:train")
    run_dir, study, trial = _signed_run(url, tmp_path / "runs", 0.125, host="elsewhere.invalid")
    with pytest.raises(RecordError, match="still running"):  # no heartbeat: cannot tell, so alive
        record_result(run_dir, url)
    study._storage.record_heartbeat(trial._trial_id)
    with pytest.raises(RecordError, match="still running"):
        record_result(run_dir, url)
    time.sleep(3.2)
    assert "recorded trial" in record_result(run_dir, url)


def test_a_trial_failed_meanwhile_gets_its_result_as_one_new_trial(swept, tmp_path, tmp_path_factory):
    url, _ = swept
    run_dir, study, trial = _signed_run(url, tmp_path / "runs", 0.375)
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    before = len(snapshot(url))
    assert "its result is now trial" in record_result(run_dir, url)
    assert "already holds" in record_result(copy_run(run_dir, tmp_path_factory), url)
    assert len(snapshot(url)) == before + 1


def test_a_locked_storage_is_said_before_the_wait(swept, tmp_path_factory, capsys):
    """1-G: record never waits silently on a SQLite file another process holds."""
    url, run_dirs = swept
    blocker = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=5, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        assert "already holds" in record_result(copy_run(run_dirs[1], tmp_path_factory), url)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "waiting for the storage lock" in capsys.readouterr().err


def test_a_trial_description_edited_while_it_trained_is_not_signed(swept, tmp_path):
    url, _ = swept
    study = optuna.load_study(study_name="study", storage=open_storage(url))
    trial = study.ask({"rate": FloatDistribution(0.0, 1.0)})
    run_dir = claim_trial_dir(tmp_path / "runs", "study", trial)
    identity = json.loads((run_dir / "trial.json").read_text())
    (run_dir / "trial.json").write_text(dump_text({**identity, "params": {"rate": 0.99}}))
    (run_dir / "result.json").write_text(json.dumps({"task": "toy:train", "metrics": {"val/accuracy": 0.99}}))
    assert sign_result(run_dir, study_key(study._storage, study._study_id), study._study_id, trial) is None
    study.tell(trial, state=TrialState.FAIL)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(copies=st.integers(2, 3), failed=st.booleans(), value=st.floats(0.0, 1.0))
def test_records_of_one_run_at_once_store_it_once_and_say_so(swept, tmp_path_factory, copies, failed, value):
    """Round 3's 1-a: two `record`s of one run at once: the loser ended in an internal error
    (UpdateFinishedTrialError). Under the study's claim lock, each sees what the one before it stored: exactly one
    stores, the others say it is already held, all exit 0 and the storage holds the result once."""
    url, _ = swept
    if failed:  # the heartbeat check failed it meanwhile: each record would add a new trial
        run_dir, _, trial = _signed_run(url, tmp_path_factory.mktemp("runs"), value)
        optuna.load_study(study_name="study", storage=url)._storage.set_trial_state_values(trial._trial_id,
                                                                                          TrialState.FAIL)
    else:  # still RUNNING, its process dead (a SIGKILLed sweep)
        child = subprocess.Popen([sys.executable, "-c", LIVE_RUN, url, str(tmp_path_factory.mktemp("runs"))],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        run_dir = Path(child.stdout.readline().strip())
        child.stdin.close()
        child.wait(timeout=60)
        value = 0.25  # LIVE_RUN's result
    before = snapshot(url)
    processes = [subprocess.Popen([sys.executable, "-m", "sweeplab", "record", str(run_dir), "--storage", url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(copies)]
    outputs = [(*process.communicate(timeout=300), process.returncode) for process in processes]
    outputs = [(code, out, err) for out, err, code in outputs]
    assert all(code == 0 and "Traceback" not in err and "internal" not in err for code, _, err in outputs), outputs
    stored = [out for _, out, _ in outputs if "recorded trial" in out or "its result is now trial" in out]
    assert len(stored) == 1, outputs
    after = snapshot(url)
    assert len(after) == len(before) + (1 if failed else 0)
    changed = [row for row in after if row not in before]
    assert len(changed) == 1 and changed[0][1] == TrialState.COMPLETE and changed[0][2] == value, changed


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forged=st.dictionaries(st.sampled_from(["rate", "units", "data", "epochs", "optimizer"]),
                              st.one_of(st.integers(), st.text(max_size=12), st.floats(allow_nan=False)), min_size=1))
def test_an_edited_config_json_never_decides_what_is_stored_or_refit(swept, tmp_path_factory, forged):
    """Round 6's 1-a: `record` copied the run's unsigned config.json into the trial, and `refit` trained from it (a
    forged network, another data set). Whatever config.json holds, the stored config is the study's fixed values
    with the signed parameters, nothing from the file."""
    url, _ = swept
    root = tmp_path_factory.mktemp("cfg")
    run_dir, study, trial = _signed_run(url, root, 0.5, host="elsewhere-host")
    (run_dir / "config.json").write_text(json.dumps({"config": {**forged, "forged": True}}))
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    record_result(run_dir, url)
    stored = [other for other in optuna.load_study(study_name="study", storage=open_storage(url)).get_trials()
              if other.user_attrs.get("run_dir") == str(run_dir)][-1]
    fixed = (study.user_attrs.get("definition") or {}).get("fixed") or {}
    assert stored.user_attrs["config"] == {**fixed, **stored.params} and "forged" not in stored.user_attrs["config"]


@settings(max_examples=8, deadline=None, suppress_health_check=HEALTH)
@given(value=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0])), which=st.integers(0, 2))
def test_a_trial_whose_value_was_changed_is_not_said_to_hold_the_result(swept, tmp_path_factory, value, which):
    """Round 7's 1-a: a trial carrying a run's signature attribute but holding another value (an edited database)
    was said to 'already hold this result'. Only the signed value counts as held; another is refused, unchanged."""
    url, run_dirs = swept
    folder = tmp_path_factory.mktemp("edited")
    shutil.copy(file_of(url), folder / "s.db")
    edited = f"sqlite:///{folder / 's.db'}"
    trial = optuna.load_study(study_name="study", storage=edited).get_trials()[which]
    with sqlite3.connect(folder / "s.db") as connection:
        connection.execute("UPDATE trial_values SET value = ? WHERE trial_id = ?", (value, trial._trial_id))
    before = snapshot(edited)
    run_dir = next(run_dir for run_dir in run_dirs
                   if json.loads((run_dir / "trial.json").read_text())["trial_number"] == trial.number)
    if value == trial.value:
        assert "already holds" in record_result(copy_run(run_dir, tmp_path_factory), edited)
    else:
        with pytest.raises(RecordError, match="carries this run's signature but holds the value"):
            record_result(copy_run(run_dir, tmp_path_factory), edited)
    assert snapshot(edited) == before


@settings(max_examples=6, deadline=None, suppress_health_check=HEALTH)
@given(trained=st.integers(1, 64), changed=st.integers(1, 64))
def test_a_result_is_stored_with_the_fixed_values_it_trained_with(swept, tmp_path_factory, trained, changed):
    """Round 10's 1-a: after `--accept-changes` changed a fixed value, `record` stored a kept result with the new
    value (units 32) for a run that trained with the old (16). The run signs the fixed values it trains with in its
    trial.json, and those are stored, whatever the study fixes by the time of the record."""
    url, _ = swept
    study = optuna.load_study(study_name="study", storage=open_storage(url))
    trial = study.ask({"rate": FloatDistribution(0.0, 1.0)})
    run_dir = claim_trial_dir(tmp_path_factory.mktemp("fixed"), "study", trial, fixed={"units": trained})
    (run_dir / "result.json").write_text(json.dumps({"task": "toy:train", "metrics": {"val/accuracy": 0.5}}))
    assert sign_result(run_dir, study_key(study._storage, study._study_id), study._study_id, trial)
    definition = study.user_attrs["definition"]
    study._storage.set_study_user_attr(study._study_id, "definition",
                                       {**definition, "fixed": {**definition["fixed"], "units": changed}})
    try:
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        record_result(run_dir, url)
    finally:
        study._storage.set_study_user_attr(study._study_id, "definition", definition)
    stored = [other for other in optuna.load_study(study_name="study", storage=open_storage(url)).get_trials()
              if other.user_attrs.get("run_dir") == str(run_dir)][-1]
    assert stored.user_attrs["config"] == {"units": trained, **stored.params}
