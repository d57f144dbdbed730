"""Round 6's in-range nonsense (class 6), each closed where the value enters and tested over generated values: a
Literal field takes only its choices of their own type, a pruner floor at an end of the objective's range, a search
budget no trial can finish in, and a `start_with` value whose `when:` does not hold are refused at load."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeps.search_options import OptionError, check_option, metric_range
from sweeps.spec import MAX_TIMEOUT_MINUTES, MIN_TIMEOUT_MINUTES, SpecError, load_spec
from trainers.config import ConfigError, _coerce

CHOICES = (1, 2, 4)


@given(value=st.one_of(st.booleans(), st.integers(-2, 6), st.floats(-2, 6), st.sampled_from(["1", "2", 2.0, 1.0])))
def test_a_literal_field_takes_only_its_choices_of_their_own_type(value) -> None:
    """6-g: `Literal[1, 2, 4]` took `true` (== 1) and `2.0` (== 2)."""
    exact = type(value) is int and value in CHOICES
    try:
        assert _coerce("width", value, Literal[1, 2, 4]) == value
    except ConfigError as error:
        assert not exact and str(error).startswith("width: expected one of")
        return
    assert exact


@given(objective=st.sampled_from(["val/accuracy", "val/loss", "val/cse_minutes", "test/accuracy"]),
       position=st.sampled_from(["low", "high", "inside"]), fraction=st.floats(0.01, 0.99))
def test_a_pruner_floor_at_an_end_of_the_objectives_range_is_refused(objective, position, fraction) -> None:
    """6-a: `floor: 1.0` on accuracy (or 0 on a loss) pruned every trial."""
    low, high = metric_range(objective)
    value = {"low": low, "high": high}.get(position, low + fraction * (high - low) if math.isfinite(high) else
                                           low + fraction)
    if not math.isfinite(value):
        return
    try:
        check_option("floor", value, objective)
    except OptionError as error:
        assert position in ("low", "high") and "strictly inside" in str(error)
        return
    assert position == "inside"


def _study(folder: Path, body: str) -> Path:
    path = folder / "s.yaml"
    path.write_text("task: classify\nobjective: val/accuracy\nfixed: {dataset: mnist, subset: 100, epochs: 1}\n" + body)
    return path


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.one_of(st.floats(1e-300, 1e-1), st.floats(1e-1, 1e6), st.integers(1, 10**7)))
def test_a_search_budget_no_trial_finishes_in_is_refused(tmp_path_factory, minutes) -> None:
    """6-b: `timeout_minutes: 1.0e-300` ran no trial and printed a garbled summary."""
    path = _study(tmp_path_factory.mktemp("budget"), "space: {dense_units: {type: int, low: 16, high: 64}}\n"
                  f"budget: {{trials: 2, timeout_minutes: {minutes!r}}}\n")
    inside = MIN_TIMEOUT_MINUTES <= minutes <= MAX_TIMEOUT_MINUTES
    try:
        assert load_spec(path).timeout_minutes == minutes
    except SpecError as error:
        assert not inside and "budget.timeout_minutes" in str(error) and "\n" not in str(error)
        return
    assert inside


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(optimizer=st.sampled_from(["sgd", "adam", "nadam", None]), momentum=st.floats(0.0, 0.9))
def test_a_start_with_value_whose_condition_does_not_hold_is_refused(tmp_path_factory, optimizer, momentum) -> None:
    """6-c: `start_with` gave a conditional parameter whose `when:` did not hold; Optuna dropped it silently."""
    point = {"momentum": momentum, **({"optimizer": optimizer} if optimizer else {})}
    space = ("space:\n  optimizer: {type: categorical, choices: [sgd, adam, nadam]}\n"
             "  momentum: {type: float, low: 0.0, high: 0.9, when: {optimizer: [sgd]}}\n")
    path = _study(tmp_path_factory.mktemp("when"), space + f"start_with: [{point!r}]\n".replace("'", ""))
    holds = optimizer == "sgd"
    try:
        spec = load_spec(path)
    except SpecError as error:
        assert not holds and "start_with[0].momentum" in str(error) and "when:" in str(error)
        return
    assert holds and spec.start_with == [point]


@pytest.mark.parametrize("name", sorted(path.stem for path in Path("sweeps").glob("*.yaml")))
def test_every_shipped_study_still_loads(name: str) -> None:
    load_spec(name)


@given(objective=st.sampled_from(["val/accuracy", "val/loss", "val/cse_minutes", "val/frechet_distance"]),
       value=st.one_of(st.booleans(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**6),
                       st.text(max_size=4), st.none()))
def test_an_objective_value_outside_the_metrics_range_is_never_stored(objective, value) -> None:
    """6-i: a user's train returning accuracy 5.0, or `True`, was stored COMPLETE and ranked first. The value must be
    a finite number (not a bool) inside the metric's range; otherwise the trial fails with the reason."""
    from sweeps.search_options import objective_problem

    problem = objective_problem(objective, value)
    low, high = metric_range(objective)
    storable = (type(value) in (int, float) and math.isfinite(value) and low <= value <= high)
    assert (problem is None) == storable, (objective, value, problem)
    if problem is not None:
        assert objective in problem and "\n" not in problem


