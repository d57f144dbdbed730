"""What a newcomer gets from `sweeplab sweep STUDY` with its defaults: wall time, search and refit accuracy.

Each study runs as the CLI runs it, in its own process, on a fresh SQLite storage and runs directory; the result
(whole-command wall time, the search's best trial, the refit's test accuracy) goes to
benchmarks/results/study_defaults-<study>-<backend>-<device>.json. A study already measured is skipped (resumable).

    python -m benchmarks.study_defaults fashion-cnn fashion-mlp keras-mnist-cnn cifar10-cnn
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import RESULTS_DIR, write_result


def measure(study: str) -> dict:
    import optuna

    from analysis.best import state_counts
    from sweeps.best import best_trial, refit_record

    workdir = Path(tempfile.mkdtemp(prefix=f"defaults-{study}-"))
    storage = f"sqlite:///{workdir / 'study.db'}"
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.run([sys.executable, "-m", "sweeplab", "sweep", study, "--storage", storage],
                             env={**os.environ, "SWEEPLAB_RUNS_DIR": str(workdir / "runs")}, capture_output=True,
                             text=True)
    seconds = time.perf_counter() - started
    loaded = optuna.load_study(study_name=study, storage=storage)
    best, record = best_trial(loaded), refit_record(loaded)
    return {
        "study": study, "exit_code": process.returncode, "wall_seconds": round(seconds, 1),
        "trial_states": state_counts(loaded),
        "search_best": {"trial": best.number, "val/accuracy": best.value, "params": best.params,
                        "test/accuracy (2,000-image preview)": best.user_attrs["metrics"].get("test/accuracy"),
                        "train_examples": best.user_attrs["metrics"].get("data/train_examples")} if best else None,
        "refit": {key: record[key] for key in ("trial", "metrics", "seconds")} if record else None,
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "output_tail": process.stdout[-3000:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="+")
    parser.add_argument("--force", action="store_true", help="measure again even when a result exists")
    args = parser.parse_args()
    import keras

    for study in args.studies:
        existing = RESULTS_DIR / f"study_defaults-{study}-{keras.backend.backend()}-cpu.json"
        if existing.exists() and not args.force:
            print(f"{study}: measured already ({existing})")
            continue
        result = measure(study)
        path = write_result(f"study_defaults-{study}", result)
        refit = (result["refit"] or {}).get("metrics", {})
        print(f"{study}: {result['wall_seconds']:.0f} s, refit test accuracy {refit.get('test/accuracy')}, "
              f"exit {result['exit_code']} -> {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
