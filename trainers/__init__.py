"""Trainers: model builders, fit loop, the reporter seam and the task registry.

The names below load lazily, so `trainers.stop` (the stop signals' record, imported before anything else) costs
nothing more."""

from __future__ import annotations

from datasets.lazy import lazy_names

_PUBLIC = {"TASKS": "trainers.registry", "Task": "trainers.registry", "discover_tasks": "trainers.registry",
           "get_task": "trainers.registry", "register_task": "trainers.registry", "Reporter": "trainers.reporter",
           "StopTrial": "trainers.reporter", "Result": "trainers.runner", "resolve_config": "trainers.runner",
           "run": "trainers.runner"}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy_names(__name__, _PUBLIC)
