"""Which refit recipe lifts `fashion-cnn` (the main job) at equal CPU time: the prior's configuration trained on all
54,000 images for 6.5 minutes (the cosine schedule re-planned to end annealed in that time), tested on all 10,000.

Arms: the preset's 32 filters, and 48 filters with label smoothing 0.1. Each (arm, seed) is one `sweeplab run` in
its own process, kept in benchmarks/results/fashion_cnn_recipes.parts/ (resumable); the summary goes to
benchmarks/results/fashion_cnn_recipes-<backend>-<device>.json.

    python -m benchmarks.fashion_cnn_recipes [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import RESULTS_DIR, measured_parts, write_result

PRIOR = {"model": "cpu_cnn", "dataset": "fashion_mnist", "subset": 0, "test_subset": 0, "optimizer": "adam",
         "learning_rate": 0.003, "batch_size": 256, "activation": "relu", "kernel_initializer": "glorot_uniform",
         "dense_units": 128, "dense_dropout": 0.3, "conv_dropout": 0.0, "kernel_l2": 0.0, "train_minutes": 6.5}
ARMS = {"32 filters": {"conv_filters": 32, "epochs": 18},
        "48 filters, label smoothing 0.1": {"conv_filters": 48, "loss": "categorical_crossentropy",
                                            "label_smoothing": 0.1, "epochs": 16}}


def measure(arm: str, seed: int) -> dict:
    values = {**PRIOR, **ARMS[arm], "seed": seed}
    run_dir = Path(tempfile.mkdtemp(prefix="recipe-")) / "run"
    command = [sys.executable, "-m", "sweeplab", "run", "classify", "--run-dir", str(run_dir),
               *[part for key, value in values.items() for part in ("--set", f"{key}={value}")]]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    metrics = json.loads((run_dir / "result.json").read_text())["metrics"]
    return {"arm": arm, "seed": seed, "values": values, "metrics": metrics,
            "wall_seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (default: 0,1)")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    measured = measured_parts(RESULTS_DIR / "fashion_cnn_recipes.parts", list(ARMS), seeds,
                              lambda arm, seed: f"{arm.split()[0]}{'-ls' if 'smoothing' in arm else ''}-{seed}.json",
                              measure, lambda arm, seed, result: f"{arm} seed {seed}: "
                              f"{result['metrics']['test/accuracy']:.4f} test")
    summary = {arm: {"test_accuracy_by_seed": {seed: part["metrics"]["test/accuracy"]
                                               for seed, part in by_seed.items()},
                     "epochs_by_seed": {seed: part["metrics"]["train/epochs"] for seed, part in by_seed.items()}}
               for arm, by_seed in measured.items()}
    path = write_result("fashion_cnn_recipes", {
        "question": "which refit recipe lifts fashion-cnn at equal CPU time (6.5 training minutes)?",
        "command": "python -m benchmarks.fashion_cnn_recipes --seeds " + args.seeds, "summary": summary,
        "parts": {arm: by_seed for arm, by_seed in measured.items()}})
    print(path)


if __name__ == "__main__":
    main()
