"""The clock renderer: deterministic bytes, the course format, label balance, hands where the label says."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.clocks import Variation, clock_labels, load_clock_arrays, render_clock, render_clocks, rendered_clocks
from datasets.clocks.arrays import save_clock_arrays
from datasets.clocks.variation import (
    DIAL_STYLES,
    EXTRA_DIAL_STYLES,
    RANDOM_DIAL_STYLES,
    SPARSE_DIAL_STYLES,
    variation_named,
)
from datasets.formats import CorruptDataError


def test_same_seed_same_bytes_and_course_format():
    images, labels = render_clocks(12, seed=5)
    again, labels_again = render_clocks(12, seed=5)
    assert images.shape == (12, 150, 150) and images.dtype == np.uint8
    assert labels.shape == (12, 2) and labels.dtype == np.int64
    assert images.tobytes() == again.tobytes() and np.array_equal(labels, labels_again)
    other, _ = render_clocks(12, seed=6)
    assert images.tobytes() != other.tobytes()
    assert images.std() > 20  # a picture, not a blank


def test_parallel_rendering_gives_the_same_images():
    serial, labels = render_clocks(260, seed=1, workers=1)
    parallel, parallel_labels = render_clocks(260, seed=1, workers=2)
    assert serial.tobytes() == parallel.tobytes() and np.array_equal(labels, parallel_labels)


def test_twenty_five_per_minute_by_default():
    labels = clock_labels(18000, seed=0)
    minutes = labels[:, 0] * 60 + labels[:, 1]
    assert np.array_equal(np.bincount(minutes, minlength=720), np.full(720, 25))
    assert labels[:, 0].min() == 0 and labels[:, 0].max() == 11 and labels[:, 1].max() == 59
    small = clock_labels(200, seed=0)  # a small set still spreads over the dial
    assert len(np.unique(small[:, 0])) == 12


def _darkness(image: np.ndarray, geometry, angles: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Mean darkness along each ray from the dial centre between the given face radii."""
    values = np.zeros(len(angles))
    for index, angle in enumerate(angles):
        for radius in radii:
            x, y = geometry.to_image(radius, angle)
            values[index] += 255 - image[round(y), round(x)]
    return values / len(radii)


