"""Clock input transforms: the polar warp (rows = angle from 12, column 0 = dial centre), coordinate channels,
and a model trained with them that `predict` can load and use."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from datasets.clocks import render_clocks
from datasets.clocks.variation import variation_named
from trainers import get_task, resolve_config, run
from trainers.clock.backbone import build_clock_model
from trainers.clock.metric import common_sense_minutes, to_minutes
from trainers.clock.predict import load_clock_model, predict_clock_minutes
from trainers.clock.training import head_of
from trainers.clock.transforms import (
    CoordinateChannels,
    PolarWarp,
    RandomDialTilt,
    RandomDialTurn,
    WrapRows,
    coordinate_maps,
    polar_coordinate_maps,
    polar_grid,
    tilt_points,
)

CLOCK = get_task("clock")


def test_polar_grid_puts_the_centre_in_column_zero_and_12_oclock_in_row_zero():
    x, y = polar_grid(64)
    centre = 31.5
    assert np.allclose(x[:, 0], centre) and np.allclose(y[:, 0], centre)
    assert np.allclose(x[0, 1:], centre) and np.all(np.diff(y[0]) < 0)  # row 0 runs straight up (12 o'clock)
    assert np.allclose(y[16, 1:], centre) and np.all(np.diff(x[16]) > 0)  # a quarter turn: 3 o'clock
    assert np.allclose(x[32, 1:], centre) and np.all(np.diff(y[32]) > 0)  # half a turn: 6 o'clock
    radius = np.hypot(x - centre, y - centre)
    assert np.allclose(radius, radius[0][None, :]) and radius.max() < 32


def test_polar_warp_matches_cv2_remap_and_keeps_constants():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (48, 48)).astype(np.float32)
    warped = np.asarray(PolarWarp()(image[None, ..., None]))[0, ..., 0]
    x, y = polar_grid(48)
    expected = cv2.remap(image, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR)
    assert warped.shape == (48, 48) and np.allclose(warped, expected, atol=1e-3)
    constant = np.asarray(PolarWarp()(np.full((2, 32, 32, 3), 0.7, np.float32)))
    assert constant.shape == (2, 32, 32, 3) and np.allclose(constant, 0.7, atol=1e-5)


@pytest.mark.parametrize(("hour", "row"), [(0, 0), (3, 16), (6, 32), (9, 48)])
def test_a_hand_becomes_the_row_of_its_angle(hour, row):
    image = np.zeros((64, 64), np.float32)
    angle = np.radians(hour * 30)
    end = (31.5 + 28 * np.sin(angle), 31.5 - 28 * np.cos(angle))
    cv2.line(image, (32, 32), (round(end[0]), round(end[1])), 1.0, 2)
    warped = np.asarray(PolarWarp()(image[None, ..., None]))[0, :, 10:, 0]
    brightest = int(np.argmax(warped.sum(axis=1)))
    assert min(abs(brightest - row), 64 - abs(brightest - row)) <= 1


def test_polar_warp_of_a_larger_image_with_wrapped_rows():
    """96 angles x 24 radii from a 64 px image, 8 rows wrapped each side: the hand at 12 o'clock is the row of 12 in
    the middle copy and in the wrapped copy below; both layers round-trip through a saved model's config."""
    image = np.zeros((64, 64), np.float32)
    cv2.line(image, (32, 32), (32, 4), 1.0, 2)  # 12 o'clock
    warp, wrap = PolarWarp(angles=96, radii=24), WrapRows(8)
    warped = np.asarray(wrap(warp(image[None, ..., None])))[0, :, 6:, 0]
    assert warped.shape == (96 + 16, 18)
    rows = warped.sum(axis=1)
    assert int(np.argmax(rows[8:104])) in (0, 1, 95)  # the middle copy: row 0 is 12 o'clock
    assert np.allclose(warped[:8], warped[96:104]) and np.allclose(warped[104:], warped[8:16])
    assert rows[104] > 5 * np.median(rows)  # 12 o'clock seen again past the end
    clone = PolarWarp.from_config(warp.get_config())
    assert (clone.angles, clone.radii, WrapRows.from_config(wrap.get_config()).rows) == (96, 24, 8)


