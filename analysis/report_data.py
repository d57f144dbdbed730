"""What the HTML report shows, computed from a study and its run directories (drawn by analysis.report_render)."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial

from analysis.best import state_counts
from analysis.metrics_file import read_metrics
from sweeps.best import ranked_trials, refit_record
from sweeps.names import file_stem
from sweeps.roles import ROLES
from sweeps.space import Parameter

ROLE_ORDER = (*ROLES, "unassigned")


@dataclass(frozen=True)
class ParameterInfo:
    """One hyperparameter against the objective, over the completed trials."""

    name: str
    kind: str
    values: list[Any]
    objectives: list[float]
    best_value: Any
    low: float | None
    high: float | None
    log: bool
    at_edge: bool  # the best value sits in the outer 5% of the range: widen the range
    role: str = "unassigned"  # the study file's `roles:` (scientific, nuisance, fixed), as the tuning playbook


@dataclass(frozen=True)
class Curve:
    """Per-epoch metrics of one trial, from `runs/<study>/<trial>/metrics.jsonl`."""

    trial: int
    value: float | None
    steps: list[int]
    series: dict[str, list[float | None]]


@dataclass(frozen=True)
class ImageInfo:
    trial: int
    name: str
    path: Path


@dataclass
class StudyReport:
    """Everything one study's page shows."""

    name: str
    task: str
    objective: str
    direction: str
    states: dict[str, int]
    n_trials: int
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    reproduce: str
    refit: dict[str, Any] | None = None  # the best configuration retrained at full fidelity (sweeps.refit)
    parameters: list[ParameterInfo] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    images: list[ImageInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _load_spec(study: optuna.Study) -> Any:
    from sweeps.spec import SpecError, load_spec, study_names

    candidates = [study.user_attrs.get("spec_path")] + ([study.study_name] if study.study_name in study_names()
                                                        else [])
    for candidate in candidates:
        if candidate and (Path(candidate).exists() or candidate in study_names()):
            try:
                return load_spec(candidate)
            except SpecError:
                continue
    return None


def _parameter_from_distribution(name: str, distribution: Any) -> Parameter:
    if isinstance(distribution, CategoricalDistribution):
        return Parameter(name, "categorical", choices=tuple(distribution.choices))
    kind = "int" if isinstance(distribution, IntDistribution) else "float"
    assert isinstance(distribution, (IntDistribution, FloatDistribution))
    return Parameter(name, kind, low=distribution.low, high=distribution.high, log=distribution.log)


def parameter_infos(trials: list[FrozenTrial], best: FrozenTrial | None,
                    parameters: list[Parameter] | None = None,
                    roles: Mapping[str, list[str]] | None = None) -> list[ParameterInfo]:
    """Each hyperparameter's (value, objective) pairs, its role and whether the best value is at the edge of its
    range; ordered by role (scientific, nuisance, fixed, unassigned), then as declared."""
    role_of = {name: role for role, names in (roles or {}).items() for name in names}
    known = {parameter.name: parameter for parameter in parameters or []}
    for trial in trials:
        for name, distribution in trial.distributions.items():
            known.setdefault(name, _parameter_from_distribution(name, distribution))
    infos = []
    for name, parameter in known.items():
        pairs = [(trial.params[name], float(trial.value)) for trial in trials
                 if name in trial.params and trial.value is not None]
        if not pairs:
            continue
        best_value = best.params.get(name) if best is not None else None
        infos.append(ParameterInfo(name=name, kind=parameter.kind, values=[value for value, _ in pairs],
                                   objectives=[objective for _, objective in pairs], best_value=best_value,
                                   low=parameter.low, high=parameter.high, log=parameter.log,
                                   at_edge=parameter.at_edge(best_value), role=role_of.get(name, "unassigned")))
    return sorted(infos, key=lambda info: ROLE_ORDER.index(info.role))


def read_curve(trial: FrozenTrial, runs_root: Path, study_name: str, warnings: list[str] | None = None) -> Curve | None:
    """The trial's metrics.jsonl (run dir from its user attrs, else runs/<study>/<number>), read by
    analysis.metrics_file: lines that are not metrics records are skipped, with one warning appended to `warnings`."""
    run_dir = Path(trial.user_attrs.get("run_dir") or runs_root / file_stem(study_name) / f"{trial.number:04d}")
    try:
        records, skipped = read_metrics(run_dir / "metrics.jsonl")  # never a FIFO or a device: it would hang
    except OSError:  # missing, not a regular file or unreadable: no curve for this trial
        return None
    if skipped and warnings is not None:
        warnings.append(skipped)
    if not records:
        return None
    names = sorted({name for record in records for name in record.values})
    series = {name: [record.values.get(name) for record in records] for name in names}
    return Curve(trial=trial.number, value=trial.value, steps=[record.step for record in records], series=series)


def find_images(trials: list[FrozenTrial], runs_root: Path, study_name: str, limit: int = 12) -> list[ImageInfo]:
    """PNG grids from the run directories of the given trials (best first): the last epoch's grid of each name."""
    images: list[ImageInfo] = []
    for trial in trials:
        run_dir = Path(trial.user_attrs.get("run_dir") or runs_root / file_stem(study_name) / f"{trial.number:04d}")
        latest: dict[str, Path] = {}
        try:
            paths = sorted(path for path in (run_dir / "images").glob("*.png") if path.is_file())  # regular ones
        except OSError:
            paths = []
        for path in paths:  # `name-0007.png`: the grid logged at epoch 7
            latest[re.sub(r"-\d{4}$", "", path.stem)] = path
        images += [ImageInfo(trial=trial.number, name=name, path=path) for name, path in latest.items()]
    return images[:limit]


def reproduce_command(study_name: str, trial: FrozenTrial, fixed: dict[str, Any]) -> str:
    """`sweeplab run STUDY --set ...` with the best trial's parameters and any overrides of the study's fixed values."""
    config = trial.user_attrs.get("config", {})
    values = {name: config.get(name, value) for name, value in trial.params.items()}
    values.update({name: config[name] for name, value in fixed.items() if name in config and config[name] != value})
    sets = " ".join(f"--set {shlex.quote(f'{name}={_yaml_scalar(value)}')}" for name, value in values.items())
    return f"sweeplab run {study_name} {sets}".strip()


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def study_report(study: optuna.Study, runs_root: Path, top: int = 5) -> StudyReport:
    """Compute one study's page: summary, per-parameter data with edge warnings, top-trial curves and images."""
    spec = _load_spec(study)
    ranked = ranked_trials(study)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    best = ranked[0] if ranked else None
    states = state_counts(study)
    objective = study.user_attrs.get("objective") or (spec.objective if spec else "value")
    report = StudyReport(
        name=study.study_name, task=study.user_attrs.get("task") or (spec.task if spec else "?"),
        objective=objective, direction="maximize" if maximize else "minimize", states=states,
        n_trials=sum(states.values()),
        best_trial=best.number if best else None, best_value=best.value if best else None,
        best_params=dict(best.params) if best else {},
        reproduce=reproduce_command(study.study_name, best, spec.fixed if spec else {}) if best else "",
        refit=refit_record(study),
    )
    report.parameters = parameter_infos(ranked, best, spec.parameters if spec else None, spec.roles if spec else None)
    report.warnings = [f"best {info.name} = {info.best_value} is at the edge of its range "
                       f"[{info.low}, {info.high}]: consider widening it" for info in report.parameters if info.at_edge]
    skipped: list[str] = []
    report.curves = [curve for trial in ranked[:top]
                     if (curve := read_curve(trial, runs_root, study.study_name, skipped))]
    for warning in skipped:  # a damaged metrics.jsonl costs its bad lines, never the report
        print(f"sweeplab: warning: {warning}", file=sys.stderr)
    report.warnings += skipped
    report.images = find_images(ranked[:top], runs_root, study.study_name)
    return report


def all_reports(storage: optuna.storages.BaseStorage, runs_root: Path, top: int = 5) -> list[StudyReport]:
    """One StudyReport per study in the storage, by name."""
    names = sorted(summary.study_name for summary in optuna.get_all_study_summaries(storage))
    return [study_report(optuna.load_study(study_name=name, storage=storage), runs_root, top) for name in names]
