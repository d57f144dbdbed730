"""Memory a trial leaves behind in a long in-process `sweep`: TensorFlow's custom-gradient registry (each entry keeps
a traced model's graph alive) holds nothing of a finished run; the 50-trial RSS measurement is in
benchmarks/results/agents_memory_inprocess-*.json."""

from __future__ import annotations

import gc

import keras
import pytest

import trainers
from trainers.memory import custom_gradients, forget_custom_gradients_after

TINY = {"dataset": "mnist", "model": "geron_mlp", "subset": 256, "test_subset": 64, "epochs": 1, "batch_size": 64,
        "dense_units": 16, "dense_layers": 1}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the registry is TensorFlow's")
def test_a_finished_run_leaves_no_custom_gradient_registered(mirror_dir):
    trainers.run("classify", TINY)  # warm: whatever a first run registers for the process itself
    before = custom_gradients()
    for seed in (1, 2):
        trainers.run("classify", {**TINY, "seed": seed})
        keras.backend.clear_session(free_memory=True)
        gc.collect()
    assert custom_gradients() == before


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the registry is TensorFlow's")
def test_the_guard_drops_only_what_was_registered_inside_it():
    import tensorflow as tf

    @tf.custom_gradient
    def double(x):
        return 2 * x, lambda upstream: 2 * upstream

    tf.function(double).get_concrete_function(tf.TensorSpec([], tf.float32))  # registers one outside the guard
    outside = custom_gradients()
    with forget_custom_gradients_after():
        tf.function(lambda x: double(x) + 1).get_concrete_function(tf.TensorSpec([2], tf.float32))
        assert len(custom_gradients() - outside) == 1
    assert custom_gradients() == outside and outside
