"""Round 12/13's 4-c: a stop signal to `clocks render` with its worker pool was obeyed only once the whole render
had ended (15-17 s for 20,000 images). It now ends the workers and the command within a second: 128 + the
signal's number, nothing written, no worker left."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
STOP_WITHIN_SECONDS = 3.0  # the fix takes ~0.05 s; a loaded 2-core machine gets the rest
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")


def _children(pid: int) -> set[int]:
    """The live (not zombie) child processes of `pid`."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            continue
    return {child for child in found if _alive(child)}


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it ended meanwhile
        return b""


def _wait_for_workers(pid: int, count: int, timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = {child for child in _children(pid) if b"spawn_main" in _command_line(child)}
        if len(workers) >= count:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"the render never started {count} workers")


@settings(max_examples=3, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))  # no shrinking
@given(signum=st.sampled_from([signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP]),
       into_render=st.floats(0.0, 1.5))
def test_a_stop_ends_a_parallel_render_at_once_and_writes_nothing(signum: signal.Signals, into_render: float,
                                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("render") / "clocks"
    argv = [sys.executable, "-m", "sweeplab", "clocks", "render", "--n", "20000", "--workers", "2", "--out", str(out)]
    process = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    children: set[int] = set()
    try:
        _wait_for_workers(process.pid, 2)
        time.sleep(into_render)
        children = _children(process.pid)  # the workers, and multiprocessing's resource tracker
        process.send_signal(signum)
        sent = time.monotonic()
        try:
            process.wait(timeout=STOP_WITHIN_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still rendering {STOP_WITHIN_SECONDS} s after {signum.name}") from None
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:  # a failure: its workers would render on without it
            for pid in [process.pid, *children]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1] == f"sweeplab: interrupted ({signum.name})"
    assert not (out / "images.npy").exists() and not (out / "labels.npy").exists()
    while any(_alive(child) for child in children) and time.monotonic() - sent < 2 * STOP_WITHIN_SECONDS:
        time.sleep(0.1)
    assert not [child for child in children if _alive(child)], "a render worker outlived the command"
