"""Study identity: a stored study is joined only by a study file with the same definition; any change to fixed
values, the space or the promotion's fidelity is refused with every difference listed, unless accepted on purpose."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeps.joining import ACCEPT_ENV, DEFINITION_ATTR, StudyConflictError
from sweeps.optuna_study import create_study
from sweeps.space import Parameter
from sweeps.spec import load_spec

BASE = load_spec("fashion-mlp-user")


def mutate(spec, kind: str, index: int, value: float):
    """One change of the kind a user makes between two runs of a study file."""
    parameters = list(spec.parameters)
    position = index % len(parameters)
    parameter = parameters[position]
    if kind == "fixed":
        return dataclasses.replace(spec, fixed={**spec.fixed, "subset": spec.fixed["subset"] + 1 + index})
    if kind == "promote":
        return dataclasses.replace(spec, promote={**spec.promote, "set": {**spec.promote["set"], "epochs": 7 + index}})
    if kind == "range" and parameter.kind != "categorical":
        parameters[position] = dataclasses.replace(parameter, high=parameter.high * (1.5 + value))
    elif kind == "choices" or parameter.kind == "categorical":
        extra = "added-choice" if parameter.kind == "categorical" else None
        parameters[position] = (dataclasses.replace(parameter, choices=(*parameter.choices, extra)) if extra else
                                dataclasses.replace(parameter, log=not parameter.log, low=max(parameter.low, 1e-6)))
    elif kind == "drop":
        del parameters[position]
    elif kind == "add":
        parameters.append(Parameter(f"new_{index}", "float", low=0.0, high=1.0 + value))
    elif kind == "kind":  # an integer range declared as a float range, or back (round 7's 2-a)
        parameters[position] = dataclasses.replace(parameter, kind="float" if parameter.kind == "int" else "int",
                                                   low=1, high=8, log=False, step=None, choices=None)
    return dataclasses.replace(spec, parameters=parameters)


def _optuna_refuses(before, after) -> bool:
    """Optuna's own verdict: would a trial of `after` fail in a study holding trials of `before`?"""
    old = {parameter.name: parameter.distribution() for parameter in before.parameters}
    for parameter in after.parameters:
        try:
            if parameter.name in old:
                optuna.distributions.check_distribution_compatibility(old[parameter.name], parameter.distribution())
        except ValueError:
            return True
    return False


@given(kind=st.sampled_from(["fixed", "range", "choices", "drop", "add", "promote", "kind"]),
       index=st.integers(0, 50), value=st.floats(0.0, 10.0))
def test_any_change_of_definition_is_refused_with_the_difference_named(kind, index, value):
    os.environ.pop(ACCEPT_ENV, None)
    storage = optuna.storages.InMemoryStorage()
    create_study(BASE, storage)
    changed = mutate(BASE, kind, index, value)
    with pytest.raises(StudyConflictError) as refused:
        create_study(changed, storage)
    message = str(refused.value)
    assert "\n" not in message and "--accept-changes" in message
    if _optuna_refuses(BASE, changed):  # round 6's and 7's 2-a: Optuna would fail every trial
        assert "changed kind, log scale or choices, also not with --accept-changes" in message
        os.environ[ACCEPT_ENV] = "1"
        try:
            with pytest.raises(StudyConflictError, match="also not with --accept-changes"):
                create_study(changed, storage)
        finally:
            os.environ.pop(ACCEPT_ENV)
        return
    assert {"fixed": "fixed.subset", "promote": "promoted_fidelity.epochs"}.get(kind, "space.") in message
    os.environ[ACCEPT_ENV] = "1"  # continuing on purpose stores the new definition
    try:
        create_study(changed, storage)
    finally:
        os.environ.pop(ACCEPT_ENV)
    create_study(changed, storage)  # the changed file now joins without asking
    with pytest.raises(StudyConflictError):
        create_study(BASE, storage)


