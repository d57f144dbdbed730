"""In-range nonsense (docs/defences.md, class 6): a space entry Optuna would silently shrink, and a `--set` or study
file literal of the wrong type, are refused in one line naming where they came from; the two paths agree."""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sweeplab.commands import parse_overrides
from sweeps.spec import SpecError, load_spec
from trainers.config import ConfigError
from trainers.runner import resolve_config

FIXED = {"dataset": "fashion_mnist", "model": "cpu_mlp", "subset": 2000, "epochs": 1}


def write_study(directory: str, space: dict | None = None, fixed_text: str = "") -> Path:
    path = Path(directory) / "s.yaml"
    fixed = json.dumps(FIXED)[:-1] + (f", {fixed_text}}}" if fixed_text else "}")
    space = space or {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}
    path.write_text(f"task: classify\nfixed: {fixed}\nspace: {json.dumps(space)}\n")
    return path


# --- space entries: low/high/step/log combinations --------------------------------------------------------------

@st.composite
def space_entries(draw: st.DrawFn) -> tuple[str, dict]:
    kind = draw(st.sampled_from(["float", "int"]))
    if kind == "float":
        low, high = sorted(draw(st.lists(st.floats(1e-6, 1.0), min_size=2, max_size=2, unique=True)))
        whole = st.integers(1, 50).map(lambda k: (high - low) / k)  # steps that usually divide the range
        step = draw(st.one_of(st.none(), whole, st.floats(1e-6, 2.0), st.sampled_from([1, 1.0, 0.1])))
    else:
        low, high = sorted(draw(st.lists(st.integers(1, 2000), min_size=2, max_size=2, unique=True)))
        divisors = [k for k in range(1, min(high - low, 400) + 1) if (high - low) % k == 0]
        step = draw(st.one_of(st.none(), st.sampled_from(divisors), st.integers(1, 3000), st.sampled_from([1.0, 2.5])))
    entry = {"type": kind, "low": low, "high": high}
    if step is not None:
        entry["step"] = step
    if draw(st.booleans()):
        entry["log"] = True
    return ("learning_rate" if kind == "float" else "dense_units"), entry


@given(space_entries())
@example(("learning_rate", {"type": "float", "low": 1e-4, "high": 1e-1, "step": 1.0}))  # the adversarial report's 6-A
@example(("learning_rate", {"type": "float", "low": 1e-4, "high": 1e-1, "step": 1.0, "log": True}))
@example(("dense_units", {"type": "int", "low": 16, "high": 100, "step": 32}))
def test_a_space_entry_is_refused_or_searched_exactly_as_written(named: tuple[str, dict]) -> None:
    name, entry = named
    with tempfile.TemporaryDirectory() as directory:
        path = write_study(directory, {name: entry})
        try:
            spec = load_spec(path)
        except SpecError as error:
            assert str(error).startswith(f"{path}: space.{name}") and "\n" not in str(error), str(error)
            return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna warns when it replaces a range it cannot step through
        distribution = spec.parameter(name).distribution()
    assert (distribution.low, distribution.high) == (entry["low"], entry["high"])
    assert distribution.log == entry.get("log", False)


