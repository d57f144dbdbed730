"""Class 5's output door: a place the user points a command at (`--out`, `--preview`) has only sweeplab's own
earlier outputs replaced there. Round 13's 5-f (`predict --out` over a run's signed `result.json`) and 5-g (`clocks
render --out` over a kept data set) replaced the user's files without a word; 5-h named a temporary file for a
folder given as `--out`. Generated: which command, what is found at its output (a user's file of any bytes, a link,
a hard link, a folder, one of its own outputs edited since), and the door itself under any sequence of writes and
edits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.atomic import atomic_write, write_text
from datasets.ownership import MANIFEST, ForeignOutputError, user_outputs
from sweeplab.cli import main
from trainers import get_task, run

ROOT = Path(__file__).resolve().parent.parent
STUDY = """task: classify
fixed: {dataset: mnist, model: cpu_mlp, epochs: 1}
space:
  learning_rate: {type: float, low: 0.0001, high: 0.1, log: true}
objective: val/accuracy
"""


@pytest.fixture(scope="module")
def clock_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A one-epoch clock model (40x40) and 4 rendered clocks to read."""
    run_dir = tmp_path_factory.mktemp("clock-run")
    run("clock", {**get_task("clock").smoke, "image_size": 40, "head": "two_circle"}, None, run_dir)
    clocks = tmp_path_factory.mktemp("clocks")
    assert main(["clocks", "render", "--n", "4", "--out", str(clocks), "--workers", "1"]) == 0
    return run_dir / "model.keras", clocks / "images.npy"


def _doors(folder: Path, inputs: tuple[Path, Path]) -> dict[str, tuple[list[str], Path]]:
    """Each door: its command line (without --overwrite) and one file it writes at the user's output."""
    model, images = inputs
    study = folder / "own-out.yaml"
    study.write_bytes(STUDY.encode())
    return {
        "predict --out": (["predict", "clock", "--model", str(model), "--images", str(images),
                           "--out", str(folder / "p.csv")], folder / "p.csv"),
        "clocks render --out": (["clocks", "render", "--n", "2", "--workers", "1", "--out", str(folder / "set")],
                                folder / "set" / "images.npy"),
        "clocks render --preview": (["clocks", "render", "--n", "2", "--workers", "1", "--out", str(folder / "s2"),
                                     "--preview", str(folder / "look.png")], folder / "look.png"),
        "wandb-sweep --out": (["wandb-sweep", str(study), "--no-create", "--out", str(folder / "wb")],
                              folder / "wb" / "own-out.wandb.yaml"),
    }


def _exit_code(command: list[str]) -> int:
    try:
        return main(command)
    except SystemExit as refused:  # argparse's own refusal of an option's value
        return int(refused.code or 0)


FOUND = st.sampled_from(["user file", "symbolic link", "hard link", "folder", "own output edited"])


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(door=st.sampled_from(["predict --out", "clocks render --out", "clocks render --preview", "wandb-sweep --out"]),
       found=FOUND, data=st.binary(min_size=1, max_size=300))
def test_a_users_file_at_an_output_is_kept_and_the_command_refused(door, found, data, clock_inputs,
                                                                    tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("door")
    command, target = _doors(folder, clock_inputs)[door]
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = folder / "users-own.bin"
    kept.write_bytes(data)
    if found == "user file":
        target.write_bytes(data)
    elif found == "symbolic link":
        target.symlink_to(kept)
    elif found == "hard link":
        os.link(kept, target)
    elif found == "folder":
        target.mkdir()
        (target / "keep.txt").write_bytes(data)
    else:  # written by sweeplab, then changed by the user
        assert main(command) == 0
        with open(target, "ab") as handle:
            handle.write(data)
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file() and not path.is_symlink()}
    capsys.readouterr()
    code = _exit_code(command)
    error = capsys.readouterr().err.strip().splitlines()
    option = door.split()[-1]
    assert code == 2 and len(error) == 1 and option in error[0], error
    assert any(words in error[0] for words in (["is a folder", "is a directory"] if found == "folder"
                                              else ["--overwrite"])), error
    assert "Traceback" not in error[0] and ".tmp" not in error[0] and f"/.{target.name}." not in error[0]
    assert {path: path.read_bytes() for path in before} == before  # every byte kept, the user's and the links'
    assert target.is_symlink() == (found == "symbolic link")
    if found != "folder":
        assert main([*command, "--overwrite"]) == 0  # on the user's word it is replaced (a link replaced, its
        assert not target.is_symlink() and kept.read_bytes() == data  # target kept)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(door=st.sampled_from(["predict --out", "clocks render --out", "clocks render --preview", "wandb-sweep --out"]))
