"""Generative models (CAE, VAE, DCGAN) on MNIST, Fashion-MNIST, Olivetti faces, one CIFAR-10 class, clocks.

One task per model family; each trains through `trainers.generative.families.train`, logs sample and
reconstruction grids every epoch and reports a Fréchet distance in a small project-trained CNN's feature
space (not Inception-FID; see `trainers.generative.quality`) plus the reconstruction error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trainers.choices import Activation
from trainers.config import ConfigError
from trainers.registry import Task, lazy, register_task


@dataclass
class GenerativeConfig:
    """Knobs every generative family shares."""

    # data
    dataset: str = "mnist"  # any registered image dataset: mnist, fashion_mnist, olivetti, cifar10, ...
    class_filter: str = ""  # keep one class by name (e.g. `horse` for CIFAR-10, `7` for MNIST); "" keeps all
    image_size: int = 0  # square side images are resized to (0 = as stored), e.g. 64 for 150x150 clocks
    subset: int = 0  # training images kept (0 = all); validation shrinks in proportion
    test_subset: int = 0  # test images for the final reconstruction error (0 = all)
    validation_fraction: float = 0.1
    seed: int = 0  # weights, split, shuffling, fixed latents
    # architecture
    latent_dim: int = 16
    layers: int = 2  # down/upsampling stages, each halving/doubling the side
    filters: int = 32  # filters of the first stage, doubled per stage
    kernel_size: int = 3
    # optimisation
    batch_size: int = 64
    epochs: int = 5
    # logging and quality
    grid_images: int = 16  # images in each per-epoch grid
    frechet_samples: int = 500  # samples scored per epoch against as many training images (0 = no Fréchet)
    feature_train_images: int = 6000  # images the cached feature classifier is trained on
    save_model: bool = False  # write model.weights.h5 into the run directory

    def validate(self) -> None:
        checks = {
            "validation_fraction": 0 < self.validation_fraction < 1, "latent_dim": self.latent_dim >= 1,
            "layers": 1 <= self.layers <= 6, "filters": self.filters >= 1, "kernel_size": self.kernel_size >= 1,
            "batch_size": self.batch_size >= 1, "epochs": self.epochs >= 1, "grid_images": self.grid_images >= 1,
            "frechet_samples": self.frechet_samples == 0 or self.frechet_samples >= 2,
            "image_size": self.image_size >= 0, "subset": self.subset >= 0, "test_subset": self.test_subset >= 0,
            **self.extra_checks(),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"{bad[0]}: value {getattr(self, bad[0])!r} is out of range")

    def extra_checks(self) -> dict[str, bool]:
        return {}


@dataclass
class AutoencoderConfig(GenerativeConfig):
    """Convolutional autoencoder."""

    latent_dim: int = 32
    activation: Activation = "relu"
    learning_rate: float = 1e-3  # Adam
    reconstruction_loss: Literal["binary_crossentropy", "mse"] = "binary_crossentropy"

    def extra_checks(self) -> dict[str, bool]:
        return {"learning_rate": self.learning_rate > 0}


@dataclass
class VAEConfig(AutoencoderConfig):
    """Variational autoencoder: reconstruction (summed over pixels) + beta * KL."""

    latent_dim: int = 16
    beta: float = 1.0

    def extra_checks(self) -> dict[str, bool]:
        return {"learning_rate": self.learning_rate > 0, "beta": self.beta >= 0}


@dataclass
class GANConfig(GenerativeConfig):
    """DCGAN with separate Adam learning rates and one-sided label smoothing."""

    latent_dim: int = 64
    kernel_size: int = 4
    generator_learning_rate: float = 2e-4
    discriminator_learning_rate: float = 2e-4
    beta_1: float = 0.5  # Adam's first-moment decay for both players (DCGAN)
    label_smoothing: float = 0.1  # real labels become 1 - label_smoothing
    discriminator_dropout: float = 0.2
    generator_ema: float = 0.0  # > 0: samples come from a moving average of G's weights with this decay
    conditional: bool = False  # class-conditional G and D (samples asked for each class in turn)
    self_conditional: int = 0  # > 0: G and D conditioned on this many k-means clusters of the training images'
    # pixels instead (no labels; Liu et al. 2020), samples' clusters drawn by their shares

    def extra_checks(self) -> dict[str, bool]:
        return {"generator_learning_rate": self.generator_learning_rate > 0,
                "discriminator_learning_rate": self.discriminator_learning_rate > 0,
                "label_smoothing": 0 <= self.label_smoothing < 1,
                "discriminator_dropout": 0 <= self.discriminator_dropout < 1, "beta_1": 0 <= self.beta_1 < 1,
                "generator_ema": 0 <= self.generator_ema < 1,
                "self_conditional": self.self_conditional == 0 or (self.self_conditional >= 2 and not self.conditional)}


_SMOKE = {"dataset": "mnist", "subset": 256, "test_subset": 64, "epochs": 1, "batch_size": 64, "filters": 8,
          "frechet_samples": 128, "feature_train_images": 500, "grid_images": 8}

_FAMILIES = (  # name, config, objective (minimised), description, the other metrics' directions
    ("cae", AutoencoderConfig, "val/reconstruction_mse",
     "convolutional autoencoder; reconstruction grids every epoch, interpolations at the end",
     {"val/loss": "minimize", "val/reconstruction_frechet_distance": "minimize"}),
    ("vae", VAEConfig, "val/frechet_distance",
     "variational autoencoder (latent size, beta, depth, filters); samples + reconstructions per epoch",
     {"val/reconstruction_mse": "minimize", "val/loss": "minimize"}),
    ("gan", GANConfig, "val/frechet_distance",
     "DCGAN (latent size, depth, separate G/D learning rates, label smoothing); samples per epoch", {}),
)
for _name, _config, _objective, _description, _directions in _FAMILIES:
    register_task(Task(name=_name, config_type=_config, train=lazy("trainers.generative.families:train", family=_name),
                       objective=_objective, direction="minimize", description=_description, directions=_directions,
                       smoke=_SMOKE))
