"""Generative tasks end to end: a one-epoch smoke per family on real data, grids on disk, Olivetti, filters."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

import datasets
from trainers.config import ConfigError
from trainers.generative.data import load_image_splits
from trainers.registry import get_task
from trainers.runner import run

PAD = 2  # datasets.images.tile's padding


@pytest.fixture(autouse=True)
def _mirror(mirror_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(mirror_dir))


def _grid(path: Path) -> np.ndarray:
    assert path.exists(), f"missing grid {path.name}; have {sorted(p.name for p in path.parent.glob('*'))}"
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def _grid_size(count: int, columns: int, side: int) -> tuple[int, int]:
    rows = -(-count // columns)
    return rows * (side + PAD) + PAD, columns * (side + PAD) + PAD


def _tiles(grid: np.ndarray, side: int) -> list[np.ndarray]:
    rows, columns = (grid.shape[0] - PAD) // (side + PAD), (grid.shape[1] - PAD) // (side + PAD)
    return [grid[PAD + r * (side + PAD): PAD + r * (side + PAD) + side, PAD + c * (side + PAD): PAD + c * (side + PAD)
                 + side] for r in range(rows) for c in range(columns)]


FAMILY_GRIDS = {
    "cae": {"reconstructions-0001.png": 16, "interpolation_latent.png": 32, "interpolation_encodings.png": 32},
    "vae": {"samples-0001.png": 8, "reconstructions-0001.png": 16, "interpolation_latent.png": 32,
            "interpolation_encodings.png": 32},
    "gan": {"samples-0001.png": 8, "interpolation_latent.png": 32},
}


@pytest.mark.parametrize("family", sorted(FAMILY_GRIDS))
def test_one_epoch_smoke_writes_metrics_and_grids(family, tmp_path):
    task = get_task(family)
    result = run(family, dict(task.smoke), run_dir=tmp_path / family)
    assert math.isfinite(result.metrics[task.objective]) and result.metrics[task.objective] > 0
    for metric in task.directions:
        assert math.isfinite(result.metrics[metric]), metric
    assert result.metrics["train/epochs"] == 1
    if family == "vae":  # the trackers add up to Keras' own loss: reconstruction + beta * KL
        for split in ("train", "val"):
            parts = result.metrics[f"{split}/reconstruction_loss"] + result.config["beta"] * result.metrics[
                f"{split}/kl_loss"]
            assert result.metrics[f"{split}/loss"] == pytest.approx(parts, rel=1e-4)
    images = tmp_path / family / "images"
    assert {path.name for path in images.glob("*.png")} == set(FAMILY_GRIDS[family])
    for name, count in FAMILY_GRIDS[family].items():
        grid = _grid(images / name)
        assert grid.shape == _grid_size(count, 8, 28), name
        tiles = _tiles(grid, 28)
        assert all(tile.std() > 0 for tile in tiles[:count]), f"{name} has a constant tile"
    reconstructions = images / "reconstructions-0001.png"
    if reconstructions.exists():  # rows alternate real validation digits and their (1-epoch, blurry) reconstructions
        tiles = _tiles(_grid(reconstructions), 28)
        assert not np.array_equal(tiles[0], tiles[8])
    reported = (tmp_path / family / "metrics.jsonl").read_text()
    assert task.objective in reported  # reported every epoch, so the pruner sees it


def test_olivetti_is_registered_with_upright_faces_and_a_per_subject_test_split(mirror_dir):
    data = datasets.load("olivetti")
    assert data.x_train.shape == (360, 64, 64, 1) and data.x_test.shape == (40, 64, 64, 1)
    assert data.x_train.dtype == np.uint8 and data.num_classes == 40
    assert np.array_equal(np.bincount(data.y_train), np.full(40, 9))
    assert np.array_equal(data.y_test, np.arange(40))
    first = data.x_train[0, ..., 0].astype(float)
    rows, columns = first.std(axis=1), first.std(axis=0)
    assert rows.shape == columns.shape == (64,)
    # upright: a face is left-right symmetric, so columns mirror each other far better than rows do
    assert np.abs(first - first[:, ::-1]).mean() < np.abs(first - first[::-1, :]).mean()


def test_missing_olivetti_names_the_source_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(datasets.DataNotFoundError, match=r"olivettifaces\.mat") as error:
        datasets.load("olivetti")
    assert "SWEEPLAB_DATA_DIR" in str(error.value) and str(tmp_path) in str(error.value)


def test_class_filter_keeps_one_class_and_refuses_unknown_names():
    data = load_image_splits("mnist", class_filter="7", subset=100, image_size=16)
    assert data.image_shape == (16, 16, 1) and set(np.unique(data.y_train)) == {7}
    assert data.x_train.dtype == np.float32 and data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    with pytest.raises(ConfigError, match="class_filter"):
        load_image_splits("mnist", class_filter="horse")


def test_rendered_clocks_are_readable_downscaled(monkeypatch):
    from datasets.catalog import clocks

    monkeypatch.setattr(clocks, "CLOCK_IMAGES", 120)  # the real set is 3600; the loader is the same
    data = load_image_splits("clocks", image_size=32, validation_fraction=0.2)
    assert data.image_shape == (32, 32, 1)
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 120
    assert data.x_train.std() > 0.05  # real renders, not blank frames
    assert set(np.unique(data.y_train)) <= set(range(12))
