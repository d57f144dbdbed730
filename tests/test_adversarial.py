"""Adversarial inputs (issue 13): unsafe study names, values that can never train, inconsistent joins, hostile files.

Every case goes through the real CLI (`main(argv)`, in process) and must end in one line `sweeplab: error: ...`
naming what is wrong, a non-zero exit, no traceback, and nothing written outside the runs directory.
Signals, storage faults and run identity, which need training, are in tests/test_run_safety.py.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_cli_errors import BASE, assert_one_line_error, mutated, run_main, space_with

# ---------------------------------------------------------------- class 2: study names are paths
UNSAFE_NAMES = {
    "parent-escape": "../../escaped", "absolute": "/tmp/sweeplab-absolute-escape", "into-other-study":
        "x/../fashion-mlp", "slash": "a/b", "dotdot-inside": "x..y", "only-dots": "..", "dot": ".",
    "hidden": ".hidden", "leading-dash": "-rf", "space": "my study", "tab": "a\tb", "newline": "a\nb",
    "nul": "a\0b", "backslash": "a\\..\\b", "windows-drive": "C:\\x", "tilde": "~/x", "dollar": "$HOME",
    "semicolon": "a;rm -rf x", "unicode": "étude", "too-long-101": "a" * 101, "too-long-300": "b" * 300,
    "number": 3, "list": ["a"], "empty": "",
}


@pytest.mark.parametrize("name", list(UNSAFE_NAMES.values()), ids=list(UNSAFE_NAMES))
def test_unsafe_study_name_is_refused(name: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "named.yaml"
    path.write_text(mutated(study=name))
    runs = Path(os.environ["SWEEPLAB_RUNS_DIR"])
    code = run_main(["agent", str(path), "--storage", f"sqlite:///{tmp_path / 'never.db'}"])
    assert code == 2
    assert_one_line_error(capsys, code, str(path), "study")
    assert not (tmp_path / "never.db").exists()
    assert not Path("/tmp/sweeplab-absolute-escape").exists() and not (tmp_path.parent / "escaped").exists()
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("name", ["fashion-mlp", "a_b", "v1.2", "A" * 100, "0x"])
def test_safe_names_are_kept(name: str, tmp_path: Path) -> None:
    from sweeps.spec import load_spec

    path = tmp_path / "named.yaml"
    path.write_text(mutated(study=name))
    assert load_spec(path).name == name


def test_report_file_names_never_collide() -> None:
    from analysis.report_render import _page_name

    names = ["a/b", "a_b", "a b", "a:b", "x" * 300, "x" * 301, "../up", "fashion-mlp"]
    pages = [_page_name(name) for name in names]
    assert len(set(pages)) == len(names)
    assert all("/" not in page and len(page) < 120 for page in pages)
    assert _page_name("fashion-mlp") == "fashion-mlp.html"


def test_path_under_root_refuses_escapes(tmp_path: Path) -> None:
    from sweeps.names import UnsafeNameError, under

    assert under(tmp_path, "study", "0001") == tmp_path / "study" / "0001"
    for parts in (("..", "x"), ("/etc",), ("a", "..", "..", "b")):
        with pytest.raises(UnsafeNameError):
            under(tmp_path, *parts)


# ---------------------------------------------------------------- class 7: values that can never work
BAD_SETS = [
    "subset=-5", "subset=-1", "test_subset=-1", "beta_1=1.5", "beta_1=1", "beta_1=-0.1", "beta_2=1.0", "beta_2=-1",
    "dense_shrink=0", "dense_shrink=-1", "dense_shrink=100", "patience=-5", "epochs=1e15", "epochs=0", "epochs=-1",
    "epochs=1e6", "learning_rate=0", "learning_rate=-1e-3", "learning_rate=.inf", "learning_rate=-.inf",
    "learning_rate=.nan", "learning_rate=1e9", "batch_size=0", "batch_size=1e9", "validation_fraction=0",
    "validation_fraction=1", "validation_fraction=1.5", "dense_dropout=1", "dense_dropout=-0.5", "input_dropout=2",
    "momentum=-0.5", "momentum=1", "rho=2", "weight_decay=-1", "kernel_l2=-0.1", "kernel_l1=1e6", "dense_layers=-1",
    "dense_layers=1000", "seed=-1", "seed=1e20", "permutation_seed=-3", "label_smoothing=1", "steps_per_execution=0",
    "conv_blocks=100", "kernel_size=0", "strides=0", "pool_size=0", "filter_growth=0", "conv_filters=0",
    "stem_kernel_size=-3",
]


@pytest.mark.parametrize("assignment", BAD_SETS)
def test_out_of_range_set_is_refused(assignment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = assignment.split("=")[0]
    code = run_main(["agent", "mnist-mlp", "--storage", f"sqlite:///{tmp_path / 'never.db'}", "--set", assignment])
    assert code == 2
    assert_one_line_error(capsys, code, key)
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize("assignment", ["subset=-5", "beta_1=1.5", "epochs=1e15", "learning_rate=-1"])
@pytest.mark.parametrize("command", ["sweep", "run"])
def test_out_of_range_set_before_training(command: str, assignment: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main([command, "mnist-mlp", "--set", assignment])
    assert code == 2
    assert_one_line_error(capsys, code, assignment.split("=")[0])
    runs = Path(os.environ["SWEEPLAB_RUNS_DIR"])
    assert not runs.exists() or not any(runs.rglob("config.json")), "no run may start"


BAD_RANGES = {
    "lr-negative-to-zero": ("learning_rate", {"type": "float", "low": -1, "high": 0}),
    "lr-zero-low": ("learning_rate", {"type": "float", "low": 0, "high": 0.1}),
    "lr-high-inf": ("learning_rate", {"type": "float", "low": 1e-3, "high": float("inf")}),
    "lr-low-minus-inf": ("learning_rate", {"type": "float", "low": float("-inf"), "high": 0.1}),
    "lr-high-nan": ("learning_rate", {"type": "float", "low": 1e-3, "high": float("nan")}),
    "lr-huge": ("learning_rate", {"type": "float", "low": 1e-3, "high": 1e6, "log": True}),
    "subset-negative": ("subset", {"type": "int", "low": -5, "high": 100}),
    "beta1-above-one": ("beta_1", {"type": "float", "low": 0.5, "high": 1.5}),
    "shrink-zero": ("dense_shrink", {"type": "float", "low": 0, "high": 1}),
    "patience-negative": ("patience", {"type": "int", "low": -5, "high": 5}),
    "epochs-astronomic": ("epochs", {"type": "int", "low": 1, "high": 10**15}),
    "units-float-type": ("dense_units", {"type": "float", "low": 16, "high": 64}),
    "dropout-one": ("dense_dropout", {"type": "float", "low": 0.5, "high": 1.0}),
    "choice-zero-batch": ("batch_size", {"type": "categorical", "choices": [0, 64]}),
    "choice-beta-above-one": ("beta_1", {"type": "categorical", "choices": [0.9, 1.5]}),
    "choice-lr-word": ("learning_rate", {"type": "categorical", "choices": ["fast", 0.1]}),
    "choice-units-fraction": ("dense_units", {"type": "categorical", "choices": [1.5, 32]}),
    "choice-model-unknown": ("model", {"type": "categorical", "choices": ["geron_mlp", "transformer"]}),
    "choice-bool-for-int": ("dense_layers", {"type": "categorical", "choices": [True, 2]}),
}


@pytest.mark.parametrize(("name", "spec"), list(BAD_RANGES.values()), ids=list(BAD_RANGES))
def test_space_range_outside_bounds(name: str, spec: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = {key: value for key, value in space_with(name, spec).items() if key != "batch_size" or name == key}
    fixed = {key: value for key, value in BASE["fixed"].items() if key != name}
    path = tmp_path / "range.yaml"
    path.write_text(mutated(space=space, fixed=fixed))
    code = run_main(["sweep", str(path), "--storage", f"sqlite:///{tmp_path / 'never.db'}"])
    assert code == 2
    assert_one_line_error(capsys, code, str(path), f"space.{name}")
    assert not (tmp_path / "never.db").exists()


DUPLICATE_KEYS = {
    "top-level": "task: classify\ntask: clock\n",
    "in-fixed": "fixed: {epochs: 1, epochs: 5}\n",
    "in-space": "space:\n  learning_rate: {type: float, low: 0.001, high: 0.1}\n"
                "  learning_rate: {type: float, low: 0.01, high: 0.5}\n",
    "in-parameter": "space:\n  learning_rate: {type: float, low: 0.001, low: 0.01, high: 0.1}\n",
    "in-budget": "budget: {trials: 3, trials: 300}\n",
}


@pytest.mark.parametrize("snippet", list(DUPLICATE_KEYS.values()), ids=list(DUPLICATE_KEYS))
def test_duplicate_yaml_keys(snippet: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = {key: value for key, value in BASE.items() if key not in yaml.safe_load(snippet)}
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False) + snippet)
    code = run_main(["agent", str(path), "--storage", f"sqlite:///{tmp_path / 'never.db'}"])
    assert code == 2
    assert_one_line_error(capsys, code, str(path), "duplicate key")


@pytest.mark.parametrize(("text", "value"), [("0300", 300), ("010", 10), ("0", 0), ("1_000", "1_000"), ("0x10", 16),
                                             ("0o10", 8), ("1e3", 1000.0), ("-007", -7)])  # YAML 1.2: no `_`
def test_numbers_read_as_yaml_1_2(text: str, value: object) -> None:
    from sweeplab.commands import parse_overrides

    assert parse_overrides([f"subset={text}"]) == {"subset": value}


def test_leading_zero_in_study_file_is_decimal(tmp_path: Path) -> None:
    from sweeps.spec import load_spec

    path = tmp_path / "octal.yaml"
    path.write_text(VALID_WITH_SUBSET.replace("SUBSET", "0300"))
    assert load_spec(path).fixed["subset"] == 300


VALID_WITH_SUBSET = mutated(fixed={**BASE["fixed"], "subset": "SUBSET"}).replace("'SUBSET'", "SUBSET")


@pytest.mark.parametrize(("pairs", "expected"), [
    (["epochs=1", "epochs=2"], "given twice"), (["subset=1:30"], "subset"), (["epochs=0300.5"], "epochs"),
])
def test_ambiguous_set_values(pairs: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["agent", "mnist-mlp"]
    for pair in pairs:
        argv += ["--set", pair]
    code = run_main(argv)
    assert code == 2
    assert_one_line_error(capsys, code, expected)


# ---------------------------------------------------------------- class 8: hostile files
def _levels(depth: int, width: int, mapping: bool) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for level in range(1, depth):
        items = [f"*l{level - 1}"] * width
        body = "{" + ", ".join(f"k{index}: {item}" for index, item in enumerate(items)) + "}" if mapping \
            else "[" + ", ".join(items) + "]"
        lines.append(f"l{level}: &l{level} {body}")
    return "\n".join(lines) + "\n"


ALIAS_BOMBS = {
    "lists-9x9": _levels(9, 9, mapping=False),
    "maps-9x9": _levels(9, 9, mapping=True),
    "lists-20x4": _levels(20, 4, mapping=False),
    "inside-fixed": "task: classify\nfixed:\n  dataset: &d [" + ", ".join(["x"] * 50) + "]\n  seed: &s [" +
                    ", ".join(["*d"] * 50) + "]\n  subset: [" + ", ".join(["*s"] * 50) + "]\n",
    "self-reference": "task: classify\nspace: &s {learning_rate: *s}\n",
}


@pytest.mark.parametrize("text", list(ALIAS_BOMBS.values()), ids=list(ALIAS_BOMBS))
def test_alias_bomb_is_refused(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert path.stat().st_size < 4096
    code = run_main(["sweep", str(path), "--storage", f"sqlite:///{tmp_path / 'never.db'}"])
    assert code == 2
    assert_one_line_error(capsys, code, str(path), "aliases")


def test_alias_bomb_in_set_value(capsys: pytest.CaptureFixture[str]) -> None:
    flow = "{" + _levels(9, 9, mapping=False).strip().replace("\n", ", ") + "}"
    code = run_main(["agent", "mnist-mlp", "--set", f"dataset={flow}"])
    assert code == 2
    assert_one_line_error(capsys, code, "dataset", "not one value")  # refused before YAML expands anything


def _special_file(kind: str, tmp_path: Path) -> str:
    if kind == "fifo":
        os.mkfifo(tmp_path / "pipe.yaml")
        return str(tmp_path / "pipe.yaml")
    if kind == "directory":
        (tmp_path / "dir.yaml").mkdir()
        return str(tmp_path / "dir.yaml")
    if kind == "huge":
        path = tmp_path / "huge.yaml"
        path.write_text(VALID_WITH_SUBSET.replace("SUBSET", "300") + "# padding\n" * 200_000)
        return str(path)
    return kind


@pytest.mark.parametrize("kind", ["/dev/zero", "/dev/urandom", "fifo", "directory", "huge"])
def test_study_file_that_is_not_a_small_regular_file(kind: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _special_file(kind, tmp_path)
    code = run_main(["sweep", path, "--storage", f"sqlite:///{tmp_path / 'never.db'}"])
    assert code == 2
    assert_one_line_error(capsys, code, path)


class _Exploit:
    """Unpickling this calls a function of the attacker's choice."""

    def __init__(self, function: object, *args: object) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple:
        return self.function, self.args