def test_a_command_run_again_replaces_its_own_outputs(door, clock_inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("again")
    command, target = _doors(folder, clock_inputs)[door]
    assert main(command) == 0 and target.is_file()
    assert main(command) == 0, "its own unchanged output must not need --overwrite"
    assert (target.parent / MANIFEST).is_file()


def test_a_manifest_copied_with_its_folder_still_names_its_files(tmp_path):
    """Outputs committed to git (results/) are ours in a fresh clone: the record is by content, not inode."""
    (tmp_path / "out").mkdir()
    with user_outputs(tmp_path / "out", "--out"):
        write_text(tmp_path / "out" / "a.md", "table\n")
    shutil.copytree(tmp_path / "out", tmp_path / "clone")
    os.utime(tmp_path / "clone" / "a.md", (1, 1))
    with user_outputs(tmp_path / "clone", "--out"):
        write_text(tmp_path / "clone" / "a.md", "new table\n")
    assert (tmp_path / "clone" / "a.md").read_text() == "new table\n"


OPERATIONS = st.lists(st.tuples(st.sampled_from(["sweeplab writes", "user edits", "user replaces", "user deletes",
                                                 "user empties"]), st.binary(min_size=1, max_size=40)),
                      min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS, overwrite=st.booleans())
def test_the_door_replaces_exactly_the_files_sweeplab_left_as_they_were(operations, overwrite, tmp_path_factory):
    """The invariant, under any sequence of sweeplab's writes and the user's edits: a write replaces the file when
    it is absent, empty, or holds what sweeplab last wrote there; otherwise (without --overwrite) it raises and the
    file keeps every byte."""
    folder = tmp_path_factory.mktemp("sequence")
    path, last_written = folder / "out.csv", None
    for operation, data in operations:
        if operation == "sweeplab writes":
            present = path.read_bytes() if path.exists() else None
            replaceable = overwrite or present in (None, b"") or present == last_written
            try:
                with user_outputs(path, "--out", overwrite):
                    write_text(path, data.hex())
            except ForeignOutputError:
                assert not replaceable and path.read_bytes() == present
            else:
                assert replaceable and path.read_text() == data.hex()
                last_written = data.hex().encode()
        elif operation == "user deletes":
            path.unlink(missing_ok=True)
        elif operation == "user empties":
            path.write_bytes(b"")
        elif operation == "user edits" and path.exists():
            path.write_bytes(path.read_bytes() + data)
        elif operation == "user replaces":
            path.write_bytes(data)


def test_the_manifest_itself_is_never_an_output(tmp_path, capsys):
    code = main(["clocks", "render", "--n", "2", "--workers", "1", "--out", str(tmp_path),
                 "--preview", str(tmp_path / ".sweeplab-outputs.json.png")])
    assert code == 0  # a name beside the manifest is fine
    with pytest.raises(ForeignOutputError, match="record of what it wrote"), user_outputs(tmp_path, "--out"):
        write_text(tmp_path / MANIFEST, "{}")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(door=st.sampled_from(["predict --out", "clocks render --preview"]),
       stream=st.sampled_from(["/dev/stdout", "/proc/self/fd/1", "link to /dev/stdout", "-"]))
def test_a_stream_named_as_an_output_is_written_not_refused(door, stream, clock_inputs, tmp_path_factory):
    """The door asks whose file it would replace only of files: `--out /dev/stdout` (a link the system keeps) is
    a stream, written in place (a first version of the door refused it as a link sweeplab did not write)."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("stream")
    command, target = _doors(folder, clock_inputs)[door]
    if stream == "link to /dev/stdout" or door.endswith("preview"):  # a preview's name must end in .png
        name = folder / ("so.png" if door.endswith("preview") else "so.csv")
        name.symlink_to("/dev/stdout")
        stream = str(name)
    command = [stream if part == str(target) else part for part in command]
    log = folder / "kept.log"
    log.write_bytes(b"kept line\n")
    with open(log, "ab") as appended:
        result = subprocess.run([sys.executable, "-m", "sweeplab", *command], stdout=appended,
                                stderr=subprocess.PIPE, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    written = log.read_bytes()
    assert written.startswith(b"kept line\n") and len(written) > len(b"kept line\n") + 20
    assert (b"\x89PNG" if door.endswith("preview") else b"index,hour,minute,time") in written


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["folder", "link to a user file", "link to /dev/zero", "FIFO", "huge", "not JSON",
                             "a list", "values not text"]))
def test_a_record_that_is_not_one_is_kept_and_claims_nothing(kind, tmp_path_factory):
    """Whatever holds the record's name (a folder, a link, a FIFO, a huge or malformed file) is never read whole,
    never written through and never replaced; the files it would name are not taken as sweeplab's."""
    folder = tmp_path_factory.mktemp("record")
    user = folder / "user.txt"
    user.write_bytes(b"the user's own")
    manifest = folder / MANIFEST
    if kind == "folder":
        manifest.mkdir()
    elif kind == "link to a user file":
        manifest.symlink_to(user)
    elif kind == "link to /dev/zero":
        manifest.symlink_to("/dev/zero")
    elif kind == "FIFO":
        os.mkfifo(manifest)
    elif kind == "huge":
        manifest.write_bytes(b" " * (5 << 20))
    else:
        manifest.write_text({"not JSON": "{out.csv", "a list": "[1, 2]", "values not text": '{"out.csv": 5}'}[kind])
    (folder / "out.csv").write_text("a user's table\n")
    with pytest.raises(ForeignOutputError), user_outputs(folder, "--out"):
        write_text(folder / "out.csv", "sweeplab's table\n")
    assert (folder / "out.csv").read_text() == "a user's table\n"
    with user_outputs(folder, "--out"):
        write_text(folder / "new.csv", "sweeplab's table\n")  # a new file is written; the odd record stays as it was
    assert user.read_bytes() == b"the user's own"
    assert manifest.is_symlink() == kind.startswith("link") and manifest.is_dir() == (kind == "folder")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=200), own_first=st.booleans())
