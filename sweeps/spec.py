"""Study files (`sweeps/*.yaml`): load, validate strictly (file + key + expectation), and describe."""

from __future__ import annotations

import dataclasses
import decimal
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datasets.registry import check_dataset_name
from sweeplab.numbers import is_number
from sweeps.names import name_problem
from sweeps.roles import read_roles
from sweeps.search_options import PRUNERS, SAMPLERS, OptionError, check_combination, check_option
from sweeps.space import Parameter
from trainers.config import ConfigError, check_value, field_types, load_yaml, resolve
from trainers.registry import Task, add_search_dir, get_task, is_reference

SWEEPS_DIR = Path(__file__).resolve().parent
MAX_STUDY_FILE_BYTES = 1 << 20  # the shipped ones are ~1 KiB; refuse /dev/zero and the like before reading it all
TOP_KEYS = {"study", "task", "description", "fixed", "space", "objective", "sampler", "pruner", "budget", "roles",
            "refit", "start_with", "promote"}
PARAM_KEYS = {"float": {"type", "low", "high", "log", "step", "when"}, "int": {"type", "low", "high", "log", "step",
              "when"}, "categorical": {"type", "choices", "when"}}


class SpecError(ValueError):
    """A study file is malformed; the message names the file, the key, and what was expected."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path, self.key = str(path), key


@dataclass(frozen=True)
class StudySpec:
    name: str
    task: str
    path: Path
    description: str
    fixed: dict[str, Any]
    parameters: list[Parameter]
    objective: str
    direction: str
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    trials: int
    timeout_minutes: float | None
    roles: dict[str, list[str]] = field(default_factory=dict)
    refit: dict[str, Any] | None = None  # values over the best trial's config for the full-fidelity refit; None: off
    start_with: list[dict[str, Any]] = field(default_factory=list)  # known-good settings tried first (a prior)
    promote: dict[str, Any] | None = None  # {top, probes, every, set}: rerun the best few at a higher fidelity

    @property
    def task_info(self) -> Task:
        return get_task(self.task)

    @property
    def reference(self) -> str:
        """How a command names this study: its name when it is a shipped study file, else its file's path."""
        return self.name if self.path.resolve() == (SWEEPS_DIR / f"{self.name}.yaml").resolve() else str(self.path)

    def parameter(self, name: str) -> Parameter:
        return next(parameter for parameter in self.parameters if parameter.name == name)


