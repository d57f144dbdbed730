"""Sampler and pruner options: any value a study file can hold is refused when the file loads (one SpecError naming
`sampler.X` / `pruner.X`) or builds a working Optuna sampler and pruner; a floor outside the objective's range is
refused."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sweeps.optuna_study import build_pruner, build_sampler
from sweeps.search_options import OPTION_TYPES, PRUNERS, SAMPLERS
from sweeps.spec import SpecError, load_spec

STUDY = {"task": "classify", "fixed": {"dataset": "mnist", "model": "geron_mlp"},
         "space": {"learning_rate": {"type": "categorical", "choices": [1e-3, 1e-2]}}}  # a grid too (6-a)
VALUES = st.one_of(st.integers(-10, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.text(max_size=8), st.just("auto"), st.none(), st.lists(st.integers(), max_size=2))


@given(section=st.sampled_from(["sampler", "pruner"]), data=st.data())
def test_every_option_value_is_checked_when_the_file_loads(tmp_path_factory, section, data):
    known = SAMPLERS if section == "sampler" else PRUNERS
    name = data.draw(st.sampled_from(sorted(known)))
    options = data.draw(st.dictionaries(st.sampled_from(sorted(known[name]) or ["floor"]), VALUES, max_size=3))
    path = tmp_path_factory.mktemp("options") / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, section: {"name": name, **options}}))
    try:
        spec = load_spec(path)
    except SpecError as error:
        assert f"{section}." in error.key and "\n" not in str(error)
        return
    for option, value in (spec.sampler if section == "sampler" else spec.pruner).items():
        kind = OPTION_TYPES.get(option, ("name",))[0]
        assert kind == "name" or (kind == "bool") == isinstance(value, bool)
        assert kind not in ("int", "int|auto") or value == "auto" or (isinstance(value, int) and value >= 0)
    build_sampler(spec.sampler)  # what loaded also builds
    build_pruner(spec.pruner)
    floor = spec.pruner.get("floor")
    assert floor is None or 0.0 <= floor <= 1.0  # val/accuracy's range


@pytest.mark.parametrize(("objective", "floor", "allowed"), [("val/accuracy", 0.2, True), ("val/accuracy", 5, False),
                                                              ("val/loss", -1, False), ("val/loss", 3.0, True)])
def test_a_floor_outside_the_objectives_range_is_refused(tmp_path, objective, floor, allowed):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "objective": objective, "pruner": {"name": "none", "floor": floor}}))
    if allowed:
        assert math.isclose(load_spec(path).pruner["floor"], floor)
    else:
        with pytest.raises(SpecError, match=r"pruner\.floor"):
            load_spec(path)
