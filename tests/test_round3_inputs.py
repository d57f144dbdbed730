"""Round 3's values-reaching-a-script and in-range-nonsense cases (docs/adversarial/round-3.md, 5-a..5-c, 6-a..6-h),
closed by class (docs/defences.md rows 5 and 6), each with a generator wider than the reported case:

- a value standing alone in the generated agent command line never starts with `-` (5-a, 5-b);
- every path option of every subcommand, found by walking the parser, refuses an empty or blank value (5-c);
- a grid sampler only over a finite grid (6-a); `--refit-set` errors name `--refit-set` (6-b); `refit:` and
  `promote.set` never name a searched parameter (6-c); a `when:` condition can hold (6-d); pruner and sampler options
  that contradict each other are refused (6-e); literals are YAML 1.2 core only (6-f); Slurm time fields are in range
  (6-g); CPUs and GPUs per agent are bounded (6-h, through tests/test_cli_numbers.py's walk as well).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import tempfile
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sweeplab.cli import build_parser, main
from sweeplab.paths import path_text
from sweeps.slurm import SlurmError, SlurmJob, render_script, time_limit_seconds
from sweeps.space import suggest_all
from sweeps.spec import SpecError, load_spec
from trainers.config import ConfigError, parse_assignment
from trainers.safe_yaml import load_yaml

FIXED = {"dataset": "fashion_mnist", "model": "cpu_mlp", "subset": 2000, "epochs": 1}
OPTIMIZERS = ["adam", "sgd", "rmsprop"]
QUIET = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


def write_study(directory: str, space: dict, extra: dict | None = None) -> Path:
    path = Path(directory) / "s.yaml"
    path.write_text(json.dumps({"task": "classify", "fixed": FIXED, "space": space, **(extra or {})}))
    return path


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as refused:
        code = refused.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("sweeplab: error: "), (code, err)
    return err


# --- 5-a, 5-b: no value of the agent's command line reads as an option ---------------------------------------------

PLAIN = st.from_regex(r"[A-Za-z0-9/_.:]{1,8}", fullmatch=True)
DASHED = st.builds(lambda dashes, rest: dashes + rest, st.sampled_from(["-", "--", "---"]), PLAIN)
ARGUMENT = st.one_of(PLAIN, DASHED, PLAIN.map(lambda text: "/" + text), st.sampled_from(
    ["--export=NONE", "--privileged", "-v/:/host", "--gpus=all", "-", "--", "-m"]))
FIXED_FLAGS = {"--ntasks=1", "-m", "--rm", "--init", "--network=host", "-e", "-v", "--bind", "--device", "--gpus"}
AGENT_FLAGS = ("--trials", "5", "--set", "epochs=1", "--in-process")


@QUIET
@given(python=ARGUMENT, image=st.one_of(st.none(), ARGUMENT), study=ARGUMENT, mounts=st.lists(ARGUMENT, max_size=2),
       engine=st.sampled_from(["podman", "docker", "apptainer"]), gpus=st.sampled_from([None, 1]))
@example(python="--export=NONE", image=None, study="/s.yaml", mounts=[], engine="podman", gpus=None)  # 5-a
@example(python="python3", image="--privileged", study="/s.yaml", mounts=[], engine="docker", gpus=None)  # 5-b
def test_no_value_of_the_agent_command_line_reads_as_an_option(python: str, image: str | None, study: str,
                                                                mounts: list[str], engine: str,
                                                                gpus: int | None) -> None:
    """Whatever --python, --image, study and mounts hold, the script is refused in one line, or every argument of
    `srun` that starts with `-` is one of the fixed flags or the agent's own: no user value reaches srun, the
    engine or the agent as an option."""
    try:
        job = SlurmJob(study=study, study_name="s", agents=1, agent_args=AGENT_FLAGS, python=python, image=image,
                       engine=engine, mounts=tuple(mounts), gpus_per_agent=gpus)
    except SlurmError as error:
        assert "\n" not in str(error) and any(value.startswith("-") for value in (python, image or "", study, *mounts))
        return
    argv = shlex.split(render_script(job).partition("\nexec srun ")[2])
    flags = [arg for arg in argv if arg.startswith("-")]
    assert set(flags) <= FIXED_FLAGS | set(AGENT_FLAGS), flags


def test_the_reported_dashed_values_are_refused_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, ["slurm", "fashion-mlp", "--dry-run", "--python=--export=NONE"])
    assert "--python '--export=NONE'" in err and "starting with '-'" in err
    err = one_line_error(capsys, ["slurm", "fashion-mlp", "--dry-run", "--image=--privileged", "--engine", "docker"])
    assert "--image '--privileged'" in err


# --- 5-c: every path option refuses an empty or blank value ----------------------------------------------------------

PATH_DESTS = {"out", "store", "preview", "model", "images", "labels", "run_dir", "dir", "log_dir"}


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...],
                                                                                        argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _options(child, (*path, name))
        else:
            found.append((path, action))
    return found


PATH_OPTIONS = [(path, action) for path, action in _options(build_parser())
                if action.dest in PATH_DESTS or action.dest.endswith(("_dir", "_path", "_file"))]


def test_every_path_option_goes_through_the_door() -> None:
    assert len(PATH_OPTIONS) >= 14  # --out of report, results, transfer, ..., --run-dir, --log-dir, record RUN_DIR
    bypass = [(" ".join(path), action.dest) for path, action in PATH_OPTIONS  # a narrower type calls the door first
              if action.type is not path_text and getattr(action.type, "path_door", None) is not path_text]
    assert bypass == [], f"path options without the path type: {bypass}"


SUFFIXED_PATH_TYPES = {"png_path": ".png"}  # path types that also refuse a name without their suffix, in one line


def _argv(path: tuple[str, ...], action: argparse.Action, text: str) -> list[str]:
    """A command line reaching the option: other required arguments get a placeholder."""
    parser = build_parser()
    for name in path:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    argv = list(path)
    for other in parser._actions:
        if isinstance(other, argparse._SubParsersAction) or (other.dest == action.dest and other.option_strings):
            continue
        if not other.option_strings and other.nargs is None:
            argv.append(text if other.dest == action.dest else "x" if not other.choices else next(iter(other.choices)))
        elif other.required and other.option_strings:
            argv += [other.option_strings[0], "x"]
    for group in parser._mutually_exclusive_groups:  # predict: one of --model and --study
        if group.required and action.dest not in {member.dest for member in group._group_actions}:
            argv += [group._group_actions[0].option_strings[0], "x"]
    return [*argv, f"{action.option_strings[0]}={text}"] if action.option_strings else argv


@QUIET
@given(index=st.integers(0, max(len(PATH_OPTIONS) - 1, 0)),
       text=st.one_of(st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003"), max_size=4), PLAIN,
                      st.sampled_from(["", " ", "reports", "a b", "x\x00y"])))
@example(index=0, text="")
def test_every_path_option_refuses_an_empty_or_blank_value_in_one_line(index: int, text: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, action = PATH_OPTIONS[index]
    name = action.option_strings[0] if action.option_strings else action.dest
    try:
        args = build_parser().parse_args(_argv(path, action, text))
    except SystemExit as refused:
        err = capsys.readouterr().err.strip()
        assert refused.code == 2 and len(err.splitlines()) == 1 and repr(text) in err, err
        assert not action.option_strings or name in err, err
        suffix = SUFFIXED_PATH_TYPES.get(getattr(action.type, "__name__", ""))  # e.g. --preview wants a .png
        assert not text.strip() or "\x00" in text or (suffix and not text.endswith(suffix) and suffix in err), (
            path, name, text)
        return
    assert text.strip() and "\x00" not in text and getattr(args, action.dest) == text, (path, name, text)


def test_report_out_empty_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, ["report", "--out", ""])
    assert "argument --out: expected a path, got ''" in err


# --- 6-g: Slurm time fields in range ---------------------------------------------------------------------------------

@st.composite
def slurm_times(draw: st.DrawFn) -> tuple[str, int | None]:
    """(text, seconds or None when it must be refused), built from a format and generated fields."""
    fields = st.integers(0, 130)
    shape = draw(st.sampled_from(["M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S"]))
    values = {part: draw(st.integers(0, 400) if part == "D" else fields) for part in shape.replace("-", ":").split(":")}
    text = shape.replace("D", str(values["D"])) if "D" in values else shape
    for part in ("H", "M", "S"):
        if part in values:
            text = text.replace(part, f"{values[part]:0{draw(st.integers(1, 2))}d}", 1)
    units = {"D": 86400, "H": 3600, "M": 60, "S": 1}
    bounded = {"H": 24 if "D" in values else None, "M": None if shape.startswith("M") else 60, "S": 60}
    inside = all(bounded.get(part) is None or value < bounded[part] for part, value in values.items())
    seconds = sum(value * units[part] for part, value in values.items())
    return text, seconds if inside and 1 <= seconds <= 365 * 86400 else None


@given(slurm_times())
@example(("1-25:61:61", None))  # 6-g as reported
@example(("1-23:59:59", 172799))
@example(("0", None))
def test_a_time_limit_is_accepted_only_with_every_field_in_range(case: tuple[str, int | None]) -> None:
    text, seconds = case
    if seconds is None:
        with pytest.raises(SlurmError, match="--time") as refused:
            SlurmJob(study="s", study_name="s", agents=1, time=text)
        assert "\n" not in str(refused.value)
        return
    assert time_limit_seconds(text) == seconds
    assert f"#SBATCH --time={text}\n" in render_script(SlurmJob(study="s", study_name="s", agents=1, time=text))


@given(st.text(max_size=12))
def test_any_time_text_is_read_or_refused_in_one_line(text: str) -> None:
    try:
        time_limit_seconds(text)
    except SlurmError as error:
        assert "\n" not in str(error)


# --- 6-h: CPUs and GPUs per agent bounded ----------------------------------------------------------------------------

@pytest.mark.parametrize(("option", "top"), [("--cpus-per-agent", 1024), ("--gpus-per-agent", 64)])
def test_resources_per_agent_are_bounded(option: str, top: int, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, ["slurm", "fashion-mlp", "--dry-run", option, str(top + 1)])
    assert f"argument {option}: expected a whole number from 1 to {top}" in err
    assert build_parser().parse_args(["slurm", "fashion-mlp", option, str(top)]) is not None


# --- 6-a: a grid sampler only over a finite grid ---------------------------------------------------------------------

FLOAT_RANGES = st.builds(lambda step, log: {"type": "float", "low": 0.0 if not log else 0.01, "high": 0.5,
                                            **({"step": step} if step and not log else {}),
                                            **({"log": True} if log else {})},
                         st.sampled_from([None, 0.1, 0.25]), st.booleans())
INT_RANGES = st.builds(lambda step, log: {"type": "int", "low": 1, "high": 3, **({"step": step} if step else {}),
                                          **({"log": True} if log else {})}, st.sampled_from([None, 1, 2]),
                       st.booleans()).filter(lambda entry: not (entry.get("log") and entry.get("step", 1) != 1))


@QUIET
@given(dropout=st.one_of(st.none(), FLOAT_RANGES), layers=st.one_of(st.none(), INT_RANGES),
       optimizer=st.booleans())
@example(dropout={"type": "float", "low": 0.0, "high": 0.5}, layers=None, optimizer=False)  # 6-a as reported
def test_a_grid_sampler_is_refused_at_load_unless_the_grid_is_finite(dropout: dict | None, layers: dict | None,
                                                                     optimizer: bool) -> None:
    space = {"learning_rate": {"type": "categorical", "choices": [0.001, 0.01]}}
    if optimizer:
        space["optimizer"] = {"type": "categorical", "choices": OPTIMIZERS}
    if dropout:
        space["dense_dropout"] = dropout
    if layers:
        space["dense_layers"] = layers
    with tempfile.TemporaryDirectory() as directory:
        path = write_study(directory, space, {"sampler": {"name": "grid"}})
        infinite = dropout is not None and "step" not in dropout
        try:
            spec = load_spec(path)
        except SpecError as error:
            assert infinite and "space.dense_dropout" in str(error) and "grid" in str(error), error
            assert "\n" not in str(error)
            return
    assert not infinite
    study = optuna.create_study(sampler=optuna.samplers.BruteForceSampler(seed=0))
    study.optimize(lambda trial: len(suggest_all(spec.parameters, trial)), n_trials=3)
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in study.trials)


# --- 6-b: --refit-set errors name --refit-set ------------------------------------------------------------------------

REFIT_PAIRS = st.one_of(st.sampled_from(["bogus=1", "epochs=0b10", "epochs=1.5", "x", "=1", "subset=yes"]),
                        st.from_regex(r"[a-z_]{1,10}=[0-9a-z.]{0,4}", fullmatch=True))


@QUIET
@given(command=st.sampled_from(["sweep", "refit"]), option=st.sampled_from(["--set", "--refit-set"]),
       pair=REFIT_PAIRS, twice=st.booleans())
@example(command="sweep", option="--refit-set", pair="bogus=1", twice=False)  # 6-b as reported
def test_an_override_error_names_the_option_it_came_from(command: str, option: str, pair: str, twice: bool,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    if command == "refit" and option == "--set":
        option = "--refit-set"  # refit has no --set
    argv = [command, "fashion-mlp", option, pair, *([option, pair] if twice else []), "--storage",
            "sqlite:////nonexistent/never-opened.db"]
    try:
        code = main(argv)
    except SystemExit as refused:
        code = refused.code
    err = capsys.readouterr().err.strip()
    if code == 2 and err.startswith(f"sweeplab: error: {option} "):
        assert len(err.splitlines()) == 1
        return
    # accepted as a value: a valid pair given once reaches the storage, which does not exist (never a --set error)
    other = "--set" if option == "--refit-set" else "--refit-set"
    assert not err.startswith(f"sweeplab: error: {other} "), err
    assert code != 0 and not twice, (code, err)


# --- 6-c: refit and promote.set never name a searched parameter ------------------------------------------------------

SEARCHED = {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "optimizer": {"type": "categorical", "choices": OPTIMIZERS},
            "dense_layers": {"type": "int", "low": 1, "high": 3}}


@QUIET
@given(where=st.sampled_from(["refit", "promote"]), values=st.dictionaries(
    st.sampled_from(["learning_rate", "optimizer", "dense_layers", "epochs", "subset", "test_subset"]),
    st.integers(1, 3), max_size=3))
@example(where="promote", values={"learning_rate": 1})  # 6-c as reported (a float there; the key is what counts)
def test_refit_and_promote_values_never_name_a_searched_parameter(where: str, values: dict) -> None:
    extra = {"refit": values} if where == "refit" else {"promote": {"top": 1, "probes": 0, "set": values}}
    searched = sorted(set(values) & set(SEARCHED))
    lower = where == "promote" and any(_fidelity_of(key, values[key]) < _fidelity_of(key, FIXED.get(key, 0))
                                       for key in ("subset", "epochs") if key in values)
    with tempfile.TemporaryDirectory() as directory:
        try:
            spec = load_spec(write_study(directory, SEARCHED, extra))
        except SpecError as error:
            key = "refit" if where == "refit" else "promote.set"
            assert any(f"{key}.{name}: is a searched parameter" in str(error) for name in searched) or (
                lower and "is a lower fidelity than the search's" in str(error)), error
            return
    assert not searched and not lower
    assert (spec.refit if where == "refit" else spec.promote["set"]) == values


def _fidelity_of(key: str, value: int) -> float:
    return float("inf") if key == "subset" and value == 0 else float(value)


@QUIET
@given(key=st.sampled_from(["subset", "epochs"]), fixed=st.integers(0, 50), promoted=st.integers(0, 50))
def test_a_promotion_never_lowers_the_fidelity(key: str, fixed: int, promoted: int) -> None:
    """Round 10's 6-d: `promote: {set: {subset: 100}}` over a fixed subset of 500 was accepted and the "promoted"
    trial, trained on fewer images, was ranked above the rest. `subset: 0` is every image."""
    if key == "epochs" and 0 in (fixed, promoted):
        return  # at least one epoch
    extra = {"promote": {"top": 1, "probes": 0, "set": {key: promoted}}}
    study = {"task": "classify", "fixed": {**FIXED, key: fixed}, "space": SEARCHED, **extra}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "s.yaml"
        path.write_text(json.dumps(study))
        try:
            load_spec(path)
        except SpecError as error:
            assert _fidelity_of(key, promoted) < _fidelity_of(key, fixed), error
            assert f"promote.set.{key}" in str(error)
            return
    assert _fidelity_of(key, promoted) >= _fidelity_of(key, fixed)


# --- 6-d: a when condition can hold ----------------------------------------------------------------------------------

CONDITION_VALUES = st.one_of(st.sampled_from([*OPTIMIZERS, "bogus", "adamw", True, 1, 2, 3, 4, 0.5, 1.0, None]))


@QUIET
@given(refers=st.sampled_from(["optimizer", "dense_layers", "learning_rate", "rho"]),
       values=st.one_of(st.lists(CONDITION_VALUES, max_size=3), CONDITION_VALUES))
@example(refers="optimizer", values=["bogus"])  # 6-d as reported, three cases
@example(refers="optimizer", values=[])
@example(refers="learning_rate", values=[0.5])
def test_a_when_condition_is_refused_unless_it_can_hold(refers: str, values: list | object) -> None:
    space = {**SEARCHED, "dense_layers": {"type": "int", "low": 1, "high": 3, "step": 2},
             "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {refers: values}}}
    listed = values if isinstance(values, list) else [values]
    possible = {"optimizer": OPTIMIZERS, "dense_layers": [1, 3]}.get(refers, [])
    holds = bool(listed) and all(any(type(value) is type(choice) and value == choice for choice in possible)
                                 for value in listed)
    with tempfile.TemporaryDirectory() as directory:
        try:
            spec = load_spec(write_study(directory, space))
        except SpecError as error:
            assert not holds and "space.momentum.when" in str(error) and "\n" not in str(error), error
            return
    assert holds, (refers, values)
    seen = set()  # and the condition does hold for some trial: momentum is sampled
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        seen |= set(suggest_all(spec.parameters, trial))
        study.tell(trial, 0.0)
    assert "momentum" in seen


# --- 6-e: options that contradict each other -------------------------------------------------------------------------

@QUIET
@given(low=st.one_of(st.integers(1, 100), st.just("auto")), high=st.one_of(st.integers(1, 100), st.just("auto")))
@example(low=50, high=2)  # 6-e as reported
def test_hyperband_min_resource_above_max_is_refused(low: int | str, high: int | str) -> None:
    pruner = {"name": "hyperband", "min_resource": low, "max_resource": high}
    with tempfile.TemporaryDirectory() as directory:
        try:
            spec = load_spec(write_study(directory, SEARCHED, {"pruner": pruner}))
        except SpecError as error:
            assert low != "auto" and high != "auto" and low > high and "pruner.min_resource" in str(error)
            return
    assert "auto" in (low, high) or low <= high
    assert spec.pruner == pruner


@pytest.mark.parametrize(("sampler", "refused"), [({"name": "qmc", "seed": 1, "scramble": False}, True),
                                                  ({"name": "qmc", "seed": 1, "scramble": True}, False),
                                                  ({"name": "qmc", "scramble": False}, False)])
def test_a_qmc_seed_without_scrambling_is_refused(sampler: dict, refused: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = write_study(directory, SEARCHED, {"sampler": sampler})
        if refused:
            with pytest.raises(SpecError, match=r"sampler\.seed: a seed acts only"):
                load_spec(path)
        else:
            assert load_spec(path).sampler == sampler


# --- 6-f: YAML 1.2 core literals only --------------------------------------------------------------------------------

@st.composite
def int_literals(draw: st.DrawFn) -> tuple[str, int | None]:
    """(text, value when YAML 1.2 core reads it as an int, else None: it stays text, and `!!int` refuses it)."""
    kind = draw(st.sampled_from(["decimal", "octal", "hex", "binary", "sexagesimal", "underscore", "signed-base",
                                 "upper-prefix"]))
    number = draw(st.integers(0, 10**6))
    sign = draw(st.sampled_from(["", "+", "-"]))
    zeros = "0" * draw(st.integers(0, 2))
    if kind == "decimal":
        return f"{sign}{zeros}{number}", int(f"{sign}{number}")
    if kind == "octal":
        return f"0o{number:o}", number
    if kind == "hex":
        return f"0x{number:{draw(st.sampled_from(['x', 'X']))}}", number
    return {"binary": f"0b{number:b}", "sexagesimal": f"{sign}{number % 60}:{number % 60:02d}",
            "underscore": f"{sign}1_{number}", "signed-base": f"{draw(st.sampled_from(['+', '-']))}0x{number:x}",
            "upper-prefix": f"0{draw(st.sampled_from(['X', 'O', 'B']))}{number:o}"}[kind], None


@given(int_literals())
@example(("0b10", None))  # 6-f as reported
@example(("010", 10))
@example(("1:30", None))
def test_integers_are_read_as_yaml_1_2_core(case: tuple[str, int | None]) -> None:
    text, value = case
    read = load_yaml(text)
    if value is not None:
        assert read == value and type(read) is int
        assert load_yaml(f"!!int {text}") == value
        return
    assert read == text  # YAML 1.1 only: the text it is, which an int field refuses
    with pytest.raises(ConfigError, match="--set epochs: expected an integer"):
        from sweeplab.commands import parse_overrides
        from trainers.registry import get_task
        from trainers.runner import resolve_config

        resolve_config(get_task("classify"), FIXED, parse_overrides([f"epochs={text}"]))
    with pytest.raises(Exception, match=r"YAML 1\.2 integer"):
        load_yaml(f"!!int {text}")


FLOAT_SPECIALS = st.sampled_from([".inf", "+.inf", "-.inf", ".Inf", "-.INF", ".nan", ".NaN", ".NAN", "+.nan",
                                  "-.nan", ".iNf", "inf", "nan", "+.NaN", "1:30.5", "1_0.5", "1.5e", "1e3", ".5",
                                  "-1.", "1.5E-3", "+0.0"])
CORE_SPECIALS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".Inf": math.inf, "-.INF": -math.inf,
                 "1e3": 1000.0, ".5": 0.5, "-1.": -1.0, "1.5E-3": 0.0015, "+0.0": 0.0}


@given(FLOAT_SPECIALS)
def test_floats_are_read_as_yaml_1_2_core(text: str) -> None:
    read = load_yaml(text)
    if text.lower() in (".nan",):
        assert isinstance(read, float) and math.isnan(read)
    elif text in CORE_SPECIALS:
        assert read == CORE_SPECIALS[text] and type(read) is float
    else:
        assert read == text  # not a YAML 1.2 float: text
        with pytest.raises(Exception, match=r"YAML 1\.2 float"):
            load_yaml(f"!!float {text}")


def test_the_reported_binary_epochs_is_refused() -> None:
    assert parse_assignment("epochs=0b10") == ("epochs", "0b10")
