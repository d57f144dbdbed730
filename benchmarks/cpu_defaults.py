"""Measure the CPU knobs the classification defaults rest on, each arm in a fresh process, same data and model.

Arms (seconds per epoch, median of the steady epochs, on 12,000 Fashion-MNIST images unless noted):
- backend: TensorFlow vs JAX vs PyTorch, for the CPU CNN and the CPU MLP;
- TensorFlow's oneDNN on/off and intra-op threads 1/2/4;
- XLA (`jit_compile`) on/off per family;
- batch size 64/128/256/512;
- input pipeline: float32 arrays (the trainer's) vs uint8 arrays rescaled inside the model vs `tf.data` + prefetch;
- a trial's fixed cost: a whole `trainers.run` minus its epochs (build, tracing, evaluation, grids, files).

    python -m benchmarks.cpu_defaults            # about 10 minutes on 2 cores
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks.machine import write_result

SUBSET = 12_000
EPOCHS = 3


def _arm(family: str, batch_size: int = 256, jit: bool = False, pipeline: str = "float32") -> dict[str, Any]:
    """One measurement in this process: per-epoch times of `model.fit` on the platform's model."""
    import keras

    import datasets
    from trainers import get_task, resolve_config
    from trainers.models.classifiers import build_classifier
    from trainers.optimizers import build_optimizer

    splits = datasets.split(datasets.load("fashion_mnist"), 0.1, SUBSET, 0, 0)
    config = resolve_config(get_task("classify"), {"model": f"cpu_{family}", "batch_size": batch_size,
                                                   "epochs": EPOCHS, "subset": SUBSET})
    inputs = keras.Input((28, 28, 1))
    core = build_classifier(config, (28, 28, 1), 10)
    model = keras.Model(inputs, core(keras.layers.Rescaling(1 / 255)(inputs))) if pipeline != "float32" else core
    model.compile(optimizer=build_optimizer(config, -(-SUBSET // batch_size)), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit)
    x = splits.x_train if pipeline != "float32" else splits.x_train.astype("float32") / 255
    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            stamps.append(time.perf_counter())

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            stamps[-1] = time.perf_counter() - stamps[-1]

    if pipeline == "tf.data":
        import tensorflow as tf

        data = (tf.data.Dataset.from_tensor_slices((x, splits.y_train)).shuffle(SUBSET, seed=0)
                .batch(batch_size).prefetch(tf.data.AUTOTUNE))
        model.fit(data, epochs=EPOCHS, verbose=0, callbacks=[Stamp()])
    else:
        model.fit(x, splits.y_train, batch_size=batch_size, epochs=EPOCHS, verbose=0, callbacks=[Stamp()])
    return {"first_epoch_s": round(stamps[0], 3), "steady_epoch_s": round(statistics.median(stamps[1:]), 3),
            "backend": keras.backend.backend()}


def _fixed_cost(family: str) -> dict[str, Any]:
    """A whole trial through `trainers.run` (with a run directory) minus the time inside its epochs."""
    import keras

    import trainers
    from trainers.reporter import Reporter

    class Epochs(Reporter):
        def __init__(self) -> None:
            self.stamps = [time.perf_counter()]

        def report(self, step: int, metrics: dict[str, float]) -> None:
            self.stamps.append(time.perf_counter())

    keras.utils.set_random_seed(0)
    reporter = Epochs()
    started = time.perf_counter()
    trainers.run("classify", {"dataset": "fashion_mnist", "model": f"cpu_{family}", "subset": SUBSET,
                              "epochs": EPOCHS, "test_subset": 2000}, reporter, tempfile.mkdtemp())
    total = time.perf_counter() - started
    epochs = [later - earlier for earlier, later in zip(reporter.stamps, reporter.stamps[1:], strict=False)]
    steady = statistics.median(epochs[1:])
    return {"trial_s": round(total, 2), "steady_epoch_s": round(steady, 3),
            "fixed_cost_s": round(total - steady * EPOCHS, 2)}


ARMS: dict[str, tuple[dict[str, str], str, dict[str, Any]]] = {
    # name: (environment, function, arguments)
    **{f"backend/{backend}/{family}": ({"KERAS_BACKEND": backend}, "arm", {"family": family})
       for backend in ("tensorflow", "jax", "torch") for family in ("cnn", "mlp")},
    "onednn/off/cnn": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "arm", {"family": "cnn"}),
    **{f"threads/{threads}/cnn": ({"TF_NUM_INTRAOP_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}, "arm",
                                  {"family": "cnn"}) for threads in (1, 4)},
    **{f"xla/on/{family}": ({}, "arm", {"family": family, "jit": True}) for family in ("cnn", "mlp")},
    **{f"batch/{size}/cnn": ({}, "arm", {"family": "cnn", "batch_size": size}) for size in (64, 128, 512)},
    **{f"pipeline/{name}/cnn": ({}, "arm", {"family": "cnn", "pipeline": name}) for name in ("uint8", "tf.data")},
    **{f"fixed_cost/{family}": ({}, "fixed", {"family": family}) for family in ("cnn", "mlp")},
}


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--arm":
        _, function, kwargs = ARMS[sys.argv[2]]
        if "TF_NUM_INTRAOP_THREADS" in os.environ:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(int(os.environ["TF_NUM_INTRAOP_THREADS"]))
        print(json.dumps({"arm": {"arm": _arm, "fixed": _fixed_cost}[function](**kwargs)}))
        return 0
    results: dict[str, Any] = {}
    for name, (env, _, _) in ARMS.items():
        process = subprocess.run([sys.executable, "-m", "benchmarks.cpu_defaults", "--arm", name],
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}, capture_output=True,
                                 text=True, timeout=900)
        lines = [line for line in process.stdout.splitlines() if line.startswith('{"arm"')]
        results[name] = json.loads(lines[-1])["arm"] if lines else {"error": process.stderr[-500:]}
        results[name]["load_average"] = round(os.getloadavg()[0], 2)
        print(name, results[name], flush=True)
    path = write_result("cpu_defaults", {"subset": SUBSET, "epochs": EPOCHS, "arms": results,
                                         "reference": "backend/tensorflow/cnn and backend/tensorflow/mlp "
                                                      "(batch 256, float32, XLA off, oneDNN on, 2 threads)"})
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
