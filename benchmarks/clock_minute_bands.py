"""Where on the dial a left-out style family's gross errors fall: the error by the true minute (does the minute hand
hide a mark the reading hangs on?), the hours off, and the worst readings as a grid to look at. A saved model from
`benchmarks.clock_styles --keep DIR` on that family's left-out set and on the seen `default` set (its render seeds).

    .venv/bin/python -m benchmarks.clock_minute_bands DIR/dial-arabic_quarters-seed1/model.keras \
        --family dial:arabic_quarters --base diverse+wide --tag arabic_quarters-seed1

Writes benchmarks/results/clock_minute_bands-<tag>-<backend>-<device>.json and the worst left-out readings as
benchmarks/results/clock_minute_bands-<tag>.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.machine import RESULTS_DIR, write_result

BANDS = ((0, 8), (8, 22), (22, 38), (38, 52), (52, 60))  # true minutes: the hand over 12 (either side), the rest
GROSS_MINUTES = 30


def minute_bands(true_minutes: np.ndarray, read_minutes: np.ndarray) -> list[dict]:
    """Per band of the true minute: clocks, mean common-sense error, share over 30 minutes, share of all error."""
    from trainers.clock.metric import common_sense_minutes

    errors = common_sense_minutes(true_minutes, read_minutes)
    minute = np.mod(true_minutes, 60)
    total = max(float(errors.sum()), 1e-9)
    rows = []
    for low, high in BANDS:
        inside = (minute >= low) & (minute < high)
        rows.append({"minutes": [low, high], "n": int(inside.sum()),
                     "cse_minutes": float(errors[inside].mean()) if inside.any() else None,
                     "share_over_30min": float((errors[inside] > GROSS_MINUTES).mean()) if inside.any() else None,
                     "share_of_error": float(errors[inside].sum() / total)})
    return rows


def hours_off(true_minutes: np.ndarray, read_minutes: np.ndarray) -> dict[str, int]:
    """How many whole hours the gross readings are off, signed (read minus true), and how many of each."""
    from trainers.clock.metric import DIAL_MINUTES, common_sense_minutes

    gross = common_sense_minutes(true_minutes, read_minutes) > GROSS_MINUTES
    signed = np.mod(read_minutes - true_minutes + DIAL_MINUTES / 2, DIAL_MINUTES) - DIAL_MINUTES / 2
    values, counts = np.unique(np.round(signed[gross] / 60).astype(int), return_counts=True)
    return {str(value): int(count) for value, count in zip(values, counts, strict=True)}


def _clock_text(minutes: float) -> str:
    minutes = int(np.rint(minutes)) % 720
    return f"{minutes // 60 or 12}:{minutes % 60:02d}"


def worst_grid(images: np.ndarray, true_minutes: np.ndarray, read_minutes: np.ndarray, path: Path,
               count: int = 24, side: int = 120) -> None:
    """The `count` worst readings, each labelled true>read, eight to a row."""
    import cv2

    from trainers.clock.metric import common_sense_minutes

    errors = common_sense_minutes(true_minutes, read_minutes)
    tiles = []
    for index in np.argsort(-errors)[:count]:
        tile = cv2.resize(np.asarray(images[index]).reshape(images.shape[1], images.shape[2]).astype(np.uint8),
                          (side, side))
        label = f"{_clock_text(true_minutes[index])}>{_clock_text(read_minutes[index])}"
        cv2.putText(tile, label, (2, side - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 255, 1)
        tiles.append(tile)
    tiles += [np.zeros((side, side), np.uint8)] * (-len(tiles) % 8)
    cv2.imwrite(str(path), np.vstack([np.hstack(tiles[row:row + 8]) for row in range(0, len(tiles), 8)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--family", required=True)
    parser.add_argument("--base", default="diverse+wide")
    parser.add_argument("--tag", required=True)
    args = parser.parse_args(argv)
    from benchmarks.clock_styles import LEFT_OUT_SEED, SEEN_SEED, TEST_CLOCKS, _centred, first_share, style_split
    from datasets.clocks.variation import Variation
    from trainers.clock.metric import to_minutes
    from trainers.clock.predict import load_clock_model, read_views, resize_images, view_outputs

    model, head, preparation = load_clock_model(args.model)
    sets = {"left_out": (style_split(args.family, first_share(args.base))[1], LEFT_OUT_SEED),
            "seen": (Variation(), SEEN_SEED)}
    payload: dict = {"model": str(args.model), "family": args.family, "base": args.base, "n": TEST_CLOCKS}
    for name, (variation, seed) in sets.items():
        images, labels, _ = _centred(variation, TEST_CLOCKS, seed, 2)
        read = read_views(head, view_outputs(model, resize_images(images, int(model.input_shape[1])), preparation))
        true = to_minutes(labels)
        payload[name] = {"seed": seed, "bands": minute_bands(true, read), "gross_hours_off": hours_off(true, read)}
        print(name, *(f"{row['minutes']}: {row['cse_minutes']:.2f} ({row['share_over_30min']:.1%} over 30)"
                      for row in payload[name]["bands"]), sep="\n  ")
        if name == "left_out":
            worst_grid(images, true, read, RESULTS_DIR / f"clock_minute_bands-{args.tag}.png")
    print(f"wrote {write_result(f'clock_minute_bands-{args.tag}', payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