def test_random_dial_turn_shifts_each_dial_cyclically_and_only_while_training():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (16, 12, 5, 1)).astype(np.float32)
    layer = RandomDialTurn(3, seed=0)
    assert np.array_equal(np.asarray(layer(images, training=False)), images)
    turned = np.asarray(layer(images, training=True))
    shifts = []
    for original, out in zip(images, turned, strict=True):
        matches = [k for k in range(-3, 4) if np.array_equal(out, np.roll(original, -k, axis=0))]
        assert len(matches) == 1  # a whole-row cyclic shift within +-3 rows, nothing else changed
        shifts.extend(matches)
    assert len(set(shifts)) > 2  # each dial gets its own turn


def test_random_dial_tilt_keeps_the_rim_and_moves_the_pivot_only_while_training():
    """A rim circle and a centre dot: re-tilted in perspective, the rim maps back onto itself (as the localiser maps a
    photographed rim) and the pivot moves off the centre, by more the steeper the tilt."""
    size, fill = 96, 0.9
    radius, centre = fill * size / 2, (size - 1) / 2
    image = np.zeros((size, size), np.float32)
    cv2.circle(image, (size // 2, size // 2), round(radius), 255.0, 1)
    cv2.circle(image, (size // 2, size // 2), 2, 255.0, -1)
    images = np.repeat(image[None, ..., None], 32, axis=0)
    layer = RandomDialTilt(60.0, fill, seed=0)
    assert np.array_equal(np.asarray(layer(images, training=False)), images)
    offsets = []
    for tilted in np.asarray(layer(images, training=True))[..., 0]:
        ys, xs = np.nonzero(tilted > 100)
        distance = np.hypot(xs - centre, ys - centre)
        rim, pivot = distance > radius / 2, distance < radius / 2
        misplaced = np.abs(distance[rim] - radius)  # a 1 px ring, resampled: the rim stays where the localiser puts it
        assert misplaced.mean() <= 1.5 and misplaced.max() <= 3.5  # unrectified, a 60-degree tilt misplaces ~10 px
        offsets.append(np.hypot(xs[pivot].mean() - centre, ys[pivot].mean() - centre) / radius)
    assert max(offsets) > 0.05 and np.median(offsets) < 0.25  # pivots move, a few percent of the radius up to ~0.15
    gentle = RandomDialTilt(10.0, fill, seed=0)(images, training=True)
    assert np.abs(np.asarray(gentle) - images).mean() < np.abs(np.asarray(layer(images, training=True)) - images).mean()


def test_coordinate_channels_append_x_y_radius():
    maps = coordinate_maps(5)
    assert maps.shape == (5, 5, 3)
    assert np.allclose(maps[0, :, 0], np.linspace(-1, 1, 5)) and np.allclose(maps[:, 0, 1], np.linspace(-1, 1, 5))
    assert maps[2, 2, 2] == 0 and np.isclose(maps[0, 0, 2], np.sqrt(2))
    images = np.ones((3, 5, 5, 1), np.float32)
    out = np.asarray(CoordinateChannels()(images))
    assert out.shape == (3, 5, 5, 4) and np.allclose(out[..., 0], 1) and np.allclose(out[1, ..., 1:], maps)


def test_transforms_are_layers_of_the_model():
    config = resolve_config(CLOCK, {**CLOCK.smoke, "image_size": 32, "polar": True, "coord_channels": True})
    model = build_clock_model(config, 32, head_of(config))
    names = [layer.name for layer in model.layers]
    assert names.index("polar") < names.index("coordinates")
    assert model.get_layer("coordinates").output.shape == (None, 32, 32, 4)


def test_tilt_points_inverse_undoes_the_tilt_and_the_rim_maps_to_itself():
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (5, 40, 2)).astype(np.float32)
    tilt, axis = np.radians(rng.uniform(0, 60, 5)).astype(np.float32), rng.uniform(0, 6.3, 5).astype(np.float32)
    shown = tilt_points(points, tilt, axis, 4.0)
    assert np.abs(np.asarray(shown) - points).max() > 0.05
    assert np.allclose(np.asarray(tilt_points(shown, tilt, axis, 4.0, inverse=True)), points, atol=1e-4)
    angles = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    rim = np.broadcast_to(np.stack([np.cos(angles), np.sin(angles)], -1)[None], (5, 50, 2)).astype(np.float32)
    assert np.allclose(np.linalg.norm(np.asarray(tilt_points(rim, tilt, axis, 4.0)), axis=-1), 1.0, atol=0.01)


def test_polar_warp_samples_a_re_tilted_dial_while_training():
    """The tilt fused into the polar warp: the rim keeps its column (radius) in every row, the pivot leaves column
    0 in some dials, and outside training the warp is the plain one."""
    size, fill = 96, 0.9
    image = np.zeros((size, size), np.float32)
    cv2.circle(image, (size // 2, size // 2), round(fill * size / 2), 255.0, 2)
    cv2.circle(image, (size // 2, size // 2), 3, 255.0, -1)
    images = np.repeat(image[None, ..., None], 16, axis=0)
    plain, tilted = PolarWarp(64, 24), PolarWarp(64, 24, tilt_degrees=60.0, fill=fill, seed=0)
    reference = np.asarray(plain(images))
    assert np.array_equal(np.asarray(tilted(images, training=False)), reference)
    out = np.asarray(tilted(images, training=True))[..., 0]
    rim_column = reference[0, :, 8:, 0].argmax(axis=1)  # past the centre dot
    assert np.abs(out[:, :, 8:].argmax(axis=2) - rim_column[None]).max() <= 1  # the rim stays where it was put
    assert (out[:, :, 0].mean(axis=1) < 0.5 * reference[0, :, 0, 0].mean()).sum() >= 3  # pivots moved off centre
    assert PolarWarp.from_config(tilted.get_config()).tilt_degrees == 60.0


def test_a_model_with_dial_tilt_saves_and_reads_the_same_after_reloading(tmp_path):
    import keras

    config = resolve_config(CLOCK, {**CLOCK.smoke, "image_size": 32, "polar": True, "augment_tilt_degrees": 30})
    model = build_clock_model(config, 32, head_of(config))
    assert model.get_layer("polar").tilt_degrees == 30  # with the polar warp, the warp samples the tilt itself
    assert not any(isinstance(layer, RandomDialTilt) for layer in model.layers)
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 1)).astype(np.float32)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert np.allclose(model(images, training=False), reloaded(images, training=False), atol=1e-5)


def test_predict_uses_a_saved_polar_model(tmp_path):
    run("clock", {**CLOCK.smoke, "image_size": 40, "head": "classification", "classes": 24, "polar": True,
                  "coord_channels": True, "variation": "mild"}, None, tmp_path)
    model, head, _ = load_clock_model(tmp_path / "model.keras")
    assert isinstance(model.get_layer("polar"), PolarWarp)
    assert isinstance(model.get_layer("coordinates"), CoordinateChannels)
    images, labels = render_clocks(12, seed=3, variation=variation_named("mild"))
    minutes = predict_clock_minutes(model, head, images)  # 150x150 photographs, resized to 40 inside predict
    assert minutes.shape == (12,) and np.all((minutes >= 0) & (minutes < 720))
    errors = common_sense_minutes(to_minutes(labels), minutes)
    assert np.all((errors >= 0) & (errors <= 360))


def test_polar_coordinate_maps_give_each_row_its_angle_and_the_wrapped_rows_theirs():
    maps = polar_coordinate_maps(8, 4, wrap=2)
    assert maps.shape == (12, 4, 3)
    angles = np.arctan2(maps[:, 0, 0], maps[:, 0, 1])
    steps = np.mod(np.diff(angles), 2 * np.pi)
    assert np.allclose(steps, 2 * np.pi / 8, atol=1e-5)  # continuous round the circle, the wrapped rows included
    assert np.allclose(maps[:2], maps[8:10]) and np.allclose(maps[-2:], maps[2:4])  # a wrapped row is its source row
    assert np.allclose(maps[0, :, 2], np.linspace(0, 1, 4))


def test_coordinate_channels_on_the_wrapped_polar_image_of_the_model():
    config = resolve_config(CLOCK, {**CLOCK.smoke, "image_size": 32, "polar": True, "polar_angles": 16,
                                    "polar_radii": 6, "polar_wrap": 2, "coord_channels": True})
    model = build_clock_model(config, 32, head_of(config))
    layer = model.get_layer("coordinates")
    assert layer.output.shape == (None, 20, 6, 4)
    restored = CoordinateChannels.from_config(layer.get_config())
    assert (restored.polar_angles, restored.polar_wrap) == (16, 2)
