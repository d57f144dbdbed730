"""A saved clock model carries its input preparation: reloaded, it localises raw photographs exactly as training
did; `predict` and the held-out evaluation go through the same path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from datasets.clocks import render_clocks, variation_named
from sweeplab.cli import main
from trainers import get_task, resolve_config, run
from trainers.clock.held_out import HeldOutSet, evaluate_model
from trainers.clock.localize import centre_dials
from trainers.clock.metric import DIAL_MINUTES, common_sense_minutes, to_minutes
from trainers.clock.predict import (
    InputPreparation,
    load_clock_model,
    predict_clock_minutes,
    read_views,
    save_clock_model,
    shift_images,
    turn_images,
    view_outputs,
)
from trainers.clock.training import load_clock_splits

CLOCK = get_task("clock")
LOCALISED = {**CLOCK.smoke, "n_images": 240, "image_size": 40, "head": "hands", "localize": True, "polar": True,
             "variation": "wide", "epochs": 2, "hour_decoding": "given_minute"}


@pytest.fixture(scope="module")
def localised_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("localised-run")
    result = run("clock", LOCALISED, None, run_dir)
    assert 0.8 <= result.metrics["data/dial_found_share"] <= 1.0
    return run_dir


def test_sidecar_records_the_localiser(localised_run):
    sidecar = json.loads((localised_run / "model.head.json").read_text())
    assert sidecar["input"] == {"localize": True, "test_turns": [], "test_shift": 0.0} and sidecar["head"] == "hands"
    _, head, preparation = load_clock_model(localised_run / "model.keras")
    assert preparation == InputPreparation(localize=True) and head.options["hour_decoding"] == "given_minute"


def test_reloaded_model_on_raw_photographs_equals_the_training_pipeline(localised_run):
    """Raw 150x150 test photographs (off-centre, tilted, rotated: the `wide` variation) through the reloaded model
    read the same as the training path's localised, resized test inputs through the same weights."""
    model, head, preparation = load_clock_model(localised_run / "model.keras")
    config = resolve_config(CLOCK, LOCALISED)
    trained_inputs, _ = load_clock_splits(config)
    raw, _ = load_clock_splits(dataclasses.replace(config, localize=False, image_size=150))
    assert np.array_equal(raw.y_test, trained_inputs.y_test)
    in_process = head.decode(np.asarray(model.predict(trained_inputs.x_test, verbose=0), np.float64))
    reloaded = predict_clock_minutes(model, head, raw.x_test[..., 0], preparation)
    np.testing.assert_allclose(reloaded, in_process)
    unprepared = predict_clock_minutes(model, head, raw.x_test[..., 0], InputPreparation(localize=False))
    assert not np.allclose(unprepared, in_process)  # the localiser changes what the network sees