def study_path(name_or_path: str | Path) -> Path:
    """`fashion-cnn` -> sweeps/fashion-cnn.yaml; a path is taken as is."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        return candidate
    return SWEEPS_DIR / f"{name_or_path}.yaml"


def study_names() -> list[str]:
    return sorted(path.stem for path in SWEEPS_DIR.glob("*.yaml"))


def _expect(condition: bool, path: Path, key: str, message: str) -> None:
    if not condition:
        raise SpecError(path, key, message)


def _parse_parameter(path: Path, name: str, raw: Any, field_names: dict[str, Any], config_type: type) -> Parameter:
    key = f"space.{name}"
    _expect(name in field_names, path, key, f"unknown hyperparameter; the task's config has: {', '.join(field_names)}")
    _expect(isinstance(raw, dict), path, key, "expected a mapping with `type` (float, int or categorical)")
    kind = raw.get("type")
    _expect(kind in PARAM_KEYS, path, f"{key}.type", f"expected float, int or categorical, got {kind!r}")
    unknown = set(raw) - PARAM_KEYS[kind]
    _expect(not unknown, path, f"{key}.{sorted(unknown)[0] if unknown else ''}",
            f"unknown key for a {kind} parameter; allowed: {', '.join(sorted(PARAM_KEYS[kind]))}")
    when = raw.get("when", {}) or {}
    _expect(isinstance(when, dict), path, f"{key}.when", "expected a mapping {parameter: [values]}")
    when = {other: tuple(values if isinstance(values, list) else [values]) for other, values in when.items()}
    if kind == "categorical":
        choices = raw.get("choices")
        _expect(isinstance(choices, list) and len(choices) >= 1, path, f"{key}.choices", "expected a non-empty list")
        _expect(all(isinstance(choice, (str, int, float, bool)) or choice is None for choice in choices), path,
                f"{key}.choices", "expected plain values (strings, numbers, booleans)")
        seen = [(type(choice).__name__, choice) for choice in choices]
        twice = next((choice for index, choice in enumerate(choices) if seen[index] in seen[:index]), None)
        _expect(len(set(seen)) == len(seen), path, f"{key}.choices",
                f"each choice once ({twice!r} is listed twice; a repeated choice weights the sampler's draws)")
        for index, choice in enumerate(choices):
            _check_in_range(path, f"{key}.choices[{index}]", name, choice, field_names[name], config_type)
        return Parameter(name, "categorical", choices=tuple(choices), when=when)
    low, high = raw.get("low"), raw.get("high")
    _expect(is_number(low) and math.isfinite(low), path, f"{key}.low", f"expected a finite number, got {low!r}")
    _expect(is_number(high) and math.isfinite(high), path, f"{key}.high", f"expected a finite number, got {high!r}")
    _expect(not (kind == "float" and field_names[name] is int), path, f"{key}.type",
            "the config value is an integer: use type: int (or categorical)")
    _expect(low < high, path, f"{key}.high", f"expected high > low, got low={low}, high={high}")
    log = raw.get("log", False)
    _expect(isinstance(log, bool), path, f"{key}.log", f"expected true or false, got {log!r}")
    _expect(not log or low > 0, path, f"{key}.low", f"a log-scaled range needs low > 0, got {low}")
    step = raw.get("step")
    _expect(step is None or (is_number(step) and step > 0), path, f"{key}.step",
            f"expected a positive number, got {step!r}")
    if kind == "int":
        _expect(float(low).is_integer() and float(high).is_integer(), path, key, "int ranges need integer low/high")
    _check_step(path, f"{key}.step", kind, low, high, step, log)
    _check_in_range(path, f"{key}.low", name, low, field_names[name], config_type)
    _check_in_range(path, f"{key}.high", name, high, field_names[name], config_type)
    return Parameter(name, kind, low=low, high=high, log=log, step=step, when=when)


def _check_step(path: Path, key: str, kind: str, low: Any, high: Any, step: Any, log: bool) -> None:
    """A step must divide the range into whole steps, as Optuna would otherwise shrink the range in silence (a step
    larger than the range leaves only `low`); a log-scaled range has no step (an int one: 1)."""
    if step is None:
        return
    if log:
        _expect(kind == "int" and step == 1 and not isinstance(step, float), path, key,
                f"a log-scaled {kind} range allows no step{' other than 1' if kind == 'int' else ''}, got {step!r}")
        return
    if kind == "int":
        _expect(isinstance(step, int), path, key, f"an int range needs an integer step, got {step!r}")
    span = decimal.Decimal(str(high)) - decimal.Decimal(str(low))  # Optuna's own test (decimal, so 0.1 steps work)
    try:
        whole = step <= high - low and span % decimal.Decimal(str(step)) == 0
    except decimal.InvalidOperation:  # more steps than decimal's precision counts: no usable grid
        whole = False
    _expect(whole, path, key, f"expected a step that divides the range [{low}, {high}] into whole steps, got {step!r}")


def _check_in_range(path: Path, key: str, name: str, value: Any, annotation: Any, config_type: type) -> None:
    """A range end or choice the trainer would refuse is refused now, not in every trial."""
    try:
        check_value(name, value, annotation, config_type)
    except ConfigError as error:
        raise SpecError(path, key, str(error)) from None


def _check_when(path: Path, parameter: Parameter, above: list[Parameter]) -> None:
    """Every `when` condition can hold: it names a categorical (or int) parameter declared above, with a non-empty
    list of values each among that parameter's choices (or on its int grid); a float is never equal to a value."""
    by_name = {other.name: other for other in above}
    for other, values in parameter.when.items():
        key = f"space.{parameter.name}.when.{other}"
        _expect(other in by_name, path, key, f"{other!r} must be a parameter declared above this one")
        condition = by_name[other]
        _expect(condition.kind != "float", path, key, f"{other!r} is a float range: a sampled float equals a listed "
                "value almost never; condition on a categorical or int parameter")
        _expect(len(values) > 0, path, key, "expected a non-empty list of values (an empty one never holds)")
        for value in values:
            _expect(_can_take(condition, value), path, key, f"{value!r} is never a value of {other!r} "
                    f"({_describe_values(condition)}), so {parameter.name!r} would never be sampled")


