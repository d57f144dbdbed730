"""Which sampler should a user space's low rung use? The same study, budget and seeds for each Optuna sampler.

Each (sampler, seed) runs `sweeplab sweep` as the CLI runs it, on a fresh SQLite storage, with the study's
`start_with` removed (no prior), the sampler replaced and seeded, the promotion cut to the best low-rung trial
alone (no probes; tested on all 10,000 test images) and no refit: the low rung is the part a sampler decides,
the promoted trial is how good its pick is on every training image. The samplers Optuna ships without extra
packages: random, scrambled Sobol (QMC), TPE (independent) and multivariate TPE with 10 and with 5 random
start-up trials. (Optuna's GPSampler needs PyTorch, and optunahub's AutoSampler is downloaded from GitHub at run
time, which this machine cannot reach: neither is measured.)

Per sampler: mean and 95% t-interval over seeds of the low-rung trials run, the best low-rung validation accuracy
and the promoted pick's validation and test accuracy. Resumable: each (sampler, seed) is kept under
benchmarks/results/sampler_choice-STUDY.parts/ and skipped when present.

    python -m benchmarks.sampler_choice --study fashion-mlp-user --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import RESULTS_DIR, comma_list, measured_parts, write_result
from benchmarks.peer_search import interval

SAMPLERS: dict[str, dict[str, Any]] = {
    "random": {"name": "random"},
    "qmc": {"name": "qmc", "scramble": True},
    "tpe": {"name": "tpe", "n_startup_trials": 10, "multivariate": False},
    "tpe-multivariate": {"name": "tpe", "n_startup_trials": 10, "multivariate": True},
    "tpe-multivariate-5": {"name": "tpe", "n_startup_trials": 5, "multivariate": True},
}


def study_file(study: str, sampler: str, seed: int, directory: Path) -> Path:
    """The study without its prior, with `sampler` seeded, promoting its best low-rung trial only."""
    import yaml

    from sweeps.spec import study_path

    raw = yaml.safe_load(study_path(study).read_text())
    raw.pop("start_with", None)
    raw["sampler"] = {**SAMPLERS[sampler], "seed": seed}
    promote = raw.get("promote") or {"set": {}}
    raw["promote"] = {"top": 1, "probes": 0, "set": {**promote.get("set", {}), "test_subset": 0}}
    raw["study"] = f"{Path(study).stem}-{sampler}-seed{seed}"
    path = directory / f"{raw['study']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_one(study: str, sampler: str, seed: int) -> dict[str, Any]:
    """One `sweeplab sweep --no-refit` on a fresh storage; what its low rung and its promoted pick reached."""
    import optuna

    from sweeps.promotion import PROMOTED_FROM

    workdir = Path(tempfile.mkdtemp(prefix="sampler-choice-"))
    path = study_file(study, sampler, seed, workdir)
    storage = f"sqlite:///{workdir / 'study.db'}"
    env = {**os.environ, "SWEEPLAB_RUNS_DIR": str(workdir / "runs")}
    load_before, started = os.getloadavg()[0], time.perf_counter()
    with open(workdir / "sweep.log", "w") as log:
        code = subprocess.call([sys.executable, "-m", "sweeplab", "sweep", str(path), "--storage", storage,
                                "--no-refit"], env=env, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{sampler} seed {seed}: sweep exited {code}; see {workdir / 'sweep.log'}")
    trials = optuna.load_study(study_name=path.stem, storage=storage).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    low = [trial for trial in trials if PROMOTED_FROM not in trial.user_attrs]
    promoted = [trial for trial in trials if PROMOTED_FROM in trial.user_attrs]
    best_low = max(low, key=lambda trial: trial.value)
    pick = promoted[0] if promoted else None
    return {"sampler": sampler, "seed": seed, "low_rung_trials": len(low), "best_low_val": best_low.value,
            "best_low_params": best_low.params, "promoted_val": pick.value if pick else None,
            "promoted_test": pick.user_attrs["metrics"]["test/accuracy"] if pick else None,
            "wall_seconds": round(wall, 1), "load_average_before": load_before,
            "load_average_after": os.getloadavg()[0]}


def markdown(summary: dict[str, dict[str, Any]], seeds: int) -> str:
    lines = [f"| sampler ({seeds} seeds) | low-rung trials | best low-rung val | promoted pick: val | promoted pick: "
             "test |", "|---|---|---|---|---|"]
    for sampler, rows in summary.items():
        cells = []
        for name, scale in (("low_rung_trials", 1), ("best_low_val", 100), ("promoted_val", 100),
                            ("promoted_test", 100)):
            row = rows[name]
            band = f" [{row['ci95'][0] * scale:.1f}, {row['ci95'][1] * scale:.1f}]" if row.get("ci95") else ""
            cells.append(f"{row['mean'] * scale:.1f}{band}" if row["mean"] is not None else "-")
        lines.append(f"| {sampler} (n={rows['best_low_val']['n']}) | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="fashion-mlp-user")
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    samplers = comma_list(parser, args.samplers, SAMPLERS, "sampler")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    measured = measured_parts(
        RESULTS_DIR / f"sampler_choice-{args.study}.parts", samplers, seeds,
        lambda sampler, seed: f"{sampler}-seed{seed}.json",
        lambda sampler, seed: run_one(args.study, sampler, seed),
        lambda sampler, seed, result: (f"{sampler} seed {seed}: {result['low_rung_trials']} low-rung trials, best low "
                                       f"val {result['best_low_val']:.4f}, promoted test {result['promoted_test']}"))
    runs = {sampler: list(parts.values()) for sampler, parts in measured.items()}
    summary = {sampler: {name: interval([run[name] for run in results]) for name in
                         ("low_rung_trials", "best_low_val", "promoted_val", "promoted_test")}
               for sampler, results in runs.items() if results}
    path = write_result(f"sampler_choice-{args.study}", {"study": args.study, "seeds": seeds, "summary": summary,
                                                         "runs": runs})
    path.with_suffix(".md").write_text(markdown(summary, len(seeds)))
    print(path.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
