"""The dial localiser against the renderer's ground truth: centre and radius over offsets and tilts, the tilt
undone, and the plain image back when there is no clock."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest

from datasets.clocks import Variation, render_clock, render_clocks
from datasets.clocks.render import FACE, RADIUS
from datasets.clocks.variation import variation_named
from trainers.clock.localize import FILL, centre_dial, centre_dials, dial_transform, find_dial, framing

EDGES = {"rim": RADIUS / FACE, "face": 1.0}  # either circle is the dial's edge (the bezel can match the background)


def _rendered(tilt: float, offset: float, count: int = 40):
    """Clocks with every style and degradation of the default variation, at a given tilt and offset range."""
    variation = dataclasses.replace(Variation(), tilt_degrees=tilt, offset=offset)
    return [render_clock(index % 12, index * 7 % 60, np.random.default_rng([11, index, int(tilt), int(offset * 100)]),
                         variation) for index in range(count)]


def _radius(outline) -> float:
    (_, _), (width, height), _ = outline
    return (width + height) / 4


@pytest.mark.parametrize(("tilt", "offset"), [(0.0, 0.0), (20.0, 0.08), (35.0, 0.08), (35.0, 0.12)])
def test_finds_centre_and_radius_of_rendered_dials(tilt, offset):
    centre_errors, radius_errors, missed = [], [], 0
    for image, geometry in _rendered(tilt, offset):
        dial = find_dial(image)
        if dial is None:
            missed += 1
            continue
        (true_x, true_y), _, _ = geometry.outline()
        centre_errors.append(math.hypot(dial.centre_x - true_x, dial.centre_y - true_y))
        radius_errors.append(min(abs(dial.radius - _radius(geometry.outline(edge))) for edge in EDGES.values()))
    assert missed <= 2  # of 40
    assert np.median(centre_errors) <= 1.0 and np.percentile(centre_errors, 90) <= 3.0
    assert np.median(radius_errors) <= 1.0 and np.percentile(radius_errors, 90) <= 3.0


def test_centring_undoes_offset_and_tilt():
    """The true rim, mapped by the found transform, becomes a circle round the output's centre."""
    spreads = []
    for image, geometry in _rendered(35.0, 0.1, count=20):
        dial = find_dial(image)
        if dial is None:
            continue
        transform = dial_transform(dial, 150)
        for edge in EDGES.values():
            points = np.array([geometry.to_image(edge, angle) for angle in range(0, 360, 10)])
            mapped = points @ transform[:, :2].T + transform[:, 2]
            distances = np.hypot(mapped[:, 0] - 74.5, mapped[:, 1] - 74.5)
            if abs(distances.mean() - FILL * 75) <= 4.0:  # this edge is the one the localiser found
                spreads.append(distances.max() - distances.min())
                break
        else:
            pytest.fail(f"found dial {dial} matches neither edge of the rendered one")
    assert len(spreads) >= 18 and np.median(spreads) <= 3.0  # a 35-degree tilt squashes a radius by up to 18 px


def test_the_plain_image_comes_back_without_a_clock():
    rng = np.random.default_rng(0)
    smooth = cv2.resize(rng.uniform(0, 255, (4, 4)).astype(np.float32), (150, 150), interpolation=cv2.INTER_CUBIC)
    noise = np.clip(smooth + rng.normal(0, 6, (150, 150)), 0, 255).astype(np.uint8)
    blank = np.full((150, 150), 128, np.uint8)
    for image in (noise, blank):
        out, dial = centre_dial(image)
        assert dial is None and np.array_equal(out, image)
    images = np.stack([noise, _rendered(20.0, 0.08, count=1)[0][0], blank])
    centred, found = centre_dials(images)
    assert found.tolist() == [False, True, False]
    assert np.array_equal(centred[0], noise) and not np.array_equal(centred[1], images[1])


def test_parallel_localising_gives_the_same_images():
    images, _ = render_clocks(260, seed=4)
    serial, serial_found = centre_dials(images)
    parallel, parallel_found = centre_dials(images, workers=2)
    assert np.array_equal(serial, parallel) and np.array_equal(serial_found, parallel_found)
    assert serial_found.mean() >= 0.95


def _wide_gross_misframings(seeds: tuple[int, ...], count: int) -> int:
    """`wide` clocks (count per seed) whose dial is not found or whose centre lands more than 8 px off."""
    variation = variation_named("wide")
    gross = 0
    for seed in seeds:
        for index in range(count):
            image, geometry = render_clock(index % 12, index * 7 % 60, np.random.default_rng([seed, index]), variation)
            gross += framing(find_dial(image), geometry) != "ok"
    return gross


def test_rims_broken_into_arcs_are_still_found():
    """The `wide` variation (tilts to 50 degrees, strong glare, blur and noise) breaks many rims into arcs; an
    ellipse fitted to one arc lands inside the dial. Gross misses (no dial, or a centre > 8 px off) stay rare."""
    assert _wide_gross_misframings((99,), 120) <= 6  # 5% of 120; a single-contour fit misses about twice as many


def test_arc_sized_ellipses_inside_the_dial_lose_to_the_rim():
    """v3 (a smoother Canny pass, gradient-aligned support, the most supported outline length wins) keeps gross
    misses on `wide` clocks of seeds it was not tuned on to about 1.5%; v2 missed 20 of these 600 (3.3%)."""
    assert _wide_gross_misframings((92, 93, 94), 200) <= 12  # 2% of 600; v3 misses 8
