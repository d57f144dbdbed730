"""Find the dial in a clock photograph and centre it: the rim's ellipse is mapped to a centred, upright circle.

`find_dial` fits ellipses to edge contours (two Canny thresholds) and keeps the one whose outline is best
supported by edges, preferring the outermost of the near-best (the bezel over the face's edge). When no single
contour gives a well-supported ellipse (glare, blur or a hand breaks the rim into arcs), ellipses fitted to pairs of
the longest contours join the candidates: an arc-sized ellipse inside the dial no longer wins. `centre_dial`
undoes the offset and the tilt (the ellipse -> circle affine map; perspective beyond that is small) and leaves
in-plane rotation to the network, which reads it off the 12 o'clock mark. With no convincing ellipse the plain
image comes back and `found` is False, so the fallback rate is measurable.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

LOCALIZER_VERSION = "v2"  # part of the cache key of localised sets: bump when the output changes
CANNY_THRESHOLDS = ((20, 60), (40, 120))  # weak and strong edges; low-contrast rims need the first
MIN_CONTOUR_POINTS = 30
MIN_SUPPORT = 0.5  # share of the outline within 1.5 px of an edge; below it the dial counts as not found
NEAR_BEST = 0.85  # ellipses scoring at least this share of the best compete on size (outermost wins)
CONFIDENT = 0.9  # a single contour's ellipse this well supported ends the search (most photographs: ~7 ms)
PAIRED_CONTOURS = 12  # the longest contours per threshold whose pairs are also fitted (~20 ms more a photograph)
PAIR_TOLERANCE, PAIR_ON_OUTLINE = 2.0, 0.85  # a pair's ellipse counts when 85% of its points lie within 2 px
FILL = 0.92  # the found rim's radius as a fraction of half the output side


@dataclass(frozen=True)
class Dial:
    """A found dial: the rim's ellipse (pixels, degrees as OpenCV's fitEllipse gives them) and its edge support."""

    centre_x: float
    centre_y: float
    width: float  # full axis lengths
    height: float
    angle: float
    support: float

    @property
    def radius(self) -> float:
        """Mean semi-axis: the dial's radius before the tilt."""
        return (self.width + self.height) / 4


def _outline(ellipse: tuple, count: int = 120) -> tuple[np.ndarray, np.ndarray]:
    (centre_x, centre_y), (width, height), angle = ellipse
    t = np.linspace(0, 2 * math.pi, count, endpoint=False)
    cos_a, sin_a = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x = centre_x + width / 2 * np.cos(t) * cos_a - height / 2 * np.sin(t) * sin_a
    y = centre_y + width / 2 * np.cos(t) * sin_a + height / 2 * np.sin(t) * cos_a
    return x, y


def _support(edge_distance: np.ndarray, ellipse: tuple) -> float:
    """Share of the outline on an edge, discounted when much of it falls outside the photograph."""
    height, width = edge_distance.shape
    x, y = _outline(ellipse)
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    if inside.mean() < 0.6:
        return 0.0
    near = edge_distance[np.round(y[inside]).astype(int), np.round(x[inside]).astype(int)] <= 1.5
    return float(near.mean() * math.sqrt(inside.mean()))


def _fits(points: np.ndarray, ellipse: tuple) -> bool:
    """Do the contour points lie on the ellipse fitted to them (two arcs of one rim), not merely near it?"""
    (centre_x, centre_y), (width, height), angle = ellipse
    if min(width, height) <= 0:
        return False
    cos_a, sin_a = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x, y = points[:, 0, 0] - centre_x, points[:, 0, 1] - centre_y
    u, v = (x * cos_a + y * sin_a) / (width / 2), (-x * sin_a + y * cos_a) / (height / 2)
    distance = np.abs(np.hypot(u, v) - 1) * (width + height) / 4  # ~ pixels off the outline
    return float((distance <= PAIR_TOLERANCE).mean()) >= PAIR_ON_OUTLINE


