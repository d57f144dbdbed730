"""The tools `benchmarks.peer_search` compares, each run as `python -m benchmarks.peer_tools TOOL STUDY SEED BUDGET
EPOCHS EVENTS`: every finished model appends (elapsed, validation, test accuracy, level) to EVENTS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LEVELS = ("low", "promoted", "refit")  # fidelity of a model: a higher level supersedes a lower one
PEERS = ("kt-hyperband", "kt-bayes", "optuna-tpe", "random")
ABLATIONS = ("sweeplab-end",)  # sweeplab with its promotion only after the search (the study's `promote.every` off)


def _event(path: Path, started: float, val: float, test: float, when: float | None = None, **extra: Any) -> None:
    elapsed = round((time.time() if when is None else when) - started, 2)
    with open(path, "a") as handle:
        handle.write(json.dumps({"elapsed_s": elapsed, "val": val, "test": test, **extra}) + "\n")


def _full_data(spec: Any) -> tuple[Any, ...]:
    """The study's dataset split as the platform splits it (seed 0, 10% validation), every training image."""
    import numpy as np

    import datasets

    data = datasets.load(spec.fixed["dataset"])
    splits = datasets.split(data, 0.1, 0, 0, 0)
    scale = np.float32(1 / 255)
    return (splits.x_train.astype("float32") * scale, splits.y_train, splits.x_val.astype("float32") * scale,
            splits.y_val, splits.x_test.astype("float32") * scale, splits.y_test, data)


