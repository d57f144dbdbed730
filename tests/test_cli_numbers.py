"""Every whole-number option of every subcommand goes through one door (sweeplab.numbers.whole_number): found by
walking the real parser, so an option added later with a bare `type=int` fails here, and each is fed generated
text (signs, exponents, `1_0`, other digits, huge counts) that must either parse within its range or be refused
by argparse in one line naming the option."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sweeplab.cli import build_parser


def _numeric_options() -> list[tuple[tuple[str, ...], argparse.Action]]:
    """(subcommand path, action) of every option whose value is parsed as a number, in every subparser."""
    found: list[tuple[tuple[str, ...], argparse.Action]] = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, (*path, name))
            elif action.type in (int, float) or getattr(action.type, "__name__", "") == "whole number":
                found.append((path, action))

    walk(build_parser(), ())
    return found


OPTIONS = _numeric_options()


def test_no_integer_option_bypasses_the_door() -> None:
    assert len(OPTIONS) >= 15  # --n, --trials, --top, --workers, --seed, --port, --agents, ... across subcommands
    bare = [(" ".join(path), action.option_strings) for path, action in OPTIONS if action.type in (int, float)]
    assert bare == [], f"options parsed with a bare int/float type: {bare}"


def _argv(path: tuple[str, ...], option: str, text: str) -> list[str]:
    """A command line that reaches the option: required positionals get a placeholder."""
    parser = build_parser()
    argv = list(path)
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    for action in parser._actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction) and action.nargs is None:
            argv.append("x" if not action.choices else next(iter(action.choices)))
        elif action.required and action.option_strings:
            argv += [action.option_strings[0], "x"]
    return [*argv, f"{option}={text}"]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, len(OPTIONS) - 1),
       text=st.one_of(st.integers(-10**40, 10**40).map(str), st.text(max_size=8),
                      st.sampled_from(["1e3", "1_0", "+2", " 3 ", "0x10", "٣", "１", "inf", "nan", "2.0", ""])))
@example(index=0, text="1000")
def test_every_number_is_parsed_within_range_or_refused_in_one_line(index: int, text: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path, action = OPTIONS[index]
    option = action.option_strings[0]
    try:
        args = build_parser().parse_args(_argv(path, option, text))
    except SystemExit as refused:
        err = capsys.readouterr().err.strip()
        assert refused.code == 2 and len(err.splitlines()) == 1, err
        assert option in err and repr(text) in err, err
        assert not _allowed(action, text), (path, option, text)  # refused only what lies outside the door
        return
    value = getattr(args, action.dest)
    assert _allowed(action, text) and value == int(text.strip()) and type(value) is int, (path, option, text, value)


def _allowed(action: argparse.Action, text: str) -> bool:
    """Plain ASCII digits within the option's declared bounds."""
    low, high = action.type.bounds()
    digits = text.strip()
    return digits.isascii() and digits.isdigit() and len(digits) <= 30 and low <= int(digits) <= (high or int(digits))


@pytest.mark.parametrize(("argv", "allowed"), [
    (["agents", "s", "--n", "1000"], "two per CPU"),  # round 2's 6-a: a thousand agents on two cores
    (["results", "--workers", "99"], "two per CPU"),
    (["clocks", "render", "--out", "o", "--workers", "99"], "two per CPU"),
    (["slurm", "s", "--agents", "5000"], "MaxArraySize"),
    (["dashboard", "--port", "70000"], "TCP port"),
])
def test_counts_beyond_the_machine_are_refused_with_the_reason(argv: list[str], allowed: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err.strip()
    assert refused.value.code == 2 and allowed in err and len(err.splitlines()) == 1, err
