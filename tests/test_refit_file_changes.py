"""Round 10's 2-b: `refit STUDY.yaml` after the file's `fixed:` values or space were edited retrained the best trial's
stored config without a word. It still retrains what the search measured, and now says how the file differs.
Generated: which fixed value or range is edited, and to what."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TASK = """\
from dataclasses import dataclass

import sweeplab
from sweeplab import param


@dataclass
class Config:
    value: float = param(0.5, low=0.0, high=1.0)
    level: int = param(3, low=0, high=1000)


@sweeplab.task(config=Config)
def train(config, reporter, run_dir):
    return {"val/accuracy": config.value, "test/accuracy": config.level / 1000}
"""


def study_text(level: int, high: float) -> str:
    return f"""\
task: refitted:train
fixed: {{level: {level}}}
space:
  value: {{type: float, low: 0.0, high: {high}}}
sampler: {{name: random, seed: 1}}
pruner: none
budget: {{trials: 2}}
refit: {{}}
"""


def sweeplab(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeplab", *args], cwd=folder, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("refit-changes")
    (folder / "refitted.py").write_text(TASK)
    (folder / "refitted.yaml").write_text(study_text(7, 1.0))
    swept = sweeplab(folder, "sweep", "refitted.yaml", "--storage", f"sqlite:///{folder / 's.db'}")
    assert swept.returncode == 0, swept.stderr[-2000:]
    return folder


def test_an_unchanged_file_refits_without_a_note(searched):
    result = sweeplab(searched, "refit", "refitted.yaml", "--force", "--storage", f"sqlite:///{searched / 's.db'}")
    assert result.returncode == 0 and "note:" not in result.stderr, result.stderr[-2000:]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(level=st.integers(0, 1000), high=st.sampled_from([1.0, 0.9, 0.5]))
def test_an_edited_file_is_named_and_the_searched_config_is_retrained(level, high, searched):
    edited = searched / "refitted-edited"
    edited.mkdir(exist_ok=True)
    (edited / "refitted.py").write_text(TASK)
    (edited / "refitted.yaml").write_text(study_text(level, high))
    result = sweeplab(edited, "refit", "refitted.yaml", "--force", "--storage", f"sqlite:///{searched / 's.db'}")
    assert result.returncode == 0, result.stderr[-2000:]
    notes = [line for line in result.stderr.splitlines() if "note:" in line]
    if level == 7 and high == 1.0:
        assert not notes
        return
    assert len(notes) == 1, result.stderr[-2000:]
    assert ("fixed.level: 7 -> " + str(level) in notes[0]) == (level != 7), notes
    assert ("space.value.high" in notes[0]) == (high != 1.0), notes
    assert "test/accuracy 0.007" in result.stdout or "0.007" in result.stdout, result.stdout  # the searched level
