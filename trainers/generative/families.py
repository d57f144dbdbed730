"""Model families (cae, vae, gan) and the one training function they share.

A family builds a compiled model plus the encode/decode functions the grids and metrics need; `train`
does everything else the same way for all of them (data, fixed latents, callbacks, final metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from trainers.config import ConfigError
from trainers.fit import standard_callbacks
from trainers.generative import models
from trainers.generative.callbacks import (
    FinalGridsCallback,
    ImageGridCallback,
    MetricsCallback,
    interpolation_grid,
    side_by_side,
)
from trainers.generative.clusters import pixel_clusters
from trainers.generative.data import ImageSplits, load_image_splits
from trainers.generative.quality import FrechetScorer, feature_extractor
from trainers.reporter import Reporter

Images = Callable[[np.ndarray], np.ndarray]


@dataclass
class Generative:
    """What `train` needs from a family: the model `fit` trains and how to move between images and latents."""

    model: keras.Model
    latent_dim: int
    decode: Images  # latents -> images in [0, 1]
    encode: Images | None = None  # images -> latents (autoencoders only)
    has_prior: bool = False  # latents ~ N(0, I) decode to samples (VAE, GAN)
    fit_target: bool = False  # fit(x, x) rather than fit(x)
    validate: bool = True  # pass validation images to fit (Keras' own val_* losses)
    classes: int = 0  # > 0: class-conditional; each latent ends in a one-hot class of this many (in latent_dim)
    class_shares: np.ndarray | None = None  # drawn classes follow these shares (a self-conditioned GAN's clusters)

    @property
    def noise_dim(self) -> int:
        """The latent's random part (all of it unless conditional)."""
        return self.latent_dim - self.classes

    def draw_latents(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """`count` prior latents N(0, I); when conditional, each with the one-hot class `asked_classes` names, or
        one drawn by `class_shares` when the model has them."""
        noise = rng.standard_normal((count, self.noise_dim)).astype("float32")
        if not self.classes:
            return noise
        classes = (asked_classes(count, self.classes) if self.class_shares is None
                   else rng.choice(self.classes, size=count, p=self.class_shares))
        return np.concatenate([noise, np.eye(self.classes, dtype="float32")[classes]], axis=1)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(images))


def asked_classes(count: int, classes: int) -> np.ndarray:
    """The classes a conditional model's `count` samples are asked for: 0, 1, ..., classes - 1, 0, 1, ... (every
    class equally often; a grid's columns show one class each when it is `classes` wide)."""
    return np.arange(count) % classes


def _predict(model: keras.Model, index: int | None = None) -> Images:
    def run(inputs: np.ndarray) -> np.ndarray:
        outputs = model.predict(np.asarray(inputs, dtype="float32"), batch_size=256, verbose=0)
        return np.asarray(outputs if index is None else outputs[index])

    return run


def build_cae(config: Any, image_shape: tuple[int, ...], classes: int = 0) -> Generative:
    """`classes` (the data's class count) only matters to a conditional GAN."""
    encoder = models.build_encoder(image_shape, config.latent_dim, config.layers, config.filters, config.kernel_size,
                                   config.activation)
    decoder = models.build_decoder(image_shape, config.latent_dim, config.layers, config.filters, config.kernel_size,
                                   config.activation)
    autoencoder = models.build_autoencoder(encoder, decoder)
    autoencoder.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=config.reconstruction_loss)
    return Generative(autoencoder, config.latent_dim, _predict(decoder), _predict(encoder), fit_target=True)


def build_vae(config: Any, image_shape: tuple[int, ...], classes: int = 0) -> Generative:
    encoder = models.build_encoder(image_shape, config.latent_dim, config.layers, config.filters, config.kernel_size,
                                   config.activation, variational=True)
    decoder = models.build_decoder(image_shape, config.latent_dim, config.layers, config.filters, config.kernel_size,
                                   config.activation)
    vae = models.VAE(encoder, decoder, beta=config.beta, reconstruction_loss=config.reconstruction_loss,
                     seed=config.seed)
    vae.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return Generative(vae, config.latent_dim, _predict(decoder), _predict(encoder, index=0), has_prior=True)