def _plausible(ellipse: tuple, side: int) -> bool:
    (centre_x, centre_y), (width, height), _ = ellipse
    major, minor = max(width, height) / 2, min(width, height) / 2
    return (0.2 * side <= major <= 0.75 * side and minor >= 0.35 * major
            and 0.15 * side <= centre_x <= 0.85 * side and 0.15 * side <= centre_y <= 0.85 * side)


def find_dial(image: np.ndarray) -> Dial | None:
    """The clock's rim in a square grey uint8 photograph, or None when no ellipse is well supported by edges."""
    side = image.shape[0]
    blurred = cv2.GaussianBlur(image, (0, 0), 1.2)
    edges = np.zeros_like(image)
    candidates, longest = [], []
    for low, high in CANNY_THRESHOLDS:
        found = cv2.Canny(blurred, low, high)
        edges |= found
        contours, _ = cv2.findContours(found, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        contours = [contour for contour in contours if len(contour) >= MIN_CONTOUR_POINTS]
        candidates += [cv2.fitEllipse(contour) for contour in contours]
        longest += sorted(contours, key=len, reverse=True)[:PAIRED_CONTOURS]
    edge_distance = cv2.distanceTransform(255 - edges, cv2.DIST_L2, 3)
    scored = [(_support(edge_distance, ellipse), ellipse) for ellipse in candidates if _plausible(ellipse, side)]
    if not scored or max(score for score, _ in scored) < CONFIDENT:  # the rim may be in pieces: fit pairs of arcs
        pairs = [np.concatenate([first, second])
                 for index, first in enumerate(longest) for second in longest[index + 1 :]]
        paired = [(points, cv2.fitEllipse(points)) for points in pairs]
        scored += [(_support(edge_distance, ellipse), ellipse) for points, ellipse in paired
                   if _plausible(ellipse, side) and _fits(points, ellipse)]
    if not scored:
        return None
    best = max(score for score, _ in scored)
    if best < MIN_SUPPORT:
        return None
    score, ((centre_x, centre_y), (width, height), angle) = max(
        ((score, ellipse) for score, ellipse in scored if score >= NEAR_BEST * best),
        key=lambda pair: pair[1][1][0] + pair[1][1][1])
    return Dial(centre_x, centre_y, width, height, angle, score)


def dial_transform(dial: Dial, size: int, fill: float = FILL) -> np.ndarray:
    """2 x 3 affine map taking the dial's ellipse to a circle of radius `fill * size / 2` centred in size x size."""
    radius = fill * size / 2
    angle = math.radians(dial.angle)
    rotate = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    stretch = rotate @ np.diag([2 * radius / dial.width, 2 * radius / dial.height]) @ rotate.T
    centre_out = np.array([(size - 1) / 2, (size - 1) / 2])
    offset = centre_out - stretch @ np.array([dial.centre_x, dial.centre_y])
    return np.column_stack([stretch, offset])


def centre_dial(image: np.ndarray, size: int | None = None, fill: float = FILL) -> tuple[np.ndarray, Dial | None]:
    """The photograph with its dial centred and un-tilted (size x size), or the plain image and None."""
    size = size or image.shape[0]
    dial = find_dial(image)
    if dial is None:
        plain = image if image.shape[0] == size else cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        return plain, None
    centred = cv2.warpAffine(image, dial_transform(dial, size, fill), (size, size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    return centred, dial


def _centre_range(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cv2.setNumThreads(1)
    out = np.empty_like(images)
    found = np.zeros(len(images), bool)
    for index, image in enumerate(images):
        out[index], dial = centre_dial(image)
        found[index] = dial is not None
    return out, found


def centre_dials(images: np.ndarray, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """N x S x S uint8 photographs -> the same with each dial centred, and N booleans: was a dial found.

    `workers` > 1 splits large sets over processes (~7-20 ms a photograph on one core); the result is the same.
    """
    images = np.asarray(images)
    if workers <= 1 or len(images) < 256:
        return _centre_range(images)
    chunk = -(-len(images) // workers)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_centre_range, [images[start : start + chunk] for start in range(0, len(images), chunk)]))
    return np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])