def test_the_same_definition_and_other_budgets_join(monkeypatch):
    monkeypatch.delenv(ACCEPT_ENV, raising=False)
    storage = optuna.storages.InMemoryStorage()
    create_study(BASE, storage)
    same = dataclasses.replace(BASE, trials=3, timeout_minutes=1.0, sampler={"name": "random", "seed": 4},
                               refit=None, start_with=[], description="other words")
    assert create_study(same, storage).user_attrs[DEFINITION_ATTR]["fixed"]["subset"] == BASE.fixed["subset"]


# ---------------------------------------------------------------- 2-A: --set is part of the definition compared
FIXED_KEYS = sorted(BASE.fixed)
SEARCHED = sorted(parameter.name for parameter in BASE.parameters)


def _other(value):
    """A value unlike `value` of the same kind (what a `--set` on the command line gives)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    return f"{value}-other"


SET_OVERRIDES = st.one_of(
    st.lists(st.sampled_from(FIXED_KEYS), min_size=1, max_size=3, unique=True).map(
        lambda keys: {key: _other(BASE.fixed[key]) for key in keys}),  # a fixed value changed: subset=100, epochs=10
    st.lists(st.sampled_from(SEARCHED), min_size=1, max_size=2, unique=True).map(
        lambda keys: {key: 0.5 for key in keys}),  # a searched parameter pinned: it leaves the space
)


@pytest.fixture(scope="module")
def stored_base(tmp_path_factory):
    """A real SQLite storage holding the study (each example only joins it; a refused join writes nothing)."""
    from sweeps.storage import open_storage

    os.environ.pop(ACCEPT_ENV, None)
    storage = open_storage(f"sqlite:///{tmp_path_factory.mktemp('set') / 'set.db'}")
    create_study(BASE, storage)
    return storage


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=SET_OVERRIDES)
def test_a_set_that_changes_the_stored_definition_is_refused_naming_the_key(stored_base, overrides):
    """`sweep STUDY --set k=v` (and agent/agents/slurm, which pass --set alike) on a stored study: refused, the key
    listed as coming from --set, unless --accept-changes; a --set equal to the stored value joins."""
    from sweeps.joining import check_join, definition

    os.environ.pop(ACCEPT_ENV, None)
    with pytest.raises(StudyConflictError) as refused:
        check_join(stored_base, BASE, overrides)
    message = str(refused.value)
    assert "\n" not in message and "--accept-changes" in message and "new study" in message
    for key, value in overrides.items():
        assert f"--set {key}={value}" in message
        assert (f"fixed.{key}" if key in BASE.fixed else f"space.{key}") in message
    check_join(stored_base, BASE, {key: BASE.fixed[key] for key in FIXED_KEYS[:2]})  # the same values: joins
    os.environ[ACCEPT_ENV] = "1"
    try:
        check_join(stored_base, BASE, overrides)  # on purpose
    finally:
        os.environ.pop(ACCEPT_ENV)
    wanted = definition(BASE, overrides)
    assert all(wanted["fixed"][key] == value for key, value in overrides.items())
    assert not set(overrides) & set(wanted["space"])


# ---------------------------------------------------------------- 2-B: the task's code defaults are compared
USER_TASK = '''
from dataclasses import dataclass
import sweeplab
from sweeplab import param

@dataclass
class Config:
    rate: float = param(0.5, low=0.0, high=1.0)
    dropout: float = param({dropout}, low=0.0, high=1.0)
    units: int = param(8, low=1, high=64)

@sweeplab.task(config=Config, objective="val/accuracy", direction="maximize")
def train(config, reporter, run_dir):
    return {{"val/accuracy": config.rate}}
'''


def _user_study(folder: Path, module: str, dropout: float, fixed: str = "units: 8"):
    import sys

    from sweeps.spec import load_spec
    from trainers.registry import TASKS

    (folder / f"{module}.py").write_text(USER_TASK.format(dropout=dropout))
    (folder / "study.yaml").write_text(f"study: mine\ntask: {module}:train\nfixed: {{{fixed}}}\n"
                                       "space:\n  rate: {type: float, low: 0.0, high: 1.0}\n")
    TASKS.pop(f"{module}:train", None)  # the code changed: import it again
    sys.modules.pop(module, None)
    return load_spec(folder / "study.yaml")


@given(old=st.sampled_from([0.0, 0.2, 0.5]), new=st.sampled_from([0.1, 0.9]))
def test_a_changed_default_of_the_task_code_is_listed(old, new, tmp_path_factory):
    from sweeps.storage import open_storage

    os.environ.pop(ACCEPT_ENV, None)
    folder = tmp_path_factory.mktemp("user-task")
    module = f"usertask_{folder.name.replace('-', '_')}"
    storage = open_storage(f"sqlite:///{folder / 'u.db'}")
    create_study(_user_study(folder, module, old), storage)
    create_study(_user_study(folder, module, old), storage)  # the same code joins
    changed = _user_study(folder, module, new)
    with pytest.raises(StudyConflictError, match=rf"task_defaults\.dropout: {old!r} -> {new!r}"):
        create_study(changed, storage)


def test_a_study_stored_before_defaults_were_compared_joins_and_gets_them(tmp_path):
    from sweeps.storage import open_storage

    os.environ.pop(ACCEPT_ENV, None)
    module = f"usertask_old_{tmp_path.name.replace('-', '_')}"
    storage = open_storage(f"sqlite:///{tmp_path / 'old.db'}")
    study = create_study(_user_study(tmp_path, module, 0.2), storage)
    old = {key: value for key, value in study.user_attrs[DEFINITION_ATTR].items() if key != "task_defaults"}
    study.set_user_attr(DEFINITION_ATTR, old)  # as stored before this field existed
    joined = create_study(_user_study(tmp_path, module, 0.2), storage)
    assert joined.user_attrs[DEFINITION_ATTR]["task_defaults"] == {"dropout": 0.2}
    with pytest.raises(StudyConflictError, match=r"task_defaults\.dropout"):
        create_study(_user_study(tmp_path, module, 0.9), storage)


@pytest.mark.parametrize("dry_run", [True, False])
def test_slurm_refuses_a_changed_study_before_writing_a_script(tmp_path, monkeypatch, capsys, dry_run):
    """Round 6's 2-c: `slurm --dry-run` printed a script for a study file that differs from the stored study (every
    array task would then be refused). Like `sweep` and `agent`, it is refused in one line, nothing written."""
    from test_cli_errors import assert_one_line_error, run_main

    monkeypatch.delenv(ACCEPT_ENV, raising=False)
    monkeypatch.setenv("SWEEPLAB_RUNS_DIR", str(tmp_path / "runs"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_study(BASE, url)
    code = run_main(["slurm", "fashion-mlp-user", "--storage", url, "--set", f"subset={BASE.fixed['subset'] + 1}",
                     *(["--dry-run"] if dry_run else [])])
    assert_one_line_error(capsys, code, "defined differently", "fixed.subset")
    assert not (tmp_path / "runs" / "slurm").exists()


# ---------------------------------------------------------------- round 6's 3-f: parameters no definition had
@settings(max_examples=25, deadline=None)
@given(name=st.text(min_size=1, max_size=20), accepted=st.booleans(),
       dropped=st.sampled_from([parameter.name for parameter in BASE.parameters if parameter.kind != "categorical"]))
def test_a_trial_parameter_no_definition_of_the_study_had_is_damage(name, dropped, accepted):
    """A trial row holding a parameter `name` that neither the study's definition nor one it replaced with
    --accept-changes searched or fixed (a hand-edited database) is refused where trials are ranked and where a sweep
    joins the study; a parameter
    dropped from the space with --accept-changes is still the study's own, and ranks."""
    from analysis.best import best_trials
    from sweeps.storage_faults import StorageCorruptError

    storage = optuna.storages.InMemoryStorage()
    study = create_study(BASE, storage)
    if accepted:
        os.environ[ACCEPT_ENV] = "1"
        try:
            names = [parameter.name for parameter in BASE.parameters]
            joined = mutate(BASE, "drop", names.index(dropped), 0.0)
            study = create_study(joined, storage)
        finally:
            del os.environ[ACCEPT_ENV]
    params = {"learning_rate": 1e-3, dropped: 1}
    distributions = {key: optuna.distributions.CategoricalDistribution([value]) for key, value in params.items()}
    held = dropped if accepted else name
    if held not in params:
        params[held] = 0.5
        distributions[held] = optuna.distributions.FloatDistribution(0.0, 1.0)
    study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=0.5))
    known = {parameter.name for parameter in BASE.parameters} | set(BASE.fixed)
    try:  # round 9's 2-a: found when a sweep joins, before it trains, not at its closing table
        create_study(joined if accepted else BASE, storage)
    except StorageCorruptError as error:
        assert not accepted and name not in known and f"holds parameter {name!r}" in str(error)
    else:
        assert accepted or name in known
    try:
        rows = best_trials(study)
    except StorageCorruptError as error:
        assert not accepted and name not in known and "\n" not in str(error)
        assert f"holds parameter {name!r}, which no definition of the study searched or fixed" in str(error)
        return
    assert accepted or name in known
    assert rows[0][held] == params[held]


