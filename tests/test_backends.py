"""The classifiers train on every Keras backend: TensorFlow (in-process), JAX and PyTorch (subprocesses)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
import trainers
metrics = {}
for model in ("geron_mlp", "geron_cnn"):
    result = trainers.run("classify", {"dataset": "mnist", "model": model, "subset": 256, "test_subset": 64,
                                       "epochs": 1, "batch_size": 64, "conv_filters": 8, "dense_units": 16})
    metrics[model] = result.metrics
import keras
print(json.dumps({"backend": keras.backend.backend(), "metrics": metrics}))
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_classifiers_train_on_other_backends(backend, mirror_dir):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed in this environment (pip install '.[{backend}]')")
    env = {**os.environ, "KERAS_BACKEND": backend}
    completed = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    for metrics in report["metrics"].values():
        assert 0.0 <= metrics["test/accuracy"] <= 1.0
        assert metrics["val/loss"] == metrics["val/loss"]  # not NaN
    assert report["metrics"]["geron_cnn"]["model/params"] > report["metrics"]["geron_mlp"]["model/params"] / 10


def test_models_and_losses_use_no_tensorflow_calls():
    """Backend-agnostic code: nothing under trainers/ or datasets/ imports tensorflow directly."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    pattern = re.compile(r"^\s*(import|from) tensorflow|\btf\.", re.MULTILINE)
    offenders = [str(path.relative_to(root)) for folder in ("trainers", "datasets")
                 for path in (root / folder).rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []
