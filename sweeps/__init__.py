"""Study files (`sweeps/*.yaml`) and the code that loads, validates and compiles them to Optuna and W&B.

The names below load lazily: `sweeps.signals`, which the CLI imports first to put its stop handlers in, must not
wait half a second for the study-file modules (and numpy) while a signal would still kill the process unheard."""

from __future__ import annotations

from datasets.lazy import lazy_names

_PUBLIC = {"Parameter": "sweeps.space", "suggest_all": "sweeps.space", "SpecError": "sweeps.spec",
           "StudySpec": "sweeps.spec", "load_spec": "sweeps.spec", "study_names": "sweeps.spec"}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy_names(__name__, _PUBLIC)
