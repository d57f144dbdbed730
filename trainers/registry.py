"""The task registry: task name -> config type, trainer function, objective. Adding a task touches only its module."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
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


class UserTaskError(UnknownTaskError):
    """A user's task declaration or `module:function` reference is wrong; one line naming what and where."""


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
    """A built-in task by name, or a user's `module:function` (imported on first use)."""
    if is_reference(name):
        return TASKS[name] if name in TASKS else load_reference(name)
    discover_tasks()
    if name not in TASKS:
        raise UnknownTaskError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def add_search_dir(directory: Path | str) -> None:
    """Let `module:function` references import from `directory` (a study file's folder) in this process."""
    resolved = str(Path(directory).resolve())
    if resolved not in sys.path:
        sys.path.append(resolved)


def is_reference(name: str) -> bool:
    return ":" in name


def load_reference(reference: str) -> Task:
    """Import `module:function` (from sys.path, the working directory and study files' folders) and return the task
    its `@task` declared; every problem is one UserTaskError line."""
    module_name, _, function_name = reference.partition(":")
    if not module_name or not function_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise UserTaskError(f"task {reference!r}: expected 'module:function', e.g. 'mytasks:train'")
    add_search_dir(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except UserTaskError as error:  # a bad declaration at import (param bounds, @task): say which module
        if module_name in str(error):
            raise
        raise UserTaskError(f"task {reference!r}: {error}") from None
    except ModuleNotFoundError as error:
        raise UserTaskError(f"task {reference!r}: no module {error.name!r} (searched the working directory, the "
                            f"study file's folder and PYTHONPATH)") from None
    except SyntaxError as error:
        raise UserTaskError(f"task {reference!r}: syntax error in {error.filename}, line {error.lineno}: "
                            f"{error.msg}") from None
    except Exception as error:
        raise UserTaskError(f"task {reference!r}: importing {module_name} raised {type(error).__name__}: "
                            f"{error}") from None
    target: Any = module
    for part in function_name.split("."):
        target = getattr(target, part, None)
    if target is None:
        raise UserTaskError(f"task {reference!r}: module {module_name} ({module.__file__}) has no {function_name!r}")
    declared = getattr(target, "sweeplab_task", None)
    if not isinstance(declared, Task):
        raise UserTaskError(f"task {reference!r}: {function_name} is not declared as a task; decorate it with "
                            "@sweeplab.task(config=..., objective=..., direction=...)")
    return declared
