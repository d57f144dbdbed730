"""Memory a trial leaves behind in a long in-process `sweep`: TensorFlow's custom-gradient registry (each entry keeps
a traced model's graph alive) holds nothing of a finished run; the 50-trial RSS measurement is in
benchmarks/results/agents_memory_inprocess-*.json."""

from __future__ import annotations

import gc
import os

import keras
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


RUN_EXAMPLES = 40 if os.environ.get("SWEEPLAB_FUZZ") else 4


def _runs() -> st.SearchStrategy[tuple[str, dict]]:
    """Any task's smallest run: classifiers of every preset and optimizer, the generative families, the clock."""
    from trainers.models.classifiers import MODELS
    from trainers.optimizers import OPTIMIZERS
    from trainers.registry import discover_tasks, is_reference

    tasks = {name: task for name, task in discover_tasks().items() if not is_reference(name)}  # built-in ones: a
    # user's task another test registered in this process (`module:function`) needs that test's environment
    classify = st.builds(lambda model, optimizer, seed: ("classify", {**tasks["classify"].smoke, "model": model,
                                                                       "optimizer": optimizer, "seed": seed}),
                         st.sampled_from(sorted(MODELS)), st.sampled_from(sorted(OPTIMIZERS)), st.integers(0, 9))
    others = st.sampled_from(sorted(name for name in tasks if name != "classify")).map(
        lambda name: (name, dict(tasks[name].smoke)))
    return st.one_of(classify, others)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the registry is TensorFlow's")
@settings(max_examples=RUN_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.deferred(_runs), min_size=1, max_size=3))
def test_no_sequence_of_runs_of_any_task_leaves_a_custom_gradient_behind(runs, mirror_dir, tmp_path_factory,
                                                                        monkeypatch):
    """Class 9 by generator: whatever tasks, models and optimizers a process runs one after another, the registry
    holds after them what it held before (a failing run included: the guard is a `finally`)."""
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(mirror_dir))
    before = custom_gradients()
    for index, (task, config) in enumerate(runs):
        trainers.run(task, config, run_dir=tmp_path_factory.mktemp(f"run{index}"))
        assert custom_gradients() == before, (task, config)


def test_releasing_a_trial_collects_what_it_left_and_freezes_only_what_outlives_it():
    """The release freezes the survivors out of later collections (a full one over TensorFlow's objects costs a
    quarter second a trial), after collecting: a cycle the finished trial left is gone, and so is one the next
    trial leaves, so nothing a trial creates is ever frozen alive-then-dead."""
    import weakref

    from sweeps.trial_loop import release_trial_memory

    class Node:
        pass

    def leave_a_cycle() -> weakref.ref:
        node = Node()
        node.self = node
        return weakref.ref(node)

    gc.unfreeze()
    for _ in range(2):  # the second trial's cycle is created after the first release froze the survivors
        gone = leave_a_cycle()
        assert gone() is not None
        release_trial_memory()
        assert gone() is None
        assert gc.get_freeze_count() > 0