def _compiled(spec: Any, values: dict[str, Any], epochs: int, steps_per_epoch: int, schedule: str | None,
              input_shape: tuple[int, ...]) -> Any:
    """The study's model (its fixed values and preset) with `values`; `schedule` None keeps the preset's."""
    from trainers import get_task, resolve_config
    from trainers.models.classifiers import build_classifier
    from trainers.optimizers import build_optimizer

    layers = [spec.fixed, values, {"subset": 0, "epochs": epochs, "train_minutes": 0.0},
              {"lr_schedule": schedule} if schedule else {}]
    config = resolve_config(get_task("classify"), *layers)
    model = build_classifier(config, input_shape, 10)
    model.compile(optimizer=build_optimizer(config, steps_per_epoch), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, config


def run_loop(spec: Any, seed: int, epochs: int, events: Path, started: float, budget: float, tpe: bool) -> None:
    """A plain Optuna loop (TPE or random) over the study's space: full data, `epochs` per model, no pruning."""
    import optuna

    from sweeps.space import suggest_all

    x, y, x_val, y_val, x_test, y_test, data = _full_data(spec)

    def objective(trial: optuna.Trial) -> float:
        values = suggest_all(spec.parameters, trial, given=spec.fixed)
        batch_size = values.get("batch_size", 256)
        model, config = _compiled(spec, values, epochs, -(-len(x) // batch_size), None, data.input_shape)
        history = model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=config.batch_size,
                            verbose=0)
        val = float(history.history["val_accuracy"][-1])
        test = float(model.evaluate(x_test, y_test, batch_size=1024, verbose=0)[1])
        _event(events, started, val, test, trial=trial.number)
        return val

    sampler = optuna.samplers.TPESampler(seed=seed) if tpe else optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, timeout=budget, catch=(Exception,))


def _kt_value(hp: Any, parameter: Any) -> Any:
    if parameter.kind == "categorical":
        return hp.Choice(parameter.name, list(parameter.choices))
    sampling = "log" if parameter.log else "linear"
    if parameter.kind == "int":
        # KerasTuner reads a log-scaled Int's step as a factor: none, as Optuna's log int has none
        step = None if parameter.log else int(parameter.step or 1)
        return hp.Int(parameter.name, int(parameter.low), int(parameter.high), step=step, sampling=sampling)
    return hp.Float(parameter.name, float(parameter.low), float(parameter.high), step=parameter.step,
                    sampling=sampling)


def run_kerastuner(spec: Any, seed: int, epochs: int, events: Path, started: float, budget: float,
                   hyperband: bool) -> None:
    """KerasTuner over the study's space (`when:` as a conditional scope); every finished model is tested."""
    import keras
    import keras_tuner

    x, y, x_val, y_val, x_test, y_test, data = _full_data(spec)

    def sample(hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for parameter in spec.parameters:
            if parameter.when:
                (parent, allowed), = parameter.when.items()
                with hp.conditional_scope(parent, list(allowed)):
                    value = _kt_value(hp, parameter)
                if values.get(parent) in allowed:
                    values[parameter.name] = value
            else:
                values[parameter.name] = _kt_value(hp, parameter)
        return values

    def build(hp: keras_tuner.HyperParameters) -> keras.Model:
        values = sample(hp)
        steps = -(-len(x) // values.get("batch_size", 256))
        # Hyperband resumes models across brackets, which a decaying schedule would not survive
        return _compiled(spec, values, epochs, steps, "constant" if hyperband else None, data.input_shape)[0]

    class TestEachModel(keras.callbacks.Callback):
        def on_train_end(self, logs: dict | None = None) -> None:
            val = float(self.model.evaluate(x_val, y_val, batch_size=1024, verbose=0)[1])
            test = float(self.model.evaluate(x_test, y_test, batch_size=1024, verbose=0)[1])
            _event(events, started, val, test)

    base = keras_tuner.Hyperband if hyperband else keras_tuner.BayesianOptimization

    class WithBatchSize(base):
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["batch_size"] = sample(trial.hyperparameters).get("batch_size", 256)
            return super().run_trial(trial, *args, **kwargs)

    options = ({"max_epochs": 3 * epochs, "factor": 3} if hyperband else {"max_trials": 10_000})
    tuner = WithBatchSize(build, objective="val_accuracy", seed=seed, directory=tempfile.mkdtemp(prefix="kt-"),
                          project_name="peer", overwrite=True, max_consecutive_failed_trials=10_000, **options)
    fit = {} if hyperband else {"epochs": epochs}
    tuner.search(x, y, validation_data=(x_val, y_val), verbose=0, callbacks=[TestEachModel()], **fit)


def seeded_study_file(study: str, seed: int, directory: Path, early_promotion: bool = True) -> Path:
    """The study file without its prior (`start_with`), its sampler seeded with `seed`, named per seed;
    `early_promotion=False` drops `promote.every` (promotion only after the search, the ablation `sweeplab-end`)."""
    import yaml

    from sweeps.spec import study_path

    raw = yaml.safe_load(study_path(study).read_text())
    raw.pop("start_with", None)
    raw["sampler"] = {**(raw.get("sampler") or {"name": "tpe"}), "seed": seed}
    if not early_promotion and isinstance(raw.get("promote"), dict):
        raw["promote"].pop("every", None)
    raw["study"] = f"{Path(study).stem}-seed{seed}"
    path = directory / f"{raw['study']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_sweeplab(study: str, seed: int, events: Path, started: float, budget: float,
                 early_promotion: bool = True) -> None:
    """The CLI as a user runs it, on a fresh storage; the events are read back from the study afterwards."""
    import optuna

    from sweeps.best import refit_record
    from sweeps.promotion import PROMOTED_FROM

    workdir = Path(tempfile.mkdtemp(prefix="peer-sweeplab-"))
    path = seeded_study_file(study, seed, workdir, early_promotion)
    storage = f"sqlite:///{workdir / 'study.db'}"
    env = {**os.environ, "SWEEPLAB_RUNS_DIR": str(workdir / "runs")}
    command = [sys.executable, "-m", "sweeplab", "sweep", str(path), "--storage", storage, "--set", "test_subset=0"]
    with open(workdir / "sweep.log", "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            process.wait(timeout=max(1.0, budget - (time.time() - started)))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    loaded = optuna.load_study(study_name=path.stem, storage=storage)
    for trial in loaded.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        level = "promoted" if PROMOTED_FROM in trial.user_attrs else "low"
        _event(events, started, trial.value, trial.user_attrs["metrics"]["test/accuracy"],
               when=trial.datetime_complete.timestamp(), trial=trial.number, level=level)
    record = refit_record(loaded)
    if record:
        _event(events, started, record["metrics"]["val/accuracy"], record["metrics"]["test/accuracy"],
               when=record["finished_at"], refit=record["trial"], level="refit")
    fidelity = loaded.user_attrs.get("fidelity")
    if fidelity:
        (events.parent / "fidelity.json").write_text(json.dumps(fidelity))


def main(argv: list[str]) -> int:
    from sweeps.spec import load_spec

    tool, study, seed, budget, epochs, events = argv
    seed, budget, epochs, events = int(seed), float(budget), int(epochs), Path(events)
    started = float(os.environ["PEER_STARTED"])
    if tool in ("sweeplab", "sweeplab-end"):
        run_sweeplab(study, seed, events, started, budget, early_promotion=tool == "sweeplab")
    elif tool in ("optuna-tpe", "random"):
        run_loop(load_spec(study), seed, epochs, events, started, budget, tpe=tool == "optuna-tpe")
    else:
        run_kerastuner(load_spec(study), seed, epochs, events, started, budget, hyperband=tool == "kt-hyperband")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
