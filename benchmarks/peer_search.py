"""Peer benchmark: the same search space, data split and wall-clock budget for three ways to tune a Keras model.

- `sweeplab`: `sweeplab sweep STUDY` with the study's defaults (multi-fidelity search, then the refit), except that
  every trial is tested on the whole test set (`--set test_subset=0`) so all tools report the same number;
- `kerastuner`: KerasTuner's `Hyperband` (max_epochs = the study's refit epochs, factor 3) on every training image,
  hyperparameters from the study's space (`when:` becomes a conditional scope), constant learning rate as KerasTuner
  resumes models across brackets;
- `optuna`: a plain Optuna TPE loop calling `model.fit` on every training image for the refit's epochs with the
  study's fixed values (cosine schedule included), as a notebook would: no pruning, no refit.

Each tool runs in its own process, killed at the budget. After every finished model, the tool's current best (by
validation accuracy) is tested on the whole test set; the timeline of that test accuracy gives the accuracy at 2, 5
and 10 minutes and the time to reach 90% and 91%. JSON to benchmarks/results/, a PNG plot beside it.

    python -m benchmarks.peer_search                       # fashion-cnn, 600 s per tool (about 35 minutes)
    python -m benchmarks.peer_search --budget 120 --tools optuna   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import write_result

TOOLS = ("sweeplab", "kerastuner", "optuna")
CHECKPOINTS_S = (120, 300, 600)
THRESHOLDS = (0.90, 0.91)


def _event(path: Path, started: float, val: float, test: float, when: float | None = None, **extra: Any) -> None:
    """Append one finished model: seconds since `started` (at `when`, default now), validation and test accuracy."""
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


def _compiled(spec: Any, values: dict[str, Any], epochs: int, steps_per_epoch: int, schedule: str,
              input_shape: tuple[int, ...]) -> Any:
    from trainers import get_task, resolve_config
    from trainers.models.classifiers import build_classifier
    from trainers.optimizers import build_optimizer

    config = resolve_config(get_task("classify"), spec.fixed, values,
                            {"subset": 0, "epochs": epochs, "lr_schedule": schedule})
    model = build_classifier(config, input_shape, 10)
    model.compile(optimizer=build_optimizer(config, steps_per_epoch), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, config


def run_optuna(spec: Any, events: Path, started: float, budget: float) -> None:
    import optuna

    from sweeps.space import suggest_all

    x, y, x_val, y_val, x_test, y_test, data = _full_data(spec)
    epochs = int(spec.refit["epochs"])

    def objective(trial: optuna.Trial) -> float:
        values = suggest_all(spec.parameters, trial, given=spec.fixed)
        model, config = _compiled(spec, values, epochs, -(-len(x) // values.get("batch_size", 256)), "cosine",
                                  data.input_shape)
        history = model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=config.batch_size,
                            verbose=0)
        val = float(history.history["val_accuracy"][-1])
        test = float(model.evaluate(x_test, y_test, batch_size=1024, verbose=0)[1])
        _event(events, started, val, test, trial=trial.number)
        return val

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, timeout=budget)


def run_kerastuner(spec: Any, events: Path, started: float, budget: float) -> None:
    import keras
    import keras_tuner

    x, y, x_val, y_val, x_test, y_test, data = _full_data(spec)
    max_epochs = int(spec.refit["epochs"])

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
        return _compiled(spec, values, max_epochs, 1, "constant", data.input_shape)[0]

    class TestEachModel(keras.callbacks.Callback):
        def on_train_end(self, logs: dict | None = None) -> None:
            val = float(self.model.evaluate(x_val, y_val, batch_size=1024, verbose=0)[1])
            test = float(self.model.evaluate(x_test, y_test, batch_size=1024, verbose=0)[1])
            _event(events, started, val, test)

    class BatchSizeHyperband(keras_tuner.Hyperband):
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["batch_size"] = sample(trial.hyperparameters).get("batch_size", 256)
            return super().run_trial(trial, *args, **kwargs)

    tuner = BatchSizeHyperband(build, objective="val_accuracy", max_epochs=max_epochs, factor=3, seed=0,
                               directory=tempfile.mkdtemp(prefix="kt-"), project_name="peer", overwrite=True)
    tuner.search(x, y, validation_data=(x_val, y_val), verbose=0, callbacks=[TestEachModel()])


def _kt_value(hp: Any, parameter: Any) -> Any:
    if parameter.kind == "categorical":
        return hp.Choice(parameter.name, list(parameter.choices))
    sampling = "log" if parameter.log else "linear"
    if parameter.kind == "int":
        return hp.Int(parameter.name, int(parameter.low), int(parameter.high), step=int(parameter.step or 1),
                      sampling=sampling)
    return hp.Float(parameter.name, float(parameter.low), float(parameter.high), step=parameter.step,
                    sampling=sampling)


def run_sweeplab(study: str, events: Path, started: float, budget: float) -> None:
    """The CLI as a user runs it, on a fresh storage; the timeline is read back from the study afterwards."""
    import optuna

    from sweeps.best import refit_record

    workdir = Path(tempfile.mkdtemp(prefix="peer-sweeplab-"))
    storage = f"sqlite:///{workdir / 'study.db'}"
    env = {**os.environ, "SWEEPLAB_RUNS_DIR": str(workdir / "runs")}
    command = [sys.executable, "-m", "sweeplab", "sweep", study, "--storage", storage, "--set", "test_subset=0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=max(1.0, budget - (time.time() - started)))
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    loaded = optuna.load_study(study_name=study, storage=storage)
    for trial in sorted(loaded.get_trials(deepcopy=False), key=lambda trial: trial.datetime_complete or 0):
        if trial.state == optuna.trial.TrialState.COMPLETE:
            metrics = trial.user_attrs["metrics"]
            _event(events, started, trial.value, metrics["test/accuracy"], when=trial.datetime_complete.timestamp(),
                   trial=trial.number)
    record = refit_record(loaded)
    if record:
        _event(events, started, record["metrics"]["val/accuracy"], record["metrics"]["test/accuracy"],
               when=record["finished_at"], refit=record["trial"])


def timeline(events: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(elapsed, test accuracy of the best model so far): best by validation, except that a refit supersedes the
    search it refits (it is the search's answer, trained at full fidelity)."""
    points, best_val, current = [], -1.0, None
    for event in sorted(events, key=lambda event: event["elapsed_s"]):
        if "refit" in event:
            current = event["test"]
            best_val = float("inf")
        elif event["val"] > best_val:
            best_val, current = event["val"], event["test"]
        if current is not None:
            points.append((event["elapsed_s"], current))
    return points


def summarise(points: list[tuple[float, float]]) -> dict[str, Any]:
    at = {f"test_at_{limit // 60}min": next((test for elapsed, test in reversed(points) if elapsed <= limit), None)
          for limit in CHECKPOINTS_S}  # the tool's answer at that moment: its current best model's test accuracy
    reach = {f"seconds_to_{round(threshold * 100)}": next((elapsed for elapsed, test in points if test >= threshold),
                                                          None) for threshold in THRESHOLDS}
    return {**at, **reach, "final_test": points[-1][1] if points else None}


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5), dpi=120)
    for tool, result in results.items():
        points = result["timeline"]
        if points:
            xs = [elapsed / 60 for elapsed, _ in points]
            axis.step([*xs, result["budget_s"] / 60], [*(test for _, test in points), points[-1][1]], where="post",
                      label=tool, linewidth=2)
    for threshold in THRESHOLDS:
        axis.axhline(threshold, color="grey", linestyle=":", linewidth=1)
    axis.set(xlabel="wall time (minutes)", ylabel="test accuracy of the best model so far", ylim=(0.80, 0.95),
             title="Same search space and budget on a 2-core CPU (Fashion-MNIST CNN)")
    axis.legend(loc="lower right")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)


def worker(tool: str, study: str, events: Path, budget: float) -> None:
    from sweeps.spec import load_spec

    started = float(os.environ["PEER_STARTED"])
    if tool == "sweeplab":
        run_sweeplab(study, events, started, budget)
    else:
        {"kerastuner": run_kerastuner, "optuna": run_optuna}[tool](load_spec(study), events, started, budget)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="fashion-cnn")
    parser.add_argument("--budget", type=float, default=600.0, help="wall-clock seconds per tool")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.study, args.events, args.budget)
        return 0
    results: dict[str, Any] = {}
    for tool in args.tools.split(","):
        events = Path(tempfile.mkdtemp(prefix=f"peer-{tool}-")) / "events.jsonl"
        events.touch()
        started = time.time()
        load_before = os.getloadavg()[0]
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.peer_search", "--worker", tool, "--study",
                                    args.study, "--budget", str(args.budget), "--events", str(events)],
                                   env={**os.environ, "PEER_STARTED": str(started)})
        grace = 90 if tool == "sweeplab" else 0  # sweeplab reads its study back after its own deadline
        try:
            process.wait(timeout=args.budget + grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        recorded = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
        recorded = [event for event in recorded if event["elapsed_s"] <= args.budget]
        points = timeline(recorded)
        results[tool] = {"budget_s": args.budget, "events": recorded, "timeline": points, **summarise(points),
                         "load_average_before": load_before, "load_average_after": os.getloadavg()[0]}
        print(tool, json.dumps({key: value for key, value in results[tool].items()
                                if key not in {"events", "timeline"}}), flush=True)
    path = write_result(f"peer_search-{args.study}", {"study": args.study, "tools": results})
    plot(results, path.with_suffix(".png"))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
