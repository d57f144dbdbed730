"""Shared files are written whole or not at all: a failing writer leaves the old file and no temporary behind."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.atomic import atomic_write


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "cache" / "arrays.npy"
    atomic_write(path, lambda temporary: np.save(temporary, np.arange(3)))
    assert np.load(path).tolist() == [0, 1, 2] and (path.stat().st_mode & 0o777) == 0o644

    def half_then_fail(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            handle.write(b"\x93NUMPY half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert np.load(path).tolist() == [0, 1, 2]
    assert [entry.name for entry in path.parent.iterdir()] == ["arrays.npy"]


def test_the_temporary_name_ends_as_the_target_does(tmp_path):
    """Keras writes weights only to a name ending in `.weights.h5`, numpy appends `.npy` to other names."""
    seen = []
    atomic_write(tmp_path / "frechet-mnist.weights.h5", lambda temporary: (seen.append(temporary),
                                                                           open(temporary, "wb").close()))
    assert seen[0].endswith(".weights.h5") and (tmp_path / "frechet-mnist.weights.h5").exists()