def test_a_file_put_at_an_output_while_it_is_written_is_kept(data, own_first, tmp_path_factory):
    """Between the door's first look and its rename the writer runs (seconds for a large array): a user's file
    that appears there meanwhile, or replaces sweeplab's own, is kept and the write refused."""
    folder = tmp_path_factory.mktemp("race")
    path = folder / "out.bin"
    with user_outputs(folder, "--out"):
        if own_first:
            write_text(path, "sweeplab's first\n")

        def slow_writer(temporary: str) -> None:
            path.write_bytes(data)  # the user's file lands while sweeplab writes its temporary
            Path(temporary).write_text("sweeplab's\n")

        with pytest.raises(ForeignOutputError):
            atomic_write(path, slow_writer)
    assert path.read_bytes() == data and [p.name for p in folder.iterdir() if p.name.startswith(".out")] == []


RECORD_TEXTS = st.one_of(
    st.text(max_size=200),  # a user's own notes under the record's name
    st.integers(1000, 60000).map(lambda depth: "[" * depth + "]" * depth),  # nested past the parser's recursion
    st.integers(1000, 60000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=70), st.integers())).map(
        lambda entries: __import__("json").dumps(entries)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=RECORD_TEXTS)
def test_a_file_under_the_records_name_is_read_safely_and_replaced_only_when_it_is_a_record(text, tmp_path_factory):
    """Round 14's 5-c (a record nested 100,000 deep: an internal RecursionError after part of the output) and 5-e
    (a user's own notes under the record's name were replaced): whatever the file holds, a user's file at the output
    stays refused, and the file under the record's name is rewritten only when it is a record (names to SHA-256)."""
    import json
    import re

    folder = tmp_path_factory.mktemp("recordtext")
    manifest = folder / MANIFEST
    manifest.write_text(text)
    (folder / "out.csv").write_text("a user's table\n")
    with pytest.raises(ForeignOutputError), user_outputs(folder, "--out"):
        write_text(folder / "out.csv", "sweeplab's table\n")
    with user_outputs(folder, "--out"):
        write_text(folder / "new.csv", "sweeplab's table\n")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    is_record = isinstance(parsed, dict) and all(isinstance(value, str) and re.fullmatch("[0-9a-f]{64}", value)
                                                 for value in parsed.values())
    assert (manifest.read_text() != text) == is_record
    assert (folder / "out.csv").read_text() == "a user's table\n"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(door=st.sampled_from(["predict --out", "clocks render --out", "wandb-sweep --out", "report --out"]),
       blocker=st.sampled_from(["file", "link loop", "dangling link"]), depth=st.integers(0, 2))
