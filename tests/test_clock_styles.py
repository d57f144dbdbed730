"""Leaving a style family out of the renderer: the knobs render none of it, the rim knob's default renders as
before it existed, and the leave-one-style-out benchmark's splits are disjoint in the family left out."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest

from benchmarks.clock_styles import BASELINE, FAMILIES, PROBABILITY_KNOBS, style_split
from datasets.clocks import Variation, render_clocks
from datasets.clocks.render import CENTRE, FACE, _draw_dial

# sha256 of render_clocks(16, seed=7) computed with the renderer at bee75025 (the rim drawn with a hard-coded 0.5),
# before rim_probability existed
BEFORE_RIM_KNOB = {"default": "f33337e9196752db43196e08965f557e52f91c694ddf12d74e7f703a6fbf1dd9",
                   "wide": "8f865f10a1102f7f6d5a6cf880f95142818f9eac2fa50f7ce6e1d9d80c540100"}
KEYS_BEFORE_RIM_KNOB = {"default": "36156696d8b1", "wide": "14a568814dd2"}  # Variation.key() at bee75025


def _flat(**changes) -> Variation:
    """Upright, centred, undegraded, light-faced, no second hand: the dial as drawn."""
    return dataclasses.replace(Variation.none(), dial_styles=("arabic",), shadow=0.0, **changes)


def _dials(variation: Variation, count: int = 12) -> list[np.ndarray]:
    return [_draw_dial(index % 12, 7 * index % 60, variation, np.random.default_rng([3, index]))
            for index in range(count)]


@pytest.mark.parametrize("name", ["default", "wide"])
def test_rim_default_renders_the_pixels_and_keys_from_before_the_knob(name):
    variation = Variation() if name == "default" else Variation.wide()
    images, _ = render_clocks(16, seed=7, variation=variation)
    assert hashlib.sha256(images.tobytes()).hexdigest() == BEFORE_RIM_KNOB[name]
    assert variation.key() == KEYS_BEFORE_RIM_KNOB[name]  # cached sets keep their directories
    assert dataclasses.replace(variation, rim_probability=0.0).key() != variation.key()


def _face_median(dial: np.ndarray) -> float:
    y, x = np.mgrid[: dial.shape[0], : dial.shape[1]]
    return float(np.median(dial[np.hypot(x - CENTRE, y - CENTRE) < 0.7 * FACE]))


def test_dark_face_probability_zero_or_one_renders_only_light_or_only_dark_faces():
    light = [_face_median(dial) for dial in _dials(_flat(dark_face_probability=0.0))]
    dark = [_face_median(dial) for dial in _dials(_flat(dark_face_probability=1.0))]
    assert min(light) > 150 and max(dark) < 100


def _share_of_angles_with_ink_near_the_edge(dial: np.ndarray) -> float:
    """Of 360 directions, the share whose darkest pixel between 0.975 and 1.0 of the face radius is ink (light face:
    face >= 175, ink <= 55); long ticks reach 0.983 of the radius in a few directions, the rim ring in all."""
    hits = 0
    for degrees in range(360):
        angle = math.radians(degrees)
        radii = np.linspace(0.975, 1.0, 12) * FACE
        columns = np.round(CENTRE + radii * math.sin(angle)).astype(int)
        rows = np.round(CENTRE - radii * math.cos(angle)).astype(int)
        hits += dial[rows, columns].min() < 115
    return hits / 360


def test_rim_probability_draws_the_ring_always_or_never():
    with_rim = [_share_of_angles_with_ink_near_the_edge(dial) for dial in _dials(_flat(rim_probability=1.0))]
    without = [_share_of_angles_with_ink_near_the_edge(dial) for dial in _dials(_flat(rim_probability=0.0))]
    assert min(with_rim) > 0.95 and max(without) < 0.3


@pytest.mark.parametrize("knob", ["dark_face_probability", "second_hand_probability", "rim_probability"])
def test_probabilities_outside_zero_to_one_are_refused(knob):
    with pytest.raises(ValueError, match=knob):
        dataclasses.replace(Variation(), **{knob: 1.5}).validate()


@pytest.mark.parametrize("family", [family for family in FAMILIES if family != BASELINE])
def test_style_split_is_disjoint_in_the_family_left_out(family):
    train, test = style_split(family)
    train.validate()
    test.validate()
    if family in PROBABILITY_KNOBS:
        knob = PROBABILITY_KNOBS[family]
        assert getattr(train, knob) == 0.0 and getattr(test, knob) == 1.0
    else:
        field = "dial_styles" if family.startswith("dial:") else "hand_styles"
        style = family.split(":")[1]
        assert style not in getattr(train, field) and getattr(test, field) == (style,)
        assert set(getattr(train, field)) | {style} == set(getattr(Variation(), field))
    changed = {name for name, value in train.as_dict().items() if value != Variation().as_dict()[name]}
    assert len(changed) == 1  # everything else as the default variation


def test_baseline_leaves_nothing_out_and_unknown_families_are_refused():
    assert style_split(BASELINE) == (Variation(), Variation())
    with pytest.raises(ValueError, match="unknown style family"):
        style_split("dial:cuckoo")


def _scores(mean: float) -> dict:
    return {"n": 10, "cse_minutes": mean, "cse_median": 1.0, "share_over_30min": 0.1, "share_hour_slip": 0.05}


def test_table_rows_take_the_gap_within_each_model_and_the_baseline_on_the_same_set():
    from benchmarks.clock_styles import markdown, table_rows

    parts = {"dark_face": {"family": "dark_face", "left_out": _scores(60.0), "seen": _scores(20.0),
                           "split_test_cse_minutes": 5.0, "train_epochs": 12.0},
             BASELINE: {"family": BASELINE, "seen": _scores(4.0), "split_test_cse_minutes": 3.0, "train_epochs": 11.0,
                        "left_out_sets": {"dark_face": _scores(6.0)}}}
    rows = table_rows(parts)
    assert [row["family"] for row in rows] == ["dark_face"]  # families not run yet are left out, not zero
    assert rows[0]["gap_minutes"] == 40.0 and rows[0]["baseline_on_left_out"]["cse_minutes"] == 6.0
    table = markdown(rows, parts)
    assert "| dark_face | 12 | 60.0 / 1 / 10.0% / 5.0% |" in table and "nothing (baseline)" in table


def test_a_mixture_base_leaves_the_family_out_of_every_share_and_tests_on_its_first():
    from benchmarks.clock_styles import first_share, training_set
    from datasets.clocks import load_clock_arrays, variation_named

    directory, shares = training_set("dial:roman", "default+wide", 30)
    images, labels = load_clock_arrays(directory)
    assert len(images) == len(labels) == 30 and len(shares) == 2
    assert all("roman" not in share.dial_styles for share in shares)
    assert shares[1].tilt_degrees == variation_named("wide").tilt_degrees  # the second share keeps wide's ranges
    assert first_share("default+wide") == variation_named("default")
    assert first_share("diverse") == variation_named("diverse")
    single, (variation,) = training_set("dial:roman", "default", 30)
    assert single.name == f"clocks-n30-seed0-{variation.key()}"  # one variation: its cached set, as before


def test_study_budget_parts_stand_beside_parts_of_the_same_budget():
    from benchmarks.clock_styles import (
        TRAIN_CLOCKS,
        TRAIN_MINUTES,
        budget_values,
        part_path,
        study_budget,
        treatment_rows,
    )

    def part(family: str, mean: float, budget: str = "reduced", overrides: dict | None = None, base: str = "default"):
        return {"family": family, "seed": 1, "overrides": overrides or {}, "base": base, "budget": budget,
                "train_epochs": 10.0, "left_out": _scores(mean), "seen": _scores(1.0)}

    from sweeps.spec import load_spec

    reduced = part("dial:ticks", 60.0)
    study_alone = part("dial:ticks", 30.0, "study", base=load_spec("clock").fixed["variation"])  # the study's own
    study_treated = part("dial:ticks", 5.0, "study", base="diverse")
    reduced_treated = part("dial:ticks", 9.0, base="diverse")
    rows = {row["treatment"]: row for row in treatment_rows([reduced], [study_alone, study_treated, reduced_treated])}
    study_name = f"base={load_spec('clock').fixed['variation']},budget=study"
    assert rows[study_name]["before_left_out"]["cse_minutes"] == 60.0  # the budget is its treatment
    assert rows["base=diverse,budget=study"]["before_left_out"]["cse_minutes"] == 30.0  # not the reduced part
    assert rows["base=diverse"]["before_left_out"]["cse_minutes"] == 60.0
    # a part records the study's variation when it ran: after the study changes mixture, the older study-budget part
    # is still its own values alone (the budget its treatment), and the new mixture's part stands beside it
    earlier_alone = {**part("dial:ticks", 85.0, "study", base="older+mix"), "study_variation": "older+mix"}
    now_alone = {**part("dial:ticks", 2.0, "study", base="newer+mix"), "study_variation": "newer+mix"}
    later = {**part("dial:ticks", 4.0, "study", base="older+mix"), "study_variation": "newer+mix"}
    rows = {(row["treatment"], row["left_out"]["cse_minutes"]): row
            for row in treatment_rows([reduced], [earlier_alone, now_alone, later])}
    assert rows[("base=older+mix,budget=study", 85.0)]["before_left_out"]["cse_minutes"] == 60.0
    assert rows[("base=newer+mix,budget=study", 2.0)]["before_left_out"]["cse_minutes"] == 60.0
    assert rows[("base=older+mix,budget=study", 4.0)]["before_left_out"]["cse_minutes"] == 2.0  # the study then
    assert part_path("dial:ticks", 1, None, "default+wide", "study").parent.name == "base=default+wide,budget=study"
    assert part_path("dial:ticks", 1).parent.name == "clock_styles.parts"
    spec = load_spec("clock")  # the study's own clocks and refit minutes, not the reduced budget
    assert study_budget() == budget_values("study") == (spec.fixed["n_images"], spec.refit["train_minutes"])
    assert budget_values("reduced") == (TRAIN_CLOCKS, TRAIN_MINUTES)


def test_the_eight_design_mixture_has_wide_ranges_in_its_second_half_and_leaves_the_family_out_of_both():
    from benchmarks.clock_styles import training_set
    from datasets.clocks import variation_named
    from datasets.clocks.variation import EXTRA_DIAL_STYLES

    _, shares = training_set("dial:ticks", "diverse+wide_diverse", 20)
    assert [share.tilt_degrees for share in shares] == [variation_named(name).tilt_degrees
                                                        for name in ("default", "wide")]
    assert all("ticks" not in share.dial_styles and set(EXTRA_DIAL_STYLES) <= set(share.dial_styles)
               for share in shares)


def test_minute_bands_put_each_reading_in_the_band_of_its_true_minute():
    from benchmarks.clock_minute_bands import hours_off, minute_bands

    true = np.array([2 * 60 + 1, 5 * 60 + 58, 3 * 60 + 30, 7 * 60 + 45], float)  # 2:01, 5:58, 3:30, 7:45
    read = np.array([3 * 60 + 1, 5 * 60 + 58, 3 * 60 + 32, 5 * 60 + 45], float)  # an hour late, right, 2 min, 2 h early
    rows = {tuple(row["minutes"]): row for row in minute_bands(true, read)}
    assert rows[(0, 8)]["n"] == 1 and rows[(0, 8)]["cse_minutes"] == 60 and rows[(0, 8)]["share_over_30min"] == 1
    assert rows[(52, 60)]["cse_minutes"] == 0 and rows[(22, 38)]["cse_minutes"] == 2
    assert rows[(38, 52)]["cse_minutes"] == 120 and rows[(8, 22)]["n"] == 0 and rows[(8, 22)]["cse_minutes"] is None
    assert abs(sum(row["share_of_error"] for row in rows.values()) - 1) < 1e-9
    assert hours_off(true, read) == {"-2": 1, "1": 1}


def test_leaving_the_arabic_dial_out_leaves_out_the_sparse_design_that_draws_its_numerals():
    from datasets.clocks import variation_named

    base = variation_named("diverse_sparse")
    trained, tested = style_split("dial:arabic", base)
    assert not {"arabic", "arabic_sparse"} & set(trained.dial_styles) and tested.dial_styles == ("arabic",)
    trained, tested = style_split("dial:arabic_quarters", base)  # a design of its own: only it is left out
    assert set(trained.dial_styles) == set(base.dial_styles) - {"arabic_quarters"}
    assert tested.dial_styles == ("arabic_quarters",)


def test_leaving_the_arabic_dial_out_leaves_out_the_bare_sparse_design_too():
    from datasets.clocks import variation_named

    trained, _ = style_split("dial:arabic", variation_named("diverse_sparse_bare"))
    assert not {"arabic", "arabic_sparse_bare"} & set(trained.dial_styles)
    assert set(trained.dial_styles) == set(variation_named("diverse").dial_styles) - {"arabic"}


def test_hour_hand_errors_sign_a_hand_read_early_and_count_the_gross_readings():
    from benchmarks.clock_minute_bands import hour_hand_errors

    true = np.array([4 * 60 + 17, 9 * 60 + 30, 0 * 60 + 3])
    read_hand = np.array([3.7, 9.5, 0.05])  # the hour hand read 0.58 h early, right, and right across 12
    probabilities = np.zeros((3, 12))
    for row, hand in enumerate(read_hand):  # a two-class split whose circular mean is `hand`, near enough
        low = int(np.floor(hand - 0.5)) % 12
        fraction = hand - 0.5 - np.floor(hand - 0.5)
        probabilities[row, low], probabilities[row, (low + 1) % 12] = 1 - fraction, fraction
    read = np.array([3 * 60 + 16, 9 * 60 + 30, 0 * 60 + 3])
    errors = hour_hand_errors(probabilities, true, read)
    assert errors["share_early_over_half_hour"] == pytest.approx(1 / 3)
    assert errors["share_late_over_half_hour"] == 0
    assert errors["gross"] == 1 and errors["gross_minute_within_5"] == 1.0
    assert -0.62 < errors["gross_median_hours"] < -0.54