@given(default=st.sampled_from([0.0, 0.5]), written=st.sampled_from([0.0, 0.5, 0.25]), first=st.booleans())
def test_a_fixed_value_equal_to_the_tasks_default_is_the_same_study(default, written, first, tmp_path_factory):
    """Round 7's 2-b: `dropout: 0.5` written out under `fixed:` when the task's default is 0.5 was refused as
    `fixed.dropout: None -> 0.5; task_defaults.dropout: 0.5 -> None`. Written out or left to the default, the same
    value joins, in either order; another value is refused naming `fixed.dropout`."""
    from sweeps.storage import open_storage

    os.environ.pop(ACCEPT_ENV, None)
    folder = tmp_path_factory.mktemp("written")
    module = f"usertask_{folder.name.replace('-', '_')}"
    storage = open_storage(f"sqlite:///{folder / 'u.db'}")
    plain, explicit = (_user_study(folder, module, default), _user_study(folder, module, default,
                                                                          f"units: 8, dropout: {written}"))
    create_study(plain if first else explicit, storage)
    other = explicit if first else plain
    if written == default:
        create_study(other, storage)
        return
    with pytest.raises(StudyConflictError) as refused:
        create_study(other, storage)
    assert "fixed.dropout" in str(refused.value) and "task_defaults" not in str(refused.value)


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(["same", "range", "choices", "kind", "add", "drop"]), index=st.integers(0, 50))
def test_a_study_without_its_stored_definition_is_compared_by_its_trials(kind, index, tmp_path_factory):
    """Round 8's 3-d: with the study's `definition` row deleted, a study file with another range joined without a word
    and stored its definition. The trials' own distributions now stand in for the definition."""
    import sqlite3

    from sweeps.space import suggest_all
    from sweeps.storage import open_storage

    os.environ.pop(ACCEPT_ENV, None)
    folder = tmp_path_factory.mktemp("nodefinition")
    url = f"sqlite:///{folder / 's.db'}"
    study = create_study(BASE, open_storage(url))
    trial = study.ask()
    suggest_all(BASE.parameters, trial)
    study.tell(trial, 0.5)
    with sqlite3.connect(folder / "s.db") as connection:
        connection.execute("DELETE FROM study_user_attributes WHERE key = ?", (DEFINITION_ATTR,))
    changed = BASE if kind == "same" else mutate(BASE, kind, index, 0.5)
    held = optuna.load_study(study_name=BASE.name, storage=url).trials[0].distributions
    differs = any(parameter.name in held and held[parameter.name] != parameter.distribution()
                  for parameter in changed.parameters)
    if not differs:
        create_study(changed, open_storage(url))
        return
    with pytest.raises(StudyConflictError, match="no stored definition to compare"):
        create_study(changed, open_storage(url))