def build_gan(config: Any, image_shape: tuple[int, ...], classes: int = 0) -> Generative:
    """A DCGAN; with `config.conditional`, conditioned on the data's `classes` (a one-hot after the noise); with
    `config.self_conditional`, on that many pixel clusters instead (no labels; `fit` sets their shares)."""
    conditioning = classes if getattr(config, "conditional", False) else 0
    if getattr(config, "conditional", False) and classes < 2:
        raise ConfigError(f"conditional: the dataset has {classes} class(es); a conditional GAN needs two or more")
    if getattr(config, "self_conditional", 0):
        conditioning = config.self_conditional
    latent_dim = config.latent_dim + conditioning
    generator = models.build_decoder(image_shape, latent_dim, config.layers, config.filters,
                                     config.kernel_size, "relu", batch_norm=True, name="generator")
    discriminator = models.build_discriminator(image_shape, config.layers, config.filters, config.kernel_size,
                                               config.discriminator_dropout, classes=conditioning)
    gan = models.GAN(generator, discriminator, label_smoothing=config.label_smoothing, seed=config.seed,
                     ema_decay=config.generator_ema, classes=conditioning)
    gan.compile(generator_learning_rate=config.generator_learning_rate,
                discriminator_learning_rate=config.discriminator_learning_rate, beta_1=config.beta_1)
    return Generative(gan, latent_dim, _predict(gan.sampling_generator), has_prior=True, validate=False,
                      classes=conditioning)


FAMILIES: dict[str, Callable[..., Generative]] = {"cae": build_cae, "vae": build_vae, "gan": build_gan}


