"""`sweeplab init NAME`: a name is taken only when `import NAME` would load the task it writes (tests/test_user_task.py
runs a written task end to end)."""

from __future__ import annotations

import importlib.util
import keyword
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sweeplab.cli import main
from sweeplab.commands.init import _project_packages

SHADOWING = [*sorted(sys.stdlib_module_names), "keras", "sweeplab", "tests", "numpy", "optuna", "trainers", "sweeps",
             "__init__", "__main__", "__x__"]
NAMES = st.one_of(
    st.sampled_from(SHADOWING),
    st.sampled_from(keyword.kwlist + keyword.softkwlist),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),  # identifiers, most of them free
    st.text(max_size=16),  # anything at all
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES)
@example(name="os")
@example(name="keras")
@example(name="__init__")
@example(name="tests")
@example(name="mymodel")
def test_init_takes_only_a_name_that_imports_the_written_task(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        try:
            code = main(["init", name, "--dir", directory])
        except SystemExit as exit_:  # argparse: a name that looks like an option
            code = exit_.code
        _out, err = capsys.readouterr()
        written = sorted(path.name for path in Path(directory).iterdir())
    if code == 0:
        assert name.isidentifier() and name.isascii() and not keyword.iskeyword(name)
        assert not keyword.issoftkeyword(name) and not (name.startswith("__") and name.endswith("__"))
        assert name not in sys.stdlib_module_names and importlib.util.find_spec(name) is None
        assert name not in _project_packages()  # importable whenever the checkout is on the path
        assert written == [f"{name}.py", f"{name}.yaml"]
    else:
        assert code == 2 and written == []
        if not name.startswith("-") and name.strip():
            assert len(err.strip().splitlines()) == 1 and "NAME" in err and repr(name) in err, err
