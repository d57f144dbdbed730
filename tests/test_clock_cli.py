"""The clock CLI through `sweeplab.cli.main`: render, predict (with and without labels, bad inputs), compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.clocks import load_clock_arrays
from sweeplab.cli import main
from trainers import get_task, run
from trainers.clock.metric import common_sense_minutes, to_minutes
from trainers.clock.predict import load_clock_model, predict_clock_minutes


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch clock model trained at 40x40 (predict must resize the 150x150 photographs)."""
    run_dir = tmp_path_factory.mktemp("clock-run")
    run("clock", {**get_task("clock").smoke, "image_size": 40, "head": "two_circle"}, None, run_dir)
    return run_dir / "model.keras"


@pytest.fixture(scope="module")
def clock_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clock-set")
    assert main(["clocks", "render", "--n", "24", "--seed", "7", "--out", str(out), "--preview",
                 str(out / "preview.png"), "--workers", "1"]) == 0
    return out


def test_render_writes_the_course_format_and_a_preview(clock_set):
    images, labels = load_clock_arrays(clock_set)
    assert images.shape == (24, 150, 150) and images.dtype == np.uint8 and labels.shape == (24, 2)
    assert (clock_set / "preview.png").stat().st_size > 1000


def test_predict_with_labels_prints_errors_and_json(saved_model, clock_set, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    code = main(["predict", "clock", "--model", str(saved_model), "--images", str(clock_set / "images.npy"),
                 "--labels", str(clock_set / "labels.npy"), "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert "mean" in lines[-2] and "median" in lines[-2] and "90th percentile" in lines[-2]
    model, head, preparation = load_clock_model(saved_model)
    images, labels = load_clock_arrays(clock_set)
    errors = common_sense_minutes(to_minutes(labels), predict_clock_minutes(model, head, images, preparation))
    assert summary["n"] == 24 and summary["head"] == "two_circle"
    assert summary["mean"] == pytest.approx(errors.mean(), abs=1e-4)
    assert summary["median"] == pytest.approx(np.median(errors), abs=1e-4)
    assert summary["p90"] == pytest.approx(np.percentile(errors, 90), abs=1e-4)
    rows = out.read_text().strip().splitlines()
    assert rows[0].startswith("index,hour,minute") and len(rows) == 25
    assert [float(row.split(",")[-1]) for row in rows[1:]] == pytest.approx(errors, abs=0.01)


def test_predict_without_labels_lists_times(saved_model, clock_set, capsys):
    assert main(["predict", "clock", "--model", str(saved_model), "--images", str(clock_set / "images.npy")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1])["n"] == 24
    rows = [line.split(",") for line in lines[1:-1]]
    assert len(rows) == 24 and all(0 <= int(row[1]) <= 11 and 0 <= int(row[2]) <= 59 for row in rows)


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "no such file"),
    ("dtype", "expected uint8"),
    ("shape", "expected shape (N, 150, 150)"),
    ("labels", "(N, 2)"),
    ("model", "no such model file"),
])
def test_bad_predict_inputs_give_one_clear_line(case, message, saved_model, clock_set, tmp_path, capsys):
    images, labels = clock_set / "images.npy", clock_set / "labels.npy"
    model = saved_model
    if case == "missing":
        images = tmp_path / "nothing.npy"
    elif case == "dtype":
        np.save(images := tmp_path / "float.npy", np.zeros((3, 150, 150), np.float32))
    elif case == "shape":
        np.save(images := tmp_path / "flat.npy", np.zeros((3, 150 * 150), np.uint8))
    elif case == "labels":
        np.save(labels := tmp_path / "labels.npy", np.zeros((24, 3), np.int64))
    else:
        model = tmp_path / "absent.keras"
    code = main(["predict", "clock", "--model", str(model), "--images", str(images), "--labels", str(labels)])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1
    assert error[0].startswith("sweeplab: error:") and message in error[0]


def test_predict_to_a_full_device_names_the_path(saved_model, clock_set, capsys):
    """Round 6's 5-d: `--out /dev/full` said 'No space left on device' without the file."""
    code = main(["predict", "clock", "--model", str(saved_model), "--images", str(clock_set / "images.npy"),
                 "--out", "/dev/full"])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and error == ["sweeplab: error: No space left on device: /dev/full"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(["images", "labels", "model", "sidecar"]),
       how=st.sampled_from(["same path", "symbolic link", "hard link", "dotted path"]))
def test_predict_never_writes_over_a_file_it_reads(target, how, saved_model, clock_set, tmp_path_factory, capsys):
    """Round 7's 5-a: `predict --out` given the model's (or the images') path replaced it with the CSV, exit 0."""
    import os
    import shutil

    from trainers.clock.predict import head_path

    folder = tmp_path_factory.mktemp("aliased")
    model = shutil.copy(saved_model, folder / "model.keras")
    shutil.copy(head_path(saved_model), head_path(Path(model)))
    images, labels = shutil.copy(clock_set / "images.npy", folder), shutil.copy(clock_set / "labels.npy", folder)
    path = Path({"images": images, "labels": labels, "model": model, "sidecar": head_path(Path(model))}[target])
    before = path.read_bytes()
    out = {"same path": path, "dotted path": path.parent / "." / path.name}.get(how, folder / "alias")
    if how == "symbolic link":
        os.symlink(path, out)
    elif how == "hard link":
        os.link(path, out)
    capsys.readouterr()
    code = main(["predict", "clock", "--model", str(model), "--images", str(images), "--labels", str(labels),
                 "--out", str(out)])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and "which this command reads" in error[0], error
    assert path.read_bytes() == before
