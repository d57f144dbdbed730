"""What learns fastest on this CPU: short, equal-time clock runs (resolution, label representation, polar input),
each on the same localised `default`-variation clocks, each scored on held-out sets of other seeds.

    nice -n 19 .venv/bin/python -m benchmarks.clock_cpu_explore [--minutes 5] [--n 12000] [--only NAME ...]

Writes benchmarks/results/clock_cpu_explore.json after every run (a stopped exploration keeps what it measured).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "clock_cpu_explore.json"

BASE = {  # the plain BN CNN the issue calibrated with, on localised clocks; constant Adam 1e-3, batch 64
    "variation": "default", "localize": True, "polar": True, "image_size": 48, "head": "hands", "conv_blocks": 4,
    "conv_filters": 32, "filter_growth": 2.0, "convs_per_block": 1, "kernel_size": 3, "batch_norm": True,
    "pooling": "flatten", "dense_units": 128, "dense_dropout": 0.2, "optimizer": "adam", "learning_rate": 1e-3,
    "batch_size": 64, "epochs": 200, "render_workers": 2,
}
EXPERIMENTS = {  # name -> what differs from BASE; in priority order (a shared CPU may not get through all)
    "hands-48-polar": {},
    "hands-64-polar": {"image_size": 64},
    "hands-48-plain": {"polar": False},
    "periodic-48-polar": {"head": "periodic"},
    "two_circle-48-polar": {"head": "two_circle"},
    "multi_head-48-polar": {"head": "multi_head"},
    "hands-80-polar": {"image_size": 80},
    # the polar image sampled from a larger photograph (the rim keeps its detail), 12 o'clock wrapped at both ends
    "hands-96-p64x24w8": {"image_size": 96, "polar_angles": 64, "polar_radii": 24, "polar_wrap": 8},
    "hands-96-p96x32w12": {"image_size": 96, "polar_angles": 96, "polar_radii": 32, "polar_wrap": 12},
    "two_circle-96-p64x24w8": {"head": "two_circle", "image_size": 96, "polar_angles": 64, "polar_radii": 24,
                               "polar_wrap": 8},
    "hands-64-plain-8conv": {"image_size": 64, "polar": False, "convs_per_block": 2},  # the calibration
    # dials turned at random by up to 60 degrees while training (`wide` photographs turn up to 45, `default` 25)
    "hands-96-p64x24w8-turn60": {"image_size": 96, "polar_angles": 64, "polar_radii": 24, "polar_wrap": 8,
                                 "augment_turn_degrees": 60.0},
    # the same with the per-step cosine schedule (peak 3e-3, one warm-up epoch) sized to the budget (~24 epochs)
    "hands-96-p64x24w8-turn60-cos": {"image_size": 96, "polar_angles": 64, "polar_radii": 24, "polar_wrap": 8,
                                     "augment_turn_degrees": 60.0, "lr_schedule": "cosine", "learning_rate": 3e-3,
                                     "warmup_epochs": 1.0, "epochs": 24},
    # and soft targets (a circular Gaussian 1.5 minutes wide around each hand)
    "hands-96-p64x24w8-turn60-cos-soft": {"image_size": 96, "polar_angles": 64, "polar_radii": 24, "polar_wrap": 8,
                                          "augment_turn_degrees": 60.0, "lr_schedule": "cosine", "learning_rate": 3e-3,
                                          "warmup_epochs": 1.0, "epochs": 24, "label_sigma": 1.5},
}
SOFT = EXPERIMENTS["hands-96-p64x24w8-turn60-cos-soft"]  # the default study's prior
# photometric augmentation towards what `wide` photographs have more of (lighting, glare, blur to 2 px, noise to 14
# grey levels), so the reader meets harsher photographs than `default` renders without training on `wide`
EXPERIMENTS |= {
    "soft-photometric": {**SOFT, "augment_brightness": 0.2, "augment_contrast": 0.3, "augment_noise": 0.03,
                         "augment_blur": 1.5},
    "soft-photometric-strong": {**SOFT, "augment_brightness": 0.3, "augment_contrast": 0.5, "augment_noise": 0.06,
                                "augment_blur": 2.5},
}
# dials rectified imperfectly: `wide` tilts beyond the 35 degrees `default` renders, and perspective leaves the hands'
# pivot off the rim ellipse's centre; a random perspective of the localised photograph shows training such dials
EXPERIMENTS |= {
    "soft-perspective": {**SOFT, "augment_perspective": 0.2},
    "soft-perspective-photometric": {**EXPERIMENTS["soft-photometric"], "augment_perspective": 0.2},
    # the same, physically: each localised dial re-tilted by up to 30 degrees in perspective and its rim mapped back
    # to the circle, as the localiser maps a photographed rim (trainers.clock.transforms.RandomDialTilt)
    "soft-tilt30": {**SOFT, "augment_tilt_degrees": 30.0},
    "soft-tilt30-photometric": {**EXPERIMENTS["soft-photometric"], "augment_tilt_degrees": 30.0},
}


SHOWN = ("cse_minutes", "cse_median", "hour_slip", "epochs", "seconds", "found")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="training CPU time per run (process time, all threads: fair on a shared CPU)")
    parser.add_argument("--n", type=int, default=4000, help="rendered training clocks (80%% train, 20%% test)")
    parser.add_argument("--only", nargs="*", default=None, help=f"experiments (default all: {list(EXPERIMENTS)})")
    parser.add_argument("--note", default="2-core CPU shared with other jobs; every run under nice -n 19")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="on top of every experiment (e.g. epochs=12 to size the cosine schedule to --minutes)")
    args = parser.parse_args(argv)

    import keras

    from benchmarks.machine import describe_machine
    from trainers import run
    from trainers.clock.held_out import HELD_OUT_SETS, evaluate_saved_model
    from trainers.config import parse_assignment

    payload = json.loads(args.out.read_text()) if args.out.is_file() else {}
    payload.update({"benchmark": "clock_cpu_explore", "machine": describe_machine(), "note": args.note,
                    "held_out_sets": [held_out.name for held_out in HELD_OUT_SETS], "base": BASE})
    payload.setdefault("runs", {})
    for name in args.only or list(EXPERIMENTS):
        config = {**BASE, **EXPERIMENTS[name], "n_images": args.n, "train_minutes": args.minutes,
                  "budget_clock": "process", **dict(parse_assignment(value) for value in args.overrides)}
        keras.backend.clear_session()
        with tempfile.TemporaryDirectory() as run_dir:
            started = time.perf_counter()
            result = run("clock", config, None, Path(run_dir))
            seconds = time.perf_counter() - started
            held_out = evaluate_saved_model(Path(run_dir) / "model.keras", workers=2)
        payload["runs"][name] = {"config": {key: result.config[key] for key in config}, "seconds_total": round(seconds),
                                 "metrics": result.metrics, "held_out": held_out}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        brief = {key: round(value, 3) for key, value in {**result.metrics, **held_out}.items()
                 if isinstance(value, float) and any(part in key for part in SHOWN)}
        print(name, json.dumps(brief), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
