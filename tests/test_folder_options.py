"""Every option that names a folder to write into is parsed by `sweeplab.paths.folder_path`: a file there, or a
path under a file, is refused by argparse in one line naming the option, before anything loads or trains (round 9's
5-c: `transfer --store s0.db` trained for 14 s, then `Not a directory: s0.db/transfer`). Paths printed back are
quoted when they are not printable (5-d)."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeplab.cli import build_parser, main
from sweeplab.paths import folder_path, shown

FOLDER_OPTIONS = {"--out", "--run-dir", "--store", "--dir", "--log-dir"}
FILE_OUTPUTS = {("predict", "--out")}  # a CSV file, not a folder


def _options() -> list[tuple[tuple[str, ...], str, object]]:
    """(subcommand path, option, its type) of every option with a folder's name."""
    found: list[tuple[tuple[str, ...], str, object]] = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, (*path, name))
            for option in action.option_strings:
                if option in FOLDER_OPTIONS and (*path, option) not in FILE_OUTPUTS:
                    found.append((path, option, action.type))

    walk(build_parser(), ())
    return found


OPTIONS = _options()


def test_every_folder_option_is_parsed_as_a_folder():
    commands = {path for path, _, _ in OPTIONS}
    assert {("report",), ("run",), ("init",), ("slurm",), ("wandb-sweep",), ("clocks", "render")} <= commands
    assert [(path, option) for path, option, kind in OPTIONS if kind is not folder_path] == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, len(OPTIONS) - 1), under=st.integers(0, 2),
       name=st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=8))
def test_a_file_where_a_folder_is_expected_is_refused_naming_the_option(index, under, name, tmp_path_factory,
                                                                         capsys):
    path, option, _ = OPTIONS[index]
    folder = tmp_path_factory.mktemp("folders")
    file = folder / f"{name}.db"
    file.write_bytes(b"kept")
    given_path = file.joinpath(*["sub"] * under)
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*path, option, str(given_path)])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert exited.value.code == 2 and option in error and "a file" in error, error
    assert file.read_bytes() == b"kept"


@given(text=st.text(min_size=1, max_size=12))
def test_a_path_is_shown_on_one_line_and_as_it_is_when_printable(text):
    line = shown(text)
    assert "\n" not in line and "\r" not in line and (line == text) == text.isprintable()


def test_report_prints_a_folder_with_a_newline_on_one_line(tmp_path, capsys):
    import optuna

    from sweeps.storage import open_storage

    url = f"sqlite:///{tmp_path / 'one.db'}"
    optuna.create_study(study_name="one", storage=open_storage(url)).add_trial(
        optuna.trial.create_trial(params={}, distributions={}, value=0.5))
    out = tmp_path / "nl\nx" / "rep"
    assert main(["report", "--storage", url, "--out", str(out)]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if "rep" in line]
    assert printed == [f"report: {str(out / 'index.html')!r}"], printed
