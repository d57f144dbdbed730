"""The JAX epoch-compiled fit: learns like model.fit, and reuses its compiled program across learning rates."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
from pathlib import Path
import trainers
cache = Path(sys.argv[1])
def entries():
    return len([path for path in cache.rglob("*") if path.is_file()])
base = {"dataset": "mnist", "model": "geron_mlp", "subset": 2000, "test_subset": 500, "epochs": 2, "batch_size": 100,
        "optimizer": "adam", "dense_units": 64}
out = {}
out["keras"] = trainers.run("classify", {**base, "learning_rate": 1e-3}).metrics
out["scan"] = trainers.run("classify", {**base, "learning_rate": 1e-3, "fit_mode": "scan"}).metrics
out["entries_after_first"] = entries()
out["scan_other_lr"] = trainers.run("classify", {**base, "learning_rate": 3e-3, "fit_mode": "scan"}).metrics
out["entries_after_other_lr"] = entries()
trainers.run("classify", {**base, "dense_units": 48, "fit_mode": "scan"})
out["entries_after_other_width"] = entries()
print(json.dumps(out))
"""


@pytest.fixture
def jax_run(tmp_path, mirror_dir):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install '.[jax]')")
    cache = tmp_path / "jax-cache"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_COMPILATION_CACHE_DIR": str(cache)}
    completed = subprocess.run([sys.executable, "-c", SCRIPT, str(cache)], env=env, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_scan_fit_learns_like_model_fit_and_reuses_compiled_programs(jax_run):
    keras_fit, scan = jax_run["keras"], jax_run["scan"]
    assert scan["train/epochs"] == 2
    assert scan["val/accuracy"] > 0.6 and keras_fit["val/accuracy"] > 0.6  # 10 classes: chance is 0.1
    assert abs(scan["test/accuracy"] - keras_fit["test/accuracy"]) < 0.15  # 80 steps: shuffles differ
    assert scan["model/params"] == keras_fit["model/params"]
    # a new learning rate is an input of the compiled epoch, not a constant: no new compilation is stored
    assert jax_run["entries_after_first"] > 0
    assert jax_run["entries_after_other_lr"] == jax_run["entries_after_first"]
    assert jax_run["scan_other_lr"]["val/accuracy"] != scan["val/accuracy"]  # and it really trained differently
    # a different architecture is a different program
    assert jax_run["entries_after_other_width"] > jax_run["entries_after_other_lr"]


def test_scan_mode_is_refused_on_other_backends_with_the_reason():
    from trainers import get_task, resolve_config
    from trainers.config import ConfigError

    with pytest.raises(ConfigError, match="fit_mode: scan needs KERAS_BACKEND=jax"):
        resolve_config(get_task("classify"), {"fit_mode": "scan"})
