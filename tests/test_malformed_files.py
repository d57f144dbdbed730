"""Malformed files (docs/defences.md, class 7): what the project reads from a run directory or a user hands to
`predict` is a regular file, a Keras model that exists but cannot be read says so, every sidecar value is checked
against its type and range, and an empty image array is refused, each in one line naming the file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
from pathlib import Path

import numpy as np
import optuna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analysis.report_data import read_curve
from datasets.clocks.arrays import read_npy, validate_images
from datasets.formats import CorruptDataError
from trainers.bounds import bound_of
from trainers.clock.heads import HOUR_DECODINGS
from trainers.clock.predict import HEAD_OPTIONS, load_clock_model, read_sidecar

SIDECAR = {"head": "hands", "options": {"minute_weight": 1.0, "hour_decoding": "given_minute", "label_sigma": 0.0},
           "input": {}}


class Blocked(BaseException):
    """Not an OSError, so no reader's `except OSError` can take it for an unreadable file."""


@contextlib.contextmanager
def within(seconds: int):
    """Fail (not hang) when the body blocks: a FIFO opened for reading waits for a writer forever."""
    def expire(*_):
        raise Blocked(f"blocked for {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def make_not_regular(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")


@given(kind=st.sampled_from(["fifo", "directory", "device"]),
       which=st.sampled_from(["metrics.jsonl", "model.keras", "model.head.json", "images.npy"]))
@example(kind="fifo", which="metrics.jsonl")  # the adversarial report's 7-A: `sweeplab report` hung
def test_a_file_that_is_not_a_regular_file_is_refused_not_waited_on(kind: str, which: str) -> None:
    with tempfile.TemporaryDirectory() as directory, within(5):
        folder = Path(directory)
        target = folder / which
        if which == "metrics.jsonl":
            make_not_regular(target, kind)
            trial = optuna.trial.create_trial(value=0.5, user_attrs={"run_dir": str(folder)})
            assert read_curve(trial, folder, "s") is None  # the report goes on without this curve
            return
        if which == "images.npy":
            make_not_regular(target, kind)
            with pytest.raises(CorruptDataError) as refused:
                read_npy(target)
        else:
            (folder / "model.head.json").write_text(json.dumps(SIDECAR))
            (folder / "model.keras").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
            target.unlink()
            make_not_regular(target, kind)
            with pytest.raises(CorruptDataError) as refused:
                load_clock_model(folder / "model.keras")
        message = str(refused.value)
        assert str(target) in message and "\n" not in message
        assert "regular file" in message or kind == "device"  # /dev/zero through a link: read as bytes, refused


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    return path.read_bytes()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=12)
@given(cut=st.floats(0.0, 0.999), garbage=st.one_of(st.none(), st.binary(min_size=1, max_size=200)))
@example(cut=0.5, garbage=None)  # 7-B: truncated
@example(cut=0.0, garbage=b"\x00" * 64)  # 7-C: random bytes
def test_a_model_file_that_exists_but_is_unreadable_says_so(keras_file: bytes, cut: float, garbage: bytes | None):
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        (folder / "model.head.json").write_text(json.dumps(SIDECAR))
        content = keras_file[: int(len(keras_file) * cut)] if garbage is None else garbage
        (folder / "model.keras").write_bytes(content)
        with pytest.raises(CorruptDataError) as refused:
            load_clock_model(folder / "model.keras")
    message = str(refused.value)
    assert "exists" in message and "not a readable Keras model" in message and "\n" not in message
    assert "not found" not in message.lower(), message


NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**12, 10**12), st.booleans(),
                    st.sampled_from([-1e308, 1e308, 0, 1, 30, 31, 72, 720, 721]))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=st.dictionaries(st.sampled_from([*HEAD_OPTIONS, "unknown"]),
                               st.one_of(NUMBERS, st.sampled_from([*HOUR_DECODINGS, "auto", "x"])), max_size=4),
       head=st.sampled_from(["hands", "multi_head", "classification", "periodic"]))
@example(options={"label_sigma": -1e308}, head="hands")  # the adversarial report's 7-D
def test_every_sidecar_option_is_checked_against_its_type_and_range(tmp_path_factory, options, head) -> None:
    path = tmp_path_factory.mktemp("sidecar") / "model.head.json"
    path.write_text(json.dumps({"head": head, "options": options, "input": {}}))
    try:
        read_sidecar(path)
    except CorruptDataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    for key, value in options.items():
        kind = HEAD_OPTIONS[key]  # an unknown key is refused
        if kind in (int, float):
            assert type(value) is int or (kind is float and type(value) is float), (key, value)
            bound = bound_of(key)
            assert bound.low <= value <= bound.high, (key, value)
        else:
            assert value in HOUR_DECODINGS, (key, value)


@given(count=st.integers(0, 3), side=st.integers(1, 200), extra=st.sampled_from([(), (1,)]))
@example(count=0, side=150, extra=())  # the adversarial report's 7-E
def test_an_image_array_holds_at_least_one_square_image(count: int, side: int, extra: tuple[int, ...]) -> None:
    images = np.zeros((count, side, side, *extra), np.uint8)
    try:
        checked = validate_images(images, "e.npy")
    except CorruptDataError as error:
        assert str(error).startswith("e.npy: ") and "\n" not in str(error)
        assert count == 0 or side < 8
        return
    assert len(checked) == count >= 1 and checked.shape[1:] == (side, side)
