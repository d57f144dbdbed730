"""Bad input of every kind gives one line `sweeplab: error: ...` naming the file/key, a non-zero exit, no traceback.

Cases are generated: truncations of a valid study file, wrong types, unknown keys, bad ranges, binary garbage,
empty files, unknown tasks and datasets, bad --set values, bad storage URLs, bad flags, missing data.
"""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sweeplab.cli import main
from sweeps.spec import TOP_KEYS

ROOT = Path(__file__).resolve().parent.parent

# `task` comes last, so every proper prefix of this file lacks a complete task (and is invalid).
VALID = """\
study: fuzz
space:
  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
  batch_size: {type: categorical, choices: [64, 128]}
  dense_layers: {type: int, low: 1, high: 3}
fixed: {dataset: mnist, model: geron_mlp, epochs: 1, subset: 300}
objective: val/accuracy
sampler: {name: random, seed: 0}
pruner: {name: median, n_startup_trials: 2}
budget: {trials: 4}
task: classify
"""
BASE = yaml.safe_load(VALID)


def mutated(**changes: object) -> str:
    document = {**BASE, **changes}
    return yaml.safe_dump({key: value for key, value in document.items() if value is not DELETE}, sort_keys=False)


DELETE = object()


def space_with(name: str, spec: object) -> dict:
    return {**BASE["space"], name: spec}


def study_cases() -> list[tuple[str, bytes, str]]:
    """(id, file content, the key the message must name)."""
    cases: list[tuple[str, bytes, str]] = []
    text = VALID.encode()
    for cut in range(0, len(text) - 2, 13):  # truncated YAML, every 13 bytes
        cases.append((f"truncated-{cut}", text[:cut], ""))
    rng = random.Random(0)
    for index in range(12):  # binary garbage, with and without NUL bytes
        cases.append((f"garbage-{index}", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))), ""))
    cases += [("empty", b"", "(top level)"), ("blank", b"   \n\n", "(top level)"), ("comment", b"# nothing\n", ""),
              ("list", b"- task: classify\n", "(top level)"), ("scalar", b"classify\n", "(top level)"),
              ("tabs", b"task:\tclassify\n\tspace: {}\n", ""), ("duplicate-anchor", b"a: *nope\n", ""),
              ("control-chars", b"task: classify\x07\n", ""), ("latin1", "task: caf\xe9\n".encode("latin-1"), "")]
    wrong_types = {"task": [3, ["classify"], {"name": "classify"}], "space": ["lr", 3, [1, 2], {}],
                   "fixed": [[1], "mnist", 3], "objective": [3, ["val/accuracy"]], "sampler": [3, ["qmc"]],
                   "pruner": [3, ["median"]], "budget": ["ten", 3, [4]], "roles": [3, "x", {"scientific": ["wings"]}],
                   "study": [3, ""], "refit": ["yes", [1], {"epochs": "many"}],
                   "promote": [3, "all", {"top": 0}, {"every": -1}, {"every": "often"}],
                   "start_with": [3, "prior", [{"learning_rate": "fast"}]]}
    for key, values in wrong_types.items():
        for index, value in enumerate(values):
            cases.append((f"type-{key}-{index}", mutated(**{key: value}).encode(), key))
    cases += [
        ("unknown-top", mutated(trials=3).encode(), "trials"),
        ("unknown-param-key", mutated(space=space_with("learning_rate", {"type": "float", "low": 0.1, "high": 1,
                                                                          "scale": "log"})).encode(), "space."),
        ("unknown-hyperparameter", mutated(space=space_with("wings", {"type": "int", "low": 1, "high": 2}))
         .encode(), "space.wings"),
        ("unknown-fixed", mutated(fixed={**BASE["fixed"], "colour": "red"}).encode(), "fixed"),
        ("unknown-sampler", mutated(sampler={"name": "annealing"}).encode(), "sampler.name"),
        ("unknown-sampler-option", mutated(sampler={"name": "random", "n_startup_trials": 3}).encode(), "sampler"),
        ("unknown-pruner", mutated(pruner="percentile").encode(), "pruner.name"),
        ("unknown-task", mutated(task="regress").encode(), "task"),
        ("missing-task", mutated(task=DELETE).encode(), "task"),
        ("missing-space", mutated(space=DELETE).encode(), "space"),
        ("unknown-dataset", mutated(fixed={**BASE["fixed"], "dataset": "imagenet"}).encode(), "fixed.dataset"),
        ("unknown-objective", mutated(objective="val/speed").encode(), "objective"),
        ("fixed-wrong-type", mutated(fixed={**BASE["fixed"], "epochs": "many"}).encode(), "fixed"),
        ("fixed-and-space", mutated(fixed={**BASE["fixed"], "batch_size": 32}).encode(), "fixed.batch_size"),
        ("zero-trials", mutated(budget={"trials": 0}).encode(), "budget.trials"),
        ("negative-timeout", mutated(budget={"trials": 3, "timeout_minutes": -1}).encode(), "budget.timeout"),
        ("bad-when", mutated(space=space_with("rho", {"type": "float", "low": 0.8, "high": 0.9,
                                                      "when": {"optimizer": ["rmsprop"]}})).encode(), "space.rho"),
    ]
    bad_ranges = {"low-above-high": {"type": "float", "low": 1.0, "high": 0.1},
                  "low-equals-high": {"type": "float", "low": 0.1, "high": 0.1},
                  "log-nonpositive": {"type": "float", "low": 0.0, "high": 1.0, "log": True},
                  "string-bound": {"type": "float", "low": "small", "high": 1.0},
                  "negative-step": {"type": "float", "low": 0.1, "high": 1.0, "step": -0.1},
                  "log-with-step": {"type": "float", "low": 0.1, "high": 1.0, "log": True, "step": 0.1},
                  "int-float-bounds": {"type": "int", "low": 1.5, "high": 3},
                  "log-not-bool": {"type": "float", "low": 0.1, "high": 1.0, "log": "yes"},
                  "bad-type": {"type": "complex", "low": 0, "high": 1},
                  "no-type": {"low": 0, "high": 1},
                  "not-mapping": [0.001, 0.1],
                  "empty-choices": {"type": "categorical", "choices": []},
                  "nested-choices": {"type": "categorical", "choices": [{"a": 1}]},
                  "choices-not-list": {"type": "categorical", "choices": "adam"}}
    for name, spec in bad_ranges.items():
        cases.append((f"range-{name}", mutated(space=space_with("learning_rate", spec)).encode(),
                      "space.learning_rate"))
    return cases