def test_predict_command_localises(localised_run, tmp_path, capsys):
    images, labels = render_clocks(16, seed=9, variation=variation_named("wide"))
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "labels.npy", labels)
    assert main(["predict", "clock", "--model", str(localised_run / "model.keras"), "--images",
                 str(tmp_path / "images.npy"), "--labels", str(tmp_path / "labels.npy")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    model, head, preparation = load_clock_model(localised_run / "model.keras")
    errors = common_sense_minutes(to_minutes(labels), predict_clock_minutes(model, head, images, preparation))
    assert summary["head"] == "hands" and summary["mean"] == pytest.approx(errors.mean(), abs=1e-4)
    assert summary["dial_found_share"] == pytest.approx(centre_dials(images)[1].mean())


def test_held_out_evaluation_reports_every_measure(localised_run):
    model, head, preparation = load_clock_model(localised_run / "model.keras")
    sets = (HeldOutSet("default", 21, n=30), HeldOutSet("wide", 22, n=30))
    report = evaluate_model(model, head, preparation, sets)
    images, labels = render_clocks(30, seed=22, variation=variation_named("wide"))
    expected = common_sense_minutes(to_minutes(labels), predict_clock_minutes(model, head, images, preparation))
    assert report["wide_seed22/cse_minutes"] == pytest.approx(expected.mean())
    assert report["wide_seed22/cse_median"] == pytest.approx(np.median(expected))
    for name in ("default_seed21", "wide_seed22"):
        assert sum(report[f"{name}/histogram"].values()) == 30
        assert 0 <= report[f"{name}/share_hour_slip"] <= report[f"{name}/share_hour_wrong"] <= 1
        assert 0.8 <= report[f"{name}/dial_found_share"] <= 1
        assert set(report[f"{name}/alternatives"]) == {"argmax"}  # trained with given_minute; argmax for comparison


def test_turn_images_turns_clockwise_about_the_centre():
    image = np.zeros((9, 9), np.uint8)
    image[1, 4] = 200  # above the centre: a quarter turn clockwise puts it right of the centre
    turned = turn_images(image[None, ..., None], 90.0)[0, ..., 0]
    assert turned[4, 7] == 200 and turned[1, 4] == 0
    np.testing.assert_array_equal(turned, np.rot90(image, k=-1))
    np.testing.assert_array_equal(turn_images(image[None, ..., None], 0.0)[0, ..., 0], image)


def test_view_outputs_read_each_turned_view():
    """A network that reports one pixel: each view's output is that pixel of the image turned by that angle."""
    import keras

    size = 9
    inputs = keras.Input((size, size, 1))
    model = keras.Model(inputs, keras.layers.Lambda(lambda images: images[:, 1, 4, :])(inputs))
    images = np.random.default_rng(0).integers(0, 255, (5, size, size, 1)).astype(np.uint8)
    turns = (90.0, -90.0, 180.0)
    outputs = view_outputs(model, images, InputPreparation(test_turns=turns))
    assert len(outputs) == 4
    for output, view in zip(outputs, [images] + [turn_images(images, turn) for turn in turns], strict=True):
        np.testing.assert_allclose(output[:, 0], view[:, 1, 4, 0])
    assert not np.allclose(outputs[1], outputs[0])


def test_shift_views_move_the_image_four_ways():
    """`shift`: four more views, the image moved right, left, down and up by that many pixels, after the turns."""
    import keras

    size = 9
    image = np.zeros((size, size), np.uint8)
    image[4, 4] = 200
    moved = shift_images(image[None, ..., None], 2.0, 0.0)[0, ..., 0]
    assert moved[4, 6] == 200 and moved[4, 4] == 0
    assert shift_images(image[None, ..., None], 0.0, -3.0)[0, 1, 4, 0] == 200
    inputs = keras.Input((size, size, 1))
    model = keras.Model(inputs, keras.layers.Lambda(lambda images: images[:, 4, 6, :])(inputs))
    outputs = view_outputs(model, image[None, ..., None], InputPreparation(test_turns=(90.0,), test_shift=2.0))
    assert [float(output[0, 0]) for output in outputs] == [0.0, 0.0, 200.0, 0.0, 0.0, 0.0]  # plain, turn, right ...
    assert len(view_outputs(model, image[None, ..., None])) == 1


def test_read_views_averages_probabilities_and_turns_linear_readings_round_the_dial():
    from trainers.clock.heads import make_head

    classes = make_head("classification", classes=24)  # 30-minute bins
    first, second = np.zeros((1, 24)), np.zeros((1, 24))
    first[0, [3, 5]] = [0.6, 0.4]
    second[0, [3, 5]] = [0.1, 0.9]
    assert read_views(classes, [first]) == pytest.approx([90.0])  # one view: as decoded
    assert read_views(classes, [first, second]) == pytest.approx([150.0])  # averaged: bin 5 wins 0.65 to 0.35
    regression = make_head("regression")  # hours, linear: 11:58 and 0:02 average to noon, not 6:00
    readings = [np.array([[11 + 58 / 60]]), np.array([[2 / 60]])]
    assert not regression.averages_outputs and classes.averages_outputs
    assert min(read_views(regression, readings)[0], DIAL_MINUTES - read_views(regression, readings)[0]) < 1e-6


def test_test_turns_are_saved_and_used_by_predict(localised_run, tmp_path):
    model, head, _ = load_clock_model(localised_run / "model.keras")
    turned = InputPreparation(localize=True, test_turns=(-10, 10))
    reloaded, _, preparation = load_clock_model(save_clock_model(model, head, tmp_path / "model.keras", turned))
    assert preparation == turned
    images, _ = render_clocks(30, seed=23, variation=variation_named("default"))
    averaged = predict_clock_minutes(reloaded, head, images, preparation)
    plain = predict_clock_minutes(reloaded, head, images, InputPreparation(localize=True))
    assert averaged.shape == plain.shape == (30,) and not np.allclose(averaged, plain)


def test_test_turns_config_reaches_the_sidecar_and_the_test_score(tmp_path):
    """`test_turns: 1` (+-test_turn_degrees): the saved model reads with those turns, and the run's test score is
    that reading of the test split."""
    config = {**LOCALISED, "n_images": 120, "epochs": 1, "test_turns": 1, "test_turn_degrees": 30}
    result = run("clock", config, None, tmp_path)
    model, head, preparation = load_clock_model(tmp_path / "model.keras")
    assert preparation == InputPreparation(localize=True, test_turns=(-30.0, 30.0))
    splits, _ = load_clock_splits(resolve_config(CLOCK, config))
    turned = read_views(head, view_outputs(model, splits.x_test, preparation))
    errors = common_sense_minutes(to_minutes(splits.y_test), turned)
    assert result.metrics["test/cse_minutes"] == pytest.approx(errors.mean())
    assert resolve_config(CLOCK, {**config, "test_turns": 2}).turns == (-30.0, 30.0, -60.0, 60.0)
    with pytest.raises(ValueError, match="test_turns"):
        resolve_config(CLOCK, {**config, "test_turns": -1})


def test_test_shift_config_reaches_the_sidecar_and_the_test_score(tmp_path):
    """`test_shift_pixels: 3`: the saved model also reads each image moved 3 pixels four ways, and the run's test
    score is that reading of the test split (not the plain one)."""
    config = {**LOCALISED, "n_images": 120, "epochs": 1, "test_shift_pixels": 3}
    result = run("clock", config, None, tmp_path)
    model, head, preparation = load_clock_model(tmp_path / "model.keras")
    assert preparation == InputPreparation(localize=True, test_shift=3.0)
    splits, _ = load_clock_splits(resolve_config(CLOCK, config))
    minutes = to_minutes(splits.y_test)
    shifted = common_sense_minutes(minutes, read_views(head, view_outputs(model, splits.x_test, preparation)))
    plain = common_sense_minutes(minutes, read_views(head, view_outputs(model, splits.x_test)))
    assert result.metrics["test/cse_minutes"] == pytest.approx(shifted.mean())
    assert not np.allclose(shifted, plain)
    with pytest.raises(ValueError, match="test_shift_pixels"):
        resolve_config(CLOCK, {**config, "test_shift_pixels": -1})
