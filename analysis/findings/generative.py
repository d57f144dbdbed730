"""Finding (issue 12): images the generative models draw, and a Fréchet feature distance with a scale.

Five models (CAE on Fashion-MNIST, VAE and DCGAN on MNIST and on the Olivetti faces) are trained once each;
their generated arrays, weights, metrics and per-epoch sample grids are kept in the store under a key of their
resolved config, so a rerun only redraws. The out dir gets upscaled PNG grids (samples, reconstructions with
inputs above outputs, latent interpolations), `frechet.csv`, `models.csv` and `summary.md`.

The Fréchet distance is NOT Inception-FID: features are the 64-unit layer of the small CNN that
`trainers.generative.quality` trains on each dataset's labels. Each dataset's numbers come with two references
from the same extractor and the same sample count: real vs real (two disjoint halves) and uniform noise vs real.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.findings import Finding

NAME = "generative"
STORE_VERSION = 1  # bump when what is stored for a model changes (forces retraining)
GRID_COLUMNS = 8
SAMPLE_GRID = 64  # images in the committed samples grid
EPOCH_GRID = 32  # images in each per-epoch grid kept in the store
RECONSTRUCTIONS = 16  # held-out images reconstructed (two input/output row pairs)
INTERPOLATION_ROWS, INTERPOLATION_STEPS = 6, 10


@dataclass(frozen=True)
class ModelSpec:
    """One model of the finding: its task family, config overrides (full and tiny) and what it is."""

    name: str
    family: str  # cae, vae or gan (a registered task)
    title: str
    config: dict[str, Any]
    tiny: dict[str, Any] = field(default_factory=dict)  # replaces `config`'s values for the test-sized run


_TINY = {"subset": 300, "epochs": 1, "filters": 8, "batch_size": 64}
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("cae-fashion", "cae", "Convolutional autoencoder, Fashion-MNIST",
              {"dataset": "fashion_mnist", "latent_dim": 32, "layers": 2, "filters": 32, "epochs": 4,
               "batch_size": 128, "learning_rate": 1e-3, "reconstruction_loss": "binary_crossentropy"}, _TINY),
    ModelSpec("vae-mnist", "vae", "Variational autoencoder, MNIST",
              {"dataset": "mnist", "latent_dim": 8, "beta": 1.0, "layers": 2, "filters": 32, "epochs": 5,
               "batch_size": 128, "learning_rate": 1e-3, "reconstruction_loss": "binary_crossentropy"}, _TINY),
    ModelSpec("gan-mnist", "gan", "DCGAN, MNIST",  # BN in G, LeakyReLU in D, Adam 2e-4 beta_1 0.5; 3,376 steps
              {"dataset": "mnist", "subset": 0, "latent_dim": 100, "layers": 2, "filters": 32, "epochs": 4,
               "batch_size": 64, "generator_learning_rate": 2e-4, "discriminator_learning_rate": 2e-4,
               "beta_1": 0.5, "label_smoothing": 0.1, "discriminator_dropout": 0.0}, _TINY),
    ModelSpec("vae-faces", "vae", "Variational autoencoder, Olivetti faces",
              {"dataset": "olivetti", "latent_dim": 32, "beta": 1.0, "layers": 4, "filters": 16, "epochs": 100,
               "batch_size": 32, "learning_rate": 1e-3, "reconstruction_loss": "binary_crossentropy"},
              {"epochs": 1, "filters": 8, "layers": 3}),
    ModelSpec("gan-faces", "gan", "DCGAN, Olivetti faces",  # 324 training faces: 11 steps an epoch
              {"dataset": "olivetti", "latent_dim": 100, "layers": 4, "filters": 16, "epochs": 150, "batch_size": 32,
               "generator_learning_rate": 2e-4, "discriminator_learning_rate": 2e-4, "beta_1": 0.5,
               "label_smoothing": 0.1, "discriminator_dropout": 0.0}, {"epochs": 1, "filters": 8}),
)
FIGURE_LAYOUTS = {
    "`*-samples.png`": f"{SAMPLE_GRID} samples, 8 a row: decoded N(0, I) draws (VAE, GAN); for the CAE, which has "
                       "no prior, decoded draws from a Gaussian fitted per dimension to its validation codes",
    "`*-reconstructions.png`": "held-out real images (rows 1 and 3) directly above their reconstructions "
                               "(rows 2 and 4)",
    "`*-interpolation.png`": f"each row decodes {INTERPOLATION_STEPS} evenly spaced points on the straight line "
                             "between two latent codes: for the CAE and VAEs the codes of two held-out real images "
                             "(first and last column are their reconstructions), for the GANs two N(0, I) draws",
}
FRECHET_SAMPLES = {"mnist": 2000, "fashion_mnist": 2000, "olivetti": 200}  # per set: samples, real half, noise
TINY_FRECHET_SAMPLES = 100
FEATURE_TRAIN_IMAGES, TINY_FEATURE_TRAIN_IMAGES = 6000, 500


def model_config(spec: ModelSpec, tiny: bool) -> dict[str, Any]:
    """The overrides that train `spec`: its config, with the tiny values on top for the test-sized run."""
    overrides = {**spec.config, **(spec.tiny if tiny else {})}
    return {**overrides, "frechet_samples": 0, "grid_images": EPOCH_GRID}  # Fréchet is measured after training


def store_key(family: str, resolved: dict[str, Any]) -> str:
    """12 hex digits naming a trained model by its family, resolved config and what the store holds."""
    text = json.dumps({"family": family, "config": resolved, "version": STORE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _write_atomic_dir(final: Path, fill: Callable[[Path], None]) -> None:
    """Fill a temporary sibling directory, then rename it into place: a killed run leaves no half model."""
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    fill(temporary)
    if final.exists():
        shutil.rmtree(final)
    temporary.rename(final)


def held_out_halves(dataset: str, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sets of `count` real images in [0, 1]: from the test split, or (Olivetti, 400 images in all)
    from every image, since its 40 test faces are too few; the faces' halves then include training images."""
    import datasets

    data = datasets.load(dataset)
    pool = data.x_test if len(data.x_test) >= 2 * count else np.concatenate([data.x_train, data.x_test])
    if len(pool) < 2 * count:
        raise ValueError(f"{dataset} has {len(pool)} images, fewer than two halves of {count}")
    order = np.random.default_rng(seed).permutation(len(pool))
    scale = np.float32(1 / 255)
    return pool[order[:count]].astype("float32") * scale, pool[order[count:2 * count]].astype("float32") * scale


