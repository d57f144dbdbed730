"""Round 16's two misleading lines: a patience setting in exponent notation was called "not positive", and a
`.npy` whose header is larger than numpy reads safely got numpy's advice to pass options sweeplab does not have
(one of them, allow_pickle, unsafe)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.formats import CorruptDataError, read_npy_array
from sweeps.storage import StorageError
from sweeps.storage_faults import patience_seconds


@settings(max_examples=25, deadline=None)
@given(raw=st.one_of(st.sampled_from(["1e-9", "1E3", "inf", "-1", "+5", "0x10", "1_0", "nan", "0"]),
                     st.floats(allow_nan=True).map(repr)))
def test_a_patience_the_reader_refuses_says_how_to_write_one(raw):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SWEEPLAB_STORAGE_PATIENCE_SECONDS", raw)
        try:
            value = patience_seconds()
        except StorageError as refused:
            assert "1 to 9 digits" in str(refused) and repr(raw) in str(refused)
            return
    assert value > 0 and float(raw) == value


@settings(max_examples=10, deadline=None)
@given(padding=st.integers(10_001, 70_000))
def test_a_npy_header_past_numpys_safe_size_is_named_without_unsafe_advice(padding):
    buffer = io.BytesIO()
    array = np.zeros((2, 3), np.uint8)
    header = {"descr": "|u1", "fortran_order": False, "shape": (2, 3)}
    text = repr(header) + " " * padding + "\n"
    buffer.write(b"\x93NUMPY\x02\x00" + len(text).to_bytes(4, "little") + text.encode("latin1") + array.tobytes())
    size = buffer.tell()
    buffer.seek(0)
    with pytest.raises(CorruptDataError) as refused:
        read_npy_array(buffer, size, "big.npy")
    assert "allow_pickle" not in str(refused.value) and "header is larger" in str(refused.value)
