"""sweeplab: Optuna studies and W&B sweeps over Keras 3 trainers. `sweeplab --help` lists the commands.

A user's own task imports its declaration API from here (`sweeplab.task`, `sweeplab.param`) and, if it trains a
Keras classifier, the helpers `sweeplab.load_data` and `sweeplab.fit_keras`. They load lazily: importing sweeplab
for the CLI imports no framework.
"""

from __future__ import annotations

from datasets.lazy import lazy_names

_PUBLIC = {"task": "trainers.user_tasks", "param": "trainers.user_tasks", "load_data": "trainers.user_fit",
           "fit_keras": "trainers.user_fit", "Reporter": "trainers.reporter"}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy_names(__name__, _PUBLIC)
