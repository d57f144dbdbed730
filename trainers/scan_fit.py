"""An epoch-compiled fit for the JAX backend: one `jax.jit` call per epoch (`lax.scan` over the batches).

Data stays on the device, so the host loop costs one dispatch per epoch instead of one per step. Learning rate and
the other optimizer hyperparameters that Keras keeps as variables are *inputs* of the compiled function, and JAX's
persistent compilation cache is on, so a new trial that differs only in such values reuses the compiled program.
Metrics go to the reporter under the same names as `model.fit` (`train/loss`, `val/accuracy`, ...).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from datasets.atomic import make_folder
from trainers.fit import NonFiniteLossError
from trainers.reporter import Reporter, StopTrial


def enable_compilation_cache(directory: Path | None = None) -> Path:
    """Turn on JAX's persistent compilation cache (default `$SWEEPLAB_CACHE_DIR/jax`)."""
    import jax

    from datasets.settings import array_cache_dir

    directory = Path(directory or os.environ.get("JAX_COMPILATION_CACHE_DIR") or array_cache_dir() / "jax")
    make_folder(directory)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


@dataclass
class ScanHistory:
    history: dict[str, list[float]]
    best_epoch: int


def scan_fit(model: keras.Model, loss: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
             y_val: np.ndarray, *, epochs: int, batch_size: int, seed: int, reporter: Reporter,
             patience: int = 0) -> ScanHistory:
    """Train a compiled `model` (optimizer attached) like `model.fit`, one compiled call per epoch."""
    if keras.backend.backend() != "jax":
        raise ValueError("fit_mode=scan needs KERAS_BACKEND=jax")
    import jax
    import jax.numpy as jnp

    enable_compilation_cache()
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    steps = len(x_train) // batch_size
    if steps < 1:
        raise ValueError(f"batch_size {batch_size} is larger than the {len(x_train)} training examples")
    x_train, y_train = jnp.asarray(x_train), jnp.asarray(y_train)
    x_val, y_val = jnp.asarray(x_val), jnp.asarray(y_val)
    sparse = y_train.ndim == 1

    def accuracy(y_true, y_pred):
        labels = y_true if sparse else jnp.argmax(y_true, axis=-1)
        return jnp.mean(jnp.argmax(y_pred, axis=-1) == labels)

    def compute_loss(trainable, non_trainable, x, y):
        y_pred, non_trainable, losses = model.stateless_call(trainable, non_trainable, x, training=True,
                                                             return_losses=True)
        value = loss(y, y_pred) + (sum(losses) if losses else 0.0)
        return value, (non_trainable, accuracy(y, y_pred))

    gradient = jax.value_and_grad(compute_loss, has_aux=True)

    def train_step(state, batch):
        trainable, non_trainable, optimizer_variables = state
        (value, (non_trainable, batch_accuracy)), grads = gradient(trainable, non_trainable, *batch)
        trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads, trainable)
        return (trainable, non_trainable, optimizer_variables), (value, batch_accuracy)

    @jax.jit
    def train_epoch(state, key):
        order = jax.random.permutation(key, x_train.shape[0])[: steps * batch_size].reshape(steps, batch_size)
        state, (losses, accuracies) = jax.lax.scan(train_step, state, (x_train[order], y_train[order]))
        return state, jnp.mean(losses), jnp.mean(accuracies)

    @jax.jit
    def evaluate(trainable, non_trainable):
        y_pred, _ = model.stateless_call(trainable, non_trainable, x_val, training=False)
        return loss(y_val, y_pred), accuracy(y_val, y_pred)

    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    key = jax.random.PRNGKey(seed)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    best_state, best_accuracy, best_epoch, waited = state, -math.inf, 0, 0
    for epoch in range(1, epochs + 1):
        key, epoch_key = jax.random.split(key)
        state, train_loss, train_accuracy = train_epoch(state, epoch_key)
        val_loss, val_accuracy = evaluate(state[0], state[1])
        metrics = {"train/loss": float(train_loss), "train/accuracy": float(train_accuracy),
                   "val/loss": float(val_loss), "val/accuracy": float(val_accuracy)}
        for name, value in metrics.items():
            history[name.replace("train/", "").replace("val/", "val_")].append(value)
        reporter.report(epoch, metrics)
        if not math.isfinite(metrics["train/loss"]):
            raise NonFiniteLossError(f"training loss became {metrics['train/loss']} at epoch {epoch}")
        if reporter.should_stop():
            raise StopTrial(epoch)
        if metrics["val/accuracy"] > best_accuracy:
            best_state, best_accuracy, best_epoch, waited = state, metrics["val/accuracy"], epoch, 0
        else:
            waited += 1
            if patience and waited >= patience:
                break
    final = best_state if patience else state
    for variable, value in zip(model.trainable_variables, final[0], strict=True):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, final[1], strict=True):
        variable.assign(value)
    return ScanHistory(history=history, best_epoch=best_epoch)
