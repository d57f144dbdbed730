"""The generative finding's models and their store: what each of the six models is, training it once under a key
of its resolved config (weights, generated arrays, metrics, per-epoch grids), and reading it back."""

from __future__ import annotations

import dataclasses
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

from datasets.atomic import make_folder, write_text
from datasets.images import to_uint8
from datasets.keys import without_added_knobs

STORE_VERSION = 1  # bump when what is stored for a model changes (forces retraining)
FAMILY_VERSIONS = {"gan": 2}  # bump one family's when its code changes (2: minibatch stddev in the discriminator)
# knobs added after models were stored: at these values they train what was trained without them, so they are left
# out of the key (stored models keep their keys); set otherwise, they are part of it
ADDED_KNOBS = {"conditional": False, "self_conditional": 0}
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
    # BN in G, LeakyReLU in D, Adam beta_1 0.5; 5,064 steps, samples from a moving average of G's weights at twice
    # DCGAN's rates, G and D conditioned on 50 k-means clusters of the training pixels (self-conditioned: no labels;
    # samples' clusters drawn by their shares). Won benchmarks/generative_mnist.py: 89.8% recognised in 842 CPU s,
    # against 68.9% for the same GAN unconditioned at 8 epochs
    ModelSpec("gan-mnist", "gan", "Self-conditioned DCGAN, MNIST",
              {"dataset": "mnist", "subset": 0, "latent_dim": 100, "layers": 2, "filters": 32, "epochs": 6,
               "batch_size": 64, "generator_learning_rate": 4e-4, "discriminator_learning_rate": 4e-4,
               "beta_1": 0.5, "label_smoothing": 0.1, "discriminator_dropout": 0.0, "generator_ema": 0.999,
               "self_conditional": 50},
              {**_TINY, "self_conditional": 5}),
    # the same DCGAN, class-conditional (a one-hot digit after G's noise, projected into one more channel of D's
    # input): asked for each digit in turn, 96.4% of its samples are recognised (benchmarks/generative_mnist.py). It
    # is given the digit, the unconditional models are not, so it is a row of its own, not the VAE's comparison
    ModelSpec("gan-mnist-conditional", "gan", "Class-conditional DCGAN, MNIST",
              {"dataset": "mnist", "subset": 0, "latent_dim": 100, "layers": 2, "filters": 32, "epochs": 8,
               "batch_size": 64, "generator_learning_rate": 4e-4, "discriminator_learning_rate": 4e-4,
               "beta_1": 0.5, "label_smoothing": 0.1, "discriminator_dropout": 0.0, "generator_ema": 0.999,
               "conditional": True}, _TINY),
    ModelSpec("vae-faces", "vae", "Variational autoencoder, Olivetti faces",
              {"dataset": "olivetti", "latent_dim": 32, "beta": 1.0, "layers": 4, "filters": 16, "epochs": 100,
               "batch_size": 32, "learning_rate": 1e-3, "reconstruction_loss": "binary_crossentropy"},
              {"epochs": 1, "filters": 8, "layers": 3}),
    # 324 training faces: 11 steps an epoch; two-timescale rates (G 1e-4, D 4e-4) and dropout 0.3 in D (beside the
    # minibatch-stddev channel every GAN's D has) won benchmarks/generative_faces.py
    ModelSpec("gan-faces", "gan", "DCGAN, Olivetti faces",
              {"dataset": "olivetti", "latent_dim": 100, "layers": 4, "filters": 16, "epochs": 150, "batch_size": 32,
               "generator_learning_rate": 1e-4, "discriminator_learning_rate": 4e-4, "beta_1": 0.5,
               "label_smoothing": 0.1, "discriminator_dropout": 0.3}, {"epochs": 1, "filters": 8}),
)

def model_config(spec: ModelSpec, tiny: bool) -> dict[str, Any]:
    """The overrides that train `spec`: its config, with the tiny values on top for the test-sized run."""
    overrides = {**spec.config, **(spec.tiny if tiny else {})}
    return {**overrides, "frechet_samples": 0, "grid_images": EPOCH_GRID}  # Fréchet is measured after training


def store_key(family: str, resolved: dict[str, Any]) -> str:
    """12 hex digits naming a trained model by its family, resolved config and what the store holds."""
    identity = {"family": family, "config": without_added_knobs(resolved, ADDED_KNOBS), "version": STORE_VERSION}
    if family in FAMILY_VERSIONS:  # families never bumped keep their earlier keys
        identity["family_version"] = FAMILY_VERSIONS[family]
    text = json.dumps(identity, sort_keys=True)
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
    return held_out_sets(dataset, count, seed)[0]


def uniform_noise(like: np.ndarray) -> np.ndarray:
    """The noise reference: uniform [0, 1] images shaped like `like`, the same for every measure (seeded)."""
    return np.random.default_rng(1).uniform(0.0, 1.0, size=like.shape).astype("float32")


def held_out_sets(dataset: str, count: int, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray],
                                                                    tuple[np.ndarray, np.ndarray]]:
    """`held_out_halves(dataset, count, seed)` and the two halves' labels in the same order, from one load."""
    import datasets

    data = datasets.load(dataset)
    images, labels = data.x_test, data.y_test
    if len(images) < 2 * count:
        images, labels = np.concatenate([data.x_train, data.x_test]), np.concatenate([data.y_train, data.y_test])
    if len(images) < 2 * count:
        raise ValueError(f"{dataset} has {len(images)} images, fewer than two halves of {count}")
    order = np.random.default_rng(seed).permutation(len(images))
    first, second = order[:count], order[count:2 * count]
    scale = np.float32(1 / 255)
    labels = np.asarray(labels)
    return ((images[first].astype("float32") * scale, images[second].astype("float32") * scale),
            (labels[first], labels[second]))


def _train(spec: ModelSpec, config: Any, directory: Path, halves: tuple[np.ndarray, np.ndarray]) -> None:
    """Fit the model and keep what the figures and the Fréchet rows need (uint8 arrays), its weights and times."""
    from datasets.images import save_png
    from trainers.generative.families import Generative, fit, save
    from trainers.generative.figures import grid, interpolation_images, reconstruction_rows
    from trainers.reporter import Reporter

    def save_epoch_grid(generative: Generative, epoch: int) -> None:
        if generative.has_prior:  # the same latents every epoch
            epoch_latents = generative.draw_latents(np.random.default_rng(config.seed + 10), EPOCH_GRID)
            save_png(directory / "epochs" / f"samples-{epoch:04d}.png",
                     grid(generative.decode(epoch_latents), GRID_COLUMNS))
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
        starts = generative.draw_latents(rng, INTERPOLATION_ROWS)  # a conditional model: same class on each row
        ends = generative.draw_latents(rng, INTERPOLATION_ROWS)
    arrays["interpolation"] = interpolation_images(generative.decode, starts, ends, INTERPOLATION_STEPS)
    np.savez_compressed(directory / "outputs.npz", **{name: to_uint8(value) for name, value in arrays.items()})
    save(generative, directory)
    record = {"model": spec.name, "family": spec.family, "config": _plain(config), "metrics": fitted.metrics,
              "train_images": len(fitted.data.x_train), "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1),
              "load_average": os.getloadavg()[0], "cpu_count": os.cpu_count()}
    write_text(directory / "model.json", json.dumps(record, indent=2, sort_keys=True))


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


def cached_json(path: Path, compute: Callable[[], Any]) -> Any:
    """`compute()` once; later runs read it back from `path`."""
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    make_folder(path.parent)
    write_text(path, json.dumps(value, indent=2, sort_keys=True))  # whole or not at all (a temporary renamed over it)
    return value


def load_outputs(directory: Path) -> dict[str, np.ndarray]:
    with np.load(directory / "outputs.npz") as stored:
        return {name: stored[name].astype("float32") / np.float32(255.0) for name in stored.files}


@dataclass(frozen=True)
class Candidate:
    """One of the finding's models with some config values changed, as trained into the store and read back."""

    spec: ModelSpec
    directory: Path
    trained_now: bool
    outputs: dict[str, np.ndarray]  # `load_outputs`
    record: dict[str, Any]  # model.json: config, metrics, training CPU and wall seconds, load average


def trained_candidate(model: str, overrides: dict[str, Any], store: Path,
                      halves: tuple[np.ndarray, np.ndarray]) -> Candidate:
    """The finding's model named `model` with `overrides` on its config, trained into the finding's own store
    (unless it is there) so that a candidate made the default is not trained again (benchmarks/generative_*.py)."""
    base = next(spec for spec in MODELS if spec.name == model)
    spec = dataclasses.replace(base, config={**base.config, **overrides})
    directory, trained = trained_model(spec, store, False, halves)
    return Candidate(spec, directory, trained, load_outputs(directory),
                     json.loads((directory / "model.json").read_text()))
