"""Which of the `wide` variation's knobs costs a saved clock model its accuracy: the `default` variation with one
knob at a time set to its `wide` value (and all of them: `wide` itself), each rendered with the `wide` held-out
seed, localised and read as `sweeplab predict` does.

    .venv/bin/python -m benchmarks.clock_factors runs/clock/refit-0003/model.keras [--n 1000]

Writes benchmarks/results/clock_factors-<backend>-<device>.json: per knob its default and wide value and the mean,
median, p90 and share over 30 minutes of the model's common-sense error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

SEED = 102  # the wide held-out set's seed (trainers.clock.held_out)


def knob_variations() -> dict[str, Any]:
    """'default', one entry per knob where `wide` differs (default with that knob widened), and 'wide'."""
    from datasets.clocks import variation_named

    default, wide = variation_named("default"), variation_named("wide")
    variations = {"default": default}
    for field in dataclasses.fields(default):
        if getattr(default, field.name) != getattr(wide, field.name):
            variations[field.name] = dataclasses.replace(default, **{field.name: getattr(wide, field.name)})
    variations["wide"] = wide
    return variations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a saved clock model.keras (with its .head.json sidecar)")
    parser.add_argument("--n", type=int, default=1000, help="clocks per variation")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    from benchmarks.machine import write_result
    from datasets.clocks import rendered_clocks, variation_named
    from trainers.clock.metric import common_sense_minutes, error_summary, to_minutes
    from trainers.clock.predict import load_clock_model, read_clocks

    model, head, preparation = load_clock_model(Path(args.model))
    default, wide = variation_named("default"), variation_named("wide")
    rows = {}
    for knob, variation in knob_variations().items():
        images, labels = rendered_clocks(args.n, SEED, variation, args.workers)
        minutes, found = read_clocks(model, head, images, preparation, workers=args.workers)
        errors = common_sense_minutes(to_minutes(labels), minutes)
        summary = {key.split("/", 1)[1]: round(float(value), 4) for key, value in error_summary(errors, "x").items()}
        values = ({} if knob in ("default", "wide") else
                  {"default_value": getattr(default, knob), "wide_value": getattr(wide, knob)})
        rows[knob] = {**values, **summary, "dial_found_share": round(float(found.mean()), 4)}
        print(f"{knob:>24}: {json.dumps(rows[knob])}", flush=True)
    write_result("clock_factors", {"model": args.model, "n": args.n, "seed": SEED, "knobs": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
