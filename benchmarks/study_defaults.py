"""What a newcomer gets from `sweeplab sweep STUDY` with its defaults: wall time, search and refit accuracy.

Each study runs as the CLI runs it, in its own process, on a fresh SQLite storage and runs directory; the result
(whole-command wall time, the search's best trial, the refit's test accuracy) goes to
benchmarks/results/study_defaults-<study>-<backend>-<device>.json. A study already measured is skipped (resumable).

    python -m benchmarks.study_defaults fashion-cnn fashion-mlp keras-mnist-cnn cifar10-cnn
    python -m benchmarks.study_defaults fashion-cnn-user --sampler-seed 1   # the study file with its sampler's seed
                                                                            # set to 1 (-seed1 in the result's name)
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


def seeded_copy(study: str, seed: int, folder: Path) -> Path:
    """The study file as `folder/<study>.yaml` (so the study keeps its name) with `sampler.seed` set to `seed`."""
    import yaml

    from sweeps.spec import study_path

    spec = yaml.safe_load(study_path(study).read_text())
    spec["sampler"] = {**spec.get("sampler", {}), "seed": seed}
    path = folder / f"{study}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def measure(study: str, sampler_seed: int | None = None) -> dict:
    import optuna

    from analysis.best import state_counts
    from sweeps.best import best_trial, refit_record

    workdir = Path(tempfile.mkdtemp(prefix=f"defaults-{study}-"))
    storage = f"sqlite:///{workdir / 'study.db'}"
    target = study if sampler_seed is None else str(seeded_copy(study, sampler_seed, workdir))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.run([sys.executable, "-m", "sweeplab", "sweep", target, "--storage", storage],
                             env={**os.environ, "SWEEPLAB_RUNS_DIR": str(workdir / "runs")}, capture_output=True,
                             text=True)
    seconds = time.perf_counter() - started
    loaded = optuna.load_study(study_name=study, storage=storage)
    best, record = best_trial(loaded), refit_record(loaded)
    return {
        "study": study, "sampler_seed": sampler_seed, "exit_code": process.returncode,
        "wall_seconds": round(seconds, 1),
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
    parser.add_argument("--sampler-seed", type=int, default=None,
                        help="run a copy of each study file with its sampler's seed set to this")
    args = parser.parse_args()
    import keras

    for study in args.studies:
        name = f"study_defaults-{study}" + ("" if args.sampler_seed is None else f"-seed{args.sampler_seed}")
        existing = RESULTS_DIR / f"{name}-{keras.backend.backend()}-cpu.json"
        if existing.exists() and not args.force:
            print(f"{study}: measured already ({existing})")
            continue
        result = measure(study, args.sampler_seed)
        path = write_result(name, result)
        refit = (result["refit"] or {}).get("metrics", {})
        print(f"{study}: {result['wall_seconds']:.0f} s, refit test accuracy {refit.get('test/accuracy')}, "
              f"exit {result['exit_code']} -> {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