STUDY_CASES = study_cases()


def assert_one_line_error(capsys: pytest.CaptureFixture[str], code: int, *expected: str) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code != 0
    assert "Traceback" not in captured.err + captured.out
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("sweeplab: error: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def run_main(argv: list[str]) -> int:
    """`main(argv)`; argparse's own errors exit through SystemExit (one line, code 2) like the real CLI."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def test_every_key_of_a_study_file_has_malformed_cases() -> None:
    """A key added to the schema (sweeps.spec.TOP_KEYS) without cases here fails; free text has no wrong value."""
    named = {case[2].split(".")[0] for case in STUDY_CASES}
    assert set(TOP_KEYS) - {"description"} <= named, sorted(set(TOP_KEYS) - {"description"} - named)


@pytest.mark.parametrize(("content", "key"), [case[1:] for case in STUDY_CASES], ids=[case[0] for case in STUDY_CASES])
def test_malformed_study_file(content: bytes, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    code = main(["agent", str(path), "--storage", f"sqlite:///{tmp_path / 'never.db'}"])
    line = assert_one_line_error(capsys, code, str(path), key)
    assert code == 2, line
    assert not (tmp_path / "never.db").exists(), "no storage may be touched for a bad study file"


TINY = ["--set", "epochs=1", "--set", "subset=300"]
FLAG_CASES: list[tuple[str, list[str], str]] = [
    ("set-not-int", ["agent", "mnist-mlp", "--set", "epochs=abc"], "epochs"),
    ("set-float-for-int", ["agent", "mnist-mlp", "--set", "epochs=1.5"], "epochs"),
    ("set-not-float", ["agent", "mnist-mlp", "--set", "learning_rate=fast"], "learning_rate"),
    ("set-unknown-key", ["agent", "mnist-mlp", "--set", "wings=2"], "wings"),
    ("set-no-equals", ["agent", "mnist-mlp", "--set", "epochs"], "epochs"),
    ("set-empty-key", ["agent", "mnist-mlp", "--set", "=3"], "--set"),
    ("set-unknown-dataset", ["agent", "mnist-mlp", "--set", "dataset=imagenet"], "imagenet"),
    ("set-bad-bool", ["agent", "mnist-mlp", "--set", "nesterov=perhaps"], "nesterov"),
    ("run-unknown-task", ["run", "regress"], "regress"),
    ("run-unknown-dataset", ["run", "classify", "--set", "dataset=imagenet"], "imagenet"),
    ("unknown-study", ["agent", "no-such-study"], "no-such-study"),
    ("sweep-unknown-study", ["sweep", "no-such-study"], "no-such-study"),
    ("best-unknown-study", ["best", "no-such-study"], "no-such-study"),
    ("storage-scheme", ["agent", "mnist-mlp", "--storage", "mongodb://localhost/x"], "storage"),
    ("storage-not-url", ["agent", "mnist-mlp", "--storage", "my database"], "storage"),
    ("storage-sqlite-two-slashes", ["agent", "mnist-mlp", "--storage", "sqlite://runs/x.db"], "three slashes"),
    ("storage-sqlite-memory", ["agent", "mnist-mlp", "--storage", "sqlite:///:memory:"], "storage"),
    ("storage-journal-relative", ["agent", "mnist-mlp", "--storage", "journal://study.log"], "absolute path"),
    ("storage-unreachable", ["agent", "mnist-mlp", "--storage", "postgresql+psycopg://u:secret@127.0.0.1:1/db"],
     "cannot connect"),
    ("storage-unreachable-best", ["best", "mnist-mlp", "--storage", "postgresql+psycopg://u@127.0.0.1:1/db"],
     "cannot connect"),
    ("storage-no-driver", ["studies", "--storage", "mysql+nodriver://u@127.0.0.1:1/db"], "storage"),
    ("storage-sqlite-unwritable", ["agent", "mnist-mlp", "--storage", "sqlite:////proc/no/such/dir/x.db"],
     "storage"),
    ("trials-zero", ["agent", "mnist-mlp", "--trials", "0"], "--trials"),
    ("trials-negative", ["agents", "mnist-mlp", "--trials", "-3"], "--trials"),
    ("trials-word", ["agent", "mnist-mlp", "--trials", "many"], "--trials"),
    ("agents-zero", ["agents", "mnist-mlp", "--n", "0"], "--n"),
    ("max-failures-zero", ["agent", "mnist-mlp", "--max-failures", "0"], "--max-failures"),
    ("missing-study-argument", ["agent"], "study"),
    ("unknown-command", ["conquer"], "conquer"),
    ("unknown-flag", ["agent", "mnist-mlp", "--turbo"], "--turbo"),
]


@pytest.mark.parametrize(("argv", "expected"), [case[1:] for case in FLAG_CASES], ids=[case[0] for case in FLAG_CASES])
def test_bad_command_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(argv)
    line = assert_one_line_error(capsys, code, expected)
    assert code == 2, line
    assert "secret" not in line


def test_bad_heartbeat_environment(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SWEEPLAB_HEARTBEAT_SECONDS", "soon")
    assert_one_line_error(capsys, main(["agent", "mnist-mlp"]), "SWEEPLAB_HEARTBEAT_SECONDS")


def test_missing_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """No mirror, empty keras cache, offline: the agent refuses to start and says which sources it tried."""
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(tmp_path / "empty-mirror"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    monkeypatch.setenv("SWEEPLAB_CACHE_DIR", str(tmp_path / "empty-cache"))
    code = main(["agent", "mnist-mlp", "--storage", f"sqlite:///{tmp_path / 'x.db'}", *TINY])
    assert_one_line_error(capsys, code, "mnist", "not available", "To fix")
    assert code == 2


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "agent", "mnist-mlp", "--storage", "mongodb://x"]) != 0
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["agent", "mnist-mlp", "--storage", "mongodb://x"], ["agents", "no-such-study"]])
def test_real_process_prints_one_line(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "sweeplab.cli", *argv], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.startswith("sweeplab")]
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("sweeplab: error: ")


@settings(max_examples=20, deadline=None)
@given(number=st.sampled_from([errno.ENOENT, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.ENOSPC, errno.EROFS,
                               errno.ENOTDIR, errno.EPERM]),
       filename=st.one_of(st.none(), st.text(min_size=1, max_size=40).filter(lambda text: "\n" not in text)))
def test_a_path_the_system_refuses_is_one_line_naming_it(number, filename):
    """Any OSError a command meets (an output path that is a directory, /dev/full, a read-only place): one line
    with the system's words and the path, exit 2, no traceback (the adversarial run's `--out /tmp`, `/dev/full`,
    `--run-dir /proc/self/x`)."""
    import io
    from contextlib import redirect_stderr

    from sweeplab import cli

    def handler(args):
        raise OSError(number, os.strerror(number), filename) if filename is not None else OSError(
            number, os.strerror(number))

    parser = cli.build_parser()
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stderr(stderr):
        patch.setattr(cli, "build_parser", lambda: _with_handler(parser, handler))
        code = cli.main(["tasks"])
    lines = stderr.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in stderr.getvalue()
    assert lines[0].startswith(f"sweeplab: error: {os.strerror(number)}")
    if filename is not None:
        assert (filename if filename.isprintable() else repr(filename)) in lines[0]


def _with_handler(parser, handler):
    original = parser.parse_args

    def parse_args(argv=None, namespace=None):
        args = original(argv, namespace)
        args.handler = handler
        return args

    parser.parse_args = parse_args
    return parser


def test_a_refused_command_line_is_answered_without_loading_numpy(tmp_path):
    """Argument and setting refusals are the most common answer: they load no numerical library (the packages'
    public names load lazily; `check_settings` runs at every start), so they come back at once."""
    import subprocess
    import sys

    (tmp_path / "file").write_text("")
    code = ("import sys\nfrom sweeplab.cli import main\ntry:\n    code = main(sys.argv[1:])\n"
            "except SystemExit as exited:\n    code = exited.code\n"
            "print(code, 'numpy' in sys.modules, 'optuna' in sys.modules)")
    for argv, env in ((["report", "--top", "0"], {}), (["studies"], {"SWEEPLAB_RUNS_DIR": str(tmp_path / "file")})):
        done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60,
                              env={**os.environ, **env})
        assert done.stdout.split() == ["2", "False", "False"], (argv, done.stdout, done.stderr)


def test_every_user_error_type_named_exists():
    """`user_error_types` names its types by module and name (so a refusal loads nothing): each must resolve."""
    import importlib

    from sweeplab.errors import _USER_ERRORS, user_error_types

    for module, name in _USER_ERRORS:
        kind = getattr(importlib.import_module(module), name)
        assert isinstance(kind, type) and issubclass(kind, Exception) and kind in user_error_types(), (module, name)


@pytest.mark.parametrize(("loss", "code"), [(float("nan"), 2), (float("inf"), 2), (0.5, 0)])
def test_a_single_run_whose_loss_is_not_finite_is_not_a_result(loss, code, tmp_path, monkeypatch, capsys):
    """Round 12's 8-a: `sweeplab run` on data that made the losses NaN printed them and exited 0, where a trial of a
    study fails for the same result. The metrics are still printed; the exit says the run diverged."""
    import trainers
    from trainers.runner import Result

    def diverging(task, config, reporter, run_dir):
        return Result(task, config, {"val/accuracy": 0.45, "val/loss": loss}, run_dir)

    monkeypatch.setattr(trainers, "run", diverging)
    assert main(["run", "classify", "--run-dir", str(tmp_path / "rd")]) == code
    error = capsys.readouterr().err.strip().splitlines()
    assert (error == []) == (code == 0) and all("the training diverged" in line for line in error)
