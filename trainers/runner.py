"""The single trainer entry point used by Optuna objectives, W&B agents and `sweeplab run` alike."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets.atomic import make_folder, write_text
from trainers.config import as_dict, resolve
from trainers.memory import forget_custom_gradients_after
from trainers.provenance import provenance
from trainers.registry import Task, get_task
from trainers.reporter import CompositeReporter, JsonlReporter, Reporter, outcome_of


@dataclass(frozen=True)
class Result:
    task: str
    config: dict[str, Any]
    metrics: dict[str, float]
    run_dir: Path | None


def resolve_config(task: Task, *layers: Mapping[str, Any]) -> Any:
    """Defaults < task presets (e.g. the chosen model's) < layers, strictly typed (each layer checked as given, so
    an error about a `--set` value names the option)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return resolve(task.config_type, task.presets(merged), *layers)


def write_json(path: Path, payload: Any) -> None:
    make_folder(path.parent)
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def run(task_name: str, params: Mapping[str, Any], reporter: Reporter | None = None,
        run_dir: Path | None = None) -> Result:
    """Resolve the config, record it with provenance in `run_dir`, train, and record the final metrics.

    The reporter sees `start(resolved config)` before training and `end(outcome, metrics)` exactly once after it.
    A config that does not resolve raises before any reporter starts.
    """
    task = get_task(task_name)
    config = resolve_config(task, params)
    resolved = as_dict(config)
    reporters: list[Reporter] = [reporter or Reporter()]
    if run_dir is not None:
        run_dir = Path(run_dir)
        reporters.append(JsonlReporter(run_dir))
        write_json(run_dir / "config.json", {"task": task.name, "config": resolved, **provenance()})
    composite = CompositeReporter(*reporters)
    composite.start(resolved)
    try:
        started = time.perf_counter()
        with forget_custom_gradients_after():  # else each traced model stays alive in TensorFlow's registry
            metrics = task.train(config, composite, run_dir)
        metrics = {**metrics, "time/train_seconds": round(time.perf_counter() - started, 3)}
        if run_dir is not None:
            write_json(run_dir / "result.json", {"task": task.name, "metrics": metrics})
    except BaseException as error:
        composite.end(outcome_of(error), None)
        raise
    composite.end("complete", metrics)
    return Result(task=task.name, config=resolved, metrics=metrics, run_dir=run_dir)
