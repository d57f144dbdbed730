"""`sweeplab record` stores only what a run produced for that trial: whatever is edited, swapped or replayed in a run
directory is refused in one line; a genuine result is stored once; a trial that is still alive is never overwritten.
A user's toy task (no framework) makes the runs quick."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState

from sweeps.record import RecordError, record_result
from sweeps.result_signature import SIGNATURE_FILE, sign_result, study_key
from sweeps.run_identity import claim_trial_dir
from sweeps.storage import open_storage

TOY = '''
from dataclasses import dataclass
import sweeplab
from sweeplab import param

@dataclass
class Config:
    rate: float = param(0.5, low=0.0, high=1.0)

@sweeplab.task(config=Config, objective="val/accuracy", direction="maximize")
def train(config, reporter, run_dir):
    return {"val/accuracy": config.rate}
'''


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished three-trial study of the toy task; its run directories carry signed results."""
    folder = tmp_path_factory.mktemp("record")
    (folder / "toy.py").write_text(TOY)
    (folder / "study.yaml").write_text("task: toy:train\nspace:\n  rate: {type: float, low: 0.0, high: 1.0}\n"
                                       "sampler: {name: random, seed: 1}\nbudget: {trials: 3}\n")
    url = f"sqlite:///{folder / 's.db'}"
    env = {**{key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
           "SWEEPLAB_RUNS_DIR": str(folder / "runs")}
    result = subprocess.run([sys.executable, "-m", "sweeplab", "sweep", "study.yaml", "--storage", url], cwd=folder,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dirs = sorted(path.parent for path in (folder / "runs" / "study").glob("*/result.json"))
    assert len(run_dirs) == 3 and all((run_dir / SIGNATURE_FILE).is_file() for run_dir in run_dirs)
    return url, run_dirs


def values(url: str) -> list[float]:
    return sorted(trial.value for trial in optuna.load_study(study_name="study", storage=url).trials
                  if trial.state == TrialState.COMPLETE)


TAMPER = st.one_of(
    st.tuples(st.just("value"), st.floats(allow_nan=False, allow_infinity=False)),
    st.tuples(st.just("swap"), st.integers(1, 2)),
    st.tuples(st.just("trial"), st.integers(-3, 50)),
    st.tuples(st.just("signature"), st.text(alphabet="0123456789abcdef", min_size=0, max_size=64)),
    st.tuples(st.just("none"), st.just(0)),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tamper=TAMPER)
def test_record_stores_only_a_signed_result_once(swept, tmp_path_factory, tamper):
    url, run_dirs = swept
    before = values(url)
    run_dir = tmp_path_factory.mktemp("copy") / "run"
    shutil.copytree(run_dirs[0], run_dir)
    kind, detail = tamper
    result_path, identity_path = run_dir / "result.json", run_dir / "trial.json"
    if kind == "value":
        result = json.loads(result_path.read_text())
        result["metrics"]["val/accuracy"] = detail
        result_path.write_text(json.dumps(result))
    elif kind == "swap":  # another run's genuine result under this run's identity
        shutil.copy(run_dirs[detail] / "result.json", result_path)
    elif kind == "trial":
        identity = json.loads(identity_path.read_text())
        identity["trial_number"] = detail
        identity_path.write_text(json.dumps(identity))
    elif kind == "signature":
        (run_dir / SIGNATURE_FILE).write_text(detail)
    tampered = kind != "none" and not (kind == "value" and detail == json.loads(
        (run_dirs[0] / "result.json").read_text())["metrics"]["val/accuracy"])
    tampered = tampered and not (kind == "trial" and detail == json.loads(
        (run_dirs[0] / "trial.json").read_text())["trial_number"])
    if tampered:
        with pytest.raises(RecordError, match="not signed by its run"):
            record_result(run_dir, url)
    else:
        assert "already holds" in record_result(run_dir, url)
    assert values(url) == before  # nothing added, nothing changed


def test_a_live_trial_is_never_overwritten_and_a_dead_one_is_recorded_once(swept, tmp_path):
    url, _ = swept
    study = optuna.load_study(study_name="study", storage=open_storage(url))
    trial = study.ask({"rate": optuna.distributions.FloatDistribution(0.0, 1.0)})
    run_dir = claim_trial_dir(tmp_path / "runs", "study", trial)  # this (living) process owns it
    (run_dir / "result.json").write_text(json.dumps({"task": "toy:train", "metrics": {"val/accuracy": 0.25}}))
    sign_result(run_dir, study_key(study._storage, study._study_id), study._study_id)
    with pytest.raises(RecordError, match="still running"):
        record_result(run_dir, url)
    assert study._storage.get_trial(trial._trial_id).state == TrialState.RUNNING
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    identity = json.loads((run_dir / "trial.json").read_text())
    (run_dir / "trial.json").write_text(json.dumps({**identity, "pid": int(dead.stdout)}))
    assert "recorded trial" in record_result(run_dir, url)
    assert "already holds" in record_result(run_dir, url)
    stored = study._storage.get_trial(trial._trial_id)
    assert stored.state == TrialState.COMPLETE and stored.value == 0.25
    assert Path(stored.user_attrs["run_dir"]) == run_dir
