"""Class 7's other door: every file the project writes names itself when the write fails. An error raised while
writing or closing (a full disk, a file-size limit, an I/O error) carries no file name, so a command's one line
said 'No space left on device' and not which file (round 6's 5-d)."""

from __future__ import annotations

import ast
import errno
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.atomic import atomic_write, write_text
from sweeplab.cli import main

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sweeps", "trainers", "datasets", "analysis", "sweeplab")
WRITE_ERRORS = st.sampled_from([errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EROFS])


def test_package_code_writes_text_files_only_through_the_door():
    """`Path.write_text`/`write_bytes` called anywhere but `datasets.atomic` would lose the file name again."""
    calls = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "datasets" / "atomic.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and node.func.attr in ("write_text", "write_bytes") \
                        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "atomic"):
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not calls, f"use datasets.atomic.write_text: {calls}"


RAW_WRITERS = {"savefig", "to_csv", "imwrite", "save", "savez", "savez_compressed", "save_weights", "dump"}
# Writes that may bypass the door, each for its reason: a run's own folder (claimed by `sweeps.run_identity`), the
# storage gateway's journal, the generative store's temporary folder (renamed whole), /dev/null for a closed
# stream, and `init`'s exclusive create (never replaces a file).
OWN_PLACES = {"trainers/classification.py": "run dir", "trainers/clock/predict.py": "run dir",
              "trainers/generative/families.py": "run dir, the generative store's temporary folder",
              "trainers/user_fit.py": "run dir",
              "trainers/reporter.py": "run dir", "sweeps/storage_faults.py": "storage gateway",
              "analysis/findings/generative_store.py": "store's temporary folder", "sweeplab/cli.py": "/dev/null",
              "sweeplab/commands/init.py": "exclusive create"}


def _writes_a_temporary(node: ast.Call) -> bool:
    """The call writes the door's temporary (`write(temporary)` passed to `atomic_write`)."""
    return any(isinstance(argument, ast.Name) and argument.id == "temporary" for argument in node.args)


def _raw_write(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
    if name == "open":
        mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
        return isinstance(mode, ast.Constant) and any(letter in str(mode.value) for letter in "wax+")
    return name in RAW_WRITERS


def test_every_file_write_goes_through_the_door_or_is_a_place_of_the_projects_own():
    """A writer called around the door (OpenCV, matplotlib, pandas, numpy, `open(..., "w")`) neither replaces
    atomically nor asks whose file it replaces: round 13's preview PNG was written through a link by `cv2.imwrite`.
    Each such call writes the door's temporary, or stands in a module whose writes are the project's own."""
    strays = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative in ("datasets/atomic.py", "datasets/ownership.py") or relative in OWN_PLACES:
                continue
            strays += [f"{relative}:{node.lineno}" for node in ast.walk(ast.parse(path.read_text()))
                       if _raw_write(node) and not _writes_a_temporary(node)]
    assert not strays, f"write through datasets.atomic (atomic_write/write_text): {strays}"


def test_every_folder_is_made_by_the_door():
    """`mkdir(parents=True)` said only "File exists: notes.txt" when a file stood where a folder was needed (round
    14's 5-g); `datasets.atomic.make_folder` names the part in the way. Any other call making folders is found."""
    calls = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "datasets" / "atomic.py":
                continue
            calls += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr in ("mkdir", "makedirs")
                      and any(keyword.arg in ("parents", "exist_ok") for keyword in node.keywords)]
    allowed = {"analysis/findings/generative_store.py"}  # a fresh temporary folder of its own, removed first
    assert [call for call in calls if call.split(":")[0] not in allowed] == [], "use datasets.atomic.make_folder"


@settings(max_examples=20, deadline=None)
@given(text=st.text(min_size=1, max_size=5000))
def test_a_text_write_to_a_full_device_names_the_file(text):
    with pytest.raises(OSError) as raised:
        write_text(Path("/dev/full"), text)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == "/dev/full"