def test_a_path_through_a_file_or_a_broken_link_names_it(door, blocker, depth, clock_inputs, tmp_path_factory,
                                                        capsys):
    """Round 14's 5-g: `--out notes.txt/p.csv` (or a link loop as `report --out`) said only "File exists". The part
    in the way is named as what it is, in one line, and nothing is written."""
    import optuna

    folder = tmp_path_factory.mktemp("blocked")
    inside = folder / "in-the-way"
    if blocker == "file":
        inside.write_text("the user's notes\n")
    elif blocker == "link loop":
        inside.symlink_to(inside)
    else:
        inside.symlink_to(folder / "missing" / "target")
    below = inside.joinpath(*["sub"] * depth)
    command, _ = _doors(folder, clock_inputs).get(door, ([], None))
    if door == "report --out":
        storage = f"sqlite:///{folder / 's.db'}"
        optuna.create_study(study_name="empty", storage=storage)
        command = ["report", "--storage", storage, "--out", str(below)]
    else:
        option_at = command.index("--out") + 1
        command[option_at] = str(below / "p.csv") if door.startswith("predict") else str(below)
    capsys.readouterr()
    code = _exit_code(command)
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and "File exists" not in error[0], error
    assert str(inside) in error[0] or repr(str(inside)) in error[0], error
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        {"in-the-way", "own-out.yaml", *(["s.db"] if door == "report --out" else [])})
    if blocker == "file":
        assert inside.read_text() == "the user's notes\n"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ending=st.sampled_from(["/", "/.", "/..", "//"]), exists=st.booleans())
def test_a_file_output_named_as_a_folder_is_refused(ending, exists, clock_inputs, tmp_path_factory, capsys):
    """Round 14's 5-h: `predict --out o39/` wrote a file named `o39`."""
    folder = tmp_path_factory.mktemp("slash")
    if exists:
        (folder / "o39").mkdir()
    command, _ = _doors(folder, clock_inputs)["predict --out"]
    command[command.index("--out") + 1] = str(folder / "o39") + ending
    capsys.readouterr()
    assert _exit_code(command) == 2
    assert "names a folder" in capsys.readouterr().err
    assert (folder / "o39").is_dir() == exists and not (folder / "o39").is_file()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(["the folder", "images.npy", "labels.npy", "a parent"]))
def test_a_preview_where_the_data_set_goes_is_refused_before_rendering(where, tmp_path_factory, capsys):
    """Round 14's observation: `clocks render --out x.png --preview x.png` wrote the data set, then refused."""
    folder = tmp_path_factory.mktemp("preview-clash")
    out = folder / "set.png" / "sub" if where == "a parent" else folder / "set.png"
    preview = {"the folder": out, "images.npy": out / "images.npy", "labels.npy": out / "labels.npy",
               "a parent": folder / "set.png"}[where]
    capsys.readouterr()
    code = _exit_code(["clocks", "render", "--n", "2", "--workers", "1", "--out", str(out), "--preview", str(preview)])
    assert code == 2 and ("--preview" in capsys.readouterr().err)
    assert list(folder.iterdir()) == []


def test_report_over_a_users_page_writes_nothing(tmp_path, capsys):
    """Round 14's observation: `report` refused a user's index.html only after writing its other pages."""
    import optuna

    storage = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(study_name="one", storage=storage)
    out = tmp_path / "reports"
    out.mkdir()
    (out / "index.html").write_text("<p>mine</p>")
    assert main(["report", "--storage", storage, "--out", str(out)]) == 2
    assert sorted(path.name for path in out.iterdir()) == ["index.html"]
    assert (out / "index.html").read_text() == "<p>mine</p>"


