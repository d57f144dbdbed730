"""Command-line overrides: `--set key=value` parsing and strict resolution."""

from __future__ import annotations

import pytest

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