def _latent_sampler(generative: Generative, data: ImageSplits, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    """N(0, I) for models with a prior; for the CAE, a Gaussian fitted per dimension to validation encodings."""
    if generative.has_prior:
        return lambda count: generative.draw_latents(rng, count)
    codes = generative.encode(data.x_val)
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    return lambda count: (mean + std * rng.standard_normal((count, generative.latent_dim))).astype("float32")


@dataclass
class Fitted:
    """A trained family with the data it saw and its final metrics (for callers that draw from the model)."""

    generative: Generative
    data: ImageSplits
    metrics: dict[str, float]
    latent_sampler: Callable[[int], np.ndarray]  # prior samples (or the CAE's fitted Gaussian), seeded


EpochHook = Callable[[Generative, int], None]  # (model, epochs done) after each epoch, e.g. to save a grid


class _EpochHooks(keras.callbacks.Callback):
    def __init__(self, generative: Generative, hooks: Sequence[EpochHook]) -> None:
        super().__init__()
        self.generative, self.hooks = generative, hooks

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for hook in self.hooks:
            hook(self.generative, epoch + 1)


def config_splits(config: Any) -> ImageSplits:
    """The image splits a config trains on (its dataset, filter, size, subsets and seeded validation split)."""
    return load_image_splits(config.dataset, config.class_filter, config.image_size, config.subset,
                             config.validation_fraction, config.test_subset, config.seed)


def conditions(config: Any, data: ImageSplits) -> tuple[np.ndarray, np.ndarray | None]:
    """What a conditional model is told for each training image, and the shares its samples' classes are drawn
    by: the labels (None: every class in turn), or a self-conditioned GAN's pixel clusters and their shares."""
    clusters = getattr(config, "self_conditional", 0)
    if not clusters:
        return data.y_train, None
    if clusters > len(data.x_train):
        raise ConfigError(f"self_conditional: {clusters} clusters need as many training images; "
                          f"this split has {len(data.x_train)}")
    return pixel_clusters(data.x_train, clusters, config.seed)


def save(generative: Generative, directory: Path) -> None:
    """The trained weights, and a self-conditioned GAN's cluster shares (its samples are drawn by them)."""
    generative.model.save_weights(Path(directory) / "model.weights.h5")
    if generative.class_shares is not None:
        np.save(Path(directory) / "class_shares.npy", generative.class_shares)


def fit(config: Any, reporter: Reporter, family: str, epoch_hooks: Sequence[EpochHook] = ()) -> Fitted:
    """Fit one family; grids every epoch, quality metrics every epoch, interpolations at the end."""
    data = config_splits(config)
    scorer = None
    if config.frechet_samples > 0:  # the feature net is trained (once per dataset) before seeding the model
        extractor = feature_extractor(config.dataset, data.image_shape, config.feature_train_images)
        scorer = FrechetScorer(extractor, data.x_train[: config.frechet_samples])
    told, shares = conditions(config, data)
    keras.utils.set_random_seed(config.seed)
    generative = FAMILIES[family](config, data.image_shape, data.classes)
    generative.class_shares = shares
    rng = np.random.default_rng(config.seed)
    fixed_latents = generative.draw_latents(rng, config.grid_images)
    scoring_latents = generative.draw_latents(rng, len(data.x_train[: config.frechet_samples]))
    fixed_images = data.x_val[: config.grid_images]
    measures: dict[str, Callable[[], float]] = {}
    callbacks: list[keras.callbacks.Callback] = []
    if generative.has_prior:
        callbacks.append(ImageGridCallback(reporter, "samples", lambda: generative.decode(fixed_latents)))
        if scorer is not None:
            measures["frechet_distance"] = lambda: scorer.distance(generative.decode(scoring_latents))
    if generative.encode is not None:
        callbacks.append(ImageGridCallback(reporter, "reconstructions", lambda: side_by_side(
            fixed_images, generative.reconstruct(fixed_images))))
        measures["reconstruction_mse"] = lambda: float(np.mean((generative.reconstruct(data.x_val) - data.x_val) ** 2))
        if scorer is not None and not generative.has_prior:
            measures["reconstruction_frechet_distance"] = lambda: scorer.distance(generative.reconstruct(data.x_val))
    quality = MetricsCallback(measures)

    def latent_interpolation() -> np.ndarray:
        sample = _latent_sampler(generative, data, np.random.default_rng(config.seed + 1))
        return interpolation_grid(generative.decode, sample(4), sample(4))

    final_grids = {"interpolation/latent": latent_interpolation}
    if generative.encode is not None:
        pairs = data.x_val[: 8] if len(data.x_val) >= 8 else data.x_train[:8]
        final_grids["interpolation/encodings"] = lambda: interpolation_grid(
            generative.decode, generative.encode(pairs[0::2]), generative.encode(pairs[1::2]))
    callbacks += [quality, _EpochHooks(generative, epoch_hooks), FinalGridsCallback(reporter, final_grids),
                  *standard_callbacks(reporter)]
    fit_data = (data.x_train, data.x_train) if generative.fit_target else (data.x_train,)
    if generative.classes:  # one input list: [images, one-hot classes]
        fit_data = ([data.x_train, np.eye(generative.classes, dtype="float32")[told]],)
    validation = None
    if generative.validate:
        validation = (data.x_val, data.x_val) if generative.fit_target else (data.x_val,)
    history = generative.model.fit(*fit_data, validation_data=validation, epochs=config.epochs,
                                   batch_size=config.batch_size, shuffle=True, verbose=0, callbacks=callbacks)
    metrics = {f"val/{name}": value for name, value in quality.last.items()}
    for key, values in history.history.items():
        if key.startswith("val_") and key[4:] not in quality.last:
            metrics[f"val/{key[4:]}"] = float(values[-1])
        elif not key.startswith("val_"):
            metrics[f"train/{key}"] = float(values[-1])
    if generative.encode is not None and len(data.x_test):
        metrics["test/reconstruction_mse"] = float(np.mean((generative.reconstruct(data.x_test) - data.x_test) ** 2))
    metrics.update({"train/epochs": float(len(next(iter(history.history.values()), []))),
                    "model/params": float(sum(layer.count_params() for layer in generative.model.layers))})
    return Fitted(generative, data, metrics, _latent_sampler(generative, data, np.random.default_rng(config.seed + 2)))


def train(config: Any, reporter: Reporter, run_dir: Path | None, family: str) -> dict[str, float]:
    """The task entry point: `fit`, then save the weights into the run directory when asked."""
    fitted = fit(config, reporter, family)
    if run_dir is not None and config.save_model:
        save(fitted.generative, run_dir)
    return fitted.metrics

