"""The task registry: task name -> config type, trainer function, objective. Adding a task touches only its module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trainers.reporter import Reporter

TrainFunction = Callable[[Any, Reporter, "Path | None"], dict[str, float]]


@dataclass(frozen=True)
class Task:
    """One task family. `train(config, reporter, run_dir) -> metrics` is the only trainer entry point."""

    name: str
    config_type: type
    train: TrainFunction
    objective: str  # metric name `split/name` that studies optimise by default
    direction: Literal["maximize", "minimize"]
    description: str
    metrics: tuple[str, ...] = ()  # other metrics a study may choose as objective, with their directions below
    directions: Mapping[str, str] = field(default_factory=dict)
    presets: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda values: {}  # e.g. model -> its defaults
    smoke: Mapping[str, Any] = field(default_factory=dict)  # a tiny, fast config for smoke tests

    def direction_of(self, metric: str) -> str:
        if metric == self.objective:
            return self.direction
        if metric in self.directions:
            return self.directions[metric]
        raise KeyError(f"task {self.name!r} cannot optimise {metric!r}; choose one of "
                       f"{', '.join([self.objective, *self.directions])}")


TASKS: dict[str, Task] = {}


def lazy(reference: str, **bound: Any) -> TrainFunction:
    """A trainer named "package.module:function" (with `bound` keyword arguments), imported on its first call:
    registering a task, and so reading a study file, imports no deep-learning framework."""
    module_name, _, function_name = reference.partition(":")

    def train(*args: Any, **kwargs: Any) -> dict[str, float]:
        return getattr(importlib.import_module(module_name), function_name)(*args, **bound, **kwargs)

    train.__qualname__ = train.__name__ = function_name
    return train


class UnknownTaskError(KeyError):
    """No task of that name is registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def register_task(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def discover_tasks() -> dict[str, Task]:
    """Import every module of `trainers.tasks`; each registers its tasks."""
    import trainers.tasks as tasks_package

    for module in pkgutil.iter_modules(tasks_package.__path__):
        importlib.import_module(f"trainers.tasks.{module.name}")
    return TASKS


def get_task(name: str) -> Task:
    discover_tasks()
    if name not in TASKS:
        raise UnknownTaskError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
