"""The generative finding: upscaled grids, Fréchet references with a scale, and a tiny resumable end-to-end run."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.findings import generative as finding
from analysis.findings import generative_recognisability as recognisability
from analysis.findings import generative_store
from trainers.generative.figures import grid, grid_shape, reconstruction_rows, scale_for, upscale


@pytest.fixture(autouse=True)
def _mirror(mirror_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(mirror_dir))


def test_upscaled_grid_has_the_expected_pixel_size_and_repeats_pixels():
    images = np.random.default_rng(0).uniform(size=(10, 28, 28)).astype("float32")
    picture = grid(images, columns=4)
    assert scale_for(28) == 4 and scale_for(64) == 2
    assert picture.shape == grid_shape(10, 4, 28, 4) == (3 * (112 + 2) + 2, 4 * (112 + 2) + 2)
    second = picture[2:2 + 112, 2 + 114:2 + 114 + 112]  # row 0, column 1: image 1, each pixel a 4 x 4 block
    np.testing.assert_array_equal(second, upscale(images[1:2], 4)[0])
    assert second[:4, :4].min() == second[:4, :4].max()
    assert (picture[:2] == 255).all() and (picture[:, 114:116] == 255).all()  # white gutters


def test_reconstruction_rows_put_each_input_row_above_its_outputs():
    inputs, outputs = np.arange(12)[:, None], 100 + np.arange(12)[:, None]
    ordered = reconstruction_rows(inputs, outputs, columns=8)[:, 0]
    assert list(ordered) == [*range(8), *range(100, 108), *range(8, 12), *range(108, 112)]
    with pytest.raises(ValueError):
        reconstruction_rows(inputs, outputs[:3])


def test_real_vs_real_reference_is_far_below_the_noise_reference(tmp_path, monkeypatch):
    halves = generative_store.held_out_halves("mnist", 200)
    assert not any(np.array_equal(a, b) for a in halves[0][:20] for b in halves[1])  # disjoint halves
    rows = finding.frechet_rows("mnist", halves, {}, 500, tmp_path)
    distances = {row["compared"]: row["frechet_distance"] for row in rows}
    real, noise = distances["real half B (reference)"], distances["uniform noise (reference)"]
    assert 0 < 10 * real < noise
    from trainers.generative import quality

    monkeypatch.setattr(quality, "feature_extractor", lambda *args, **kwargs: pytest.fail("features recomputed"))
    assert finding.frechet_rows("mnist", halves, {}, 500, tmp_path) == rows  # read back from the store


def test_real_digits_are_recognised_far_more_often_than_noise(tmp_path, monkeypatch):
    halves, labels = generative_store.held_out_sets("mnist", 200)
    assert len(labels[1]) == 200 and len(set(labels[1].tolist())) == 10
    rows = recognisability.recognisability_rows("mnist", halves, labels[1], {}, 500, 500, tmp_path)
    by_set = {row["compared"]: row for row in rows}
    real, noise = by_set["real half B (reference)"], by_set["uniform noise (reference)"]
    assert real["label_accuracy"] > 0.8  # the held-out classifier reads real test digits (labels in step)
    assert noise["recognised_share"] < 0.05 and real["recognised_share"] > 0.5 and real["classes_present"] == 10
    for row in rows:
        counts = [int(count) for count in row["class_counts"].split()]
        assert len(counts) == 10 and sum(counts) == round(row["recognised_share"] * row["count"])
    from trainers.generative import quality

    monkeypatch.setattr(quality, "feature_classifier", lambda *args, **kwargs: pytest.fail("recomputed"))
    assert recognisability.recognisability_rows("mnist", halves, labels[1], {}, 500, 500, tmp_path) == rows


def test_faces_get_diversity_but_no_recognisability(tmp_path):
    halves = tuple(half[:40] for half in generative_store.held_out_halves("olivetti", 200))
    rows = recognisability.recognisability_rows("olivetti", halves, np.zeros(40), {}, 500, 500, tmp_path)
    real, noise = rows
    assert real["recognised_share"] == "" and real["class_counts"] == "" and real["diversity"] > 0
    assert noise["compared"] == "uniform noise (reference)" and noise["label_accuracy"] == ""
    table = "\n".join(recognisability.markdown_lines(rows))
    assert "| olivetti | - | real half B (reference) | 40 | n/a |" in table


def test_unknown_fidelity_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="unknown fidelity 'huge'"):
        finding.run(tmp_path / "out", tmp_path / "store", "huge")
    assert not (tmp_path / "out").exists()


def _png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, f"cannot read {path}"
    return image


def test_tiny_run_writes_figures_and_tables_and_a_rerun_trains_nothing(tmp_path, monkeypatch):
    out, store = tmp_path / "out", tmp_path / "store"
    written = finding.run(out, store, "tiny")
    names = {path.name for path in written}
    for spec in finding.MODELS:
        assert {f"{spec.name}-samples.png", f"{spec.name}-interpolation.png"} <= names
        assert (f"{spec.name}-reconstructions.png" in names) == (spec.family != "gan")
        side = 64 if spec.config["dataset"] == "olivetti" else 28
        factor = scale_for(side)
        samples = _png(out / f"{spec.name}-samples.png")
        assert samples.shape == grid_shape(finding.SAMPLE_GRID, 8, side, factor)
        assert samples.std() > 0
        interpolation = _png(out / f"{spec.name}-interpolation.png")
        assert interpolation.shape == grid_shape(generative_store.INTERPOLATION_ROWS * finding.INTERPOLATION_STEPS,
                                                 finding.INTERPOLATION_STEPS, side, factor)
        epoch_grids = [path for path in store.glob(f"generative/{spec.name}-*/epochs/*-0001.png")
                       if re.fullmatch(rf"{re.escape(spec.name)}-[0-9a-f]{{12}}", path.parent.parent.name)]
        assert len(epoch_grids) == 1, spec.name
    with (out / "frechet.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["dataset"] for row in rows} == {"mnist", "fashion_mnist", "olivetti"}
    for dataset in ("mnist", "fashion_mnist", "olivetti"):
        compared = {(row["model"], row["compared"]) for row in rows if row["dataset"] == dataset}
        assert ("-", "real half B (reference)") in compared and ("-", "uniform noise (reference)") in compared
    assert all(float(row["frechet_distance"]) >= 0 for row in rows)
    assert {row["model"] for row in rows} == {"-", *(spec.name for spec in finding.MODELS)}
    with (out / "recognisability.csv").open() as handle:
        recognised = {(row["dataset"], row["model"], row["compared"]): row for row in csv.DictReader(handle)}
    for spec in finding.MODELS:
        row = recognised[spec.config["dataset"], spec.name, "samples"]
        assert float(row["diversity"]) >= 0
        if spec.config["dataset"] == "olivetti":
            assert row["recognised_share"] == ""
        else:
            assert sum(map(int, row["class_counts"].split())) == round(float(row["recognised_share"]) * 100)
    # the conditional GAN's samples are also scored against the digits they were asked for, the others are not
    assert 0 <= float(recognised["mnist", "gan-mnist-conditional", "samples"]["label_accuracy"]) <= 1
    assert recognised["mnist", "gan-mnist", "samples"]["label_accuracy"] == ""
    assert float(recognised["mnist", "-", "real half B (reference)"]["recognised_share"]) > float(
        recognised["mnist", "-", "uniform noise (reference)"]["recognised_share"])
    with (out / "models.csv").open() as handle:
        models = list(csv.DictReader(handle))
    assert [row["model"] for row in models] == [spec.name for spec in finding.MODELS]
    assert all(float(row["train_cpu_seconds"]) > 0 for row in models)
    summary = (out / "summary.md").read_text()
    assert "sweeplab results generative" in summary and "uniform noise" in summary
    numbers = json.loads((out / "summary.json").read_text())["numbers"]
    assert numbers == finding.summarize(out)
    assert set(numbers["frechet_distance"]["mnist"]) >= {"real half B (reference)", "gan-mnist: samples",
                                                         "vae-mnist: reconstructions of real half B"}
    assert "## Recognisability and diversity" in summary
    assert numbers["recognisability"]["mnist"]["gan-mnist: samples"]["classes_present"] == int(
        recognised["mnist", "gan-mnist", "samples"]["classes_present"])

    before = {path: path.stat().st_mtime_ns for path in store.rglob("*") if path.is_file()}
    from trainers.generative import families, quality

    monkeypatch.setattr(families, "fit", lambda *args, **kwargs: pytest.fail("retrained a stored model"))
    monkeypatch.setattr(quality, "feature_extractor", lambda *args, **kwargs: pytest.fail("features recomputed"))
    monkeypatch.setattr(quality, "feature_classifier", lambda *args, **kwargs: pytest.fail("classifier recomputed"))
    (out / "gan-mnist-samples.png").unlink()
    again = finding.run(out, store, "tiny")
    assert {path.name for path in again} == names and (out / "gan-mnist-samples.png").exists()
    assert {path: path.stat().st_mtime_ns for path in store.rglob("*") if path.is_file()} == before
    assert "trained nothing" in (out / "summary.md").read_text()