def _as_uint8(images: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _train(spec: ModelSpec, config: Any, directory: Path, halves: tuple[np.ndarray, np.ndarray]) -> None:
    """Fit the model and keep what the figures and the Fréchet rows need (uint8 arrays), its weights and times."""
    from datasets.images import save_png
    from trainers.generative.families import Generative, fit
    from trainers.generative.figures import grid, interpolation_images, reconstruction_rows
    from trainers.reporter import Reporter

    epoch_latents = np.random.default_rng(config.seed + 10).standard_normal((EPOCH_GRID, config.latent_dim))

    def save_epoch_grid(generative: Generative, epoch: int) -> None:
        if generative.has_prior:
            save_png(directory / "epochs" / f"samples-{epoch:04d}.png",
                     grid(generative.decode(epoch_latents.astype("float32")), GRID_COLUMNS))
        else:
            inputs = halves[1][:EPOCH_GRID // 2]
            save_png(directory / "epochs" / f"reconstructions-{epoch:04d}.png",
                     grid(reconstruction_rows(inputs, generative.reconstruct(inputs), GRID_COLUMNS), GRID_COLUMNS))

    cpu, wall = time.process_time(), time.perf_counter()
    fitted = fit(config, Reporter(), spec.family, epoch_hooks=[save_epoch_grid])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    generative, rng = fitted.generative, np.random.default_rng(config.seed + 20)
    count = len(halves[0])
    arrays = {"samples": generative.decode(fitted.latent_sampler(count)),
              "grid_samples": generative.decode(fitted.latent_sampler(SAMPLE_GRID))}
    if generative.encode is not None:
        arrays["reconstruction_inputs"] = halves[1]
        arrays["reconstructions"] = generative.reconstruct(halves[1])
        pairs = halves[1][: 2 * INTERPOLATION_ROWS]
        starts, ends = generative.encode(pairs[0::2]), generative.encode(pairs[1::2])
    else:
        starts = rng.standard_normal((INTERPOLATION_ROWS, generative.latent_dim))
        ends = rng.standard_normal((INTERPOLATION_ROWS, generative.latent_dim))
    arrays["interpolation"] = interpolation_images(generative.decode, starts, ends, INTERPOLATION_STEPS)
    np.savez_compressed(directory / "outputs.npz", **{name: _as_uint8(value) for name, value in arrays.items()})
    generative.model.save_weights(directory / "model.weights.h5")
    record = {"model": spec.name, "family": spec.family, "config": _plain(config), "metrics": fitted.metrics,
              "train_images": len(fitted.data.x_train), "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1),
              "load_average": os.getloadavg()[0], "cpu_count": os.cpu_count()}
    (directory / "model.json").write_text(json.dumps(record, indent=2, sort_keys=True))


def _plain(config: Any) -> dict[str, Any]:
    from trainers.config import as_dict

    return as_dict(config)


def trained_model(spec: ModelSpec, store: Path, tiny: bool,
                  halves: tuple[np.ndarray, np.ndarray]) -> tuple[Path, bool]:
    """The store directory of `spec`'s trained model, and whether it had to be trained now (not in the store)."""
    from trainers.registry import get_task
    from trainers.runner import resolve_config

    config = resolve_config(get_task(spec.family), model_config(spec, tiny))
    directory = store / f"{spec.name}-{store_key(spec.family, _plain(config))}"
    if (directory / "model.json").exists():
        return directory, False
    _write_atomic_dir(directory, lambda temporary: _train(spec, config, temporary, halves))
    return directory, True


def _cached_json(path: Path, compute: Callable[[], Any]) -> Any:
    """`compute()` once; later runs read it back from `path`."""
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=True))
    temporary.replace(path)
    return value