def _crafted_batches(tmp_path: Path, payload: object) -> Path:
    directory = tmp_path / "cifar-10-batches-py"
    directory.mkdir()
    good = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1], b"batch_label": b"x", b"filenames": [b"a"]}
    for name in [f"data_batch_{index}" for index in range(1, 6)] + ["test_batch"]:
        (directory / name).write_bytes(pickle.dumps(good, protocol=2))
    (directory / "data_batch_3").write_bytes(pickle.dumps(payload, protocol=2))
    return directory


def _payloads(marker: Path) -> dict[str, object]:
    import builtins
    import subprocess

    return {
        "os-system": _Exploit(os.system, f"touch {marker}"),
        "eval": _Exploit(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
        "exec-in-dict": {b"data": _Exploit(builtins.exec, f"open({str(marker)!r}, 'w').close()"), b"labels": [0]},
        "popen-in-list": {b"data": np.zeros((1, 3072), np.uint8), b"labels": [_Exploit(subprocess.Popen,
                                                                                       ["touch", str(marker)])]},
        "object-array": {b"data": np.array([_Exploit(os.system, f"touch {marker}")], dtype=object), b"labels": [0]},
        "import": _Exploit(builtins.__import__, "os"),
    }


@pytest.mark.parametrize("kind", ["os-system", "eval", "exec-in-dict", "popen-in-list", "object-array", "import"])
def test_crafted_cifar_batch_runs_no_code(kind: str, tmp_path: Path) -> None:
    from datasets.formats import CorruptDataError, read_cifar_batches

    marker = tmp_path / "pwned"
    directory = _crafted_batches(tmp_path, _payloads(marker)[kind])
    with pytest.raises(CorruptDataError, match="data_batch_3"):
        read_cifar_batches(directory)
    assert not marker.exists()


def test_official_style_batches_still_load(tmp_path: Path) -> None:
    from datasets.formats import load_array_pickle, read_cifar_batches

    directory = _crafted_batches(tmp_path, {b"data": np.ones((2, 3072), np.uint8), b"labels": [3, 4]})
    x_train, y_train, x_test, _ = read_cifar_batches(directory)
    assert x_train.shape == (10, 32, 32, 3) and y_train.tolist()[4:6] == [3, 4] and x_test.shape == (2, 32, 32, 3)
    # the official files were pickled by Python 2 with the old `numpy.core.multiarray` path
    legacy = pickle.dumps(np.arange(3, dtype=np.uint8), protocol=2).replace(b"numpy._core", b"numpy.core")
    assert load_array_pickle(io.BytesIO(legacy)).tolist() == [0, 1, 2]


# ---------------------------------------------------------------- class 3: joining must be consistent
CONFLICTS = {
    "other-objective": {"objective": "val/loss"},
    "other-task": {"task": "clock", "fixed": {"epochs": 1}, "objective": "val/cse_minutes",
                   "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}},
}


def _study_pair(tmp_path: Path, changes: dict) -> tuple[Path, Path]:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(mutated(study="shared-name"))
    second.write_text(mutated(study="shared-name", **changes))
    return first, second


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
@pytest.mark.parametrize("conflict", list(CONFLICTS))
def test_join_with_other_objective_is_refused(conflict: str, kind: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from sweeps.optuna_study import create_study
    from sweeps.spec import load_spec

    url = f"sqlite:///{tmp_path / 'join.db'}" if kind == "sqlite" else f"journal:///{tmp_path / 'join.log'}"
    first, second = _study_pair(tmp_path, CONFLICTS[conflict])
    create_study(load_spec(first), url)
    for command in ("sweep", "agent"):
        code = run_main([command, str(second), "--storage", url])
        assert code == 2
        line = assert_one_line_error(capsys, code, "shared-name", str(first), str(second))
        assert "val/accuracy" in line
    import optuna

    from sweeps.storage import open_storage

    study = optuna.load_study(study_name="shared-name", storage=open_storage(url))
    assert study.direction.name == "MAXIMIZE" and not study.get_trials()


def test_join_with_same_objective_is_allowed(tmp_path: Path) -> None:
    from sweeps.optuna_study import create_study
    from sweeps.spec import load_spec

    url = f"sqlite:///{tmp_path / 'join.db'}"
    first, second = _study_pair(tmp_path, {"budget": {"trials": 9}})
    create_study(load_spec(first), url)
    assert create_study(load_spec(second), url).study_name == "shared-name"


@pytest.mark.postgres
def test_join_conflict_on_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from postgres_server import postgres_bin_dir, postgres_server

    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries absent (apt-get install postgresql)")
    from sweeps.optuna_study import create_study
    from sweeps.spec import load_spec

    first, second = _study_pair(tmp_path, CONFLICTS["other-objective"])
    with postgres_server() as url:
        create_study(load_spec(first), url)
        code = run_main(["agent", str(second), "--storage", url])
        assert code == 2
        assert_one_line_error(capsys, code, "shared-name", "val/loss", "val/accuracy")


# ---------------------------------------------------------------- every numeric config value has bounds
def test_every_numeric_config_field_has_bounds() -> None:
    import trainers
    from trainers.bounds import BOUNDS
    from trainers.config import field_types
    from trainers.registry import is_reference

    missing = sorted({f"{task}.{name}" for task, info in trainers.discover_tasks().items()
                      for name, annotation in field_types(info.config_type).items()
                      if annotation in (int, float) and name not in BOUNDS
                      and not is_reference(task)})  # a user's task declares its own bounds (`sweeplab.param`)
    assert not missing, f"add these to trainers/bounds.py: {missing}"


def test_every_shipped_config_is_within_bounds() -> None:
    """Defaults, presets, smoke configs and every shipped study file pass the bounds."""
    import trainers
    from sweeps.spec import load_spec, study_names
    from trainers.runner import resolve_config

    for info in trainers.discover_tasks().values():
        resolve_config(info, {})
        resolve_config(info, info.smoke)
    for name in study_names():
        spec = load_spec(name)
        resolve_config(spec.task_info, spec.fixed)
