"""A resumable store of training evaluations: JSON lines keyed by a hash of the fully resolved config.

The key covers everything a run depends on (dataset, hyperparameters, seed, permutation, epochs, subset, ...),
because it is computed from the config after defaults and model presets are applied. A finished evaluation is
never recomputed; an interrupted analysis picks up where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import trainers
from datasets.formats import CorruptDataError
from datasets.registry import DataNotFoundError, UnknownDatasetError
from trainers.config import as_dict

MISSING_DATA = (DataNotFoundError, UnknownDatasetError, CorruptDataError)

Runner = Callable[[str, dict[str, Any]], dict[str, float]]


def trainer_runner(task: str, params: dict[str, Any]) -> dict[str, float]:
    """The one trainer entry point (looked up at call time, so tests can count calls)."""
    return trainers.run(task, params).metrics


def resolved_config(task: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The config after defaults and presets, without the values that equal the config type's defaults.

    Leaving defaults out keeps stored results valid when a new config field (with a neutral default) is added.
    """
    task_info = trainers.get_task(task)
    config = as_dict(trainers.resolve_config(task_info, params))
    defaults = {item.name: item.default for item in dataclasses.fields(task_info.config_type)
                if item.default is not dataclasses.MISSING}
    return {name: value for name, value in config.items() if name not in defaults or defaults[name] != value}


def evaluation_key(task: str, params: Mapping[str, Any]) -> str:
    """sha256 of the task and its resolved config: equal for equal runs however the params were spelled."""
    payload = json.dumps({"task": task, "config": resolved_config(task, params)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


class EvaluationStore:
    """Runs evaluations once and remembers them in `path` (JSONL, one line per finished run)."""

    def __init__(self, path: Path | str, runner: Runner = trainer_runner, verbose: bool = True) -> None:
        self.path = Path(path)
        self.runner = runner
        self.verbose = verbose
        self.records: dict[str, dict[str, Any]] = {}
        self.computed = 0  # evaluations trained by this store (not read back)
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # a line torn by an interrupted write: that run is redone
                    continue
                self.records[record["key"]] = record

    def __len__(self) -> int:
        return len(self.records)

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            handle.flush()
        self.records[record["key"]] = record

    def evaluate(self, task: str, params: Mapping[str, Any], label: str = "") -> dict[str, float]:
        """Metrics of one run: read back when stored, trained (and stored) otherwise. A failed run stores NaNs."""
        return self.record(task, params, label)["metrics"]

    def record(self, task: str, params: Mapping[str, Any], label: str = "") -> dict[str, Any]:
        """The stored record of one run (metrics, error, seconds, key), training it first when it is not stored."""
        params = dict(params)
        key = evaluation_key(task, params)
        if key in self.records:
            return self.records[key]
        started = time.perf_counter()
        error = None
        try:
            metrics = {name: float(value) for name, value in self.runner(task, params).items()}
        except MISSING_DATA:
            raise  # the environment, not the configuration: stop, store nothing, so a rerun retries it
        except Exception as failure:  # a diverging or invalid config is data, not a crash
            metrics, error = {}, f"{type(failure).__name__}: {failure}"[:500]
        record = {"key": key, "task": task, "params": params, "metrics": metrics, "error": error,
                  "seconds": round(time.perf_counter() - started, 2), "label": label}
        self._append(record)
        self.computed += 1
        if self.verbose:
            shown = ", ".join(f"{name}={value:.4f}" for name, value in metrics.items() if name.endswith("accuracy"))
            print(f"  [{len(self.records)}] {label} {shown or error} ({record['seconds']:.1f} s)", file=sys.stderr)
        return record

    def metric(self, task: str, params: Mapping[str, Any], name: str, label: str = "") -> float:
        """One metric of one run; NaN when the run failed or did not report it."""
        value = self.evaluate(task, params, label).get(name, math.nan)
        return float(value) if value is not None else math.nan
