"""A saved clock model's files as a user may hand them over: whatever a sidecar holds or a model file's bytes are,
loading gives the model or one CorruptDataError line naming the file (and the key), never an internal error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.formats import CorruptDataError
from trainers.clock.predict import InputPreparation, load_clock_model, read_sidecar

VALID = {"head": "periodic", "options": {}, "input": {"localize": True, "test_turns": [90, 180], "test_shift": 2.0}}
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)),
                    lambda children: st.one_of(st.lists(children, max_size=3),
                                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
                    max_leaves=8)


def mutated(data) -> object:
    """The valid sidecar with one part replaced by generated JSON (or an unknown key added)."""
    where = data.draw(st.sampled_from(["whole", "head", "options", "input", "localize", "test_turns", "test_shift",
                                       "extra"]))
    value = data.draw(JSON)
    sidecar = json.loads(json.dumps(VALID))
    if where == "whole":
        return value
    if where in ("head", "options", "input"):
        sidecar[where] = value
    elif where == "extra":
        sidecar["input"][data.draw(st.text(min_size=1, max_size=8))] = value
    else:
        sidecar["input"][where] = value
    return sidecar


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_sidecar_loads_checked_or_is_refused_in_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("sidecar") / "model.head.json"
    text = data.draw(st.one_of(st.builds(lambda: None), st.text(max_size=30)))
    path.write_text(json.dumps(mutated(data)) if text is None else text)
    try:
        head, preparation = read_sidecar(path)
    except CorruptDataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    assert isinstance(preparation, InputPreparation) and head.name
    assert isinstance(preparation.localize, bool) and 0 <= preparation.test_shift <= 16
    assert all(-360 <= turn <= 360 for turn in preparation.test_turns)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=10)
@given(content=st.binary(max_size=300))
def test_a_model_file_that_is_not_a_model_is_refused_in_one_line(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("model")
    (folder / "model.keras").write_bytes(content)
    (folder / "model.head.json").write_text(json.dumps(VALID))
    with pytest.raises(CorruptDataError, match="not a readable Keras model") as refused:
        load_clock_model(folder / "model.keras")
    assert "\n" not in str(refused.value)
