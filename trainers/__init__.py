"""Trainers: model builders, fit loop, the reporter seam and the task registry."""

from trainers.registry import TASKS, Task, discover_tasks, get_task, register_task
from trainers.reporter import Reporter, StopTrial
from trainers.runner import Result, resolve_config, run

__all__ = ["TASKS", "Reporter", "Result", "StopTrial", "Task", "discover_tasks", "get_task", "register_task",
           "resolve_config", "run"]
