"""Study identity: a stored study is joined only by a study file with the same definition; any change to fixed
values, the space or the promotion's fidelity is refused with every difference listed, unless accepted on purpose."""

from __future__ import annotations

import dataclasses
import os

import optuna
import pytest
from hypothesis import given
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
    return dataclasses.replace(spec, parameters=parameters)


@given(kind=st.sampled_from(["fixed", "range", "choices", "drop", "add", "promote"]), index=st.integers(0, 50),
       value=st.floats(0.0, 10.0))
def test_any_change_of_definition_is_refused_with_the_difference_named(kind, index, value):
    os.environ.pop(ACCEPT_ENV, None)
    storage = optuna.storages.InMemoryStorage()
    create_study(BASE, storage)
    changed = mutate(BASE, kind, index, value)
    with pytest.raises(StudyConflictError) as refused:
        create_study(changed, storage)
    message = str(refused.value)
    assert "\n" not in message and "--accept-changes" in message
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
