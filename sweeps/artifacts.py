"""Image grids into Optuna's artifact store (`runs/artifacts`), where optuna-dashboard shows them per trial."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from datasets.atomic import make_folder
from sweeps.storage import open_storage, runs_dir
from sweeps.storage_faults import StorageUnavailableError
from trainers.reporter import Reporter

if TYPE_CHECKING:
    from sweeps.objective import ReporterFactory


def artifact_dir() -> Path:
    """`$SWEEPLAB_RUNS_DIR/artifacts`: the FileSystemArtifactStore shared by sweeps and the dashboard."""
    path = runs_dir() / "artifacts"
    make_folder(path)
    return path


def artifact_store() -> FileSystemArtifactStore:
    return FileSystemArtifactStore(str(artifact_dir()))


class ArtifactReporter(Reporter):
    """Uploads each image grid as a PNG artifact of the running trial."""

    def __init__(self, storage_url: str | None, study_name: str, trial_number: int) -> None:
        self.storage_url, self.study_name, self.trial_number = storage_url, study_name, trial_number
        self.storage: optuna.storages.BaseStorage | None = None
        self.trial: optuna.trial.FrozenTrial | None = None  # looked up once, on the first image
        self.uploaded: list[str] = []

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        from datasets.images import save_png

        self.storage = self.storage or open_storage(self.storage_url)
        if self.trial is None:
            try:
                study = optuna.load_study(study_name=self.study_name, storage=self.storage)
                self.trial = next(trial for trial in study.get_trials(deepcopy=False)
                                  if trial.number == self.trial_number)
            except (KeyError, StopIteration):  # e.g. a storage other than the study's: the PNG stays in the run dir
                warnings.warn(f"no trial {self.trial_number} of {self.study_name!r} in the artifact storage; "
                              f"image {name!r} not uploaded", stacklevel=2)
                return
        trial = self.trial
        suffix = "" if step is None else f"-{step:04d}"
        with tempfile.TemporaryDirectory() as directory:
            path = save_png(Path(directory) / f"{name.replace('/', '_')}{suffix}.png", grid)
            try:
                self.uploaded.append(upload_artifact(artifact_store=artifact_store(), file_path=str(path),
                                                     study_or_trial=trial, storage=self.storage,
                                                     mimetype="image/png"))
            except (StorageUnavailableError, OSError) as error:  # the run dir keeps the PNG; training goes on
                warnings.warn(f"image {name!r} not uploaded: {error}", stacklevel=2)


def artifact_factory(storage_url: str | None) -> ReporterFactory:
    """A ReporterFactory bound to the study's storage (trials are looked up by number)."""

    def factory(spec: Any, trial_number: int, params: dict[str, Any], run_dir: Path) -> ArtifactReporter:
        return ArtifactReporter(storage_url, spec.name, trial_number)

    return factory
