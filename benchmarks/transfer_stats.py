"""Cost of the transfer analysis' statistics next to one training run: bootstrap CIs, fANOVA, setting effects.

Synthetic scores for N configurations (no training), timed per step; the point is that the statistics stay
negligible (seconds) at the full run's scale (>= 30 configs), so `sweeplab transfer` time is all training.
Writes benchmarks/results/transfer_stats-<backend>-<device>.json.

    python -m benchmarks.transfer_stats                 # 40 configs, 2000 bootstrap resamples
    python -m benchmarks.transfer_stats --configs 30 100 --bootstrap 5000
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from analysis import stats, transfer
from analysis.adjusted import adjusted_effects
from benchmarks.machine import write_result
from sweeps.spec import load_spec


def synthetic(count: int, seed: int = 0) -> tuple[list[dict], pd.DataFrame]:
    """Configs sampled from the fashion-mlp space and scores that partly carry over (rho around 0.6)."""
    import optuna

    spec = load_spec("fashion-mlp")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for _ in range(count):
        trial = study.ask()
        configs.append({parameter.name: parameter.suggest(trial) for parameter in spec.parameters
                        if parameter.applies(trial.params)})
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=count)
    rows = [{"config": index, "dataset": name, "seed": run_seed,
             "score": float(base + 0.05 * (quality[index] + spread * rng.normal()) + 0.01 * rng.normal())}
            for name, base, spread in ((transfer.SOURCE, 0.85, 0.3), (transfer.TARGET, 0.45, 1.0))
            for index in range(count) for run_seed in range(3)]
    return configs, pd.DataFrame(rows)


def time_steps(configs: list[dict], evaluations: pd.DataFrame, bootstrap: int) -> dict[str, float]:
    """Seconds per analysis step on one synthetic family."""
    parameters = load_spec("fashion-mlp").parameters
    means = evaluations.pivot_table(index="config", columns="dataset", values="score")
    source, target = means[transfer.SOURCE].to_numpy(), means[transfer.TARGET].to_numpy()
    steps = {
        "spearman": lambda: stats.spearman(source, target, n_bootstrap=bootstrap),
        "kendall": lambda: stats.kendall(source, target, n_bootstrap=min(bootstrap, 1000)),
        "fanova_one_dataset": lambda: transfer.importances(configs, source, parameters),
        "adjusted_effects": lambda: adjusted_effects(configs, {transfer.SOURCE: source, transfer.TARGET: target},
                                                     parameters),
        "transfer_info": lambda: transfer.transfer_info("mlp", configs, evaluations, parameters,
                                                        n_bootstrap=bootstrap),
    }
    timings = {}
    for name, step in steps.items():
        started = time.perf_counter()
        step()
        timings[name] = round(time.perf_counter() - started, 3)
    timings["spearman_value"] = round(stats.spearman(source, target, n_bootstrap=100).value, 3)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, nargs="+", default=[40])
    parser.add_argument("--bootstrap", type=int, default=2000)
    args = parser.parse_args(argv)
    results = []
    for count in args.configs:
        configs, evaluations = synthetic(count)
        timings = time_steps(configs, evaluations, args.bootstrap)
        print(f"{count} configs: {timings}")
        results.append({"configs": count, "bootstrap": args.bootstrap, "seconds": timings})
    print(f"wrote {write_result('transfer_stats', {'results': results})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
