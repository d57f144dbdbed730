"""Clock benchmark for a GPU host: render the full 18000 set, train one representation, score it twice.

    .venv/bin/python -m benchmarks.clock_gpu [--head periodic] [--epochs 40] [--n 18000]

Writes benchmarks/results/clock.json: test mean/median/p90/share over 30 min and seconds, plus the same
errors on a second set rendered with another seed and the wider variation (generalisation).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "clock.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head", default="periodic")
    parser.add_argument("--classes", type=int, default=72)
    parser.add_argument("--n", type=int, default=18000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--shifted-n", type=int, default=3600, help="clocks in the second (wider) set")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import keras

    from datasets.clocks import render_clocks, rendered_clocks, variation_named
    from trainers import run
    from trainers.clock.metric import common_sense_minutes, error_summary, to_minutes
    from trainers.clock.predict import load_clock_model, predict_clock_minutes
    from trainers.provenance import provenance

    started = time.perf_counter()
    rendered_clocks(args.n, 0, variation_named("default"), args.workers)
    render_seconds = time.perf_counter() - started
    config = {"n_images": args.n, "render_workers": args.workers, "image_size": args.image_size, "head": args.head,
              "classes": args.classes, "epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": args.learning_rate, "patience": 8, "conv_blocks": 5, "conv_filters": 32,
              "convs_per_block": 2, "augment_shift": 0.05, "augment_brightness": 0.2, "augment_contrast": 0.2}
    with tempfile.TemporaryDirectory() as run_dir:
        started = time.perf_counter()
        result = run("clock", config, None, Path(run_dir))
        train_seconds = time.perf_counter() - started
        model, head, preparation = load_clock_model(Path(run_dir) / "model.keras")
        images, labels = render_clocks(args.shifted_n, seed=1, variation=variation_named("wide"),
                                       workers=args.workers)
        shifted = error_summary(common_sense_minutes(to_minutes(labels), predict_clock_minutes(model, head, images,
                                                                                 preparation)),
                                "wide_seed1")
    payload = {
        "benchmark": "clock", "config": result.config, "metrics": result.metrics, "shifted_set": shifted,
        "seconds": {"render": round(render_seconds, 1), "train": round(train_seconds, 1)},
        "device": {"backend": keras.backend.backend(), "machine": platform.machine(), "node": platform.node()},
        **provenance(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    print(json.dumps({**{key: round(value, 2) for key, value in result.metrics.items() if key.startswith("test/")},
                      **{key: round(value, 2) for key, value in shifted.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