@settings(max_examples=20, deadline=None)
@given(code=WRITE_ERRORS, named=st.booleans())
def test_an_atomic_write_that_fails_names_its_target_and_leaves_nothing(code, named, tmp_path_factory):
    """A writer's error without a file name gets the target's; one with a name keeps it; no temporary remains."""
    folder = tmp_path_factory.mktemp("atomic")
    target = folder / "cache.npy"

    def failing(temporary: str) -> None:
        Path(temporary).write_bytes(b"partial")
        raise OSError(code, "simulated", "own-name") if named else OSError(code, "simulated")

    with pytest.raises(OSError) as raised:
        atomic_write(target, failing)
    assert raised.value.errno == code
    assert raised.value.filename == ("own-name" if named else str(target))
    assert list(folder.iterdir()) == []


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=WRITE_ERRORS)
def test_a_command_whose_write_fails_says_which_file_in_one_line(code, tmp_path_factory, capsys):
    """Through the CLI: `wandb-sweep` writes the sweep YAML; a write failing with a generated errno is one line
    naming that file and the system's words for the errno."""
    import os

    import datasets.atomic

    folder = tmp_path_factory.mktemp("cli")
    out = folder / "fashion-cnn.wandb.yaml"

    def refusing(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.atomic.os, "replace", refusing)  # the write's last step
        exit_code = main(["wandb-sweep", "fashion-cnn", "--out", str(folder), "--no-create"])
    error = capsys.readouterr().err.strip().splitlines()
    assert exit_code == 2 and error == [f"sweeplab: error: {os.strerror(code)}: {out}"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(["symbolic link", "hard link", "plain file", "absent"]),
       text=st.text("abcxyz0189 <>/=\n", max_size=200))
def test_a_write_replaces_a_link_it_finds_and_never_writes_through_it(how, text, tmp_path_factory):
    """Round 9's 5-a: `report --out DIR` and `wandb-sweep --out DIR` wrote through a link found in DIR (to a user's
    file elsewhere), replacing that file. The door writes a temporary file and renames it over the path: a link is
    replaced, the file it pointed to keeps its bytes."""
    import os

    folder = tmp_path_factory.mktemp("links")
    users = folder / "keep.py"
    users.write_bytes(b"the user's own file")
    target = folder / "out" / "index.html"
    target.parent.mkdir()
    if how == "symbolic link":
        target.symlink_to(users)
    elif how == "hard link":
        os.link(users, target)
    elif how == "plain file":
        target.write_text("an earlier report")
    write_text(target, text)
    assert users.read_bytes() == b"the user's own file"
    assert not target.is_symlink() and target.read_text() == text
    assert sorted(path.name for path in target.parent.iterdir()) == ["index.html"]  # no temporary left


# ---------------------------------------------------------------- round 10's 5-a: the system's own files
REAL_PATHS = {"/dev/stdout": True, "/dev/stderr": True, "/dev/null": True, "/dev/fd/1": True, "/proc/self/fd/1": True,
              "/proc/self/fd/2": True, "/dev/sda": None, "/dev/shm/out.csv": False, "/sys/kernel/x": None,
              "/proc/sys/vm/drop_caches": None, "/dev/new.csv": None, "/proc/x.csv": None,
              "/dev/stdin": None, "/dev/fd/0": None, "/proc/self/fd/0": None}  # round 11's 5-a: stdin is an input


STREAM_DESCRIPTORS = {"/dev/stdout": 1, "/dev/stderr": 2, "/dev/fd/1": 1, "/proc/self/fd/1": 1,
                      "/proc/self/fd/2": 2, "/dev/stdin": 0, "/dev/fd/0": 0, "/proc/self/fd/0": 0}


def _writable(descriptor: int) -> bool:
    import fcntl
    import os

    try:
        return fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    except OSError:
        return False


@given(name=st.sampled_from(sorted(REAL_PATHS)), links=st.integers(0, 3))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_system_s_own_files_are_written_in_place_or_refused_never_renamed_over(name, links, tmp_path_factory):
    """Round 10's 5-a: `predict --out /dev/stdout > file` renamed a temporary over the machine's `/dev/stdout`. A
    stream of this process is written in place (reached directly or through generated chains of links); any other
    file under /dev, /proc or /sys (but /dev/shm) is refused. Nothing is written here: the decision alone is
    asserted, on the real names."""
    from datasets.atomic import written_in_place

    path = Path(name)
    folder = tmp_path_factory.mktemp("links")
    for index in range(links):  # link -> link -> ... -> the real name
        link = folder / f"link{index}.csv"
        link.symlink_to(path)
        path = link
    expected = REAL_PATHS[name]
    if (descriptor := STREAM_DESCRIPTORS.get(name)) is not None:  # decided by how this process holds it open
        expected = True if _writable(descriptor) else None
    if expected is None:
        with pytest.raises(PermissionError) as refused:
            written_in_place(path)
        assert refused.value.filename == str(path)
    else:
        assert written_in_place(path) is expected


