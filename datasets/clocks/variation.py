"""How much rendered clocks vary: one dataclass of ranges, each knob with a sensible default."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from datasets.keys import without_added_knobs

DIAL_STYLES = ("arabic", "arabic_quarters", "roman", "ticks")  # every style marks 12 distinctly
# more dial designs, each with its own 12 o'clock cue (two dots, a double baton, a lone "12" over ticks, a bar at
# each quarter and a wide one at 12): the `diverse` training variation adds them, so that "12 is the mark unlike the
# others" is learnt from many cues, not one per style; the held-out `default` and `wide` sets keep DIAL_STYLES
EXTRA_DIAL_STYLES = ("dots", "batons", "twelve_only", "quarter_bars")
# style randomisation: random letters and signs at the hours (the `randomised` training variation), so that what
# marks an hour is learnt to be its place on the dial, not its glyph
RANDOM_DIAL_STYLES = ("glyphs",)
# style randomisation of the numeral layout: arabic numerals at a random subset of the hours, never at 12 (the
# `diverse_sparse` training variation), so that the top is also read from which numerals stand where, as it must be
# when the minute hand hides the 12. It draws arabic glyphs, so leaving the arabic dial out leaves it out too
SPARSE_DIAL_STYLES = ("arabic_sparse",)
# the same without minute ticks (`diverse_sparse_bare`): plain ticks with no 12 cue are then never trained on
BARE_SPARSE_DIAL_STYLES = ("arabic_sparse_bare",)
# a design -> the designs that draw its marks and are left out with it
LEFT_OUT_WITH = {"arabic": SPARSE_DIAL_STYLES + BARE_SPARSE_DIAL_STYLES}
HAND_STYLES = ("bar", "tapered", "arrow")
LATER_KNOBS = {"rim_probability": 0.5}  # knobs added after sets were cached, with the default that renders as before


@dataclass(frozen=True)
class Variation:
    """Ranges the renderer samples from per image. Angles in degrees, sizes as fractions of the image side."""

    rotation_degrees: float = 25.0  # in-plane rotation of the whole clock, uniform in +-this
    tilt_degrees: float = 35.0  # out-of-plane viewpoint change about both axes, uniform in +-this
    scale: tuple[float, float] = (0.70, 0.97)  # dial radius / half the image side
    offset: float = 0.08  # centre shift, uniform in +-this fraction of the side
    dial_styles: tuple[str, ...] = DIAL_STYLES
    hand_styles: tuple[str, ...] = HAND_STYLES
    dark_face_probability: float = 0.25  # light hands on a dark dial
    second_hand_probability: float = 0.4  # a thin distractor hand at a random angle
    rim_probability: float = 0.5  # an ink ring just inside the dial's edge
    lighting: float = 0.45  # amplitude of a linear lighting gradient plus vignetting (0 = flat)
    reflection: float = 0.35  # peak brightness added by glass glare (0 = none)
    shadow: float = 0.5  # hand-shadow opacity (0 = none)
    blur_sigma: tuple[float, float] = (0.0, 1.2)  # Gaussian blur in output pixels
    noise_sigma: tuple[float, float] = (0.0, 8.0)  # sensor noise in grey levels
    jpeg_quality: tuple[int, int] = (35, 95)  # JPEG re-encoding quality range
    jpeg_probability: float = 0.7

    @classmethod
    def none(cls) -> Variation:
        """A clean, upright, centred clock with arabic numerals: for tests and for reading the geometry."""
        return cls(rotation_degrees=0.0, tilt_degrees=0.0, scale=(0.9, 0.9), offset=0.0, dial_styles=("arabic",),
                   hand_styles=("bar",), dark_face_probability=0.0, second_hand_probability=0.0, lighting=0.0,
                   reflection=0.0, shadow=0.0, blur_sigma=(0.0, 0.0), noise_sigma=(0.0, 0.0), jpeg_probability=0.0)

    @classmethod
    def mild(cls) -> Variation:
        """Every dial and hand style, but near-upright, near-centred and lightly degraded: learnable on a CPU in
        minutes (the default `clock` study); `default` and `wide` remain the harder distributions."""
        return cls(rotation_degrees=8.0, tilt_degrees=12.0, scale=(0.80, 0.95), offset=0.03, lighting=0.25,
                   reflection=0.15, shadow=0.3, blur_sigma=(0.0, 0.6), noise_sigma=(0.0, 4.0), jpeg_quality=(60, 95),
                   jpeg_probability=0.5, dark_face_probability=0.2, second_hand_probability=0.2)

    @classmethod
    def wide(cls) -> Variation:
        """Harsher than the default: a second distribution to test generalisation."""
        return cls(rotation_degrees=45.0, tilt_degrees=50.0, scale=(0.6, 1.0), offset=0.12, lighting=0.7,
                   reflection=0.6, shadow=0.8, blur_sigma=(0.0, 2.0), noise_sigma=(0.0, 14.0),
                   jpeg_quality=(20, 90), jpeg_probability=0.9, second_hand_probability=0.6)

    def validate(self) -> None:
        dials = DIAL_STYLES + EXTRA_DIAL_STYLES + RANDOM_DIAL_STYLES + SPARSE_DIAL_STYLES + BARE_SPARSE_DIAL_STYLES
        unknown = set(self.dial_styles) - set(dials) or set(self.hand_styles) - set(HAND_STYLES)
        if unknown:
            raise ValueError(f"unknown clock style(s) {sorted(unknown)}; known: {dials + HAND_STYLES}")
        for name in ("scale", "blur_sigma", "noise_sigma", "jpeg_quality"):
            low, high = getattr(self, name)
            if low > high or low < 0:
                raise ValueError(f"{name}: expected 0 <= low <= high, got {(low, high)}")
        for name in ("dark_face_probability", "second_hand_probability", "rim_probability", "jpeg_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: expected a probability in [0, 1], got {getattr(self, name)}")
        if not self.dial_styles or not self.hand_styles:
            raise ValueError("dial_styles and hand_styles: expected at least one style each")
        if not 0 < self.scale[1] <= 1.2:
            raise ValueError(f"scale: dial radius fraction must be in (0, 1.2], got {self.scale}")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """A short stable hash of every range: the cache key of rendered sets. Knobs added later are left out while
        at their default (which renders as before they existed), so earlier cache keys stay valid."""
        ranges = without_added_knobs(self.as_dict(), LATER_KNOBS)
        return hashlib.sha256(json.dumps(ranges, sort_keys=True).encode()).hexdigest()[:12]


VARIATIONS = {"default": Variation(), "none": Variation.none(), "mild": Variation.mild(), "wide": Variation.wide(),
              "diverse": Variation(dial_styles=DIAL_STYLES + EXTRA_DIAL_STYLES),  # training: more dial designs
              "randomised": Variation(dial_styles=DIAL_STYLES + EXTRA_DIAL_STYLES + RANDOM_DIAL_STYLES),
              "diverse_sparse": Variation(dial_styles=DIAL_STYLES + EXTRA_DIAL_STYLES + SPARSE_DIAL_STYLES),
              "diverse_sparse_bare": Variation(dial_styles=DIAL_STYLES + EXTRA_DIAL_STYLES + BARE_SPARSE_DIAL_STYLES),
              # the same with three times the sparse dials' share (3 in 11 of its dials; a design is drawn uniformly
              # from the list, so a repeated one is drawn more often)
              "diverse_sparse_bare3": Variation(
                  dial_styles=DIAL_STYLES + EXTRA_DIAL_STYLES + 3 * BARE_SPARSE_DIAL_STYLES),
              # training: `wide`'s harsh photographs of the `diverse` dial designs
              "wide_diverse": dataclasses.replace(Variation.wide(), dial_styles=DIAL_STYLES + EXTRA_DIAL_STYLES)}


# training mixtures: equal shares of named variations, each share rendered (and cached) as a set of its own
# diverse+wide: the eight dial designs in the `default` half only, the `wide` half as the held-out `wide` set renders
MIXTURES = {"default+wide": ("default", "wide"), "diverse+wide": ("diverse", "wide"),
            "diverse_sparse+wide": ("diverse_sparse", "wide"),
            "diverse_sparse_bare+wide": ("diverse_sparse_bare", "wide"),
            "diverse_sparse_bare3+wide": ("diverse_sparse_bare3", "wide"),
            "diverse+wide_diverse": ("diverse", "wide_diverse")}
PART_SEED_STRIDE = 1000  # a mixture's k-th share renders with seed + k * this (held-out sets use seeds 101-111)


def mixture_parts(name: str, n: int, seed: int) -> list[tuple[int, int, Variation]]:
    """(clocks, render seed, variation) of each share a training set named `name` is rendered from: the variation
    itself as one share (n, seed), or each of a mixture's in equal shares (the first keeps `seed`)."""
    names = MIXTURES.get(name, (name,))
    sizes = [n // len(names) + (index < n % len(names)) for index in range(len(names))]
    return [(size, seed + PART_SEED_STRIDE * index, variation_named(part))
            for index, (size, part) in enumerate(zip(sizes, names, strict=True))]


def variation_named(name: str) -> Variation:
    if name not in VARIATIONS:
        raise ValueError(f"unknown variation {name!r}; known: {', '.join(VARIATIONS)}")
    return VARIATIONS[name]
