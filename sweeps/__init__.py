"""Study files (`sweeps/*.yaml`) and the code that loads, validates and compiles them to Optuna and W&B."""

from sweeps.space import Parameter, suggest_all
from sweeps.spec import SpecError, StudySpec, load_spec, study_names

__all__ = ["Parameter", "SpecError", "StudySpec", "load_spec", "study_names", "suggest_all"]
