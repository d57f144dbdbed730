"""Which extra reporters a sweep attaches to each trial (W&B and friends), chosen by settings, never by trainers."""

from __future__ import annotations

from sweeps.optuna_study import ReporterFactory


def reporter_factories() -> tuple[ReporterFactory, ...]:
    """Extra per-trial reporters enabled by the environment; none by default."""
    return ()