@given(name=st.sampled_from(["SWEEPLAB_HEARTBEAT_SECONDS", "SWEEPLAB_GRACE_SECONDS",
                             "SWEEPLAB_STORAGE_PATIENCE_SECONDS"]),
       raw=st.one_of(st.sampled_from(["1_0", "٣", "１", "1e3", "+5", "-1", "0", "inf", "nan", " 30 ", "600", "2.5"]),
                     st.text(max_size=6).filter(lambda text: "\x00" not in text)))  # no environment holds a NUL
def test_a_setting_in_the_environment_is_read_like_the_command_line(name, raw) -> None:
    """6-e: `SWEEPLAB_HEARTBEAT_SECONDS=1_0` and `=٣` were accepted (Python's int() reads both); the command line
    refuses them. A whole-number setting takes ASCII digits only; the patience, plain decimals."""
    import os

    from sweeps.storage import StorageError, heartbeat_settings
    from sweeps.storage_faults import patience_seconds

    saved = {key: os.environ.pop(key, None) for key in ("SWEEPLAB_HEARTBEAT_SECONDS", "SWEEPLAB_GRACE_SECONDS",
                                                         "SWEEPLAB_STORAGE_PATIENCE_SECONDS")}
    os.environ[name] = raw
    if name == "SWEEPLAB_GRACE_SECONDS":
        os.environ["SWEEPLAB_HEARTBEAT_SECONDS"] = "1"
    try:
        read = patience_seconds if name.endswith("PATIENCE_SECONDS") else heartbeat_settings
        try:
            read()
        except StorageError as error:
            assert name in str(error) and "\n" not in str(error)
            return
        text = raw.strip()
        plain = text.isascii() and (text.isdigit() or (name.endswith("PATIENCE_SECONDS") and
                                                        text.replace(".", "", 1).isdigit()))
        assert text == "" or plain, raw
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_runs_dir_setting_is_unset(monkeypatch, value) -> None:
    """5-b: `SWEEPLAB_RUNS_DIR= sweep` put the database and the runs into the working directory."""
    from sweeps.storage import DEFAULT_RUNS_DIR, runs_dir

    monkeypatch.setenv("SWEEPLAB_RUNS_DIR", value)
    assert runs_dir() == Path(DEFAULT_RUNS_DIR)


@given(kind=st.sampled_from([str, bool, int, float]), bounded=st.booleans(),
       stated=st.sampled_from([None, "maximize", "minimize"]), direction=st.sampled_from(["maximize", "minimize"]))
def test_a_user_declaration_that_contradicts_itself_is_refused(kind, bounded, stated, direction) -> None:
    """6-f: metrics={"val/accuracy": "minimize"} beside a maximised objective was accepted; 6-h: low/high on a str
    field was accepted and never checked. Either is one line at the declaration."""
    import dataclasses

    from trainers.user_tasks import UserTaskError, param, task

    default = {str: "a", bool: True, int: 1, float: 0.5}[kind]
    config = dataclasses.make_dataclass("Config", [("value", kind, param(default, low=0, high=2) if bounded
                                                    else dataclasses.field(default=default))])
    metrics = {"val/accuracy": stated} if stated else None

    def train(config, reporter, run_dir):
        return {"val/accuracy": 0.5}

    train.__module__ = "round6_declarations"
    contradicts = (bounded and kind in (str, bool)) or (stated is not None and stated != direction)
    try:
        task(config=config, objective="val/accuracy", direction=direction, metrics=metrics)(train)
    except UserTaskError as error:
        assert contradicts and "\n" not in str(error)
        return
    assert not contradicts


@given(name=st.one_of(st.sampled_from(["sweeplab.db", "SWEEPLAB.DB", "sweeplab.db-wal", "slurm", "results",
                                       "artifacts"]), st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True)))
def test_a_study_name_that_is_the_runs_folders_own_entry_is_refused(name) -> None:
    """5-c: `study: sweeplab.db` with the default storage failed every trial with FileExistsError (its run folder is
    the default storage file). A name the runs folder holds itself is refused; any other safe name passes."""
    from sweeps.names import RESERVED_NAMES, name_problem

    problem = name_problem(name)
    reserved = name.lower() in RESERVED_NAMES
    assert (problem is not None and "runs folder's own" in problem) == reserved
    if not reserved and ".." not in name:
        assert problem is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["SWEEPLAB_OFFLINE", "SWEEPLAB_WANDB", "SWEEPLAB_ACCEPT_CHANGES"]),
       raw=st.one_of(st.sampled_from(["1", "true", "Yes", " on ", "0", "FALSE", "no", "Off", ""]),
                     st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=8)))
def test_an_on_off_setting_takes_only_on_or_off(name, raw, capsys, monkeypatch):
    """Round 7's 6-a: `SWEEPLAB_OFFLINE=maybe` (or `TRUE.`) read as off, `SWEEPLAB_WANDB=2` as off, silently. Every
    on/off setting takes 1/true/yes/on or 0/false/no/off (any case, spaces ignored) or nothing; any other value stops
    every command at its start in one line naming the setting."""
    from datasets.settings import FLAG_VALUES, env_flag
    from sweeplab.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(name, raw)
        capsys.readouterr()
        code = main(["datasets"])
        error = capsys.readouterr().err.strip().splitlines()
        if raw.strip().lower() in FLAG_VALUES:
            assert code == 0 and env_flag(name) == FLAG_VALUES[raw.strip().lower()]
        else:
            assert code == 2 and len(error) == 1 and error[0].startswith(f"sweeplab: error: ${name}="), error
