"""A user's `.npz` data (docs/defences.md, class 8): labels are integers 0..K-1 with K taken from y_train and
bounded, y_test stays inside the training classes, no array or split is empty and x/y lengths match; anything else
is one CorruptDataError line naming the file and the array, before a model is built."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datasets.formats import CorruptDataError
from trainers.user_fit import MAX_CLASSES, NPZ_KEYS, load_data

LABEL_DTYPES = st.sampled_from([np.int64, np.int32, np.uint8, np.uint64, np.float32, np.bool_])


class Blocked(BaseException):
    """Raised by the alarm: loading took seconds, as an unbounded class count does."""


def expire(*_) -> None:
    raise Blocked("load_data ran past 3 s")


@st.composite
def user_data(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n_train, n_test = draw(st.integers(0, 12)), draw(st.integers(0, 6))
    classes = draw(st.integers(1, 6))
    arrays = {}
    features = draw(st.sampled_from([(4, 4), (4, 4), (4, 4), (0,), (4, 0)]))  # (0,) and (4, 0): no values
    for part, count in (("train", n_train), ("test", n_test)):
        arrays[f"x_{part}"] = np.zeros((count + draw(st.sampled_from([0, 0, 0, 1, -1])) if count else 0, *features),
                                       np.uint8) if draw(st.integers(0, 9)) else np.zeros((0,), np.uint8)
        labels = draw(st.lists(st.integers(0, classes - 1), min_size=count, max_size=count))
        if labels and draw(st.booleans()):  # one label somewhere far off: past the classes, absurd or negative
            labels[draw(st.integers(0, len(labels) - 1))] = draw(st.sampled_from([classes + 3, 10**9, 2**40, -1]))
        arrays[f"y_{part}"] = np.array(labels, dtype=np.int64).astype(draw(LABEL_DTYPES))
    return arrays


@given(arrays=user_data(), validation_fraction=st.sampled_from([0.1, 0.5, 0.9]))
@example(arrays={"x_train": np.zeros((6, 4, 4), np.uint8), "y_train": np.array([0, 1, 2, 0, 1, 2]),
                 "x_test": np.zeros((3, 4, 4), np.uint8), "y_test": np.array([0, 7, 1])},
         validation_fraction=0.1)  # the adversarial report's 8-A
@example(arrays={"x_train": np.zeros((6, 4, 4), np.uint8), "y_train": np.array([0, 1, 2, 0, 1, 10**9]),
                 "x_test": np.zeros((3, 4, 4), np.uint8), "y_test": np.array([0, 2, 1])},
         validation_fraction=0.1)  # 8-B: hung building a 10**9-way layer
@example(arrays={"x_train": np.zeros((6, 4, 4), np.uint8), "y_train": np.array([0, 1, 2, 0, 1, 2]),
                 "x_test": np.zeros((0, 4, 4), np.uint8), "y_test": np.zeros((0,), np.int64)},
         validation_fraction=0.1)  # 8-C: empty test arrays
@example(arrays={"x_train": np.zeros((6, 0), np.uint8), "y_train": np.array([0, 1, 2, 0, 1, 2]),
                 "x_test": np.zeros((3, 0), np.uint8), "y_test": np.array([0, 2, 1])},
         validation_fraction=0.1)  # round 2's 8-a: no values per example aborted inside oneDNN
@example(arrays={"x_train": np.zeros((6, 4, 4), np.uint8), "y_train": np.zeros(6, np.int64),
                 "x_test": np.zeros((3, 4, 4), np.uint8), "y_test": np.zeros(3, np.int64)},
         validation_fraction=0.1)  # round 2's 8-b: one class trained to a meaningless 100%
def test_user_data_is_consistent_or_refused_naming_the_array(arrays: dict[str, np.ndarray],
                                                             validation_fraction: float) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.npz"
        np.savez(path, **arrays)
        signal.signal(signal.SIGALRM, expire)
        signal.alarm(3)  # a class count left unchecked builds 10**9 class names: fail, do not hang
        try:
            splits, data = load_data(str(path), validation_fraction=validation_fraction)
        except CorruptDataError as error:
            message = str(error)
            assert message.startswith(f"{path}: ") and "\n" not in message, message
            assert any(key in message for key in (*NPZ_KEYS, "split")), message
            return
        finally:
            signal.alarm(0)
    y_train, y_test = arrays["y_train"], arrays["y_test"]
    assert y_train.dtype.kind in "ui" and y_test.dtype.kind in "ui"  # integer labels only
    for part in ("train", "test"):
        assert len(arrays[f"x_{part}"]) == len(arrays[f"y_{part}"]) > 0
    assert data.num_classes == int(y_train.max()) + 1 <= min(MAX_CLASSES, len(y_train))
    assert len(np.unique(y_train)) >= 2 and 0 not in arrays["x_train"].shape[1:]
    assert int(y_test.max()) < data.num_classes and int(y_train.min()) >= 0 and int(y_test.min()) >= 0
    assert len(splits.x_train) and len(splits.x_val) and len(splits.x_test)


@given(suffix=st.sampled_from([".npz", ".NPZ", ".Npz", ".npy", ".zip", ".txt", ""]))
def test_a_user_file_is_read_whatever_the_case_of_npz_and_another_file_is_named(suffix: str) -> None:
    """Round 8's 8-a: `data=UP.NPZ` was an "unknown dataset"; a file of another kind is named as such, never looked up
    as a dataset name."""
    arrays = {"x_train": np.arange(40, dtype=np.uint8).reshape(10, 4), "y_train": np.arange(10) % 2,
              "x_test": np.arange(16, dtype=np.uint8).reshape(4, 4), "y_test": np.arange(4) % 2}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"data{suffix}"
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
        if suffix.lower() == ".npz":
            _, data = load_data(str(path))
            assert data.num_classes == 2
            return
        try:
            load_data(str(path))
        except CorruptDataError as error:
            assert str(error).startswith(f"{path}: a file, not a .npz archive"), error
        else:
            raise AssertionError("a file that is not .npz was read")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(examples=st.integers(20, 400), pages=st.integers(16, 512))
def test_an_npz_that_would_inflate_past_half_the_memory_is_refused_before_inflating(examples, pages,
                                                                                    tmp_path_factory, monkeypatch):
    """Round 15's observation: a 540 KB `.npz` of zeros inflated to 512 MB before its labels were checked. The
    members' declared sizes are compared with the memory available (here a generated amount) before any is read."""
    import os

    import numpy as np

    import trainers.user_fit as user_fit
    from datasets.formats import CorruptDataError

    folder = tmp_path_factory.mktemp("bomb")
    path = folder / "zeros.npz"
    np.savez_compressed(path, x_train=np.zeros((examples, 28, 28), np.float32),
                        y_train=np.arange(examples, dtype=np.int64) % 2, x_test=np.zeros((2, 28, 28), np.float32),
                        y_test=np.arange(2, dtype=np.int64))
    size = (examples + 2) * 28 * 28 * 4 + (examples + 2) * 8  # data bytes; each member adds a 128-byte header
    real_sysconf = os.sysconf
    monkeypatch.setattr(user_fit.os, "sysconf", lambda name: pages if name == "SC_AVPHYS_PAGES"
                        else 4096 if name == "SC_PAGE_SIZE" else real_sysconf(name))
    available = pages * 4096
    if size + 4 * 128 > available // 2:
        with pytest.raises(CorruptDataError, match="once decompressed"):
            user_fit.load_data(str(path))
    elif size + 4 * 256 < available // 2:
        user_fit.load_data(str(path))  # within memory: read
