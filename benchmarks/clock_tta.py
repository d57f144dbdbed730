"""Does test-time augmentation help a saved clock model? The held-out sets (trainers.clock.held_out) read with the
network's outputs averaged over the prepared image turned by each set of angles (and moved by a few pixels four
ways), against the plain reading.

    .venv/bin/python -m benchmarks.clock_tta runs/clock/refit-0003/model.keras --turns "" 10 10,20 --shifts 0 4

Writes benchmarks/results/clock_tta[-TAG]-<backend>-<device>.json: per set of turns the seconds it took and each
held-out set's mean, median, p90, share over 30 minutes and hour slips.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def parse_turns(text: str) -> tuple[float, ...]:
    """'10,20' -> (-10.0, 10.0, -20.0, 20.0): each angle both ways; '' -> () (the plain reading)."""
    return tuple(sign * float(value) for value in text.split(",") if value.strip() for sign in (-1, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a saved clock model.keras (with its .head.json sidecar)")
    parser.add_argument("--turns", nargs="+", default=["", "10", "10,20"],
                        help="per variant, comma-separated angles (degrees), each read turned both ways; '' is the "
                             "plain reading")
    parser.add_argument("--shifts", nargs="+", type=float, default=[0.0],
                        help="per variant also (each with every --turns) the image moved this many pixels four ways "
                             "(0: not moved)")
    parser.add_argument("--held-out-n", type=int, default=2000, help="clocks per held-out set")
    parser.add_argument("--sets", nargs="+", default=None, metavar="VARIATION:SEED",
                        help="held-out sets other than the standard ones (e.g. wide:103 default:104: seeds that did "
                             "not choose the turns)")
    parser.add_argument("--tag", default="", help="suffix of the result file's name")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    from benchmarks.machine import write_result
    from trainers.clock.held_out import HELD_OUT_SETS, HeldOutSet, evaluate_saved_model

    pairs = [(held_out.variation, held_out.seed) for held_out in HELD_OUT_SETS]
    if args.sets:
        pairs = [(text.split(":")[0], int(text.split(":")[1])) for text in args.sets]
    sets = tuple(HeldOutSet(variation, seed, args.held_out_n) for variation, seed in pairs)
    evaluate_saved_model(Path(args.model), sets, args.workers, (), 0.0)  # render, localise once, outside the timing
    variants = {}
    for shift in args.shifts:
        for text in args.turns:
            turns = parse_turns(text)
            started = time.perf_counter()
            scores = evaluate_saved_model(Path(args.model), sets, args.workers, turns, shift)
            shown = {key: round(value, 3) for key, value in scores.items() if isinstance(value, float)}
            name = ",".join(f"{turn:g}" for turn in turns) or "none"
            variants[name + (f"+shift{shift:g}" if shift else "")] = {
                "turns": list(turns), "shift": shift, "seconds": round(time.perf_counter() - started, 1), **shown}
            print(json.dumps({"turns": turns, "shift": shift,
                              **{key: value for key, value in shown.items() if "cse_minutes" in key}}))
    path = write_result(f"clock_tta{'-' + args.tag if args.tag else ''}",
                        {"model": args.model, "sets": [held_out.name for held_out in sets],
                         "held_out_n": args.held_out_n, "variants": variants})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