def _can_take(parameter: Parameter, value: Any) -> bool:
    """True when a sampled value of `parameter` can equal `value` (a choice, or a point of an int grid)."""
    if parameter.kind == "categorical":
        return any(type(choice) is type(value) and choice == value for choice in parameter.choices)
    if not parameter.contains(value) or isinstance(value, float):
        return False
    return (int(value) - int(parameter.low)) % int(parameter.step or 1) == 0


def _describe_values(parameter: Parameter) -> str:
    if parameter.kind == "categorical":
        return "choices: " + ", ".join(repr(choice) for choice in parameter.choices)
    return f"integers {int(parameter.low)}..{int(parameter.high)} in steps of {int(parameter.step or 1)}"


def _check_grid(path: Path, sampler: dict[str, Any], parameters: list[Parameter]) -> None:
    """Optuna's grid (BruteForceSampler) enumerates every value: each float range needs a `step`."""
    if sampler["name"] != "grid":
        return
    for parameter in parameters:
        _expect(parameter.kind != "float" or parameter.step is not None, path, f"space.{parameter.name}",
                "the grid sampler needs a finite grid: give this float range a `step` (not on a log range), or "
                "make it categorical")


def _not_searched(path: Path, key: str, values: dict[str, Any], parameters: list[Parameter]) -> None:
    """`refit` and `promote.set` values lie over a trial's config: one naming a searched parameter would train at
    a value other than the trial's stored one."""
    searched = [name for name in values if name in {parameter.name for parameter in parameters}]
    _expect(not searched, path, f"{key}.{searched[0] if searched else ''}",
            "is a searched parameter of `space`: the trial's stored value would not be the one trained; set only "
            "values outside the space (fidelity: epochs, subset, ...)")


def _options(path: Path, key: str, raw: Any, known: dict[str, set[str]], default: str,
             objective: str) -> dict[str, Any]:
    raw = {"name": raw} if isinstance(raw, str) else (raw or {"name": default})
    _expect(isinstance(raw, dict), path, key, "expected a name or a mapping with `name`")
    name = raw.get("name", default)
    _expect(name in known, path, f"{key}.name", f"expected one of {', '.join(known)}, got {name!r}")
    unknown = set(raw) - {"name"} - known[name]
    _expect(not unknown, path, f"{key}.{sorted(unknown)[0] if unknown else ''}",
            f"unknown option for {name}; allowed: {', '.join(sorted(known[name])) or 'none'}")
    options = {option: value for option, value in raw.items() if option != "name"}
    for option, value in options.items():
        try:
            check_option(option, value, objective)
        except OptionError as error:
            raise SpecError(path, f"{key}.{error.key}", str(error)) from None
    try:
        check_combination(name, options)
    except OptionError as error:
        raise SpecError(path, f"{key}.{error.key}", str(error)) from None
    return {"name": name, **options}


def _refit(path: Path, raw: Any, task: Task, fixed: dict[str, Any],
           parameters: list[Parameter]) -> dict[str, Any] | None:
    """`refit: {epochs: 12, subset: 0}` (config values over the best trial's), `refit: true` ({}), or off."""
    if raw is None or raw is False:
        return None
    raw = {} if raw is True else raw
    _expect(isinstance(raw, dict), path, "refit", "expected config values (a mapping), true or false")
    _not_searched(path, "refit", raw, parameters)
    try:
        resolve(task.config_type, task.presets({**fixed, **raw}), {**fixed, **raw})
    except ConfigError as error:
        raise SpecError(path, "refit", str(error)) from None
    return dict(raw)


