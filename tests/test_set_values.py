"""Class 6 (round 5's 5-d, 6-a, 6-b): a command-line value (`--set`, `--refit-set`) is one YAML scalar written out
whole. YAML would silently drop a comment (`units=32 #64` trained at 32), read an anchor, tag or document marker
as decoration, or make a list or mapping of it; each is refused in one line naming the option and the key, at
every command that takes such a value (found by walking the real parser)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_cli_errors import assert_one_line_error, run_main

from sweeplab.cli import build_parser
from trainers.config import ConfigError, parse_assignment
from trainers.safe_yaml import CORE_FLOAT, CORE_INT

VALUES = st.one_of(st.integers(-10**6, 10**6).map(str), st.sampled_from(["1e-3", "0.5", "true", "adam", "relu",
                                                                          "'quoted'", '"he_normal"', "glorot"]))
# YAML syntax that, around a value, makes it something other than the value typed.
DECORATIONS = st.sampled_from([
    lambda v: f"{v} #64", lambda v: f"{v}  # note", lambda v: f"&a {v}", lambda v: f"!!str {v}", lambda v: f"!x {v}",
    lambda v: f"*{v}", lambda v: f"[{v}]", lambda v: f"{{{v}: 1}}", lambda v: f"- {v}", lambda v: f"? {v}",
    lambda v: f"--- {v}", lambda v: f"{v}\n#SBATCH --x", lambda v: f"{v}\r", lambda v: f"{v}\tx",
    lambda v: f"{v}\u2028", lambda v: f"{v}\x85", lambda v: f"\u200b{v}",
    lambda v: f"k: {v}", lambda v: f"%YAML 1.2\n--- {v}", lambda v: f"{v} ...",
])


@given(value=VALUES, decorate=DECORATIONS, option=st.sampled_from(["--set", "--refit-set"]))
def test_a_value_with_yaml_decoration_is_refused_naming_option_and_key(value, decorate, option) -> None:
    text = decorate(value)
    try:
        _, read = parse_assignment(f"units={text}", option)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"{option} units: ") and "\n" not in message
        return
    # not YAML at all (`*0.5` is no alias name) or a plain word with a trailing "...": read as the text typed
    assert read == text.strip(), (text, read)


@given(text=st.text(max_size=12))
@example(text=">").via("CI 2026-12-06: a folded block scalar was read as the empty string")
@example(text=" |- ")
def test_an_accepted_value_is_exactly_what_was_typed(text) -> None:
    """Whatever is accepted covers the whole text: a number is a YAML 1.2 literal of all of it, a word is all of it
    (or what is inside its quotes); nothing typed is silently dropped."""
    try:
        _, read = parse_assignment(f"units={text}")
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    typed = text.strip()
    assert all(char.isprintable() for char in text)
    if isinstance(read, bool):
        assert typed in ("true", "false", "True", "False", "TRUE", "FALSE")
    elif isinstance(read, int):
        assert CORE_INT.match(typed)
    elif isinstance(read, float):
        assert CORE_FLOAT.match(typed) or math.isnan(read)
    elif read is None:
        assert typed in ("null", "Null", "NULL", "~")
    else:
        assert read == typed or (typed[:1] in "'\"" and typed[-1:] == typed[:1]), (text, read)


def _set_options() -> list[tuple[tuple[str, ...], str]]:
    """(subcommand path, option) of every option that takes KEY=VALUE config values."""
    found: list[tuple[tuple[str, ...], str]] = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, (*path, name))
            elif action.metavar == "KEY=VALUE":
                found.extend((path, option) for option in action.option_strings or [""])  # "": positional

    walk(build_parser(), ())
    return found


SET_OPTIONS = _set_options()


def _option_strings(path: tuple[str, ...]) -> set[str]:
    parser = build_parser()
    for name in path:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return {option for action in parser._actions for option in action.option_strings}


def _accepted(text: str) -> bool:
    try:
        parse_assignment(f"x={text}")
    except ConfigError:
        return False
    return True


def test_the_commands_that_take_values_are_found() -> None:
    commands = {path[0] for path, _ in SET_OPTIONS}
    assert {"run", "sweep", "agent", "slurm", "agents", "wandb-run", "refit"} <= commands, commands


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, len(SET_OPTIONS) - 1), decorate=DECORATIONS, value=st.sampled_from(["16", "32"]))
def test_every_command_refuses_a_decorated_value_before_anything_starts(index, decorate, value, tmp_path_factory,
                                                                      capsys) -> None:
    path, option = SET_OPTIONS[index]
    work = tmp_path_factory.mktemp("setv")
    storage = work / "never.db"
    text = decorate(value)
    if isinstance(parse_assignment(f"x={text}")[1], str) if _accepted(text) else False:
        return  # read as the text typed (not YAML): an integer field refuses it in its own words
    options = _option_strings(path)
    argv = [*path, "mnist-mlp", option, f"dense_units={text}"]
    if "--storage" in options:
        argv += ["--storage", f"sqlite:///{storage}"]
    if "--run-dir" in options:
        argv += ["--run-dir", str(work / "rd")]
    if not option:  # W&B's agent passes the values as words
        argv = [*path, "--study", "mnist-mlp", f"dense_units={text}"]
    code = run_main(argv)
    assert code == 2
    assert_one_line_error(capsys, code, option or "W&B argument", "dense_units")
    assert not storage.exists() and not (work / "rd").exists()
    runs = Path(os.environ["SWEEPLAB_RUNS_DIR"])
    assert not runs.exists() or not any(runs.rglob("config.json")), "no run may start"


def test_the_reported_cases(capsys) -> None:
    for text in ("units=32 #64", "units=&a 16", "units=16\n#SBATCH --x"):
        with pytest.raises(ConfigError, match=r"^--set units: "):
            parse_assignment(text)
    assert parse_assignment("units=32") == ("units", 32)
    assert parse_assignment("activation=a#b") == ("activation", "a#b")  # '#' inside a word is no comment
