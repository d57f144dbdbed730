"""Generative benchmark for a GPU host: a VAE and a DCGAN on MNIST, Fashion-MNIST and Olivetti faces.

    SWEEPLAB_DATA_DIR=/path/to/mirror .venv/bin/python -m benchmarks.generative_gpu [--only vae-mnist ...]
        [--epochs-scale 1.0]

Writes benchmarks/results/generative.json (per job: the config, every final metric including the feature-space
Fréchet distance and the reconstruction error, seconds) and copies each job's last sample grid and its
interpolation grids to benchmarks/results/generative/<job>/. The Fréchet distance is measured in a small CNN's
feature space trained per dataset (see trainers/generative/quality.py), NOT Inception-FID: compare within a
dataset only.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "generative.json"
GRIDS = RESULTS.parent / "generative"

_MNIST_LIKE = {"subset": 0, "batch_size": 128, "frechet_samples": 5000, "feature_train_images": 20000}
_FACES = {"batch_size": 32, "frechet_samples": 324, "feature_train_images": 360}
JOBS: dict[str, tuple[str, dict]] = {
    "vae-mnist": ("vae", {"dataset": "mnist", "epochs": 30, "latent_dim": 16, "layers": 2, "filters": 32,
                          **_MNIST_LIKE}),
    "gan-mnist": ("gan", {"dataset": "mnist", "epochs": 30, "latent_dim": 64, "layers": 2, "filters": 64,
                          **_MNIST_LIKE}),
    "vae-fashion": ("vae", {"dataset": "fashion_mnist", "epochs": 30, "latent_dim": 32, "layers": 2, "filters": 32,
                            **_MNIST_LIKE}),
    "gan-fashion": ("gan", {"dataset": "fashion_mnist", "epochs": 30, "latent_dim": 64, "layers": 2, "filters": 64,
                            **_MNIST_LIKE}),
    "vae-faces": ("vae", {"dataset": "olivetti", "epochs": 300, "latent_dim": 32, "layers": 4, "filters": 32,
                          "beta": 0.01, "reconstruction_loss": "mse", **_FACES}),
    "gan-faces": ("gan", {"dataset": "olivetti", "epochs": 500, "latent_dim": 128, "layers": 4, "filters": 32,
                          **_FACES}),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(JOBS), help="jobs to run (default: all)")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every job's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import keras

    from trainers import run
    from trainers.provenance import provenance

    results = {}
    for job in args.only or list(JOBS):
        task, config = JOBS[job]
        config = {**config, "seed": args.seed, "epochs": max(1, round(config["epochs"] * args.epochs_scale))}
        with tempfile.TemporaryDirectory() as run_dir:
            started = time.perf_counter()
            result = run(task, config, None, Path(run_dir))
            seconds = time.perf_counter() - started
            images = sorted((Path(run_dir) / "images").glob("*.png"))
            keep = [path for path in images if path.name.startswith("interpolation")]
            for prefix in ("samples", "reconstructions"):
                keep += [path for path in images if path.name.startswith(prefix)][-1:]
            (GRIDS / job).mkdir(parents=True, exist_ok=True)
            for path in keep:
                shutil.copy(path, GRIDS / job / path.name)
        results[job] = {"task": task, "config": result.config, "metrics": result.metrics,
                        "seconds": round(seconds, 1), "grids": [f"generative/{job}/{path.name}" for path in keep]}
        print(job, json.dumps({key: round(value, 4) for key, value in result.metrics.items()
                               if key.startswith("val/")}))
    payload = {"benchmark": "generative", "jobs": results,
               "metric_note": "val/frechet_distance: a small project-trained CNN's feature space, not Inception-FID",
               "device": {"backend": keras.backend.backend(), "machine": platform.machine(), "node": platform.node()},
               **provenance()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
