"""Command-line overrides: `--set key=value` parsing and strict resolution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainers import get_task, resolve_config
from trainers.config import ConfigError, parse_assignment


@pytest.mark.parametrize(("text", "expected"), [
    ("epochs=3", ("epochs", 3)), ("learning_rate=1e-3", ("learning_rate", 0.001)),
    ("nesterov=true", ("nesterov", True)),
    ("optimizer=adam", ("optimizer", "adam")), (" subset = 0 ", ("subset", 0)),
])
def test_parse_assignment_reads_values_as_yaml(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["epochs", "=3", ""])
def test_parse_assignment_refuses_malformed_pairs(text):
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_assignment(text)


@given(name=st.text(max_size=20), field=st.sampled_from(["activation", "kernel_initializer"]))
def test_an_unknown_activation_or_initializer_is_refused_when_the_config_resolves(name, field):
    """A typo in a string the model reads is refused before any data loads, naming the key and the allowed names."""
    from typing import get_args

    from trainers.choices import Activation, Initializer

    allowed = get_args(Activation if field == "activation" else Initializer)
    task = get_task("classify")
    if name in allowed:
        assert getattr(resolve_config(task, {field: name}), field) == name
        return
    with pytest.raises(ConfigError, match=f"^{field}: expected one of"):
        resolve_config(task, {field: name})