SPECIAL = st.sampled_from(["FIFO", "socket", "link to /dev/stdout", "link to a FIFO"])


def _make_special(path: Path, kind: str) -> None:
    import socket

    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    elif kind == "link to /dev/stdout":
        path.symlink_to("/dev/stdout")
    else:
        os.mkfifo(path.parent / "a-fifo")
        path.symlink_to(path.parent / "a-fifo")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(door=st.sampled_from(["clocks render --out", "wandb-sweep --out", "report --out"]), kind=SPECIAL,
       overwrite=st.booleans())
def test_a_fifo_socket_or_stream_link_inside_an_output_folder_is_never_written_through(door, kind, overwrite,
                                                                                      clock_inputs, tmp_path_factory):
    """Round 15's 5-a (a FIFO named like a report page hung the command), 5-b (a socket was replaced) and 5-f (a
    link to /dev/stdout in a render folder got the binary arrays): inside a folder the user named, such a name is
    foreign like a file: refused (kept) in one line, or replaced by a plain file with --overwrite; never opened."""
    import subprocess
    import sys

    import optuna

    folder = tmp_path_factory.mktemp("special")
    if door == "report --out":
        storage = f"sqlite:///{folder / 's.db'}"
        optuna.create_study(study_name="one", storage=storage)
        command, target = ["report", "--storage", storage, "--out", str(folder / "rp")], folder / "rp" / "one.html"
    else:
        command, target = _doors(folder, clock_inputs)[door]
        if door.startswith("clocks"):
            target = target.parent / "labels.npy"
    _make_special(target, kind)
    result = subprocess.run([sys.executable, "-m", "sweeplab", *command, *(["--overwrite"] if overwrite else [])],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if overwrite:
        assert result.returncode == 0 and target.is_file() and not target.is_symlink(), result.stderr[-1500:]
    else:
        error = result.stderr.strip().splitlines()
        assert result.returncode == 2 and "--overwrite" in error[-1], result.stderr[-1500:]
        assert os.path.lexists(target) and not (target.is_file() and not target.is_symlink())
    assert b"\x93NUMPY" not in result.stdout.encode("utf-8", "surrogateescape")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signum=st.sampled_from(["SIGTERM", "SIGINT", "SIGUSR1", "SIGHUP"]), after=st.integers(1, 2),
       files=st.integers(2, 3))
def test_a_stop_while_a_set_of_files_is_renamed_lands_before_or_after_all_of_them(signum, after, files,
                                                                                  tmp_path_factory, monkeypatch):
    """Round 15's 4-a: a stop between `clocks render`'s two renames left one render's images beside another's
    labels. The renames of files written together run with the stop signals held: after the stop, every file holds
    the new content (the stop is raised once the set is whole)."""
    import signal

    import datasets.atomic as atomic

    folder = tmp_path_factory.mktemp("pair")
    paths = [folder / f"part{index}.npy" for index in range(files)]
    for path in paths:
        path.write_text("old\n")

    class Stop(Exception):
        pass

    def stop(number, frame):
        raise Stop(number)

    real_replace, renamed = os.replace, []

    def replace_then_signal(source, target):
        real_replace(source, target)
        renamed.append(target)
        if len(renamed) == after:
            signal.raise_signal(getattr(signal, signum))

    previous = signal.signal(getattr(signal, signum), stop)
    try:
        monkeypatch.setattr(atomic.os, "replace", replace_then_signal)
        with pytest.raises(Stop):
            atomic.atomic_write_all({path: (lambda temporary: Path(temporary).write_text("new\n")) for path in paths})
    finally:
        signal.signal(getattr(signal, signum), previous)
    assert [path.read_text() for path in paths] == ["new\n"] * files
    assert sorted(path.name for path in folder.iterdir()) == sorted(path.name for path in paths)


