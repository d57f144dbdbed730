"""Trials per hour for 1, 2 and 4 agents on one machine, and memory over many trials of one agent.

Throughput: `sweeplab agents STUDY --n N` on a fresh SQLite storage, wall time until the study holds its
budget. Memory: one agent in this process runs >= 30 trials; RSS (and GPU memory in use, via JAX's
`memory_stats()` or nvidia-smi, when there is a GPU) is sampled after each trial.
Writes benchmarks/results/agents_throughput-<backend>-<device>.json and agents_memory-<...>.json.

    python -m benchmarks.agents_throughput                       # CPU, small settings (< 5 minutes)
    python -m benchmarks.agents_throughput --agents 1 2 4 --trials 40 --memory-trials 100 --subset 0 --epochs 3
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def study_file(directory: Path, subset: int, epochs: int) -> Path:
    """A small Fashion-MNIST MLP study without a pruner, so every trial trains the same number of epochs."""
    path = directory / "bench-fashion-mlp.yaml"
    path.write_text(f"""\
study: bench-fashion-mlp
task: classify
fixed: {{dataset: fashion_mnist, model: geron_mlp, epochs: {epochs}, subset: {subset}, test_subset: 500}}
space:
  learning_rate: {{type: float, low: 1.0e-3, high: 1.0e-1, log: true}}
  dense_units: {{type: int, low: 16, high: 128, log: true}}
  dense_layers: {{type: int, low: 1, high: 2}}
  batch_size: {{type: categorical, choices: [64, 128]}}
objective: val/accuracy
sampler: {{name: random}}
pruner: none
budget: {{trials: 10}}
""")
    return path


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def gpu_mib() -> float | None:
    """GPU memory in use: JAX's allocator when that is the backend, else nvidia-smi; None without a GPU."""
    if os.environ.get("KERAS_BACKEND") == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu" and device.memory_stats():
            return device.memory_stats()["bytes_in_use"] / 2**20
    try:
        output = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                capture_output=True, text=True, timeout=10).stdout.split()
        return float(output[0]) if output else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def throughput(study: Path, workdir: Path, agents: int, trials: int) -> dict:
    """Wall time of `sweeplab agents --n agents` until the study holds `trials` finished trials."""
    storage = f"sqlite:///{workdir / f'throughput-{agents}.db'}"
    argv = [sys.executable, "-m", "sweeplab.cli", "agents", str(study), "--n", str(agents), "--trials", str(trials),
            "--storage", storage]
    env = {**os.environ, "SWEEPLAB_RUNS_DIR": str(workdir / f"runs-{agents}")}
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return {"agents": agents, "trials": trials, "wall_seconds": round(seconds, 2),
            "trials_per_hour": round(trials / seconds * 3600, 1)}


def memory(study: Path, workdir: Path, trials: int, trial_subprocess: bool = False) -> dict:
    """Run `trials` trials with one agent in this process and sample its RSS / GPU memory after each.

    `trial_subprocess`: each trial trains in a fresh child process (`agent --trial-subprocess`); the agent's own
    RSS is then what stays resident between trials."""
    from sweeps.agent import run_agent
    from sweeps.spec import load_spec

    samples: list[dict] = []

    def sample(trial, state) -> None:
        samples.append({"trial": trial.number, "state": state.name, "rss_mib": round(rss_mib(), 1),
                        "gpu_mib": gpu_mib()})

    mode = "subprocess" if trial_subprocess else "inprocess"
    run_agent(load_spec(study), f"sqlite:///{workdir / f'memory-{mode}.db'}", trials,
              root=workdir / f"runs-memory-{mode}", log=lambda line: None, after_trial=sample,
              trial_subprocess=trial_subprocess)
    rss = [sample["rss_mib"] for sample in samples]
    tail = rss[len(rss) // 3:]  # after warm-up (imports, dataset cache, first graphs)
    return {"mode": mode, "trials": len(samples), "rss_first_mib": rss[0], "rss_warm_mib": tail[0],
            "rss_last_mib": rss[-1], "rss_max_mib": max(rss),
            "rss_growth_after_warmup_mib": round(tail[-1] - tail[0], 1),
            "rss_growth_after_warmup_percent": round(100 * (tail[-1] - tail[0]) / tail[0], 2),
            "rss_growth_per_trial_after_warmup_mib": round((tail[-1] - tail[0]) / max(len(tail) - 1, 1), 2),
            "rss_growth_from_second_trial_percent": round(100 * (rss[-1] - rss[1]) / rss[1], 2) if len(rss) > 1
            else None,  # the platform issue's measure: flat within +-5% from the second trial on
            "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--trials", type=int, default=8, help="study budget for each throughput run")
    parser.add_argument("--memory-trials", type=int, default=50)
    parser.add_argument("--memory-modes", nargs="+", choices=["inprocess", "subprocess"],
                        default=["inprocess", "subprocess"], help="trials in the agent's process, or one child each")
    parser.add_argument("--memory-only", action="store_true", help="skip the throughput runs")
    parser.add_argument("--subset", type=int, default=500, help="training images per trial (0: all)")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)

    from benchmarks.machine import write_result

    settings = {"subset": args.subset, "epochs": args.epochs, "dataset": "fashion_mnist", "model": "geron_mlp",
                "platform": platform.platform(), "load_average_at_start": list(os.getloadavg())}
    with tempfile.TemporaryDirectory(prefix="sweeplab-bench-") as directory:
        workdir = Path(directory)
        study = study_file(workdir, args.subset, args.epochs)
        runs = []
        for agents in [] if args.memory_only else args.agents:
            runs.append(throughput(study, workdir, agents, args.trials))
            print(f"{agents} agent(s): {runs[-1]['trials_per_hour']} trials/hour "
                  f"({args.trials} trials in {runs[-1]['wall_seconds']} s)", flush=True)
        if runs:
            print(write_result("agents_throughput", {"settings": settings, "runs": runs}))
        for mode in args.memory_modes:  # one result file per mode, written as soon as it is measured
            result = memory(study, workdir, args.memory_trials, trial_subprocess=mode == "subprocess")
            print(f"memory over {result['trials']} trials ({mode}): RSS {result['rss_first_mib']} -> "
                  f"{result['rss_warm_mib']} (warm) -> {result['rss_last_mib']} MiB (growth after warm-up "
                  f"{result['rss_growth_after_warmup_mib']} MiB, {result['rss_growth_after_warmup_percent']}%)",
                  flush=True)
            print(write_result(f"agents_memory_{mode}", {"settings": settings, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
