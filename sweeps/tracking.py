"""Which extra reporters a sweep attaches to each trial (W&B and friends), chosen by settings, never by trainers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasets.settings import env_flag

if TYPE_CHECKING:
    from sweeps.objective import ReporterFactory


def wandb_enabled(flag: bool | None = None) -> bool:
    """W&B is off by default: on with `--wandb` or `$SWEEPLAB_WANDB=1`."""
    if flag:
        return True
    return env_flag("SWEEPLAB_WANDB")


def reporter_factories(wandb: bool | None = None, storage: str | None = None) -> tuple[ReporterFactory, ...]:
    """Image grids always go to Optuna's artifact store (for the dashboard); W&B when the flag or env says so."""
    from sweeps.artifacts import artifact_factory

    factories: list[ReporterFactory] = [artifact_factory(storage)]
    if wandb_enabled(wandb):
        from sweeps.wandb_reporter import trial_reporter  # imports wandb only when switched on

        factories.append(trial_reporter)
    return tuple(factories)