def _promote(path: Path, raw: Any, task: Task, fixed: dict[str, Any],
             parameters: list[Parameter]) -> dict[str, Any] | None:
    """`promote: {top: 3, probes: 2, every: 6, set: {subset: 0, epochs: 3}}`: counts and config values over
    `fixed` (`every` 0, the default: no promotion before the search ends)."""
    if raw is None:
        return None
    _expect(isinstance(raw, dict) and set(raw) <= {"top", "probes", "every", "set"}, path, "promote",
            "expected a mapping with `top`, `probes`, `every` and `set`")
    promote = {"top": raw.get("top", 3), "probes": raw.get("probes", 2), "every": raw.get("every", 0),
               "set": raw.get("set") or {}}
    for key, low in (("top", 1), ("probes", 0), ("every", 0)):
        _expect(isinstance(promote[key], int) and not isinstance(promote[key], bool) and low <= promote[key] <= 100,
                path, f"promote.{key}", f"expected an integer in [{low}, 100], got {promote[key]!r}")
    _expect(isinstance(promote["set"], dict), path, "promote.set", "expected config values (a mapping)")
    _not_searched(path, "promote.set", promote["set"], parameters)
    try:
        resolved = resolve(task.config_type, task.presets({**fixed, **promote["set"]}), {**fixed, **promote["set"]})
        before = resolve(task.config_type, task.presets(fixed), fixed)
    except ConfigError as error:
        raise SpecError(path, "promote.set", str(error)) from None
    for key in ("subset", "epochs"):  # a promotion reruns at a higher fidelity, never a lower (round 10's 6-d)
        low, high = getattr(before, key, None), getattr(resolved, key, None)
        if isinstance(low, int) and isinstance(high, int) and _fidelity(key, high) < _fidelity(key, low):
            raise SpecError(path, f"promote.set.{key}", f"{high!r} is a lower fidelity than the search's {low!r}; a "
                            "promotion reruns the best configurations at a higher one"
                            + (" (0 means every training image)" if key == "subset" else ""))
    return promote


def _fidelity(key: str, value: int) -> float:
    """How much of its resource a value gives: `subset: 0` is every image, more than any count."""
    return math.inf if key == "subset" and value == 0 else float(value)


MIN_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES = 0.1, 525_600  # six seconds to a year: a search's wall-time budget


