"""End to end, compilation included: the same Fashion-MNIST MLP sweep with plain `model.fit` and with the platform's
epoch-compiled JAX fit (`fit_mode=scan`, persistent compilation cache). Run with KERAS_BACKEND=jax.

Both arms sample the same trials (a fixed-seed random sampler over sweeps/fashion-mlp.yaml with width and depth
fixed, as a learning-rate/optimizer study would), on the same data, in the same process.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import keras
import optuna

from benchmarks.machine import write_result
from sweeps.space import suggest_all
from sweeps.spec import load_spec
from trainers import run

FIXED = {"dataset": "fashion_mnist", "model": "geron_mlp", "dense_layers": 2, "dense_units": 300,
         "dense_shrink": 1 / 3}
TUNED = ("optimizer", "learning_rate", "momentum", "nesterov", "rho", "kernel_initializer", "activation")


def sample_trials(count: int, seed: int = 0) -> list[dict]:
    spec = load_spec("fashion-mlp")
    parameters = [parameter for parameter in spec.parameters if parameter.name in TUNED]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [suggest_all(parameters, study.ask()) for _ in range(count)]


def sweep(trials: list[dict], settings: dict, epochs: int, subset: int, batch_size: int) -> dict:
    started = time.perf_counter()
    accuracies = []
    for params in trials:
        metrics = run("classify", {**FIXED, **params, **settings, "epochs": epochs, "subset": subset,
                                   "batch_size": batch_size, "test_subset": 1000}).metrics
        accuracies.append(metrics["val/accuracy"])
        keras.backend.clear_session()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "trials": len(trials), "best_val_accuracy": round(max(accuracies), 4),
            "settings": settings}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax (the scan path is JAX-only)")
    trials = sample_trials(args.trials)
    cache = Path(tempfile.mkdtemp(prefix="sweeplab-jax-cache-"))  # start cold: compilation is part of the cost
    import os

    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    try:
        plain = sweep(trials, {}, args.epochs, args.subset, args.batch_size)
        fast = sweep(trials, {"fit_mode": "scan"}, args.epochs, args.subset, args.batch_size)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    result = {"trials": args.trials, "epochs": args.epochs, "train_examples": args.subset,
              "plain_model_fit": plain, "platform_scan": fast,
              "speedup": round(plain["seconds"] / fast["seconds"], 3)}
    print(result)
    print(f"wrote {write_result('sweep_speed', result)}")
    return result


if __name__ == "__main__":
    main()