def _load_outputs(directory: Path) -> dict[str, np.ndarray]:
    with np.load(directory / "outputs.npz") as stored:
        return {name: stored[name].astype("float32") / np.float32(255.0) for name in stored.files}


def frechet_rows(dataset: str, halves: tuple[np.ndarray, np.ndarray], models: dict[str, Path],
                 feature_train_images: int, store: Path) -> list[dict[str, Any]]:
    """Rows `dataset, model, compared, count, frechet_distance`: references first, then each model's sets.

    Every set is compared with real half A in one extractor's features: real half B (the real-vs-real scale),
    uniform noise, each model's samples and (autoencoders) its reconstructions of half B.
    """
    count, shape = len(halves[0]), tuple(halves[0].shape[1:])
    extractor_key = f"{dataset}-{shape[0]}px-{feature_train_images}img-{count}"
    scorer_holder: list[Any] = []

    def distance(images: np.ndarray) -> float:
        if not scorer_holder:  # the extractor (and keras) only when something is not cached yet
            from trainers.generative.quality import FrechetScorer, feature_extractor

            extractor = feature_extractor(dataset, shape, feature_train_images)
            scorer_holder.append(FrechetScorer(extractor, halves[0]))
        return round(scorer_holder[0].distance(images), 3)

    noise = np.random.default_rng(1).uniform(0.0, 1.0, size=halves[0].shape).astype("float32")
    references = _cached_json(store / "references" / f"{extractor_key}.json", lambda: {
        "real half B (reference)": distance(halves[1]), "uniform noise (reference)": distance(noise)})
    rows = [{"dataset": dataset, "model": "-", "compared": name, "count": count, "frechet_distance": value}
            for name, value in references.items()]
    for model, directory in models.items():
        def measure(directory: Path = directory) -> dict[str, float]:
            outputs = _load_outputs(directory)
            if len(outputs["samples"]) != count:
                raise ValueError(f"{directory.name} stores {len(outputs['samples'])} samples, not {count}: "
                                 "bump STORE_VERSION when the Fréchet sample counts change")
            measured = {"samples": distance(outputs["samples"])}
            if "reconstructions" in outputs:
                measured["reconstructions of real half B"] = distance(outputs["reconstructions"])
            return measured

        measured = _cached_json(directory / f"frechet-{extractor_key}.json", measure)
        rows += [{"dataset": dataset, "model": model, "compared": name, "count": count, "frechet_distance": value}
                 for name, value in measured.items()]
    return rows


