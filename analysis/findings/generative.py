"""Finding (issue 12): images the generative models draw, and a Fréchet feature distance with a scale.

Five models (CAE on Fashion-MNIST, VAE and DCGAN on MNIST and on the Olivetti faces) are trained once each;
their generated arrays, weights, metrics and per-epoch sample grids are kept in the store under a key of their
resolved config, so a rerun only redraws. The out dir gets upscaled PNG grids (samples, reconstructions with
inputs above outputs, latent interpolations), `frechet.csv`, `recognisability.csv` (see
`generative_recognisability`), `models.csv` and `summary.md`.

The Fréchet distance is NOT Inception-FID: features are the 64-unit layer of the small CNN that
`trainers.generative.quality` trains on each dataset's labels. Each dataset's numbers come with two references
from the same extractor and the same sample count: real vs real (two disjoint halves) and uniform noise vs real.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from analysis.findings import Finding
from analysis.findings import generative_recognisability as recognisability
from analysis.findings.generative_store import (
    GRID_COLUMNS,
    INTERPOLATION_STEPS,
    MODELS,
    RECONSTRUCTIONS,
    SAMPLE_GRID,
    ModelSpec,
    cached_json,
    held_out_sets,
    load_outputs,
    trained_model,
    uniform_noise,
)
from datasets.atomic import atomic_write, make_folder, write_text

NAME = "generative"


FIGURE_LAYOUTS = {
    "`*-samples.png`": f"{SAMPLE_GRID} samples, 8 a row: decoded N(0, I) draws (VAE, GAN; the conditional GAN's each "
                       "with a digit asked in turn, 0 to 9); for the CAE, which has no prior, decoded draws from a "
                       "Gaussian fitted per dimension to its validation codes",
    "`*-reconstructions.png`": "held-out real images (rows 1 and 3) directly above their reconstructions "
                               "(rows 2 and 4)",
    "`*-interpolation.png`": f"each row decodes {INTERPOLATION_STEPS} evenly spaced points on the straight line "
                             "between two latent codes: for the CAE and VAEs the codes of two held-out real images "
                             "(first and last column are their reconstructions), for the GANs two N(0, I) draws (the "
                             "conditional GAN's with the same digit asked, row i digit i)",
}
FRECHET_SAMPLES = {"mnist": 2000, "fashion_mnist": 2000, "olivetti": 200}  # per set: samples, real half, noise
TINY_FRECHET_SAMPLES = 100
FEATURE_TRAIN_IMAGES, TINY_FEATURE_TRAIN_IMAGES = 6000, 500
RECOGNITION_TRAIN_IMAGES = 60000  # every training image (MNIST and Fashion-MNIST have 60,000); tiny: as the features


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

    references = cached_json(store / "references" / f"{extractor_key}.json", lambda: {
        "real half B (reference)": distance(halves[1]),
        "uniform noise (reference)": distance(uniform_noise(halves[0]))})
    rows = [{"dataset": dataset, "model": "-", "compared": name, "count": count, "frechet_distance": value}
            for name, value in references.items()]
    for model, directory in models.items():
        def measure(directory: Path = directory) -> dict[str, float]:
            outputs = load_outputs(directory)
            if len(outputs["samples"]) != count:
                raise ValueError(f"{directory.name} stores {len(outputs['samples'])} samples, not {count}: "
                                 "bump STORE_VERSION when the Fréchet sample counts change")
            measured = {"samples": distance(outputs["samples"])}
            if "reconstructions" in outputs:
                measured["reconstructions of real half B"] = distance(outputs["reconstructions"])
            return measured

        measured = cached_json(directory / f"frechet-{extractor_key}.json", measure)
        rows += [{"dataset": dataset, "model": model, "compared": name, "count": count, "frechet_distance": value}
                 for name, value in measured.items()]
    return rows


def draw_model(spec: ModelSpec, directory: Path, out_dir: Path) -> list[Path]:
    """The committed PNGs of one model, from its stored arrays: samples, reconstructions, interpolations."""
    from datasets.images import save_png
    from trainers.generative.figures import grid, reconstruction_rows

    outputs = load_outputs(directory)
    paths = [save_png(out_dir / f"{spec.name}-samples.png", grid(outputs["grid_samples"], GRID_COLUMNS))]
    if "reconstructions" in outputs:
        pairs = reconstruction_rows(outputs["reconstruction_inputs"][:RECONSTRUCTIONS],
                                    outputs["reconstructions"][:RECONSTRUCTIONS], GRID_COLUMNS)
        paths.append(save_png(out_dir / f"{spec.name}-reconstructions.png", grid(pairs, GRID_COLUMNS)))
    paths.append(save_png(out_dir / f"{spec.name}-interpolation.png",
                          grid(outputs["interpolation"], INTERPOLATION_STEPS)))
    return paths


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    def write(temporary: str) -> None:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    return atomic_write(path, write)


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


def summary_markdown(models: list[dict[str, Any]], frechet: list[dict[str, Any]], recognisable: list[dict[str, Any]],
                     figures: list[Path], epoch_dirs: dict[str, Path], command: str, cpu_seconds: float,
                     trained: list[str], tiny: bool) -> str:
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
    lines += ["", *recognisability.markdown_lines(recognisable), "## Figures", "",
              *[f"- {kind}: {text}" for kind, text in FIGURE_LAYOUTS.items()], "",
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
    make_folder(out_dir)
    datasets_in_order = list(dict.fromkeys(spec.config["dataset"] for spec in MODELS))
    held_out = {dataset: held_out_sets(dataset, TINY_FRECHET_SAMPLES if tiny else FRECHET_SAMPLES[dataset])
                for dataset in datasets_in_order}
    halves = {dataset: images for dataset, (images, _) in held_out.items()}
    directories, trained = {}, []
    for spec in MODELS:
        directories[spec.name], was_trained = trained_model(spec, store, tiny, halves[spec.config["dataset"]])
        trained += [spec.name] if was_trained else []
    feature_images = TINY_FEATURE_TRAIN_IMAGES if tiny else FEATURE_TRAIN_IMAGES
    frechet, recognisable = [], []
    for dataset in datasets_in_order:
        models = {spec.name: directories[spec.name] for spec in MODELS if spec.config["dataset"] == dataset}
        frechet += frechet_rows(dataset, halves[dataset], models, feature_images, store)
        recognisable += recognisability.recognisability_rows(
            dataset, halves[dataset], held_out[dataset][1][1], models, feature_images,
            TINY_FEATURE_TRAIN_IMAGES if tiny else RECOGNITION_TRAIN_IMAGES, store)
    figures = [path for spec in MODELS for path in draw_model(spec, directories[spec.name], out_dir)]
    records = {name: json.loads((directory / "model.json").read_text()) for name, directory in directories.items()}
    models_table = model_rows(records)
    tables = [_write_csv(out_dir / "frechet.csv", frechet), _write_csv(out_dir / "models.csv", models_table),
              _write_csv(out_dir / "recognisability.csv", recognisable)]
    summary = out_dir / "summary.md"
    write_text(summary, summary_markdown(models_table, frechet, recognisable, figures, directories, command,
                                        time.process_time() - cpu, trained, tiny))
    return [*figures, *tables, summary]


FIDELITIES = {"cpu": "the six models at the sizes in MODELS (each <= 15 CPU minutes on a 2-core CPU); Fréchet sets "
                     "of 2,000 images (MNIST, Fashion-MNIST) and 200 (Olivetti)",
              "tiny": "tests only: 1 epoch on a few hundred images, 8 filters, Fréchet sets of 100"}


def run(out_dir: Path, store_dir: Path, fidelity: str = "cpu", workers: int = 1) -> list[Path]:
    """The findings-registry entry point: `run_generative` at a named fidelity, plus summary.json (its six models
    train one after another: `workers` is not used)."""
    if fidelity not in FIDELITIES:
        raise ValueError(f"unknown fidelity {fidelity!r} for {NAME}; choose one of {', '.join(FIDELITIES)}")
    paths = run_generative(out_dir, store_dir, tiny=fidelity == "tiny")
    summary = Path(out_dir) / "summary.json"
    write_text(summary, json.dumps({"finding": NAME, "fidelity": fidelity, "numbers": summarize(out_dir)}, indent=2,
                                  sort_keys=True))
    return [*paths, summary]


def summarize(out_dir: Path) -> dict[str, Any]:
    """The finding's numbers, recomputed from frechet.csv, recognisability.csv and models.csv: distances per dataset
    and set compared, each set's recognised share, class spread and diversity, and each model's training CPU
    seconds."""
    with (Path(out_dir) / "frechet.csv").open() as handle:
        frechet = list(csv.DictReader(handle))
    with (Path(out_dir) / "models.csv").open() as handle:
        models = list(csv.DictReader(handle))
    distances: dict[str, dict[str, float]] = {}
    for row in frechet:
        distances.setdefault(row["dataset"], {})[_set_label(row)] = float(row["frechet_distance"])
    with (Path(out_dir) / "recognisability.csv").open() as handle:
        recognisable: dict[str, dict[str, dict[str, Any]]] = {}
        for row in csv.DictReader(handle):
            recognisable.setdefault(row["dataset"], {})[_set_label(row)] = {
                name: _number(row[name]) for name in ("recognised_share", "classes_present", "class_entropy",
                                                      "label_accuracy", "diversity") if row[name] != ""} | (
                {"class_counts": [int(count) for count in row["class_counts"].split()]} if row["class_counts"] else {})
    return {"frechet_distance": distances, "recognisability": recognisable,
            "train_cpu_seconds": {row["model"]: float(row["train_cpu_seconds"]) for row in models}}


def _set_label(row: dict[str, str]) -> str:
    """A CSV row's set: a reference's name, or `model: set`."""
    return row["compared"] if row["model"] == "-" else f"{row['model']}: {row['compared']}"


def _number(text: str) -> float | int:
    return int(text) if text.isdigit() else float(text)


FINDING = Finding(
    name=NAME,
    description="CAE on Fashion-MNIST, VAE and DCGAN on MNIST (and a class-conditional DCGAN) and Olivetti faces: "
                "sample grids, reconstructions, "
                "latent interpolations, a Fréchet feature distance and recognisability (share of samples a real-data "
                "classifier labels with confidence >= 0.9, classes present) beside real and noise references",
    fidelities=FIDELITIES,
    cpu_minutes=35.0,  # 31.9 CPU-minutes of training for the six models (results/generative/models.csv)
    run=run,
    summarize=summarize,
)
