"""Array files a user hands over (`images.npy`/`labels.npy`, a task's `.npz`): whatever their header claims or their
bytes hold, they load exactly or are refused with one CorruptDataError line naming the file; nothing is allocated
from a header's claim alone, and non-finite images are refused."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from datasets.clocks.arrays import read_npy
from datasets.formats import CorruptDataError
from trainers.user_fit import load_data

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6)
DTYPES = st.sampled_from([np.uint8, np.int16, np.int64, np.float32, np.float64])


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


ODD_SIDES = st.one_of(st.booleans(), st.floats(allow_nan=True), st.integers(-10**6, -1))  # round 6: (True, 150, 150)


@given(array=hnp.arrays(DTYPES, SHAPES),
       claimed=st.one_of(st.none(), hnp.array_shapes(max_dims=4, max_side=10**6),
                         st.lists(st.one_of(st.integers(0, 6), ODD_SIDES), min_size=1, max_size=4).map(tuple)),
       cut=st.integers(0, 64))
@example(array=np.zeros(2, np.uint8), claimed=(0,), cut=2)  # a cut that leaves an empty array whole: it loads
def test_npy_loads_exactly_or_is_refused(tmp_path_factory, array, claimed, cut):
    data = npy_bytes(array)
    if claimed is not None:  # rewrite the header to claim another shape (a crafted or mismatched file)
        header = np.lib.format.header_data_from_array_1_0(array)
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, {**header, "shape": tuple(claimed)})
        data = buffer.getvalue() + array.tobytes()
    header_length = len(data) - array.nbytes
    data = data[: len(data) - cut] if cut else data
    path = tmp_path_factory.mktemp("npy") / "images.npy"
    path.write_bytes(data)
    plain = claimed is None or all(type(side) is int and side >= 0 for side in claimed)
    count = array.size if claimed is None else int(np.prod(claimed)) if plain else -1
    # consistent: a whole header whose shape holds exactly the data bytes left (a cut may leave a smaller array whole)
    consistent = plain and len(data) - header_length == count * array.itemsize
    try:
        loaded = read_npy(path)
    except CorruptDataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        assert not (cut == 0 and claimed is None)  # an untouched file is never refused
        assert not consistent
        return
    assert consistent
    assert loaded.dtype == array.dtype and loaded.size == count
    assert np.array_equal(loaded.ravel(), array.ravel()[:count], equal_nan=True)


def write_npz(path, **arrays) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            archive.writestr(f"{key}.npy", npy_bytes(array))


@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.integers(0, 3 * 4 * 4 - 1))
def test_npz_with_non_finite_images_is_refused(tmp_path_factory, bad, where):
    images = np.zeros((3, 4, 4), np.float32)
    images.flat[where] = bad
    path = tmp_path_factory.mktemp("npz") / "data.npz"
    write_npz(path, x_train=images, y_train=np.arange(3), x_test=np.zeros((3, 4, 4), np.float32),
              y_test=np.arange(3))
    with pytest.raises(CorruptDataError, match="NaN or infinite"):
        load_data(str(path))


def test_npz_round_trip_and_missing_key(tmp_path):
    path = tmp_path / "data.npz"
    rng = np.random.default_rng(0)
    x_train, x_test = rng.integers(0, 255, (50, 6, 6), dtype=np.uint8), rng.integers(0, 255, (10, 6, 6), np.uint8)
    np.savez(path, x_train=x_train, y_train=np.arange(50) % 3, x_test=x_test, y_test=np.arange(10) % 3)
    splits, data = load_data(str(path), validation_fraction=0.2)
    assert data.num_classes == 3 and len(splits.x_train) == 40 and len(splits.x_val) == 10
    assert np.array_equal(np.sort(np.concatenate([splits.x_train, splits.x_val]), axis=0), np.sort(x_train, axis=0))
    np.savez(path, x_train=x_train, y_train=np.arange(50) % 3, x_test=x_test)
    with pytest.raises(CorruptDataError, match="missing array 'y_test'"):
        load_data(str(path))
