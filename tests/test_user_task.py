"""A user's own task, outside the repository: `sweeplab init` output runs as written through sweep (SQLite, W&B
offline), refit and best; bad declarations and references are one line, no traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sweeps.best import refit_record
from tests.test_tracking_wandb import read_wandb_records

SWEEPLAB = [sys.executable, "-m", "sweeplab"]


def sweeplab(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    # the working directory is the user's folder: sweeplab must find their module there, not via PYTHONPATH
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([*SWEEPLAB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def shrink_study(path: Path) -> None:
    """The starter study at test size: 600 images, 2 epochs, 3 trials, a 1,000-image refit."""
    text = path.read_text()
    text = text.replace("subset: 6000", "subset: 600").replace("epochs: 3\n", "epochs: 2\n")
    text = re.sub(r"budget: .*", "budget: {trials: 3, timeout_minutes: 5}", text)
    text = re.sub(r"refit: .*", "refit: {subset: 1000, epochs: 2, save_model: true}", text)
    text = re.sub(r"promote: .*", "promote: {top: 1, probes: 1, set: {subset: 900}}", text)
    path.write_text(text)


def test_init_output_sweeps_refits_and_reports_outside_the_repository(tmp_path, _runs_dir):
    user = tmp_path / "my-project"
    user.mkdir()
    created = sweeplab("init", "mymodel", cwd=user)
    assert created.returncode == 0, created.stderr
    assert (user / "mymodel.py").is_file() and (user / "mymodel.yaml").is_file()
    shrink_study(user / "mymodel.yaml")
    storage = f"sqlite:///{tmp_path / 'study.db'}"

    swept = sweeplab("sweep", "mymodel.yaml", "--storage", storage, "--wandb", cwd=user)
    assert swept.returncode == 0, swept.stderr[-3000:]
    study = optuna.load_study(study_name="mymodel", storage=storage)
    finished = [trial for trial in study.trials if trial.state.is_finished()]
    promoted = [trial for trial in finished if "promoted_from" in trial.user_attrs]
    assert len(finished) == 3 + len(promoted) and 1 <= len(promoted) <= 2
    assert all(trial.user_attrs["config"]["subset"] == 900 for trial in promoted)
    complete = [trial for trial in finished if trial.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(0.0 <= trial.value <= 1.0 for trial in complete)
    assert study.user_attrs["task"] == "mymodel:train"
    # the space the user wrote is what was sampled, within its declared ranges
    for trial in complete:
        assert trial.params["optimizer"] in {"sgd", "adam", "rmsprop"}
        assert 1e-4 <= trial.params["learning_rate"] <= 1e-1
    # refit: the best configuration retrained at the refit's fidelity, saved, tested
    record = refit_record(study)
    best = max((trial for trial in complete if "promoted_from" in trial.user_attrs), key=lambda trial: trial.value)
    assert record["trial"] == best.number
    model = Path(record["model"])
    model = model if model.is_absolute() else user / model
    assert model.is_file() and model.stat().st_size > 0
    config = json.loads((model.parent / "config.json").read_text())
    assert config["task"] == "mymodel:train" and config["config"]["subset"] == 1000
    assert config["config"]["learning_rate"] == pytest.approx(best.params["learning_rate"])
    # one offline W&B run per trial, grouped by the study, its summary the objective
    runs = sorted(path for path in (_runs_dir / "wandb").glob("offline-run-*") if path.is_dir())
    assert len(runs) == len(finished)
    records = read_wandb_records(runs[0])
    assert next(record["run"] for record in records if record["type"] == "run")["run_group"] == "mymodel"

    shown = sweeplab("best", "mymodel.yaml", "--storage", storage, cwd=user)
    assert shown.returncode == 0, shown.stderr
    assert f"refit of trial #{best.number}" in shown.stdout and "test/accuracy" in shown.stdout
    assert "fidelity:" in swept.stdout and "promoted" in shown.stdout


def test_init_refuses_a_bad_name_or_an_existing_file(tmp_path):
    assert sweeplab("init", "my-model", cwd=tmp_path).returncode == 2
    (tmp_path / "taken.py").write_text("# mine\n")
    result = sweeplab("init", "taken", cwd=tmp_path)
    assert result.returncode == 2 and "exists" in result.stderr
    assert (tmp_path / "taken.py").read_text() == "# mine\n" and not (tmp_path / "taken.yaml").exists()


DECLARATION = '''
from dataclasses import dataclass
from typing import Literal
import sweeplab
from sweeplab import param

@dataclass
class Config:
    rate: float = param(0.1, low=0.0, high=1.0)
    width: int = param(8, low=1, high=64)
    kind: str = param("a", choices=("a", "b"))
    epochs: int = 1
{extra}

@sweeplab.task(config=Config, objective={objective!r}, direction={direction!r})
def train(config, reporter, run_dir):
    reporter.report(1, {{"val/accuracy": config.rate}})
    return {{"val/accuracy": config.rate}}
'''

BAD_DECLARATIONS = st.one_of(
    st.fixed_dictionaries({"extra": st.sampled_from([
        "    other: list = None", "    blob: dict = None", "    missing: int",
        "    out: float = param(5.0, low=0.0, high=1.0)", "    pick: str = param('z', choices=('a', 'b'))",
        "    late: int = param(-3, low=0, high=9)", "    flip: float = param(0.5, low=1.0, high=0.0)",
        "    word: float = param(0.5, low='a', high=1.0)"]),
        "objective": st.just("val/accuracy"), "direction": st.just("maximize")}),
    st.fixed_dictionaries({"extra": st.just(""), "objective": st.text(max_size=12).filter(
        lambda text: not re.fullmatch(r"[^/]+/[^/]+", text)), "direction": st.just("maximize")}),
    st.fixed_dictionaries({"extra": st.just(""), "objective": st.just("val/accuracy"),
                           "direction": st.text(max_size=10).filter(lambda text: text not in ("maximize",
                                                                                              "minimize"))}),
)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("sweeplab: error:")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


@settings(max_examples=int(os.environ.get("SWEEPLAB_FUZZ_EXAMPLES", 6)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(declaration=BAD_DECLARATIONS)
@example(declaration={"extra": "    flip: float = param(0.5, low=1.0, high=0.0)", "objective": "val/accuracy",
                      "direction": "maximize"})  # found by the generator: a bad param() must name its module
def test_a_bad_declaration_is_one_line(tmp_path_factory, declaration):
    folder = tmp_path_factory.mktemp("user")
    (folder / "usertask.py").write_text(DECLARATION.format(**declaration))
    (folder / "study.yaml").write_text("task: usertask:train\nspace:\n  rate: {type: float, low: 0.0, high: 1.0}\n")
    line = one_line_error(sweeplab("sweep", "study.yaml", "--storage", f"sqlite:///{folder / 's.db'}", cwd=folder,
                                   timeout=120))
    assert "usertask" in line


@pytest.mark.parametrize(("study", "expected"), [
    ("task: usertask:nothing\n", "has no 'nothing'"),
    ("task: nomodule:train\n", "no module 'nomodule'"),
    ("task: usertask:Config\n", "not declared as a task"),
    ("task: 'usertask:'\n", "expected 'module:function'"),
    ("task: usertask:train\nspace:\n  rate: {type: float, low: 0.0, high: 2.0}\n", "space.rate.high"),
    ("task: usertask:train\nspace:\n  kind: {type: categorical, choices: [a, c]}\n", "space.kind.choices[1]"),
    ("task: usertask:train\nfixed: {width: 100}\nspace:\n  rate: {type: float, low: 0.0, high: 1.0}\n", "width"),
])
def test_a_bad_reference_or_range_is_one_line_naming_the_key(tmp_path, study, expected):
    (tmp_path / "usertask.py").write_text(DECLARATION.format(extra="", objective="val/accuracy",
                                                             direction="maximize"))
    if "space" not in study:
        study += "space:\n  rate: {type: float, low: 0.0, high: 1.0}\n"
    (tmp_path / "study.yaml").write_text(study)
    line = one_line_error(sweeplab("sweep", "study.yaml", "--storage", f"sqlite:///{tmp_path / 's.db'}",
                                   cwd=tmp_path, timeout=120))
    assert expected in line


def test_a_declared_task_runs_without_a_framework(tmp_path, _runs_dir):
    """The trainer entry point is the user's function, called with the resolved, checked config."""
    (tmp_path / "usertask.py").write_text(DECLARATION.format(extra="", objective="val/accuracy",
                                                             direction="maximize"))
    (tmp_path / "study.yaml").write_text("task: usertask:train\nspace:\n  rate: {type: float, low: 0.2, high: 0.4}\n"
                                         "  kind: {type: categorical, choices: [a, b]}\n"
                                         "sampler: {name: random, seed: 1}\nbudget: {trials: 4}\n")
    storage = f"sqlite:///{tmp_path / 's.db'}"
    result = sweeplab("sweep", "study.yaml", "--storage", storage, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="study", storage=storage)
    assert [trial.value for trial in study.trials] == [trial.params["rate"] for trial in study.trials]
    assert all(0.2 <= trial.value <= 0.4 for trial in study.trials)
    refused = sweeplab("run", "usertask:train", "--set", "width=65", cwd=tmp_path, timeout=120)
    assert "width: 65 is out of range; expected a value in [1, 64]" in one_line_error(refused)
