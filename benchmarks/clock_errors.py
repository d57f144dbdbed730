"""Where a saved clock model's gross errors come from: the localiser (dial missed, or framed with its centre far
from the truth) or the reader (the dial framed well, the hands misread). Uses the renderer's ground truth of the
held-out sets (trainers.clock.held_out), so it needs no labels beyond the rendering.

    .venv/bin/python -m benchmarks.clock_errors runs/clock/refit-0003/model.keras

Writes benchmarks/results/clock_errors-<backend>-<device>.json: per held-out set and per localiser outcome
(missed / centre off by > 8 px / within 8 px) the count, mean error, share over 30 minutes and its share of the
set's mean error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def localiser_outcomes(held_out: Any, workers: int = 2) -> list[str]:
    """'missed', 'off' or 'ok' for every photograph of a held-out set (rendered again for its geometry)."""
    from datasets.processes import spawn_pool, submit_all

    starts = list(range(0, held_out.n, 250))
    arguments = ([held_out.variation] * len(starts), [held_out.seed] * len(starts), starts,
                 [min(250, held_out.n - start) for start in starts])
    if workers <= 1:
        parts = map(_outcomes, *arguments)
    else:
        with spawn_pool(workers) as pool:
            parts = [future.result() for future in submit_all(pool, _outcomes, zip(*arguments, strict=True))]
    return [outcome for part in parts for outcome in part]


def _outcomes(variation_name: str, seed: int, start: int, count: int) -> list[str]:
    from datasets.clocks import render_clock, variation_named
    from datasets.clocks.render import clock_labels
    from trainers.clock.localize import find_dial, framing

    variation = variation_named(variation_name)
    labels = clock_labels(start + count, seed)
    result = []
    for index in range(start, start + count):
        image, geometry = render_clock(int(labels[index, 0]), int(labels[index, 1]),
                                       np.random.default_rng([seed, index]), variation)
        result.append(framing(find_dial(image), geometry))
    return result


def attribute(errors: np.ndarray, outcomes: list[str]) -> dict[str, Any]:
    """Per localiser outcome: count, mean error, share over 30 min and contribution to the set's mean."""
    outcomes_array = np.asarray(outcomes)
    total = float(errors.sum())
    table = {}
    for outcome in ("ok", "off", "missed"):
        chosen = errors[outcomes_array == outcome]
        table[outcome] = {"count": int(chosen.size),
                          "mean_minutes": round(float(chosen.mean()), 2) if chosen.size else None,
                          "share_over_30min": round(float((chosen > 30).mean()), 4) if chosen.size else None,
                          "share_of_mean": round(float(chosen.sum()) / total, 4) if total else 0.0}
    return {"mean_minutes": round(float(errors.mean()), 3), "by_localiser": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a saved clock model.keras (with its .head.json sidecar)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    from benchmarks.machine import write_result
    from trainers.clock.held_out import HELD_OUT_SETS, photographs
    from trainers.clock.localize import OFF_PIXELS
    from trainers.clock.metric import common_sense_minutes, to_minutes
    from trainers.clock.predict import load_clock_model, resize_images

    model, head, preparation = load_clock_model(Path(args.model))
    size = int(model.input_shape[1])
    sets = {}
    for held_out in HELD_OUT_SETS:
        images, labels, _ = photographs(held_out, preparation.localize, args.workers)
        outputs = np.asarray(model.predict(resize_images(images, size), batch_size=256, verbose=0), np.float64)
        errors = common_sense_minutes(to_minutes(labels), head.decode(outputs))
        sets[held_out.name] = attribute(np.asarray(errors, np.float64), localiser_outcomes(held_out, args.workers))
        print(held_out.name, json.dumps(sets[held_out.name]), flush=True)
    write_result("clock_errors", {"model": args.model, "off_pixels": OFF_PIXELS, "sets": sets})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