def test_a_stream_is_written_through_and_the_link_to_it_stays(tmp_path, monkeypatch):
    """The write itself, on a stand-in for /dev: its `stdout` link to a file stays a link and the file gets the
    text (written in place, not renamed over the link); a plain file beside it is replaced atomically."""
    from datasets import atomic

    fake_dev = tmp_path / "dev"
    fake_dev.mkdir()
    target = tmp_path / "captured.txt"
    target.write_text("old")
    (fake_dev / "stdout").symlink_to(target)
    monkeypatch.setattr(atomic, "STREAM_ALIASES", (fake_dev / "stdout",))
    monkeypatch.setattr(atomic, "SYSTEM_ROOTS", (fake_dev,))
    write_text(fake_dev / "stdout", "predictions\n")
    assert (fake_dev / "stdout").is_symlink() and target.read_text() == "predictions\n"
    assert sorted(path.name for path in fake_dev.iterdir()) == ["stdout"]  # no temporary left beside it
    with pytest.raises(PermissionError):
        write_text(fake_dev / "other.csv", "x")
    assert not (fake_dev / "other.csv").exists()


@pytest.mark.parametrize("stream", ["/dev/stdout", "/dev/stderr", "/dev/fd/3", "/proc/self/fd/1", "/dev/stdin"])
def test_a_stream_redirected_from_a_users_file_is_never_written(stream, tmp_path):
    """Round 12's 5-d: `predict --out /dev/stdout 1< keep.txt` (or stderr, or fd 3) overwrote the user's input file:
    a stream this process holds open for reading only is an input, refused; the file keeps its bytes."""
    import subprocess
    import sys

    keep = tmp_path / "keep.txt"
    keep.write_text("the user's own")
    number = {"/dev/stdout": 1, "/dev/stderr": 2, "/dev/fd/3": 3, "/proc/self/fd/1": 1, "/dev/stdin": 0}[stream]
    code = ("import sys\nfrom datasets.atomic import write_text\ntry:\n    write_text(sys.argv[1], 'csv')\n"
            "except PermissionError:\n    sys.exit(7)\n")
    with keep.open("r") as reading:
        done = subprocess.run([sys.executable, "-c", code, stream], pass_fds=(3,) if number == 3 else (),
                              **({0: {"stdin": reading}, 1: {"stdout": reading}, 2: {"stderr": reading}}.get(
                                  number, {})), **({} if number != 3 else {"preexec_fn": lambda: _dup_to_3(reading)}))
    assert done.returncode == 7 and keep.read_text() == "the user's own"


def _dup_to_3(handle) -> None:
    import os

    os.dup2(handle.fileno(), 3)


@pytest.mark.parametrize("stream", ["/dev/stdout", "/dev/stderr", "/proc/self/fd/1", "link"])
@pytest.mark.parametrize("writer", ["write_text", "atomic_write"])
def test_a_stream_opened_for_appending_is_appended_to_not_emptied(stream, writer, tmp_path):
    """Round 13's 5-e: `predict --out /dev/stdout >> my.log` reopened the stream with "w" and emptied the log. A
    stream is written through its open descriptor, at its offset: the earlier lines stay."""
    import subprocess
    import sys

    log = tmp_path / "my.log"
    log.write_text("earlier\n")
    target = stream
    if stream == "link":
        (tmp_path / "out.csv").symlink_to("/dev/stdout")
        target = str(tmp_path / "out.csv")
    code = ("import sys\nfrom pathlib import Path\nfrom datasets.atomic import atomic_write, write_text\n"
            "print('first', flush=True) if sys.argv[2] == '/dev/stdout' else None\n"
            "if sys.argv[3] == 'write_text':\n    write_text(sys.argv[1], 'csv\\n')\n"
            "else:\n    atomic_write(Path(sys.argv[1]), lambda t: Path(t).write_text('csv\\n'))\n")
    number = 2 if stream == "/dev/stderr" else 1
    with log.open("a") as appending:
        done = subprocess.run([sys.executable, "-c", code, target, stream, writer], cwd=ROOT,
                              **({"stdout": appending} if number == 1 else {"stderr": appending}))
    assert done.returncode == 0
    assert log.read_text().startswith("earlier\n") and log.read_text().endswith("csv\n"), log.read_text()
