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
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

import trainers
from datasets.atomic import make_folder
from datasets.formats import CorruptDataError
from datasets.processes import spawn_pool, submit_all
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


def limit_threads(threads: int) -> None:
    """Cap the math libraries' thread pools of this process (before TensorFlow/JAX/PyTorch load)."""
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}")


def train_record(runner: Runner, task: str, params: dict[str, Any], key: str, label: str) -> dict[str, Any]:
    """Train one run and return its store record; a failing config is a record with an error, missing data raises."""
    started = time.perf_counter()
    error = None
    try:
        metrics = {name: float(value) for name, value in runner(task, params).items()}
    except MISSING_DATA:
        raise  # the environment, not the configuration: stop, store nothing, so a rerun retries it
    except Exception as failure:  # a diverging or invalid config is data, not a crash
        metrics, error = {}, f"{type(failure).__name__}: {failure}"[:500]
    return {"key": key, "task": task, "params": params, "metrics": metrics, "error": error,
            "seconds": round(time.perf_counter() - started, 2), "label": label, "pid": os.getpid()}


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
        make_folder(self.path.parent)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            handle.flush()
        self.records[record["key"]] = record

    def has(self, task: str, params: Mapping[str, Any]) -> bool:
        """Is this run stored (finished before)?"""
        return evaluation_key(task, params) in self.records

    def evaluate(self, task: str, params: Mapping[str, Any], label: str = "") -> dict[str, float]:
        """Metrics of one run: read back when stored, trained (and stored) otherwise. A failed run stores NaNs."""
        return self.record(task, params, label)["metrics"]

    def record(self, task: str, params: Mapping[str, Any], label: str = "") -> dict[str, Any]:
        """The stored record of one run (metrics, error, seconds, key), training it first when it is not stored."""
        params = dict(params)
        key = evaluation_key(task, params)
        if key in self.records:
            return self.records[key]
        return self._add(train_record(self.runner, task, params, key, label))

    def record_all(self, items: Sequence[tuple[str, Mapping[str, Any], str]], workers: int = 1,
                   on_record: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """`record` for many (task, params, label) items, the unstored ones trained by `workers` processes at once.

        Each worker gets an equal share of the CPU's cores as its thread budget (set before its framework loads),
        and every finished run is stored as it arrives, so an interrupted batch keeps what it finished.
        `on_record(record)` is called for each newly trained run. With workers <= 1 the runs train here, in order.
        """
        keyed = [(evaluation_key(task, params), task, dict(params), label) for task, params, label in items]
        pending = {key: (task, params, label) for key, task, params, label in keyed if key not in self.records}
        if workers <= 1 or len(pending) <= 1 or self.runner is not trainer_runner:
            for key, (task, params, label) in pending.items():
                record = self._add(train_record(self.runner, task, params, key, label))
                if on_record:
                    on_record(record)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            # a fresh framework per worker (spawned, never forked); a stop ends the workers at once
            with spawn_pool(min(workers, len(pending)), initializer=limit_threads, initargs=(threads,)) as pool:
                futures = submit_all(pool, train_record, [(trainer_runner, task, params, key, label)
                                                          for key, (task, params, label) in pending.items()])
                for future in as_completed(futures):
                    record = self._add(future.result())  # MISSING_DATA re-raises here: stop, keep what finished
                    if on_record:
                        on_record(record)
        return [self.records[key] for key, *_ in keyed]

    def _add(self, record: dict[str, Any]) -> dict[str, Any]:
        self._append(record)
        self.computed += 1
        if self.verbose:
            shown = ", ".join(f"{name}={value:.4f}" for name, value in record["metrics"].items()
                              if name.endswith("accuracy"))
            print(f"  [{len(self.records)}] {record['label']} {shown or record['error']} ({record['seconds']:.1f} s)",
                  file=sys.stderr)
        return record

    def metric(self, task: str, params: Mapping[str, Any], name: str, label: str = "") -> float:
        """One metric of one run; NaN when the run failed or did not report it."""
        value = self.evaluate(task, params, label).get(name, math.nan)
        return float(value) if value is not None else math.nan
