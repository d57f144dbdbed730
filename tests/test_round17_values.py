"""Round 17's 6-b: a config value that is a huge integer (310+ digits: past float's range; 4,301+: past Python's
own limit on reading one) was an internal error at `run --set`, in a study file, and on a float field. Such a value
is one line naming the key; and `--out -` for a folder is refused instead of making a folder named `-` (5-a)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeplab.cli import main

STUDY = """task: classify
fixed: {dataset: mnist, model: cpu_mlp, epochs: 1, subset: 300, test_subset: 200}
space:
  learning_rate: {type: float, low: 0.0001, high: 0.1, log: true}
objective: val/accuracy
"""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(digits=st.integers(300, 6000), key=st.sampled_from(["epochs", "learning_rate", "seed"]),
       where=st.sampled_from(["--set", "study file"]))
def test_a_huge_integer_value_is_one_line_naming_its_key(digits, key, where, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("huge")
    value = "1" + "0" * (digits - 1)
    study = folder / "huge.yaml"
    if where == "--set":
        study.write_text(STUDY)
        argv = ["run", str(study), "--set", f"{key}={value}"]
    else:
        study.write_text(STUDY.replace("epochs: 1,", f"epochs: 1, {key}: {value},") if key != "epochs"
                         else STUDY.replace("epochs: 1,", f"epochs: {value},"))
        argv = ["run", str(study)]
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as refused:
        code = refused.code
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and error and "internal error" not in error[-1] and "Traceback" not in "\n".join(error)
    assert key in error[-1] or "digits" in error[-1], error[-1]


@pytest.mark.parametrize("command", [["clocks", "render", "--n", "2", "--out", "-"],
                                     ["report", "--out", "-"], ["results", "claims", "--out", "-"]])
def test_a_folder_output_named_dash_is_refused(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as refused:
        main(command)
    assert refused.value.code == 2 and "standard output" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
