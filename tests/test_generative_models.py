"""Builders of the generative models: shapes, latents, the VAE loss, the GAN on every backend, strict configs."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from trainers.config import ConfigError
from trainers.generative import models
from trainers.registry import get_task
from trainers.runner import resolve_config


@pytest.mark.parametrize(("image_shape", "stages"), [((28, 28, 1), 1), ((28, 28, 1), 2), ((28, 28, 1), 3),
                                                      ((64, 64, 1), 4), ((32, 32, 3), 3)])
def test_encoder_and_decoder_map_images_to_latents_and_back(image_shape, stages):
    latent_dim = 5
    encoder = models.build_encoder(image_shape, latent_dim, stages, filters=4)
    decoder = models.build_decoder(image_shape, latent_dim, stages, filters=4)
    images = np.random.default_rng(0).uniform(size=(3, *image_shape)).astype("float32")
    codes = encoder.predict(images, verbose=0)
    assert codes.shape == (3, latent_dim)
    decoded = decoder.predict(codes, verbose=0)
    assert decoded.shape == (3, *image_shape)
    assert decoded.min() >= 0.0 and decoded.max() <= 1.0  # sigmoid output, like the [0, 1] inputs
    strided = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(strided) == stages and all(layer.strides == (2, 2) for layer in strided)


def test_variational_encoder_returns_mean_and_log_variance_of_the_latent_size():
    encoder = models.build_encoder((28, 28, 1), 7, 2, filters=4, variational=True)
    z_mean, z_log_var = encoder.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0)
    assert z_mean.shape == z_log_var.shape == (2, 7)


def test_discriminator_gives_one_logit_per_image():
    discriminator = models.build_discriminator((64, 64, 1), 4, filters=4)
    assert discriminator.predict(np.zeros((5, 64, 64, 1), "float32"), verbose=0).shape == (5, 1)


def test_minibatch_stddev_channel_is_the_batch_spread():
    layer = models.MinibatchStddev()
    copies = np.ones((4, 3, 3, 2), "float32")
    spread = keras.ops.convert_to_numpy(layer(copies))
    assert spread.shape == (4, 3, 3, 3)
    np.testing.assert_allclose(spread[..., :2], copies)
    assert np.abs(spread[..., 2]).max() < 1e-3  # a batch of copies: no spread
    two = np.stack([np.zeros((3, 3, 2)), np.full((3, 3, 2), 2.0)]).astype("float32")  # std 1 everywhere
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(two))[..., 2], 1.0, rtol=1e-4)
    discriminator = models.build_discriminator((16, 16, 1), 2, filters=4)
    assert any(isinstance(layer, models.MinibatchStddev) for layer in discriminator.layers)


def test_vae_loss_is_reconstruction_plus_beta_times_kl():
    encoder = models.build_encoder((8, 8, 1), 3, 1, filters=2, variational=True)
    decoder = models.build_decoder((8, 8, 1), 3, 1, filters=2)
    vae = models.VAE(encoder, decoder, beta=2.0, reconstruction_loss="mse")
    images = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
    zeros = np.zeros((4, 3), "float32")
    perfect = float(vae.compute_loss(x=images, y_pred=(images, zeros, zeros)))
    assert perfect == pytest.approx(0.0, abs=1e-6)  # exact reconstruction and posterior == prior
    shifted = float(vae.compute_loss(x=images, y_pred=(images, zeros + 1.0, zeros)))
    assert shifted == pytest.approx(2.0 * 0.5 * 3, rel=1e-5)  # beta * KL(N(1, 1) || N(0, 1)) over 3 dims
    blurred = float(vae.compute_loss(x=images, y_pred=(images * 0 + 0.5, zeros, zeros)))
    assert blurred == pytest.approx(float(np.mean(np.sum((images - 0.5) ** 2, axis=(1, 2, 3)))), rel=1e-5)
    reconstructions, z_mean, _ = vae(images)
    assert tuple(reconstructions.shape) == images.shape and tuple(z_mean.shape) == (4, 3)


def _tiny_gan(generator_learning_rate: float, discriminator_learning_rate: float,
              ema_decay: float = 0.0) -> models.GAN:
    keras.utils.set_random_seed(0)
    generator = models.build_decoder((16, 16, 1), 8, 2, filters=4, batch_norm=True, name="generator")
    discriminator = models.build_discriminator((16, 16, 1), 2, filters=4)
    gan = models.GAN(generator, discriminator, label_smoothing=0.1, ema_decay=ema_decay)
    gan.compile(generator_learning_rate=generator_learning_rate,
                discriminator_learning_rate=discriminator_learning_rate)
    return gan


def _changed(before: list[np.ndarray], variables: list[keras.Variable]) -> list[bool]:
    return [not np.array_equal(old, keras.ops.convert_to_numpy(new)) for old, new in zip(before, variables,
                                                                                           strict=True)]


@pytest.mark.parametrize(("generator_rate", "discriminator_rate"), [(1e-3, 1e-4), (1e-3, 0.0), (0.0, 1e-3)])
def test_one_gan_epoch_moves_each_player_at_its_own_learning_rate(generator_rate, discriminator_rate):
    """One optimizer, one loss: a zero rate freezes exactly that player's weights, the other still learns."""
    gan = _tiny_gan(generator_rate, discriminator_rate)
    players = {"generator": gan.generator.trainable_variables, "discriminator": gan.discriminator.trainable_variables}
    before = {name: [keras.ops.convert_to_numpy(v).copy() for v in variables] for name, variables in players.items()}
    history = gan.fit(np.random.default_rng(0).uniform(size=(64, 16, 16, 1)).astype("float32"), batch_size=32,
                      epochs=1, verbose=0)
    assert set(history.history) == {"loss", "d_loss", "g_loss"}
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    assert history.history["loss"][-1] == pytest.approx(history.history["d_loss"][-1] + history.history["g_loss"][-1],
                                                        rel=1e-5)
    assert int(keras.ops.convert_to_numpy(gan.optimizer.iterations)) == 2  # one optimizer, one step per batch
    for name, rate in (("generator", generator_rate), ("discriminator", discriminator_rate)):
        changed = _changed(before[name], players[name])
        assert all(changed) if rate > 0 else not any(changed), (name, rate, changed)


