"""A Reporter that logs one W&B run per trial. `wandb` is imported only when such a reporter is created.

Offline (`WANDB_MODE=offline`) unless an API key is available (`$WANDB_API_KEY` or a netrc entry for the W&B
host); the key is read by wandb itself from the environment and never written anywhere by us.
"""

from __future__ import annotations

import math
import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from datasets.atomic import make_folder
from trainers.reporter import Outcome, Reporter

DEFAULT_PROJECT = "sweeplab"


def has_api_key() -> bool:
    """True when wandb could authenticate: `$WANDB_API_KEY`, or a netrc entry for `$WANDB_BASE_URL`'s host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_mode() -> str:
    """`offline` without a key; otherwise whatever the user chose (`$WANDB_MODE`, default online)."""
    if not has_api_key():
        return "offline"
    return os.environ.get("WANDB_MODE", "online")


def wandb_dir() -> Path:
    """The `dir=` for wandb, which adds `wandb/`: runs land in `$SWEEPLAB_RUNS_DIR/wandb/`, never the repo root."""
    from sweeps.storage import runs_dir

    path = Path(os.environ.get("WANDB_DIR") or runs_dir())
    make_folder(path)
    return path.resolve()


def _plain_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (value.item() if isinstance(value, np.generic) else value) for key, value in config.items()}


class WandbReporter(Reporter):
    """One W&B run: config = the resolved config that trained (plus `extra` such as study and trial), history
    `split/name` per epoch, images as `wandb.Image`, final metrics and the objective in the summary.

    The run starts in `start(config)`, once `trainers.run` has resolved the config, so `--set` overrides and presets
    are what W&B shows; `run=` adopts a run started elsewhere (a W&B agent in `sweeplab wandb-run`).
    """

    def __init__(self, name: str, group: str, extra: Mapping[str, Any] | None = None, objective: str | None = None,
                 run_dir: Path | None = None, project: str | None = None, tags: tuple[str, ...] = (),
                 run: Any = None) -> None:
        import wandb

        self.wandb, self.objective, self.run, self.owns_run = wandb, objective, run, run is None
        self.name, self.group, self.extra, self.project, self.tags = name, group, dict(extra or {}), project, tags
        self.run_dir, self.last_step = (Path(run_dir) if run_dir is not None else None), 0

    def start(self, config: dict[str, Any]) -> None:
        values = _plain_config({**self.extra, **config})
        if self.run is not None:
            self.run.config.update(values, allow_val_change=True)
            return
        if self.run_dir is not None:
            make_folder(self.run_dir)
        wandb = self.wandb
        self.run = wandb.init(project=self.project or os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT),
                              name=self.name, group=self.group, config=values, dir=str(wandb_dir()),
                              mode=wandb_mode(), tags=list(self.tags), reinit="create_new",
                              settings=wandb.Settings(console="off", silent=True, x_disable_stats=True))

    @property
    def run_path(self) -> Path:
        """The run's local directory (`.../wandb/offline-run-*/`), holding its `.wandb` log."""
        return Path(self.run.dir).parent

    def report(self, step: int, metrics: dict[str, float]) -> None:
        self.last_step = max(self.last_step, step)
        values = {key: float(value) for key, value in metrics.items() if isinstance(value, (int, float, np.number))}
        self.run.log({**values, "epoch": step}, step=step)

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        image = self.wandb.Image(np.asarray(grid), caption=name)
        self.run.log({name: image}, step=self.last_step if step is None else max(step, self.last_step))

    def end(self, outcome: Outcome, metrics: dict[str, float] | None = None) -> None:
        """Final metrics and the objective into the summary; a pruned run is `stopped_early` and exits 0."""
        if self.run is None:  # the config never resolved: no run was started
            return
        self.run.summary["outcome"] = outcome
        if outcome == "pruned":
            self.run.summary["stopped_early"] = True
        if metrics is not None:
            summary = {key: float(value) for key, value in metrics.items()
                       if isinstance(value, (int, float)) and math.isfinite(float(value))}
            if self.objective and self.objective in summary:
                summary["objective"] = summary[self.objective]
            self.run.summary.update(summary)
        if self.owns_run:
            self.run.finish(exit_code=1 if outcome == "failed" else 0)


def trial_reporter(spec: Any, trial_number: int, params: dict[str, Any], run_dir: Path) -> WandbReporter:
    """The `ReporterFactory` for Optuna studies: run `<study>-<trial>` in group `<study>`."""
    extra = {"study": spec.name, "task": spec.task, "trial": trial_number}
    return WandbReporter(name=f"{spec.name}-{trial_number:04d}", group=spec.name, extra=extra,
                         objective=spec.objective, run_dir=run_dir, tags=(spec.task,))
