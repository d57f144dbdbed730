"""Keras 3 builders: conv encoder/decoder stacks, a convolutional autoencoder, a VAE and a DCGAN.

The VAE and the GAN override `compute_loss`, so Keras' own train steps train them on every backend
(TensorFlow, JAX, torch); the GAN's two learning rates live in one `PerVariableAdam`.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from trainers.generative.optimizers import PerVariableAdam

SEED_STATE = "seed_generator_state"  # the name of a `keras.random.SeedGenerator`'s state variable


def spatial_start(image_shape: tuple[int, ...], stages: int) -> int:
    """Side of the smallest feature map: the image side halved (rounding up) once per stage."""
    side = max(image_shape[0], image_shape[1])
    for _ in range(stages):
        side = math.ceil(side / 2)
    return side


def _conv_stack(x, stages: int, filters: int, kernel_size: int, activation: str):
    for stage in range(stages):
        x = layers.Conv2D(filters * 2**stage, kernel_size, strides=2, padding="same", activation=activation)(x)
    return layers.Flatten()(x)


def build_encoder(image_shape: tuple[int, ...], latent_dim: int, stages: int, filters: int, kernel_size: int = 3,
                  activation: str = "relu", variational: bool = False) -> keras.Model:
    """Strided convs down to a latent vector; a variational encoder returns `[z_mean, z_log_var]`."""
    inputs = keras.Input(shape=image_shape)
    x = _conv_stack(inputs, stages, filters, kernel_size, activation)
    if variational:
        outputs = [layers.Dense(latent_dim, name="z_mean")(x), layers.Dense(latent_dim, name="z_log_var")(x)]
    else:
        outputs = layers.Dense(latent_dim, name="z")(x)
    return keras.Model(inputs, outputs, name="encoder")


def build_decoder(image_shape: tuple[int, ...], latent_dim: int, stages: int, filters: int, kernel_size: int = 3,
                  activation: str = "relu", batch_norm: bool = False, name: str = "decoder") -> keras.Model:
    """Dense to the smallest map, transposed convs doubling it per stage, a sigmoid conv, a crop to the image."""
    start = spatial_start(image_shape, stages)
    top = filters * 2 ** max(stages - 1, 0)
    inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(start * start * top, activation=None if batch_norm else activation)(inputs)
    if batch_norm:
        x = layers.Activation(activation)(layers.BatchNormalization()(x))
    x = layers.Reshape((start, start, top))(x)
    for stage in reversed(range(stages)):
        x = layers.Conv2DTranspose(filters * 2**stage, kernel_size, strides=2, padding="same",
                                   activation=None if batch_norm else activation)(x)
        if batch_norm:
            x = layers.Activation(activation)(layers.BatchNormalization()(x))
    x = layers.Conv2D(image_shape[-1], kernel_size, padding="same", activation="sigmoid")(x)
    side = start * 2**stages
    crop_height, crop_width = side - image_shape[0], side - image_shape[1]
    if crop_height or crop_width:
        x = layers.Cropping2D(((crop_height // 2, crop_height - crop_height // 2),
                               (crop_width // 2, crop_width - crop_width // 2)))(x)
    return keras.Model(inputs, x, name=name)


@keras.saving.register_keras_serializable(package="sweeplab_generative")
class MinibatchStddev(layers.Layer):
    """Appends one channel holding the batch's mean standard deviation (over images, per feature and position):
    a discriminator that sees it can tell a batch of near-copies from real images, which counters collapse
    (Karras et al. 2018, progressive GANs; here over the whole batch)."""

    def call(self, inputs):
        spread = ops.mean(ops.sqrt(ops.var(inputs, axis=0) + 1e-8))
        shape = ops.shape(inputs)
        return ops.concatenate([inputs, ops.ones((shape[0], shape[1], shape[2], 1), inputs.dtype) * spread],
                               axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def build_discriminator(image_shape: tuple[int, ...], stages: int, filters: int, kernel_size: int = 4,
                        dropout: float = 0.2, classes: int = 0) -> keras.Model:
    """DCGAN discriminator: strided convs with LeakyReLU, the batch's spread as one more channel, one logit.

    With `classes` > 0 it also takes a one-hot class and judges the pair: the class is projected to one more
    image channel (Mirza and Osindero 2014's conditional GAN, as in Keras' conditional GAN example)."""
    image = keras.Input(shape=image_shape, name="image")
    x = image
    if classes:
        label = keras.Input(shape=(classes,), name="label")
        plane = layers.Reshape((*image_shape[:2], 1))(layers.Dense(image_shape[0] * image_shape[1])(label))
        x = layers.Concatenate()([x, plane])
    for stage in range(stages):
        x = layers.LeakyReLU(0.2)(layers.Conv2D(filters * 2**stage, kernel_size, strides=2, padding="same")(x))
        if dropout:
            x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(MinibatchStddev(name="minibatch_stddev")(x))
    inputs = [image, label] if classes else image
    return keras.Model(inputs, layers.Dense(1, name="logit")(x), name="discriminator")


def build_autoencoder(encoder: keras.Model, decoder: keras.Model) -> keras.Model:
    """The CAE: decoder(encoder(x)), trained with plain `fit(x, x)`."""
    inputs = keras.Input(shape=encoder.input_shape[1:])
    return keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")


def pixel_loss(name: str, images, reconstructions):
    """Per-image reconstruction loss summed over pixels: `binary_crossentropy` or `mse`."""
    if name == "binary_crossentropy":
        per_pixel = keras.losses.binary_crossentropy(images[..., None], reconstructions[..., None])
    elif name == "mse":
        per_pixel = ops.square(images - reconstructions)
    else:
        raise ValueError(f"unknown reconstruction loss {name!r}; expected binary_crossentropy or mse")
    return ops.sum(ops.reshape(per_pixel, (ops.shape(images)[0], -1)), axis=1)


class VAE(keras.Model):
    """Encoder -> (z_mean, z_log_var) -> reparameterised z -> decoder; loss = reconstruction + beta * KL."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0,
                 reconstruction_loss: str = "binary_crossentropy", seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.beta, self.reconstruction_loss = float(beta), reconstruction_loss
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def latent_dim(self) -> int:
        return int(self.decoder.input_shape[-1])

    def call(self, images, training: bool = False):
        z_mean, z_log_var = self.encoder(images, training=training)
        noise = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * noise
        return self.decoder(z, training=training), z_mean, z_log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training: bool = True):
        reconstructions, z_mean, z_log_var = y_pred
        reconstruction = ops.mean(pixel_loss(self.reconstruction_loss, x, reconstructions))
        kl = ops.mean(-0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
        batch = ops.shape(x)[0]  # weight by batch size, as Keras' own `loss` tracker does
        self.reconstruction_loss_tracker.update_state(reconstruction, sample_weight=batch)
        self.kl_loss_tracker.update_state(kl, sample_weight=batch)
        return reconstruction + self.beta * kl


class GAN(keras.Model):
    """DCGAN trained by Keras' own train step: one loss, `d_loss + g_loss`, one optimizer, two learning rates.

    Calling the model on images gives the discriminator's logits (Keras' train step calls it on the real
    batch); sample with `gan.generator`. `compute_loss` keeps each player's gradients to its own loss:
    - d_loss = BCE(1 - label_smoothing, D(real)) + BCE(0, D(stop_gradient(G(z1)))): nothing reaches G;
    - g_loss = BCE(1, D_frozen(G(z2))), D_frozen being D run statelessly on gradient-stopped copies of its
      weights: nothing reaches D's weights.
    Only D's RNG state (dropout masks) is carried over from the frozen pass, so any other D state (batch-norm
    statistics, should a discriminator have them; the built-in one does not) is updated by the d_loss pass only.
    `compile` builds one `PerVariableAdam` giving G's and D's variables their own rates. Subclassed with
    sub-models as constructor arguments, the GAN is saved with `save_weights` (as `train` does), not `save`.

    With `ema_decay` > 0, `sampler` (samples come from `sampling_generator`) is a copy of G whose variables follow
    an exponential moving average of G's (Yazici et al. 2019: averaging G's weights smooths the players'
    oscillation out of its samples). It is updated inside the loss, so every backend's train step carries it as
    state; its decay ramps up as min(decay, (1 + step) / (10 + step)) so that the random initial weights fade out
    early. Without it there is no `sampler` (the saved weights are as before) and samples come from G.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, label_smoothing: float = 0.0,
                 seed: int = 0, ema_decay: float = 0.0, classes: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.classes = int(classes)
        self.label_smoothing = float(label_smoothing)
        self.ema_decay = float(ema_decay)
        if self.ema_decay > 0:  # only then an attribute: a GAN without it saves the weights it always saved
            self.sampler = keras.models.clone_model(generator)
            self.sampler.set_weights(generator.get_weights())
            self.sampler.trainable = False
            self.ema_steps = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ema_steps")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @property
    def latent_dim(self) -> int:
        """G's input width: the noise, plus the one-hot class when conditional."""
        return int(self.generator.input_shape[-1])

    @property
    def sampling_generator(self) -> keras.Model:
        """The network samples come from: `sampler`, the moving average of G, when `ema_decay` > 0, else G."""
        return self.sampler if self.ema_decay > 0 else self.generator

    def compile(self, generator_learning_rate: float = 2e-4, discriminator_learning_rate: float = 2e-4,
                beta_1: float = 0.5, beta_2: float = 0.999, **kwargs) -> None:
        """One Adam over G's and D's trainable variables, its per-variable multipliers being their rates."""
        rates = {variable.path: generator_learning_rate for variable in self.generator.trainable_variables}
        rates.update({variable.path: discriminator_learning_rate
                      for variable in self.discriminator.trainable_variables})
        optimizer = PerVariableAdam(learning_rate=1.0, multipliers=rates, beta_1=beta_1, beta_2=beta_2)
        super().compile(optimizer=optimizer, **kwargs)
        # Built on the model's own variable order: Keras' train steps hand gradients over in that order.
        optimizer.build(self.trainable_variables)

    def call(self, inputs, training: bool = False):
        """D's logits on the images (`[images, one-hot classes]` when conditional)."""
        return self.discriminator(inputs, training=training)

    def _latents(self, batch, classes=None):
        noise = keras.random.normal((batch, self.latent_dim - self.classes), seed=self.seed_generator)
        return noise if classes is None else ops.concatenate([noise, ops.cast(classes, noise.dtype)], axis=-1)

    def _judged(self, images, classes):
        """What D sees: the images, with their one-hot classes when conditional."""
        return images if classes is None else [images, classes]

    def _follow_generator(self) -> None:
        """One step of the moving average: sampler <- decay * sampler + (1 - decay) * G (every variable, batch-norm
        statistics included)."""
        steps = self.ema_steps + 1.0
        decay = ops.minimum(self.ema_decay, steps / (steps + 9.0))
        for average, variable in zip(self.sampler.variables, self.generator.variables, strict=True):
            average.assign(decay * average + (1.0 - decay) * ops.stop_gradient(variable))
        self.ema_steps.assign(steps)

    def _frozen_discriminator(self, images, training: bool):
        """D's logits with no gradient to D's weights; keeps only the RNG state the call advanced."""
        discriminator = self.discriminator
        frozen = [ops.stop_gradient(variable) for variable in discriminator.trainable_variables]
        state = [variable.value for variable in discriminator.non_trainable_variables]
        logits, new_state = discriminator.stateless_call(frozen, state, images, training=training)
        for variable, value in zip(discriminator.non_trainable_variables, new_state, strict=True):
            if variable.name == SEED_STATE:
                variable.assign(value)
        return logits

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training: bool = True):
        real = x[0] if isinstance(x, (tuple, list)) else x
        classes = x[1] if self.classes else None
        batch = ops.shape(real)[0]
        real_logits = y_pred  # D(real), from `call`
        fake = ops.stop_gradient(self.generator(self._latents(batch, classes), training=training))
        real_target = ops.ones((batch, 1)) * (1.0 - self.label_smoothing)  # one-sided label smoothing
        d_loss = (self.bce(real_target, real_logits)
                  + self.bce(ops.zeros((batch, 1)), self.discriminator(self._judged(fake, classes), training=training)))
        fooled = self._frozen_discriminator(
            self._judged(self.generator(self._latents(batch, classes), training=training), classes), training)
        g_loss = self.bce(ops.ones((batch, 1)), fooled)
        self.d_loss_tracker.update_state(d_loss, sample_weight=batch)
        self.g_loss_tracker.update_state(g_loss, sample_weight=batch)
        if self.ema_decay > 0 and training:
            self._follow_generator()
        return d_loss + g_loss
