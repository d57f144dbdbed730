"""Where on the dial a left-out style family's gross errors fall: the error by the true minute (does the minute hand
hide a mark the reading hangs on?), the hours off, where the hour hand is read against where it is (`hands` head),
and the worst readings as a grid to look at. A saved model from
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
    from trainers.clock.metric import common_sense_minutes, signed_minutes

    gross = common_sense_minutes(true_minutes, read_minutes) > GROSS_MINUTES
    signed = signed_minutes(true_minutes, read_minutes)
    values, counts = np.unique(np.round(signed[gross] / 60).astype(int), return_counts=True)
    return {str(value): int(count) for value, count in zip(values, counts, strict=True)}


def hour_hand_errors(hour_probabilities: np.ndarray, true_minutes: np.ndarray, read_minutes: np.ndarray) -> dict:
    """Where a `hands` model reads the hour hand against where it is: the circular mean of the 12 hour classes'
    probabilities (class h centred on h + 0.5) minus the true hand position (hour + minute / 60), in hours, signed
    (negative: read early, anticlockwise). An error past half an hour is what slips the hour once the minute is
    read; the minute hand's error (minutes) is given for the gross readings beside it."""
    from trainers.clock.metric import common_sense_minutes

    centres = 2 * np.pi * (np.arange(12) + 0.5) / 12
    probabilities = np.asarray(hour_probabilities, np.float64)
    read_hand = np.mod(np.arctan2(probabilities @ np.sin(centres), probabilities @ np.cos(centres)) / (2 * np.pi) * 12,
                       12)
    error = np.mod(read_hand - np.mod(np.asarray(true_minutes, np.float64) / 60, 12) + 6, 12) - 6
    minute_error = np.mod(np.mod(read_minutes, 60) - np.mod(true_minutes, 60) + 30, 60) - 30
    gross = common_sense_minutes(true_minutes, read_minutes) > GROSS_MINUTES
    return {"mean_hours": float(error.mean()), "median_hours": float(np.median(error)), "sd_hours": float(error.std()),
            "share_early_over_half_hour": float((error < -0.5).mean()),
            "share_late_over_half_hour": float((error > 0.5).mean()),
            "gross": int(gross.sum()),
            "gross_minute_within_5": float((np.abs(minute_error[gross]) <= 5).mean()) if gross.any() else None,
            "gross_median_hours": float(np.median(error[gross])) if gross.any() else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--family", required=True)
    parser.add_argument("--base", default="diverse+wide")
    parser.add_argument("--tag", required=True)
    args = parser.parse_args(argv)
    import cv2

    from benchmarks.clock_styles import LEFT_OUT_SEED, SEEN_SEED, TEST_CLOCKS, first_share, read_set, style_split
    from datasets.clocks.variation import Variation
    from trainers.clock.evaluation import worst_predictions
    from trainers.clock.predict import head_path, read_sidecar

    sets = {"left_out": (style_split(args.family, first_share(args.base))[1], LEFT_OUT_SEED),
            "seen": (Variation(), SEEN_SEED)}
    payload: dict = {"model": str(args.model), "family": args.family, "base": args.base, "n": TEST_CLOCKS}
    head, _ = read_sidecar(head_path(args.model))
    for name, (variation, seed) in sets.items():
        images, true, read, _, outputs = read_set(args.model, variation, seed, with_outputs=True)
        payload[name] = {"seed": seed, "bands": minute_bands(true, read), "gross_hours_off": hours_off(true, read)}
        if head.name == "hands":  # 12 hour classes, then 60 minute classes (classification-72 has 72 outputs too)
            payload[name]["hour_hand"] = hand = hour_hand_errors(outputs[:, :12], true, read)
            print(f"{name}: hour hand read {hand['median_hours']:+.2f} h (median), sd {hand['sd_hours']:.2f} h, "
                  f"{hand['share_early_over_half_hour']:.1%} more than half an hour early, "
                  f"{hand['share_late_over_half_hour']:.1%} late")
        print(name, *(f"{row['minutes']}: {row['cse_minutes']:.2f} ({row['share_over_30min']:.1%} over 30)"
                      for row in payload[name]["bands"]), sep="\n  ")
        if name == "left_out":
            cv2.imwrite(str(RESULTS_DIR / f"clock_minute_bands-{args.tag}.png"),
                        worst_predictions(images, true, read, count=24))
    print(f"wrote {write_result(f'clock_minute_bands-{args.tag}', payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
