"""OpenCV renderer of analog-clock photographs (150x150 uint8 grey), deterministic per (seed, index)."""

from __future__ import annotations

import math
import signal
import warnings
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import cv2
import numpy as np

from datasets.clocks.variation import Variation
from datasets.processes import spawn_pool, submit_all

IMAGE_SIZE = 150  # the course format
CANVAS = 256  # the flat dial is drawn on a CANVAS x CANVAS square, then projected into the photo
CENTRE = CANVAS / 2
RADIUS = 124.0  # bezel radius on the canvas
FACE = 0.9 * RADIUS  # dial face radius; hand and numeral sizes are fractions of it
HOUR_HAND = (0.52, 0.075)  # (length, width) as fractions of FACE
MINUTE_HAND = (0.80, 0.05)
NUMERAL_RADIUS = 0.78
GLYPH_CHARACTERS = "ABCDEFGHJKLMNOPQRSTUWYZ+*#=%&@<>"  # the `glyphs` design's marks: no digits, no I, V or X
ROMAN = ("XII", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX)
SHIFT = 4  # sub-pixel bits for cv2 drawing
SCALE = 1 << SHIFT


def hand_angles(hour: int | np.ndarray, minute: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clockwise degrees from 12 of the hour hand (with the minute fraction) and of the minute hand."""
    hour, minute = np.asarray(hour, dtype=np.float64), np.asarray(minute, dtype=np.float64)
    return ((hour % 12) + minute / 60.0) * 30.0, minute * 6.0


def clock_labels(n: int, seed: int) -> np.ndarray:
    """N x 2 int64 (hour 0-11, minute 0-59): each of the 720 minutes once per block of 720, blocks shuffled."""
    rng = np.random.default_rng([seed, 720])
    blocks = -(-n // 720)
    minutes = np.concatenate([rng.permutation(720) for _ in range(blocks)])[:n] if n else np.zeros(0, np.int64)
    return np.stack([minutes // 60, minutes % 60], axis=1).astype(np.int64)


@dataclass(frozen=True)
class Geometry:
    """Where a rendered dial landed: the canvas->photo homography, so tests can find the hands."""

    homography: np.ndarray
    hour_angle: float
    minute_angle: float

    def to_image(self, radius_fraction: float, angle_degrees: float) -> tuple[float, float]:
        """Photo (x, y) of the dial point at `radius_fraction` of the face and clockwise `angle_degrees` from 12."""
        angle = math.radians(angle_degrees)
        point = np.array([CENTRE + FACE * radius_fraction * math.sin(angle),
                          CENTRE - FACE * radius_fraction * math.cos(angle), 1.0])
        x, y, w = self.homography @ point
        return x / w, y / w

    @property
    def centre(self) -> tuple[float, float]:
        """Photo (x, y) of the dial centre (where the hands meet)."""
        return self.to_image(0.0, 0.0)

    def outline(self, radius_fraction: float = RADIUS / FACE) -> tuple[tuple[float, float], tuple[float, float], float]:
        """The photo ellipse of the dial circle at `radius_fraction` of the face (default: the bezel's rim), in
        OpenCV's `((centre x, centre y), (width, height), angle degrees)` form: ground truth for dial finders."""
        points = np.array([self.to_image(radius_fraction, angle) for angle in np.arange(0.0, 360.0, 2.0)])
        (x, y), (width, height), angle = cv2.fitEllipse(points.astype(np.float32))  # exact: a circle's projection
        return (x, y), (width, height), angle


def _direction(angle_degrees: float) -> tuple[np.ndarray, np.ndarray]:
    angle = math.radians(angle_degrees)
    along = np.array([math.sin(angle), -math.cos(angle)])
    return along, np.array([-along[1], along[0]])


def hand_polygon(angle: float, length: float, width: float, tail: float, style: str) -> np.ndarray:
    """Canvas polygon of one hand from `-tail` to `length` (pixels) along clockwise `angle` from 12."""
    along, across = _direction(angle)
    centre = np.array([CENTRE, CENTRE])
    half = width / 2
    if style == "tapered":
        profile = [(-tail, half * 0.7), (0, half), (length, half * 0.25)]
    elif style == "arrow":
        profile = [(-tail, half * 0.6), (length * 0.78, half * 0.6), (length * 0.78, half * 1.8), (length, 0.0)]
    else:
        profile = [(-tail, half), (length, half)]
    right = [centre + along * t + across * w for t, w in profile]
    left = [centre + along * t - across * w for t, w in reversed(profile)]
    return np.array(right + left)


def _fill(canvas: np.ndarray, polygon: np.ndarray, colour: float) -> None:
    cv2.fillPoly(canvas, [np.round(polygon * SCALE).astype(np.int32)], float(colour), cv2.LINE_AA, SHIFT)


def _circle(canvas: np.ndarray, radius: float, colour: float, thickness: int = -1) -> None:
    centre = (round(CENTRE * SCALE), round(CENTRE * SCALE))
    cv2.circle(canvas, centre, round(radius * SCALE), float(colour), thickness, cv2.LINE_AA, SHIFT)


def _draw_marks(canvas: np.ndarray, style: str, ink: float, rng: np.random.Generator) -> None:
    """Numerals and ticks; every style but the sparse ones (training-only, numerals never at 12) keeps 12 o'clock
    distinct so orientation stays recoverable."""
    if style in EXTRA_MARKS:  # the `diverse` variation's further designs
        EXTRA_MARKS[style](canvas, ink, rng)
        return
    with_ticks = style == "ticks" or rng.random() < 0.5
    if with_ticks:
        _minute_ticks(canvas, ink)
    if style == "ticks":
        along, across = _direction(0)
        tip, base = CENTRE + along * FACE * 0.68, CENTRE + along * FACE * 0.84
        _fill(canvas, np.array([tip, base + across * FACE * 0.08, base - across * FACE * 0.08]), ink)
        return
    font = FONTS[rng.integers(len(FONTS))]
    hours = (12, 3, 6, 9) if style == "arabic_quarters" else tuple(range(1, 13))
    thickness = int(rng.integers(1, 3))
    for hour in hours:
        text = ROMAN[hour % 12] if style == "roman" else str(hour)
        along, _ = _direction(hour * 30)
        _centred_text(canvas, text, CENTRE + along * FACE * NUMERAL_RADIUS, (FACE * 0.17, FACE * 0.3), font,
                      thickness, ink)


def _centred_text(canvas: np.ndarray, text: str, centre: np.ndarray | tuple[float, float],
                  box: tuple[float, float], font: int, thickness: int, ink: float) -> None:
    """`text` as large as fits a (height, width) `box` in pixels, centred on the canvas point `centre`."""
    (width, height), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = min(box[0] / height, box[1] / width)
    x, y = centre
    cv2.putText(canvas, text, (round(x - width * scale / 2), round(y + height * scale / 2)), font, scale, float(ink),
                thickness, cv2.LINE_AA)


def _minute_ticks(canvas: np.ndarray, ink: float) -> None:
    """60 minute ticks at the rim, the 12 hour ticks long and bold."""
    for mark in range(60):
        along, _ = _direction(mark * 6)
        long = mark % 5 == 0
        inner = FACE * (0.86 if long else 0.92)
        start, end = CENTRE + along * inner, CENTRE + along * FACE * 0.97
        cv2.line(canvas, tuple(np.round(start * SCALE).astype(int)), tuple(np.round(end * SCALE).astype(int)),
                 float(ink), 3 if long else 1, cv2.LINE_AA, SHIFT)


def _bar(canvas: np.ndarray, angle: float, inner: float, outer: float, width: float, ink: float,
         sideways: float = 0.0) -> None:
    """A radial bar from `inner` to `outer` (fractions of the face), `width` wide, moved `sideways` (pixels)."""
    along, across = _direction(angle)
    centre = CENTRE + across * sideways
    half = across * width / 2
    _fill(canvas, np.array([centre + along * FACE * inner - half, centre + along * FACE * outer - half,
                            centre + along * FACE * outer + half, centre + along * FACE * inner + half]), ink)


def _dots(canvas: np.ndarray, ink: float, rng: np.random.Generator) -> None:
    """A dot at each hour; two side by side at 12."""
    size = FACE * rng.uniform(0.035, 0.055)
    for hour in range(12):
        along, across = _direction(hour * 30)
        point = CENTRE + along * FACE * 0.86
        for sideways in ((-1.3, 1.3) if hour == 0 else (0.0,)):
            x, y = point + across * size * sideways
            cv2.circle(canvas, (round(x * SCALE), round(y * SCALE)), round(size * SCALE), float(ink), -1,
                       cv2.LINE_AA, SHIFT)


def _batons(canvas: np.ndarray, ink: float, rng: np.random.Generator) -> None:
    """A radial baton at each hour; two side by side at 12."""
    width = FACE * rng.uniform(0.025, 0.045)
    for hour in range(12):
        for sideways in ((-1.2 * width, 1.2 * width) if hour == 0 else (0.0,)):
            _bar(canvas, hour * 30, 0.74, 0.92, width, ink, sideways)


def _twelve_only(canvas: np.ndarray, ink: float, rng: np.random.Generator) -> None:
    """Minute ticks and one numeral, 12."""
    for mark in range(60):
        _bar(canvas, mark * 6, 0.86 if mark % 5 == 0 else 0.92, 0.97, 2.5 if mark % 5 == 0 else 1.0, ink)
    font = FONTS[rng.integers(len(FONTS))]
    thickness = int(rng.integers(1, 3))
    _centred_text(canvas, "12", (CENTRE, CENTRE - FACE * 0.66), (FACE * 0.2, FACE * 0.34), font, thickness, ink)


def _quarter_bars(canvas: np.ndarray, ink: float, rng: np.random.Generator) -> None:
    """A bar at 3, 6 and 9, a wider one at 12, a small dot at the other hours."""
    width = FACE * rng.uniform(0.03, 0.05)
    for hour in range(12):
        if hour % 3 == 0:
            _bar(canvas, hour * 30, 0.70, 0.93, width * (2.6 if hour == 0 else 1.0), ink)
        else:
            x, y = CENTRE + _direction(hour * 30)[0] * FACE * 0.86
            cv2.circle(canvas, (round(x * SCALE), round(y * SCALE)), round(width * 0.5 * SCALE), float(ink), -1,
                       cv2.LINE_AA, SHIFT)


def _glyphs(canvas: np.ndarray, ink: float, rng: np.random.Generator) -> None:
    """Style randomisation: random letters and signs as hour marks (never a digit or a roman numeral's I, V, X, so
    no numeral design is drawn), in a random font, size and ring, over minute ticks half the time; 12's mark is
    three characters drawn larger, the others one or two."""
    if rng.random() < 0.5:
        _minute_ticks(canvas, ink)
    font, thickness = FONTS[rng.integers(len(FONTS))], int(rng.integers(1, 3))
    ring, size = rng.uniform(0.68, 0.80), rng.uniform(0.11, 0.18)
    for hour in range(12):
        length = 3 if hour == 0 else int(rng.integers(1, 3))
        text = "".join(GLYPH_CHARACTERS[index] for index in rng.integers(len(GLYPH_CHARACTERS), size=length))
        grow = 1.3 if hour == 0 else 1.0
        _centred_text(canvas, text, CENTRE + _direction(hour * 30)[0] * FACE * ring,
                      (FACE * size * grow, FACE * 0.32 * grow), font, thickness, ink)


def sparse_hours(rng: np.random.Generator, keep: float = 0.5, least: int = 3) -> tuple[int, ...]:
    """The hours (1-11) an `arabic_sparse` dial numbers: each kept with probability `keep`, at least `least` of
    them; never 12. Drawn again until enough are kept, so `keep` must make that likely."""
    if not 0 < keep <= 1 or not 0 <= least <= 11:
        raise ValueError(f"sparse_hours: expected 0 < keep <= 1 and 0 <= least <= 11, got {keep}, {least}")
    while True:
        hours = tuple(int(hour) for hour in np.flatnonzero(rng.random(11) < keep) + 1)
        if len(hours) >= least:
            return hours


def _arabic_sparse(canvas: np.ndarray, ink: float, rng: np.random.Generator) -> None:
    """Style randomisation of the numeral layout: arabic numerals at a random subset of the hours and never at 12,
    over plain minute ticks half the time, so the top is found only from which numerals stand where (what a dial
    whose 12 is hidden under the minute hand leaves to read)."""
    if rng.random() < 0.5:
        _minute_ticks(canvas, ink)
    _sparse_numerals(canvas, ink, rng)


def _sparse_numerals(canvas: np.ndarray, ink: float, rng: np.random.Generator) -> None:
    """Arabic numerals at the hours `sparse_hours` draws, in a random font and stroke: alone, the `arabic_sparse_bare`
    design (no minute ticks, so a ticked dial in training always marks its 12 distinctly)."""
    font, thickness = FONTS[rng.integers(len(FONTS))], int(rng.integers(1, 3))
    for hour in sparse_hours(rng):
        _centred_text(canvas, str(hour), CENTRE + _direction(hour * 30)[0] * FACE * NUMERAL_RADIUS,
                      (FACE * 0.17, FACE * 0.3), font, thickness, ink)


EXTRA_MARKS = {"dots": _dots, "batons": _batons, "twelve_only": _twelve_only, "quarter_bars": _quarter_bars,
               "glyphs": _glyphs, "arabic_sparse": _arabic_sparse, "arabic_sparse_bare": _sparse_numerals}


def _draw_dial(hour: int, minute: int, variation: Variation, rng: np.random.Generator) -> np.ndarray:
    """The flat dial as float32 [0, 255] on the canvas (outside the bezel is left black; a mask cuts it)."""
    dark = rng.random() < variation.dark_face_probability
    face = rng.uniform(20, 70) if dark else rng.uniform(175, 250)
    ink = rng.uniform(195, 250) if dark else rng.uniform(0, 55)
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    _circle(canvas, RADIUS, rng.uniform(0, 255))
    _circle(canvas, FACE, face)
    if rng.random() < variation.rim_probability:
        _circle(canvas, FACE * rng.uniform(0.97, 0.995), ink, 2)
    _draw_marks(canvas, str(rng.choice(variation.dial_styles)), ink, rng)
    hour_angle, minute_angle = (float(angle) for angle in hand_angles(hour, minute))
    style = str(rng.choice(variation.hand_styles))
    hands = [hand_polygon(hour_angle, FACE * HOUR_HAND[0] * rng.uniform(0.95, 1.05), FACE * HOUR_HAND[1],
                          FACE * 0.1, style),
             hand_polygon(minute_angle, FACE * MINUTE_HAND[0] * rng.uniform(0.95, 1.05), FACE * MINUTE_HAND[1],
                          FACE * 0.1, style)]
    if rng.random() < variation.second_hand_probability:
        hands.append(hand_polygon(rng.uniform(0, 360), FACE * 0.86, FACE * 0.015, FACE * 0.22, "bar"))
    image = canvas.astype(np.float32)
    if variation.shadow > 0:
        shadow = np.zeros_like(canvas)
        offset = rng.uniform(2, 7, size=2) * rng.choice([-1, 1], size=2)
        for polygon in hands:
            _fill(shadow, polygon + offset, 255)
        shadow = cv2.GaussianBlur(shadow.astype(np.float32) / 255, (0, 0), 3.0)
        image *= 1 - variation.shadow * rng.uniform(0.4, 1.0) * shadow
    hand_canvas, hand_mask = np.zeros_like(canvas), np.zeros_like(canvas)
    for index, polygon in enumerate(hands):
        colour = rng.uniform(120, 200) if index == 2 else 255
        _fill(hand_mask, polygon, 255)
        _fill(hand_canvas, polygon, colour)
    _circle(hand_mask, FACE * 0.05, 255)
    _circle(hand_canvas, FACE * 0.05, 255)
    alpha = hand_mask.astype(np.float32) / 255
    tint = hand_canvas.astype(np.float32) / 255  # 1 = full ink, the second hand lighter
    hand_grey = face + (ink - face) * tint
    return image * (1 - alpha) + hand_grey * alpha


def _homography(variation: Variation, rng: np.random.Generator) -> np.ndarray:
    """Canvas -> photo: in-plane rotation, tilt about x and y, perspective, scale and offset."""
    theta = math.radians(rng.uniform(-1, 1) * variation.rotation_degrees)
    tilt_x, tilt_y = (math.radians(rng.uniform(-1, 1) * variation.tilt_degrees) for _ in range(2))
    rotate = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    about_x = np.array([[1, 0, 0], [0, math.cos(tilt_x), -math.sin(tilt_x)], [0, math.sin(tilt_x), math.cos(tilt_x)]])
    about_y = np.array([[math.cos(tilt_y), 0, math.sin(tilt_y)], [0, 1, 0], [-math.sin(tilt_y), 0, math.cos(tilt_y)]])
    radius = rng.uniform(*variation.scale) * IMAGE_SIZE / 2
    centre = IMAGE_SIZE / 2 + rng.uniform(-1, 1, size=2) * variation.offset * IMAGE_SIZE
    distance = 4.0  # camera distance in dial radii: mild perspective
    corners = np.array([[0, 0], [CANVAS, 0], [CANVAS, CANVAS], [0, CANVAS]], dtype=np.float64)
    flat = np.column_stack([(corners - CENTRE) / RADIUS, np.zeros(4)])
    turned = flat @ (about_y @ about_x @ rotate).T
    projected = turned[:, :2] * (distance / (distance + turned[:, 2:3]))
    targets = centre + radius * projected
    return cv2.getPerspectiveTransform(corners.astype(np.float32), targets.astype(np.float32)).astype(np.float64)


def _background(rng: np.random.Generator) -> np.ndarray:
    low = rng.uniform(0, 255, size=(rng.integers(2, 7), rng.integers(2, 7))).astype(np.float32)
    smooth = cv2.resize(low, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_CUBIC)
    base = rng.uniform(30, 225)
    return np.clip(base + (smooth - 127) * rng.uniform(0, 0.5), 0, 255)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    axis = (np.arange(IMAGE_SIZE, dtype=np.float32) - IMAGE_SIZE / 2) / (IMAGE_SIZE / 2)
    return np.meshgrid(axis, axis)


def _photograph(dial: np.ndarray, homography: np.ndarray, variation: Variation, rng: np.random.Generator) -> np.ndarray:
    """Project the dial into a scene and add the camera's faults; returns uint8."""
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    _circle(mask, RADIUS, 255)
    zoom = math.sqrt(abs(np.linalg.det(homography[:2, :2]))) / abs(homography[2, 2])  # photo px per canvas px
    sigma = 0.5 / zoom - 0.5 if zoom < 1 else 0.0
    if sigma > 0:
        dial = cv2.GaussianBlur(dial, (0, 0), sigma)  # anti-alias before shrinking
    size = (IMAGE_SIZE, IMAGE_SIZE)
    warped = cv2.warpPerspective(dial, homography, size, flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = cv2.warpPerspective(mask.astype(np.float32) / 255, homography, size, flags=cv2.INTER_LINEAR)
    image = _background(rng) * (1 - alpha) + warped * alpha
    x, y = _grid()
    if variation.reflection > 0:
        glare = np.zeros(size, np.float32)
        centre = (int(rng.uniform(30, 120)), int(rng.uniform(30, 120)))
        axes = (int(rng.uniform(15, 45)), int(rng.uniform(4, 14)))
        cv2.ellipse(glare, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
        glare = cv2.GaussianBlur(glare, (0, 0), rng.uniform(3, 8))
        image += glare * alpha * 255 * variation.reflection * rng.uniform(0.3, 1.0)
    if variation.lighting > 0:
        direction = rng.uniform(0, 2 * math.pi)
        gradient = 1 + variation.lighting * rng.uniform(0, 1) * (x * math.cos(direction) + y * math.sin(direction))
        vignette = 1 - variation.lighting * rng.uniform(0, 0.5) * (x**2 + y**2) / 2
        image *= gradient * vignette
    blur = rng.uniform(*variation.blur_sigma)
    if blur > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    noise = rng.uniform(*variation.noise_sigma)
    if noise > 0:
        image += rng.normal(0, noise, size=image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).round().astype(np.uint8)
    if rng.random() < variation.jpeg_probability:
        quality = int(rng.integers(variation.jpeg_quality[0], variation.jpeg_quality[1] + 1))
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            image = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return image


def render_clock(hour: int, minute: int, rng: np.random.Generator,
                 variation: Variation | None = None) -> tuple[np.ndarray, Geometry]:
    """One 150x150 uint8 photograph of a clock showing hour:minute, and where its dial landed."""
    variation = variation or Variation()
    dial = _draw_dial(hour, minute, variation, rng)
    homography = _homography(variation, rng)
    hour_angle, minute_angle = hand_angles(hour, minute)
    return _photograph(dial, homography, variation, rng), Geometry(homography, float(hour_angle), float(minute_angle))


def _render_range(seed: int, start: int, labels: np.ndarray, variation: Variation) -> np.ndarray:
    cv2.setNumThreads(1)
    images = np.empty((len(labels), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    for offset, (hour, minute) in enumerate(labels):
        images[offset] = render_clock(int(hour), int(minute), np.random.default_rng([seed, start + offset]),
                                      variation)[0]
    return images


def render_clocks(n: int, seed: int = 0, variation: Variation | None = None,
                  workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """N rendered clocks (N x150x150 uint8) and labels (N x2 int64); the same for any `workers`."""
    variation = variation or Variation()
    variation.validate()
    labels = clock_labels(n, seed)
    if workers <= 1 or n < 256:
        return _render_range(seed, 0, labels, variation), labels
    try:
        return _render_in_pool(seed, labels, variation, workers), labels
    except BrokenProcessPool as error:  # a worker was killed (e.g. memory pressure): same images, one process
        warnings.warn(f"parallel clock rendering failed ({error}); rendering in this process", stacklevel=2)
        return _render_range(seed, 0, labels, variation), labels


def _render_in_pool(seed: int, labels: np.ndarray, variation: Variation, workers: int) -> np.ndarray:
    """The images rendered in chunks by `workers` spawned processes; a stop or any error ends the workers at once
    (`datasets.processes`) and is raised."""
    chunk = -(-len(labels) // (workers * 4))
    with spawn_pool(workers, initializer=_worker_start) as pool:
        futures = submit_all(pool, _render_range, [(seed, start, labels[start : start + chunk], variation)
                                                   for start in range(0, len(labels), chunk)])
        return np.concatenate([future.result() for future in futures])


def _worker_start() -> None:
    """A terminal's Ctrl-C reaches the workers too: they leave it to the parent, which ends them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
