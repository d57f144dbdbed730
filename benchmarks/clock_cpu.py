"""Clock benchmark on a CPU: the default study (`sweeplab sweep clock`, as `make sweep TASK=clock` runs it) and a
full-size single run, each timed and scored on held-out sets it never trained on (`default` and `wide`
variations, other seeds; trainers.clock.held_out).

    .venv/bin/python -m benchmarks.clock_cpu default        # the study with its defaults (acceptance: <= 20 min)
    .venv/bin/python -m benchmarks.clock_cpu full           # 18000 clocks, one long run (acceptance: <= 60 min)

Writes benchmarks/results/clock_cpu-<mode>-<backend>-<device>.json: seconds, the study's or run's metrics, and
per held-out set the mean, median, p90, share over 30 min, hour slips, histogram and dial-found share.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL_SIZE = {  # the full-size run: the default study's fixed values and refit (sweeps/clock.yaml) on 18,000 clocks
    # (12,960 to train on) with a cosine schedule of 72 epochs (~34 s each on a slow 2-core CPU, ~23 on a fast one),
    # planned to end within 50 minutes of training on a slower machine
    "n_images": 18000, "subset": 0, "epochs": 72, "train_minutes": 50.0,
}
# the full-size run's settings of the searched parameters: the study's second prior, what the committed full-size
# result (benchmarks/results/clock_cpu-full-*.json) was measured with
FULL_PRIOR = {"label_sigma": 1.5, "learning_rate": 3.0e-3, "batch_size": 64, "conv_filters": 32, "dense_units": 128,
              "dense_dropout": 0.2}


def full_config() -> dict:
    """The default study's configuration (fixed values, refit) at full size, with FULL_PRIOR."""
    from sweeps.spec import load_spec

    spec = load_spec("clock")
    return {**spec.fixed, **FULL_PRIOR, **(spec.refit or {}), **FULL_SIZE}


def _study_model(study_name: str, storage: str) -> tuple[Path, dict]:
    """The model `predict --study` uses (the study's refit model, else its best trial's) and what the refit measured
    of itself (epochs fit, training seconds, the split's test error; empty without a refit)."""
    import optuna

    from sweeps.best import best_model_path, refit_record

    study = optuna.load_study(study_name=study_name, storage=storage)
    path = best_model_path(study)
    if path is None:
        raise SystemExit(f"study {study_name!r} saved no model")
    metrics = (refit_record(study) or {}).get("metrics", {})
    return Path(path), {key: metrics[key] for key in ("train/epochs", "train/best_epoch", "time/train_seconds",
                                                      "test/cse_minutes") if key in metrics}


def run_default(work: Path, extra: list[str]) -> dict:
    """`sweeplab sweep clock` in a fresh runs directory and storage, as a new user runs it."""
    storage = f"sqlite:///{work / 'sweeplab.db'}"
    env = {**os.environ, "SWEEPLAB_RUNS_DIR": str(work / "runs")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sweeplab", "sweep", "clock", "--storage", storage, *extra], cwd=ROOT,
                   env=env, check=True)
    model, refit = _study_model("clock", storage)
    return {"seconds": round(time.perf_counter() - started, 1), "model": str(model),
            "command": f"sweeplab sweep clock {' '.join(extra)}".strip(), "refit": refit}


def run_full(work: Path, overrides: dict) -> dict:
    from trainers import run

    started = time.perf_counter()
    result = run("clock", {**full_config(), **overrides}, None, work / "full")
    return {"seconds": round(time.perf_counter() - started, 1), "model": str(work / "full" / "model.keras"),
            "config": result.config, "metrics": result.metrics}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["default", "full"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="full: config overrides; default: passed to `sweeplab sweep` as --set")
    parser.add_argument("--refit-set", dest="refit_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="default: passed to `sweeplab sweep` as --refit-set (the refit's values, e.g. minutes)")
    parser.add_argument("--held-out-n", type=int, default=2000, help="clocks per held-out set")
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs (models, worst predictions) here")
    parser.add_argument("--tag", default="", help="written as clock_cpu-<mode>-<tag>-...json (e.g. a variant's name)")
    args = parser.parse_args(argv)

    from benchmarks.machine import write_result
    from trainers.clock.held_out import HELD_OUT_SETS, HeldOutSet, evaluate_saved_model
    from trainers.config import parse_assignment

    sets = tuple(HeldOutSet(held_out.variation, held_out.seed, args.held_out_n) for held_out in HELD_OUT_SETS)
    with tempfile.TemporaryDirectory(prefix="clock-cpu-") as directory:
        work = args.keep or Path(directory)
        if args.mode == "default":
            outcome = run_default(work, [flag for value in args.overrides for flag in ("--set", value)]
                                  + [flag for value in args.refit_overrides for flag in ("--refit-set", value)])
        else:
            outcome = run_full(work, dict(parse_assignment(value) for value in args.overrides))
        outcome["held_out"] = evaluate_saved_model(Path(outcome["model"]), sets, workers=2)
    path = write_result(f"clock_cpu-{args.mode}" + (f"-{args.tag}" if args.tag else ""), outcome)
    shown = {key: round(value, 3) for key, value in outcome["held_out"].items() if isinstance(value, float)}
    print(json.dumps({"seconds": outcome["seconds"], **shown}, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
