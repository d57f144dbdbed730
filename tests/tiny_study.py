"""A tiny classification study (seconds a trial, no pruner, so every finished trial is COMPLETE) for agent tests,
and a user task that does something to its storage while a trial runs, for the storage tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any


def tiny_study_text(name: str, trials: int) -> str:
    return f"""\
study: {name}
task: classify
fixed: {{dataset: mnist, model: geron_mlp, epochs: 1, subset: 300, test_subset: 200, dense_layers: 1, dense_units: 16}}
space:
  learning_rate: {{type: float, low: 1.0e-3, high: 1.0e-1, log: true}}
  batch_size: {{type: categorical, choices: [64, 128]}}
objective: val/accuracy
sampler: {{name: random}}
pruner: none
budget: {{trials: {trials}}}
"""


def faulting_task_source(fault: str) -> str:
    """A user task module whose `train` first runs `fault` (statements using `os`, `Path`, `config` and `run_dir`;
    the storage file is $STORAGE_FILE), then returns its config value as val/accuracy."""
    return f"""\
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sweeplab
from sweeplab import param


@dataclass
class Config:
    value: float = param(0.5, low=0.0, high=1.0)


@sweeplab.task(config=Config)
def train(config, reporter, run_dir):
{textwrap.indent(textwrap.dedent(fault).strip(), "    ")}
    return {{"val/accuracy": config.value}}
"""


def faulting_study_text(module: str) -> str:
    """The study of `faulting_task_source` saved as MODULE.py: 3 random trials over its one value, no pruner."""
    return f"""\
task: {module}:train
space:
  value: {{type: float, low: 0.0, high: 1.0}}
sampler: {{name: random}}
pruner: none
budget: {{trials: 3}}
"""


def storage_operations(storage: Any, study_id: int) -> list[Callable[[], Any]]:
    """Writes and reads a command makes on a storage, each a thunk, for faults injected between them."""
    return [lambda: storage.create_new_trial(study_id),
            lambda: storage.set_study_user_attr(study_id, "note", "x"),
            lambda: storage.get_all_trials(study_id),
            lambda: storage.create_new_trial(study_id),
            lambda: storage.get_study_user_attrs(study_id)]