def test_per_variable_adam_scales_each_first_step_by_its_multiplier():
    """Adam's first step is about lr * sign(gradient): the multiplier must scale exactly that variable's step."""
    from trainers.generative.optimizers import PerVariableAdam

    fast, slow, plain = (keras.Variable(np.zeros(3, "float32"), name=name) for name in ("fast", "slow", "plain"))
    optimizer = PerVariableAdam(learning_rate=0.1, multipliers={fast.path: 2.0, slow.path: 0.25})
    gradients = [keras.ops.convert_to_tensor(np.array([1.0, -2.0, 3.0], "float32"))] * 3
    optimizer.apply(gradients, [fast, slow, plain])
    signs = np.array([-1.0, 1.0, -1.0])
    for variable, rate in ((fast, 0.2), (slow, 0.025), (plain, 0.1)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), rate * signs, rtol=1e-4)
    restored = PerVariableAdam.from_config(optimizer.get_config())
    assert restored.multipliers == {fast.path: 2.0, slow.path: 0.25}
    with pytest.raises(ValueError, match="unknown variables"):
        PerVariableAdam(multipliers={"no/such": 1.0}).build([plain])


GAN_SCRIPT = """
import json, math, sys
from pathlib import Path
import keras
import trainers
run_dir = Path(sys.argv[1])
config = {"dataset": "mnist", "subset": 256, "test_subset": 16, "epochs": 1, "batch_size": 64,
          "filters": 4, "latent_dim": 8, "frechet_samples": 0, "grid_images": 8}
result = trainers.run("gan", config, run_dir=run_dir)
conditional = trainers.run("gan", {**config, "conditional": True, "generator_ema": 0.9},
                           run_dir=run_dir.with_name("conditional"))
print(json.dumps({"backend": keras.backend.backend(), "metrics": result.metrics,
                  "conditional_metrics": conditional.metrics,
                  "images": sorted(path.name for path in (run_dir / "images").glob("*.png"))}))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_gan_trains_on_other_backends(backend, mirror_dir, tmp_path):
    """The GAN's train step is Keras' own on every backend: a 1-epoch MNIST run in a subprocess."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed in this environment (pip install '.[{backend}]')")
    env = {**os.environ, "KERAS_BACKEND": backend}
    completed = subprocess.run([sys.executable, "-c", GAN_SCRIPT, str(tmp_path / "run")], env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    for name in ("train/d_loss", "train/g_loss", "train/loss"):
        assert math.isfinite(report["metrics"][name]) and report["metrics"][name] > 0, name
        assert math.isfinite(report["conditional_metrics"][name]) and report["conditional_metrics"][name] > 0, name
    assert "samples-0001.png" in report["images"]
    grid = cv2.imread(str(tmp_path / "run" / "images" / "samples-0001.png"), cv2.IMREAD_UNCHANGED)
    assert grid is not None and grid.std() > 0


@pytest.mark.parametrize(("task", "key", "value"), [("vae", "beta", -1.0), ("gan", "label_smoothing", 1.0),
                                                    ("cae", "layers", 0), ("gan", "generator_learning_rate", 0.0)])
def test_configs_refuse_out_of_range_values_naming_the_key(task, key, value):
    with pytest.raises(ConfigError, match=key):
        resolve_config(get_task(task), {key: value})


def test_configs_refuse_knobs_of_another_family():
    with pytest.raises(ConfigError, match="beta"):
        resolve_config(get_task("gan"), {"beta": 1.0})
    with pytest.raises(ConfigError, match="label_smoothing"):
        resolve_config(get_task("vae"), {"label_smoothing": 0.1})


def test_a_saved_discriminator_loads_back_with_its_stddev_channel(tmp_path):
    discriminator = models.build_discriminator((28, 28, 1), 2, 8)
    discriminator.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras")
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    assert np.allclose(discriminator(images, training=False), loaded(images, training=False))


@pytest.mark.parametrize("generator_rate", [0.0, 1e-2])
def test_the_sampler_follows_a_moving_average_of_the_generator(generator_rate):
    """With `ema_decay`, samples come from a copy of G that the train step moves toward G by the ramped decay:
    from zeros, against a frozen G, two steps leave it at (1 - d1 d2) G, d_t = min(decay, t / (t + 9))."""
    gan = _tiny_gan(generator_rate, 1e-3, ema_decay=0.9)
    assert gan.sampling_generator is gan.sampler and not gan.sampler.trainable_variables
    assert not {id(v) for v in gan.sampler.variables} & {id(v) for v in gan.trainable_variables}
    for variable in gan.sampler.variables:
        variable.assign(keras.ops.zeros(variable.shape))
    pairs = [(mine, average) for mine, average in zip(gan.generator.variables, gan.sampler.variables, strict=True)
             if mine.trainable]  # batch-norm statistics move in G's forward passes too; weights only by the rate
    before = [keras.ops.convert_to_numpy(mine).copy() for mine, _ in pairs]
    gan.fit(np.random.default_rng(0).uniform(size=(64, 16, 16, 1)).astype("float32"), batch_size=32, epochs=1,
            verbose=0)
    assert float(keras.ops.convert_to_numpy(gan.ema_steps)) == 2.0
    kept = 1 - (1 / 10) * (2 / 11)
    moved = []
    for start, (_, average) in zip(before, pairs, strict=True):
        average = keras.ops.convert_to_numpy(average)
        if generator_rate == 0:
            np.testing.assert_allclose(average, kept * start, rtol=1e-5, atol=1e-7)
        moved.append(not np.allclose(average, kept * start, rtol=1e-5, atol=1e-7))
        assert np.all(np.isfinite(average))
    assert any(moved) == (generator_rate > 0)  # a G that learns pulls its average along


def test_standing_statistics_make_inference_normalise_as_a_batch_of_those_latents():
    """After `standing_statistics` (benchmarks/generative_mnist.py), a frozen sampler run in inference mode on the
    latents it was calibrated on gives what it gives with batch statistics on them; before, it did not (its carried
    statistics are stale). The layers' momentum and trainability come back as they were."""
    from benchmarks.generative_mnist import standing_statistics

    generator = models.build_decoder((16, 16, 1), 6, 2, filters=4, batch_norm=True)
    latents = np.random.default_rng(0).normal(size=(256, 6)).astype("float32") * 3 + 1  # far from stats at 0 / 1
    generator.trainable = False
    norms = [layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3

    def batch_normalised():
        for layer in norms:
            layer.trainable = True
        statistics = [v for layer in norms for v in (layer.moving_mean, layer.moving_variance)]
        moving = [keras.ops.convert_to_numpy(variable).copy() for variable in statistics]
        out = keras.ops.convert_to_numpy(generator(latents, training=True))
        for layer in norms:
            layer.trainable = False
        for value, variable in zip(moving, statistics, strict=True):
            variable.assign(value)  # that pass moved the statistics a little; put them back
        return out

    inference = keras.ops.convert_to_numpy(generator(latents, training=False))
    assert not np.allclose(inference, batch_normalised(), atol=1e-3)
    standing_statistics(generator, latents)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(generator(latents, training=False)), batch_normalised(),
                               atol=1e-4)
    assert all(layer.momentum == 0.99 and not layer.trainable for layer in norms)
    assert not generator.trainable_variables


def test_a_gan_without_the_average_samples_from_its_generator():
    gan = _tiny_gan(1e-3, 1e-3)
    assert gan.sampling_generator is gan.generator and not hasattr(gan, "sampler")


def _two_class_images(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: dark squares, class 1: bright squares (noise on top); one-hot labels."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, count)
    images = (0.15 + 0.7 * labels[:, None, None, None] + 0.05 * rng.standard_normal((count, 16, 16, 1)))
    return np.clip(images, 0, 1).astype("float32"), np.eye(2, dtype="float32")[labels]


def test_a_conditional_gan_draws_the_class_it_is_asked_for():
    """G's one-hot is not ignored: trained on dark class-0 and bright class-1 squares, asked-for-1 samples come out
    brighter than asked-for-0 samples from the same noise."""
    keras.utils.set_random_seed(0)
    generator = models.build_decoder((16, 16, 1), 4 + 2, 2, filters=4, batch_norm=True, name="generator")
    discriminator = models.build_discriminator((16, 16, 1), 2, filters=4, classes=2)
    assert [tuple(shape) for shape in discriminator.input_shape] == [(None, 16, 16, 1), (None, 2)]
    gan = models.GAN(generator, discriminator, classes=2)
    gan.compile(generator_learning_rate=2e-3, discriminator_learning_rate=2e-3)
    images, labels = _two_class_images(1024)
    history = gan.fit([images, labels], batch_size=64, epochs=10, verbose=0)
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    noise = np.random.default_rng(1).standard_normal((64, 4)).astype("float32")
    asked = {label: np.concatenate([noise, np.tile(np.eye(2, dtype="float32")[label], (64, 1))], axis=1)
             for label in (0, 1)}
    brightness = {label: float(np.mean(generator.predict(latents, verbose=0))) for label, latents in asked.items()}
    assert brightness[1] - brightness[0] > 0.4, brightness  # the classes differ by 0.7; an unheard label: 0


def test_conditional_latents_ask_for_every_class_in_turn():
    from trainers.generative.families import FAMILIES, asked_classes

    config = resolve_config(get_task("gan"), {"conditional": True, "latent_dim": 5, "filters": 4})
    generative = FAMILIES["gan"](config, (28, 28, 1), 10)
    assert (generative.latent_dim, generative.noise_dim, generative.classes) == (15, 5, 10)
    latents = generative.draw_latents(np.random.default_rng(0), 25)
    assert latents.shape == (25, 15) and latents.dtype == np.float32
    np.testing.assert_array_equal(latents[:, 5:].argmax(axis=1), asked_classes(25, 10))
    np.testing.assert_array_equal(latents[:, 5:].sum(axis=1), np.ones(25))
    assert generative.decode(latents).shape == (25, 28, 28, 1)
    plain = FAMILIES["gan"](resolve_config(get_task("gan"), {"latent_dim": 5, "filters": 4}), (28, 28, 1), 10)
    unconditional = plain.draw_latents(np.random.default_rng(0), 25)  # as before conditioning existed
    np.testing.assert_array_equal(unconditional, np.random.default_rng(0).standard_normal((25, 5)).astype("float32"))
    with pytest.raises(ConfigError, match="conditional"):
        FAMILIES["gan"](config, (28, 28, 1), 1)


def test_pixel_clusters_find_the_image_groups_without_labels():
    """Three groups of noisy images (dark, bright left half, bright right half): three clusters recover them
    exactly (up to their numbering) and their shares are the groups' shares."""
    from trainers.generative.clusters import pixel_clusters

    rng = np.random.default_rng(0)
    base = np.zeros((3, 8, 8, 1), "float32")
    base[1, :, :4], base[2, :, 4:] = 1.0, 1.0
    groups = np.repeat(np.arange(3), [50, 30, 20])
    images = np.clip(base[groups] + rng.normal(0, 0.15, (100, 8, 8, 1)), 0, 1).astype("float32")
    labels, shares = pixel_clusters(images, 3, seed=0)
    assert labels.shape == (100,) and set(labels) == {0, 1, 2}
    for group in range(3):
        assert len(set(labels[groups == group])) == 1  # one cluster per group, and each group its own
    np.testing.assert_allclose(sorted(shares), [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="at least as many images"):
        pixel_clusters(images[:2], 3)


def test_self_conditioned_latents_draw_clusters_by_their_shares():
    from trainers.generative.families import FAMILIES

    config = resolve_config(get_task("gan"), {"self_conditional": 4, "latent_dim": 5, "filters": 4})
    generative = FAMILIES["gan"](config, (28, 28, 1), 10)  # the dataset's 10 classes play no part
    assert (generative.latent_dim, generative.noise_dim, generative.classes) == (9, 5, 4)
    generative.class_shares = np.array([0.7, 0.3, 0.0, 0.0])
    drawn = generative.draw_latents(np.random.default_rng(0), 2000)[:, 5:].argmax(axis=1)
    counts = np.bincount(drawn, minlength=4)
    assert counts[2] == counts[3] == 0 and abs(counts[0] / 2000 - 0.7) < 0.04


@pytest.mark.parametrize("values", [{"self_conditional": 1}, {"self_conditional": 10, "conditional": True},
                                    {"self_conditional": -3}])
def test_self_conditioning_refuses_one_cluster_or_labels_beside_it(values):
    with pytest.raises(ConfigError, match="self_conditional"):
        resolve_config(get_task("gan"), values)


def test_a_self_conditioned_gan_trains_on_its_clusters(mirror_dir):
    """Trained through the task's `fit`: conditioned on the clusters it found (their shares on the model, summing to
    1), its samples drawn by them, its grids written."""
    from trainers.generative.families import fit
    from trainers.reporter import Reporter

    values = {"dataset": "mnist", "subset": 256, "test_subset": 16, "epochs": 1, "batch_size": 64, "filters": 4,
              "latent_dim": 8, "frechet_samples": 0, "grid_images": 8, "self_conditional": 6}
    fitted = fit(resolve_config(get_task("gan"), values), Reporter(), "gan")
    generative = fitted.generative
    assert (generative.classes, generative.latent_dim) == (6, 14)
    assert generative.class_shares is not None and generative.class_shares.shape == (6,)
    assert abs(generative.class_shares.sum() - 1) < 1e-9 and generative.class_shares.min() > 0
    samples = generative.decode(fitted.latent_sampler(32))
    assert samples.shape == (32, 28, 28, 1) and np.isfinite(samples).all()
    assert all(math.isfinite(fitted.metrics[name]) for name in ("train/d_loss", "train/g_loss"))
    with pytest.raises(ConfigError, match="self_conditional: 300 clusters need as many training images"):
        fit(resolve_config(get_task("gan"), {**values, "self_conditional": 300}), Reporter(), "gan")


def test_a_saved_self_conditioned_gan_keeps_its_cluster_shares(mirror_dir, tmp_path):
    import trainers

    trainers.run("gan", {"dataset": "mnist", "subset": 256, "test_subset": 16, "epochs": 1, "batch_size": 64,
                         "filters": 4, "latent_dim": 8, "frechet_samples": 0, "grid_images": 8,
                         "self_conditional": 4, "save_model": True}, run_dir=tmp_path)
    shares = np.load(tmp_path / "class_shares.npy")
    assert shares.shape == (4,) and abs(shares.sum() - 1) < 1e-9 and (tmp_path / "model.weights.h5").exists()