def draw_model(spec: ModelSpec, directory: Path, out_dir: Path) -> list[Path]:
    """The committed PNGs of one model, from its stored arrays: samples, reconstructions, interpolations."""
    from datasets.images import save_png
    from trainers.generative.figures import grid, reconstruction_rows

    outputs = _load_outputs(directory)
    paths = [save_png(out_dir / f"{spec.name}-samples.png", grid(outputs["grid_samples"], GRID_COLUMNS))]
    if "reconstructions" in outputs:
        pairs = reconstruction_rows(outputs["reconstruction_inputs"][:RECONSTRUCTIONS],
                                    outputs["reconstructions"][:RECONSTRUCTIONS], GRID_COLUMNS)
        paths.append(save_png(out_dir / f"{spec.name}-reconstructions.png", grid(pairs, GRID_COLUMNS)))
    paths.append(save_png(out_dir / f"{spec.name}-interpolation.png",
                          grid(outputs["interpolation"], INTERPOLATION_STEPS)))
    return paths


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def model_rows(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model: data, size, epochs and the CPU and wall time its training took when it was trained."""
    rows = []
    for name, record in records.items():
        config = record["config"]
        rows.append({"model": name, "family": record["family"], "dataset": config["dataset"],
                     "train_images": record["train_images"], "epochs": config["epochs"],
                     "batch_size": config["batch_size"], "latent_dim": config["latent_dim"],
                     "layers": config["layers"], "filters": config["filters"],
                     "params": int(record["metrics"]["model/params"]), "train_cpu_seconds": record["cpu_seconds"],
                     "train_wall_seconds": record["wall_seconds"], "load_average_at_end": round(
                         record["load_average"], 2)})
    return rows


def summary_markdown(models: list[dict[str, Any]], frechet: list[dict[str, Any]], figures: list[Path],
                     epoch_dirs: dict[str, Path], command: str, cpu_seconds: float, trained: list[str],
                     tiny: bool) -> str:
    """summary.md: what was run, the models with their training times, the Fréchet table with its references."""
    lines = [f"# Generative models: samples, reconstructions, interpolations{' (tiny run)' if tiny else ''}", "",
             f"Command: `{command}`. This run took {cpu_seconds:.1f} s of CPU time (process time) and trained "
             f"{', '.join(trained) if trained else 'nothing (every model was in the store)'}.", "",
             "## Models", "", "| model | data | train images | epochs | params | training CPU s | training wall s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {row['model']} | {row['dataset']} | {row['train_images']} | {row['epochs']} | {row['params']} | "
              f"{row['train_cpu_seconds']} | {row['train_wall_seconds']} |" for row in models]
    lines += ["", "CPU seconds are `time.process_time()` of the training process (all threads), measured when the "
              "model was trained; wall seconds include every second the process waited for the CPU or was paused, "
              "so they say little on a shared machine (the load average at the end is in models.csv).", "",
              "## Fréchet feature distance", "",
              "Not Inception-FID: features are the 64-unit penultimate layer of the small CNN that "
              "`trainers.generative.quality` trains on each dataset's own labels; numbers compare within one "
              "dataset only. Every set is compared with the same real half A, with the same number of images. "
              "MNIST and Fashion-MNIST halves come from the test split (never trained on); the Olivetti halves "
              "split all 400 faces, so they include faces the models trained on.", "",
              "| dataset | model | compared with real half A | images per set | Fréchet distance |",
              "|---|---|---|---|---|"]
    lines += [f"| {row['dataset']} | {row['model']} | {row['compared']} | {row['count']} | "
              f"{row['frechet_distance']:.2f} |" for row in frechet]
    lines += ["", "## Figures", "", *[f"- {kind}: {text}" for kind, text in FIGURE_LAYOUTS.items()], "",
              *[f"- `{path.name}`" for path in figures], "",
              "Every epoch's grid (32 samples from fixed latents; for the CAE, reconstructions) is kept in the "
              "store directory, beside the model's weights:", "",
              *[f"- {name}: `{path.parent.name}/{path.name}/epochs/`" for name, path in epoch_dirs.items()], ""]
    return "\n".join(lines)


def run_generative(out_dir: Path, store_dir: Path, tiny: bool = False,
                   command: str = "sweeplab results generative") -> list[Path]:
    """Train what the store lacks, then write the figures, frechet.csv, models.csv and summary.md to `out_dir`."""
    cpu = time.process_time()
    out_dir, store = Path(out_dir), Path(store_dir) / NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets_in_order = list(dict.fromkeys(spec.config["dataset"] for spec in MODELS))
    halves = {dataset: held_out_halves(dataset, TINY_FRECHET_SAMPLES if tiny else FRECHET_SAMPLES[dataset])
              for dataset in datasets_in_order}
    directories, trained = {}, []
    for spec in MODELS:
        directories[spec.name], was_trained = trained_model(spec, store, tiny, halves[spec.config["dataset"]])
        trained += [spec.name] if was_trained else []
    feature_images = TINY_FEATURE_TRAIN_IMAGES if tiny else FEATURE_TRAIN_IMAGES
    frechet = []
    for dataset in datasets_in_order:
        models = {spec.name: directories[spec.name] for spec in MODELS if spec.config["dataset"] == dataset}
        frechet += frechet_rows(dataset, halves[dataset], models, feature_images, store)
    figures = [path for spec in MODELS for path in draw_model(spec, directories[spec.name], out_dir)]
    records = {name: json.loads((directory / "model.json").read_text()) for name, directory in directories.items()}
    models_table = model_rows(records)
    tables = [_write_csv(out_dir / "frechet.csv", frechet), _write_csv(out_dir / "models.csv", models_table)]
    summary = out_dir / "summary.md"
    summary.write_text(summary_markdown(models_table, frechet, figures, directories, command,
                                        time.process_time() - cpu, trained, tiny))
    return [*figures, *tables, summary]


FIDELITIES = {"cpu": "the five models at the sizes in MODELS (each <= 15 CPU minutes on a 2-core CPU); Fréchet sets "
                     "of 2,000 images (MNIST, Fashion-MNIST) and 200 (Olivetti)",
              "tiny": "tests only: 1 epoch on a few hundred images, 8 filters, Fréchet sets of 100"}


def run(out_dir: Path, store_dir: Path, fidelity: str = "cpu") -> list[Path]:
    """The findings-registry entry point: `run_generative` at a named fidelity, plus summary.json."""
    if fidelity not in FIDELITIES:
        raise ValueError(f"unknown fidelity {fidelity!r} for {NAME}; choose one of {', '.join(FIDELITIES)}")
    paths = run_generative(out_dir, store_dir, tiny=fidelity == "tiny")
    summary = Path(out_dir) / "summary.json"
    summary.write_text(json.dumps({"finding": NAME, "fidelity": fidelity, "numbers": summarize(out_dir)}, indent=2,
                                  sort_keys=True))
    return [*paths, summary]


def summarize(out_dir: Path) -> dict[str, Any]:
    """The finding's numbers, recomputed from frechet.csv and models.csv: distances per dataset and set compared,
    and each model's training CPU seconds."""
    with (Path(out_dir) / "frechet.csv").open() as handle:
        frechet = list(csv.DictReader(handle))
    with (Path(out_dir) / "models.csv").open() as handle:
        models = list(csv.DictReader(handle))
    distances: dict[str, dict[str, float]] = {}
    for row in frechet:
        label = row["compared"] if row["model"] == "-" else f"{row['model']}: {row['compared']}"
        distances.setdefault(row["dataset"], {})[label] = float(row["frechet_distance"])
    return {"frechet_distance": distances,
            "train_cpu_seconds": {row["model"]: float(row["train_cpu_seconds"]) for row in models}}


FINDING = Finding(
    name=NAME,
    description="CAE on Fashion-MNIST, VAE and DCGAN on MNIST and Olivetti faces: sample grids, reconstructions, "
                "latent interpolations and a Fréchet feature distance beside real-vs-real and noise references",
    fidelities=FIDELITIES,
    cpu_minutes=25.0,  # 20.1 CPU-minutes of training for the five models (results/generative/models.csv)
    run=run,
    summarize=summarize,
)