def test_an_odd_record_is_named_when_it_is_why_a_file_is_refused(tmp_path, capsys):
    """Round 15's 5-c: beside a folder under the record's name, outputs were written unrecorded without a word and
    the rerun said "sweeplab did not write there"."""
    (tmp_path / MANIFEST).mkdir()
    with user_outputs(tmp_path, "--out"):
        write_text(tmp_path / "a.csv", "table\n")
    assert "not recorded" in capsys.readouterr().err
    with pytest.raises(ForeignOutputError, match="is not a record sweeplab wrote"), user_outputs(tmp_path, "--out"):
        write_text(tmp_path / "a.csv", "table\n")


def test_predict_to_its_own_stdout_writes_the_csv_alone(clock_inputs, tmp_path):
    """Round 15's 5-d: `predict --out /dev/stdout > f.csv` ended the CSV with the summary's JSON line."""
    import csv
    import subprocess
    import sys

    command, _ = _doors(tmp_path, clock_inputs)["predict --out"]
    command[command.index("--out") + 1] = "/dev/stdout"
    with open(tmp_path / "f.csv", "w") as handle:
        result = subprocess.run([sys.executable, "-m", "sweeplab", *command], cwd=ROOT, stdout=handle,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
    rows = list(csv.reader((tmp_path / "f.csv").open()))
    assert rows[0] == ["index", "hour", "minute", "time"] and len(rows) == 5 and all(len(row) == 4 for row in rows)
    assert '"n": 4' in result.stderr


def test_another_processs_stream_is_named_as_such(tmp_path, capsys):
    """Round 15's 5-e: `--out /proc/<another pid>/fd/1` was refused as "this process's input"."""
    import subprocess

    other = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE)
    try:
        with pytest.raises(PermissionError, match="another process's"):
            write_text(f"/proc/{other.pid}/fd/1", "x\n")
    finally:
        other.kill()
        other.wait()


@given(setting=st.sampled_from(["/nonexistent", "/usr/bin/python3", "relative/python"]))
@settings(max_examples=3, deadline=None)
def test_a_sweeps_python_setting_without_the_engine_is_named_not_a_venv_at_its_grandparent(setting):
    """Round 15's 6-a: SWEEPLAB_SWEEPS_PYTHON=/nonexistent advised `python3 -m venv / && //bin/pip install ...`."""
    from sweeps import wandb_sweep

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWEEPLAB_SWEEPS_PYTHON", setting)
        with pytest.raises(wandb_sweep.SweepsEngineMissing) as missing:
            wandb_sweep.schema_path()
    assert f"SWEEPLAB_SWEEPS_PYTHON={setting}" in str(missing.value) and "venv /" not in str(missing.value)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(signum=st.sampled_from(["SIGTERM", "SIGINT", "SIGUSR1"]), files=st.integers(1, 3), at=st.integers(1, 3))
def test_a_stop_while_outputs_are_recorded_lands_after_the_record(signum, files, at, tmp_path_factory, monkeypatch):
    """Round 16's 4-a: a stop while the record was written ended the command with its outputs written but not
    recorded, and the rerun refused them as not sweeplab's. The renames and the record are one held step."""
    import signal

    import datasets.atomic as atomic
    import datasets.ownership as ownership

    folder = tmp_path_factory.mktemp("recorded")
    paths = [folder / f"part{index}.csv" for index in range(files)]

    class Stop(Exception):
        pass

    def stop(number, frame):
        raise Stop(number)

    real_record, recorded = ownership.record, []

    def record_then_signal(path):
        recorded.append(path)
        if len(recorded) == min(at, files):
            signal.raise_signal(getattr(signal, signum))
        real_record(path)

    previous = signal.signal(getattr(signal, signum), stop)
    try:
        monkeypatch.setattr(atomic.ownership, "record", record_then_signal)
        with pytest.raises(Stop), user_outputs(folder, "--out"):
            if files == 1:
                atomic.write_text(paths[0], "new\n")
            else:
                atomic.atomic_write_all({path: (lambda temporary: Path(temporary).write_text("new\n"))
                                         for path in paths})
    finally:
        signal.signal(getattr(signal, signum), previous)
    monkeypatch.undo()
    with user_outputs(folder, "--out"):  # every output was recorded: written again without --overwrite
        for path in paths:
            write_text(path, "again\n")
    assert [path.read_text() for path in paths] == ["again\n"] * files