@given(st.lists(st.sampled_from(["relu", "elu", "selu", "tanh", "gelu"]), min_size=1, max_size=7))
@example(["relu", "relu"])  # round 2 of the adversarial run: trained, the repeat silently weighting the draws
def test_a_categorical_space_lists_each_choice_once(choices: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = write_study(directory, {"activation": {"type": "categorical", "choices": choices}})
        if len(set(choices)) < len(choices):
            with pytest.raises(SpecError, match=rf"^{re.escape(str(path))}: space.activation.choices: .*twice"):
                load_spec(path)
        else:
            assert load_spec(path).parameter("activation").distribution().choices == tuple(choices)


# --- `--set` and study-file literals for int, float and bool fields -----------------------------------------------

INT_FIELD, FLOAT_FIELD, BOOL_FIELD = "epochs", "learning_rate", "save_model"
INT_LITERAL = re.compile(r"[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+")
BOOL_LITERAL = re.compile(r"true|True|TRUE|false|False|FALSE")


def underscored(number: int) -> str:
    text = str(number)
    return text[:1] + "_" + text[1:] if len(text) > 1 else text + "_0"


LITERALS = st.one_of(
    st.integers(1, 10**6).map(str),
    st.integers(1, 10**6).map(underscored),
    st.tuples(st.integers(1, 9), st.integers(0, 4)).map(lambda pair: f"{pair[0]}e{pair[1]}"),
    st.floats(1e-5, 5.0).map(repr),
    st.integers(1, 10**4).map(lambda number: f"{number}.0"),
    st.integers(1, 255).map(hex),
    st.sampled_from(["true", "false", "True", "FALSE", "yes", "no", "on", "off", "y", "null", "~", "0", "1", "1.",
                     ".5", "+3", "-0", "1_0.5", "1e-3", "0x_1", "nan", ".nan", ".inf", "1e400"]),
)


def accepted(field: str, value: object, text: str) -> None:
    """What an accepted literal must be, by the field's type."""
    if field == INT_FIELD:
        assert INT_LITERAL.fullmatch(text.strip()) and type(value) is int, (text, value)
    elif field == FLOAT_FIELD:
        assert type(value) is float and "_" not in text and not BOOL_LITERAL.fullmatch(text.strip()), (text, value)
    else:
        assert BOOL_LITERAL.fullmatch(text.strip()) and type(value) is bool, (text, value)


@given(field=st.sampled_from([INT_FIELD, FLOAT_FIELD, BOOL_FIELD]), text=st.one_of(LITERALS, st.text(max_size=12)))
@example(field=INT_FIELD, text="1_0")  # the adversarial report's 6-B
@example(field="batch_size", text="1e1")  # 6-C
@example(field=BOOL_FIELD, text="off")
def test_a_set_value_is_typed_like_the_field(field: str, text: str) -> None:
    spec = load_spec("fashion-mlp")
    try:
        config = resolve_config(spec.task_info, spec.fixed, parse_overrides([f"{field}={text}"]))
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message and (message.startswith(f"--set {field}: ") or "expected key=value" in message)
        return
    accepted(INT_FIELD if field == "batch_size" else field, getattr(config, field), text)


@given(field=st.sampled_from([INT_FIELD, FLOAT_FIELD, BOOL_FIELD]), text=LITERALS)
@example(field=INT_FIELD, text="1e3")
def test_a_study_file_and_set_decide_a_literal_alike(field: str, text: str) -> None:
    spec = load_spec("fashion-mlp")
    try:
        resolve_config(spec.task_info, FIXED, parse_overrides([f"{field}={text}"]))
        by_set = None
    except ConfigError as error:
        by_set = str(error)
    with tempfile.TemporaryDirectory() as directory:
        fixed = {key: value for key, value in FIXED.items() if key != field}
        path = Path(directory) / "s.yaml"
        path.write_text(f"task: classify\nfixed: {json.dumps(fixed)[:-1]}, {field}: {text}}}\n"
                        "space: {dense_units: {type: int, low: 16, high: 64}}\n")
        try:
            load_spec(path)
            by_file = None
        except SpecError as error:
            by_file = str(error)
    assert (by_set is None) == (by_file is None), (by_set, by_file)
    if by_file is not None:
        assert by_file.startswith(f"{path}: fixed: {field}: ") and "\n" not in by_file
        assert by_set == f"--set {by_file.removeprefix(f'{path}: fixed: ')}"  # one message, its source named


def test_the_reported_literals_are_refused_naming_the_option() -> None:
    spec = load_spec("fashion-mlp")
    for pair, shown in (("epochs=1_0", "'1_0'"), ("batch_size=1e1", "10.0"), ("save_model=yes", "'yes'")):
        with pytest.raises(ConfigError, match=rf"^--set {pair.split('=')[0]}: expected .*got {re.escape(shown)}$"):
            resolve_config(spec.task_info, spec.fixed, parse_overrides([pair]))



@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(top=st.one_of(st.integers(-10**6, 10**6).map(str), st.text(max_size=6)),
       command=st.sampled_from(["sweep", "best", "report"]))
@example(top="-5", command="best")  # the adversarial report's 6-D
@example(top="1_0", command="report")
def test_top_is_a_positive_integer(top: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sweeplab.cli import build_parser

    argv = {"sweep": ["sweep", "s"], "best": ["best", "s"], "report": ["report"]}[command]
    try:
        args = build_parser().parse_args([*argv, f"--top={top}"])
    except SystemExit as refused:
        err = capsys.readouterr().err.strip()
        assert refused.code == 2 and "--top" in err and repr(top) in err and len(err.splitlines()) == 1, err
        assert not (top.strip().isascii() and top.strip().isdigit() and int(top) >= 1), top
        return
    assert isinstance(args.top, int) and args.top >= 1 and str(args.top) == top.strip().lstrip("0"), top