def _start_with(path: Path, raw: Any, parameters: list[Parameter],
                fixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """`start_with: [{param: value, ...}]`: each a point of the space (every value inside its range or choices)."""
    raw = raw or []
    _expect(isinstance(raw, list) and all(isinstance(point, dict) for point in raw), path, "start_with",
            "expected a list of mappings {parameter: value}")
    by_name = {parameter.name: parameter for parameter in parameters}
    for index, point in enumerate(raw):
        for name, value in point.items():
            key = f"start_with[{index}].{name}"
            _expect(name in by_name, path, key, f"not a parameter of `space` ({', '.join(by_name)})")
            _expect(by_name[name].contains(value), path, key, f"{value!r} is outside the parameter's range or choices")
            condition = by_name[name].when
            _expect(not condition or by_name[name].applies({**(fixed or {}), **point}), path, key,
                    f"its `when:` ({', '.join(f'{other} in {list(allowed)}' for other, allowed in condition.items())})"
                    " does not hold for this point's values, so it would be dropped silently; give the condition's "
                    "values in the point or leave this one out")
    return [dict(point) for point in raw]


def _read_study_file(path: Path) -> str:
    """The file's text; a device, a directory or anything over MAX_STUDY_FILE_BYTES is refused unread."""
    if not path.is_file():
        raise SpecError(path, "(file)", "not a regular file")
    with open(path, "rb") as handle:
        data = handle.read(MAX_STUDY_FILE_BYTES + 1)
    if len(data) > MAX_STUDY_FILE_BYTES:
        raise SpecError(path, "(file)", f"larger than {MAX_STUDY_FILE_BYTES} bytes; a study file is a few KiB")
    return data.decode("utf-8")


def load_spec(name_or_path: str | Path) -> StudySpec:
    """Read and validate a study file. Every problem raises SpecError naming the file and key."""
    path = study_path(name_or_path)
    if not path.exists():
        known = ", ".join(study_names())
        raise SpecError(path, "(file)", f"no such study file; studies in {SWEEPS_DIR}: {known}")
    try:
        raw = load_yaml(_read_study_file(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(yaml)"
        raise SpecError(path, where, f"not valid YAML ({getattr(error, 'problem', error)})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(path, "(file)", f"cannot read ({error})") from None
    _expect(isinstance(raw, dict), path, "(top level)", "expected a mapping of study keys")
    unknown = set(raw) - TOP_KEYS
    _expect(not unknown, path, sorted(unknown)[0] if unknown else "",
            f"unknown key; allowed: {', '.join(sorted(TOP_KEYS))}")
    task_name = raw.get("task")
    _expect(isinstance(task_name, str), path, "task", "expected a task name or a user's 'module:function'")
    if is_reference(task_name):
        add_search_dir(path.parent)
    try:
        task = get_task(task_name)
    except KeyError as error:
        raise SpecError(path, "task", str(error.args[0])) from None
    field_names = field_types(task.config_type)
    fixed = raw.get("fixed") or {}
    _expect(isinstance(fixed, dict), path, "fixed", "expected a mapping of config values")
    space = raw.get("space") or {}
    _expect(isinstance(space, dict) and space, path, "space", "expected a non-empty mapping of hyperparameters")
    parameters = [_parse_parameter(path, name, spec, field_names, task.config_type) for name, spec in space.items()]
    names = [parameter.name for parameter in parameters]
    for parameter in parameters:
        _check_when(path, parameter, parameters[: names.index(parameter.name)])
    overlap = set(fixed) & set(names)
    _expect(not overlap, path, f"fixed.{sorted(overlap)[0] if overlap else ''}", "is also in `space`; keep it in one")
    try:
        resolve(task.config_type, task.presets(fixed), fixed)
    except ConfigError as error:
        raise SpecError(path, "fixed", str(error)) from None
    if isinstance(fixed.get("dataset"), str):
        try:
            check_dataset_name(fixed["dataset"])
        except KeyError as error:
            raise SpecError(path, "fixed.dataset", str(error)) from None
    objective = raw.get("objective", task.objective)
    _expect(isinstance(objective, str), path, "objective", f"expected a metric name, got {objective!r}")
    try:
        direction = task.direction_of(objective)
    except KeyError as error:
        raise SpecError(path, "objective", str(error.args[0])) from None
    budget = raw.get("budget") or {}
    _expect(isinstance(budget, dict) and set(budget) <= {"trials", "timeout_minutes"}, path, "budget",
            "expected a mapping with `trials` and optionally `timeout_minutes`")
    trials = budget.get("trials", 10)
    _expect(isinstance(trials, int) and not isinstance(trials, bool) and trials >= 1, path, "budget.trials",
            f"expected a positive integer, got {trials!r}")
    timeout = budget.get("timeout_minutes")
    _expect(timeout is None or (is_number(timeout) and MIN_TIMEOUT_MINUTES <= timeout <= MAX_TIMEOUT_MINUTES), path,
            "budget.timeout_minutes", f"expected a number of minutes in [{MIN_TIMEOUT_MINUTES}, "
            f"{MAX_TIMEOUT_MINUTES}] (no trial finishes in less), got {timeout!r}")
    roles, (key, problem) = read_roles(raw.get("roles"), [parameter.name for parameter in parameters], fixed)
    _expect(not problem, path, key, problem)
    refit = _refit(path, raw.get("refit"), task, fixed, parameters)
    pruner = _options(path, "pruner", raw.get("pruner"), PRUNERS, "none", objective)
    sampler = _options(path, "sampler", raw.get("sampler"), SAMPLERS, "tpe", objective)
    _check_grid(path, sampler, parameters)
    name = raw.get("study", path.stem)
    problem = name_problem(name)
    _expect(problem is None, path, "study", str(problem))
    return StudySpec(
        name=name, task=task.name, path=path, description=str(raw.get("description", "")), fixed=dict(fixed),
        parameters=parameters, objective=objective, direction=direction,
        sampler=sampler,
        pruner=pruner,
        trials=trials, timeout_minutes=timeout, roles=roles,
        refit=refit, start_with=_start_with(path, raw.get("start_with"), parameters, fixed),
        promote=_promote(path, raw.get("promote"), task, fixed, parameters),
    )


def with_budget(spec: StudySpec, trials: int | None = None) -> StudySpec:
    return dataclasses.replace(spec, trials=trials) if trials else spec