def _angle_gap(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def _peak_angle(angles: np.ndarray, darkness: np.ndarray) -> float:
    """The darkness-weighted centre of the darkest ray's +-15 degree neighbourhood (a hand is several degrees wide)."""
    peak = angles[np.argmax(darkness)]
    offsets = (angles - peak + 180) % 360 - 180
    near = (np.abs(offsets) <= 15) & (darkness > 0)
    return float((peak + np.sum(offsets[near] * darkness[near]) / np.sum(darkness[near])) % 360)


@pytest.mark.parametrize("rotation", [0.0, 30.0])
@pytest.mark.parametrize(("hour", "minute"), [(1, 30), (3, 0), (8, 20), (10, 10), (5, 45)])
def test_rendered_hands_point_where_the_label_says(hour, minute, rotation):
    variation = Variation(**{**Variation.none().as_dict(), "rotation_degrees": rotation})
    image, geometry = render_clock(hour, minute, np.random.default_rng([hour, minute]), variation)
    angles = np.arange(0, 360, 1.0)
    minute_darkness = _darkness(image, geometry, angles, np.linspace(0.55, 0.68, 6))
    minute_measured = _peak_angle(angles, minute_darkness - np.median(minute_darkness))
    hour_darkness = _darkness(image, geometry, angles, np.linspace(0.18, 0.42, 8))
    hour_darkness[[_angle_gap(angle, minute_measured) < 20 for angle in angles]] = 0
    hour_measured = _peak_angle(angles, hour_darkness - np.median(hour_darkness))
    assert _angle_gap(minute_measured, minute * 6) <= 2.5
    assert _angle_gap(hour_measured, (hour + minute / 60) * 30) <= 2.5  # includes the minute fraction
    assert math.isclose(geometry.hour_angle, (hour + minute / 60) * 30)


def test_loader_reads_what_was_saved_and_refuses_bad_sets(tmp_path):
    images, labels = render_clocks(6, seed=2)
    save_clock_arrays(tmp_path / "ok", images, labels)
    read_images, read_labels = load_clock_arrays(tmp_path / "ok")
    assert np.array_equal(read_images, images) and np.array_equal(read_labels, labels)
    cases = {
        "dtype": (images.astype(np.float32), labels, "uint8"),
        "shape": (images[:, :, :100], labels, "shape"),
        "labels": (images, labels[:, :1], "(N, 2)"),
        "count": (images, labels[:4], "labels for 6 images"),
        "hours": (images, labels + np.array([12, 0]), "hours must lie in 0..11"),
        "minutes": (images, labels + np.array([0, 60]), "minutes must lie in 0..59"),
    }
    for name, (bad_images, bad_labels, message) in cases.items():
        save_clock_arrays(tmp_path / name, bad_images, bad_labels)
        with pytest.raises(CorruptDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_clock_arrays(tmp_path / name)
    with pytest.raises(FileNotFoundError, match=r"images\.npy"):
        load_clock_arrays(tmp_path / "absent")


def test_rendered_sets_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPLAB_CACHE_DIR", str(tmp_path))
    first = rendered_clocks(8, seed=4)
    cached = list(tmp_path.glob("clocks-n8-seed4-*"))
    assert len(cached) == 1 and (cached[0] / "images.npy").exists()
    second = rendered_clocks(8, seed=4)
    assert np.array_equal(first[0], second[0])
    assert rendered_clocks(8, seed=4, variation=Variation.wide())[0].tobytes() != first[0].tobytes()
    assert len(list(tmp_path.glob("clocks-n8-seed4-*"))) == 2


def test_mild_preset_sits_between_none_and_default():
    from datasets.clocks.variation import variation_named

    none, mild, default = (variation_named(name) for name in ("none", "mild", "default"))
    for knob in ("rotation_degrees", "tilt_degrees", "offset", "lighting", "reflection", "shadow"):
        assert getattr(none, knob) <= getattr(mild, knob) < getattr(default, knob), knob
    assert mild.dial_styles == default.dial_styles and mild.hand_styles == default.hand_styles
    mild.validate()
    assert len({mild.key(), default.key(), none.key()}) == 3


def test_a_broken_worker_pool_falls_back_to_the_same_images(monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import datasets.clocks.render as render

    class BrokenPool:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def __enter__(self):
            raise BrokenProcessPool("a worker was killed")

        def __exit__(self, *exc_info) -> bool:
            return False

    serial_images, serial_labels = render.render_clocks(300, seed=3, workers=1)
    monkeypatch.setattr(render, "spawn_pool", BrokenPool)
    with pytest.warns(UserWarning, match="parallel clock rendering failed"):
        images, labels = render.render_clocks(300, seed=3, workers=2)
    np.testing.assert_array_equal(images, serial_images)
    np.testing.assert_array_equal(labels, serial_labels)


@pytest.mark.parametrize("style", EXTRA_DIAL_STYLES + RANDOM_DIAL_STYLES)
def test_each_extra_dial_design_marks_twelve_heavier_than_six(style):
    """The `diverse` variation's designs each mark 12 with a cue of their own (two dots, a double baton, the one
    numeral, the wide bar), and the random glyphs of `randomised` a longer, larger one: more ink round 12 o'clock
    than round 6, at 3:45 (no hand near either)."""
    variation = Variation(**{**Variation.none().as_dict(), "dial_styles": (style,)})
    image, geometry = render_clock(3, 45, np.random.default_rng(0), variation)
    band = np.linspace(0.62, 0.95, 12)
    face = np.median(_darkness(image, geometry, np.arange(0.0, 360.0, 1.0), band))  # the bare dial's own darkness
    near = np.arange(-12.0, 12.5, 0.5)
    twelve = np.clip(_darkness(image, geometry, near, band) - face, 0, None).sum()
    six = np.clip(_darkness(image, geometry, 180.0 + near, band) - face, 0, None).sum()
    assert twelve > 1.5 * six > 0, (style, twelve, six)


def test_the_diverse_variation_adds_designs_and_keeps_the_held_out_ones():
    diverse = variation_named("diverse")
    assert set(diverse.dial_styles) == set(DIAL_STYLES) | set(EXTRA_DIAL_STYLES)
    assert dataclasses.replace(diverse, dial_styles=DIAL_STYLES) == Variation()  # otherwise the default's ranges
    images = {style: render_clock(3, 45, np.random.default_rng(0), Variation(
        **{**Variation.none().as_dict(), "dial_styles": (style,)}))[0] for style in DIAL_STYLES + EXTRA_DIAL_STYLES}
    for first, second in itertools.combinations(images, 2):  # every design draws something of its own
        assert np.abs(images[first].astype(int) - images[second].astype(int)).mean() > 1.0, (first, second)
    with pytest.raises(ValueError, match="unknown clock style"):
        Variation(dial_styles=("sundial",)).validate()


def test_the_randomised_variation_adds_random_glyphs_that_draw_no_numeral():
    """Style randomisation: `randomised` is `diverse` plus dials whose hour marks are random letters and signs,
    different on every dial, never a digit or a roman numeral's letters (no held-out numeral design is drawn)."""
    randomised = variation_named("randomised")
    assert set(randomised.dial_styles) == set(variation_named("diverse").dial_styles) | set(RANDOM_DIAL_STYLES)
    assert dataclasses.replace(randomised, dial_styles=DIAL_STYLES) == Variation()
    from datasets.clocks.render import GLYPH_CHARACTERS

    assert not set(GLYPH_CHARACTERS) & set("0123456789IVX")
    glyphs = Variation(**{**Variation.none().as_dict(), "dial_styles": ("glyphs",)})
    first, second = (render_clock(3, 45, np.random.default_rng(seed), glyphs)[0].astype(int) for seed in (0, 1))
    assert np.abs(first - second).mean() > 1.0  # the same time, other glyphs
    again = render_clock(3, 45, np.random.default_rng(0), glyphs)[0].astype(int)
    np.testing.assert_array_equal(first, again)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), keep=st.floats(0.3, 1.0), least=st.integers(0, 6))
def test_a_sparse_dial_numbers_at_least_the_asked_hours_and_never_twelve(seed, keep, least):
    from datasets.clocks.render import sparse_hours

    hours = sparse_hours(np.random.default_rng(seed), keep, least)
    assert len(hours) >= least and len(set(hours)) == len(hours) and set(hours) <= set(range(1, 12))


def test_sparse_dials_leave_12_unmarked_and_vary_which_hours_they_number():
    """`arabic_sparse`: numerals at a random subset of the hours, never at 12: at 6:15 (no hand near 12) the numeral
    ring round 12 is as bare as the face on every dial, while the ring holds ink at some hours and the hours inked
    differ between dials; `diverse_sparse` is `diverse` plus this design."""
    assert set(variation_named("diverse_sparse").dial_styles) == (set(variation_named("diverse").dial_styles)
                                                                  | set(SPARSE_DIAL_STYLES))
    variation = Variation(**{**Variation.none().as_dict(), "dial_styles": SPARSE_DIAL_STYLES})
    band, hours = np.linspace(0.70, 0.82, 8), np.arange(12) * 30.0  # inside the minute ticks
    inked = []
    for seed in range(6):
        image, geometry = render_clock(6, 15, np.random.default_rng(seed), variation)
        face = np.median(_darkness(image, geometry, np.arange(0.0, 360.0, 1.0) + 15.0, band))
        near = np.arange(-8.0, 8.5, 1.0)
        ink = np.array([np.clip(_darkness(image, geometry, hour + near, band) - face, 0, None).sum() for hour in hours])
        assert ink[0] < 20, (seed, ink)  # anti-aliasing and blur only
        inked.append(tuple(ink[1:] > 150))
    assert all(sum(row) >= 2 for row in inked) and len(set(inked)) > 1, inked


def test_bare_sparse_dials_draw_no_minute_ticks_where_sparse_dials_sometimes_do():
    """`arabic_sparse_bare` is `arabic_sparse` without its minute ticks (half its dials have them): the tick ring
    stays as bare as the face on every bare dial, and on some ticked ones it holds the ticks' ink."""
    from datasets.clocks.variation import BARE_SPARSE_DIAL_STYLES

    assert set(variation_named("diverse_sparse_bare").dial_styles) == (set(variation_named("diverse").dial_styles)
                                                                       | set(BARE_SPARSE_DIAL_STYLES))
    angles, ring = np.arange(0.0, 360.0, 1.0), np.linspace(0.90, 0.96, 4)

    def excess(style: str, seed: int) -> float:
        variation = Variation(**{**Variation.none().as_dict(), "dial_styles": (style,)})
        image, geometry = render_clock(6, 15, np.random.default_rng(seed), variation)
        darkness = _darkness(image, geometry, angles, ring)
        return float(darkness.max() - np.median(darkness))

    assert max(excess("arabic_sparse_bare", seed) for seed in range(6)) < 60
    assert max(excess("arabic_sparse", seed) for seed in range(6)) > 100
