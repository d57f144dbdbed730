"""The one seam between trainers and tracking: trainers call a Reporter; backends live behind it."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


class StopTrial(Exception):
    """Raised by a trainer when its reporter asks to stop (e.g. Optuna pruning); carries the last step."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped by the reporter after step {step}")
        self.step = step


@runtime_checkable
class Reporter(Protocol):
    def report(self, step: int, metrics: dict[str, float]) -> None: ...

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None: ...

    def should_stop(self) -> bool: ...


class NullReporter:
    """Reports nowhere; for library use and tests."""

    def report(self, step: int, metrics: dict[str, float]) -> None:
        pass

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        pass

    def should_stop(self) -> bool:
        return False


class CompositeReporter:
    """Fans reports out to several reporters; stops when any one of them asks to."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = [reporter for reporter in reporters if reporter is not None]

    def report(self, step: int, metrics: dict[str, float]) -> None:
        for reporter in self.reporters:
            reporter.report(step, metrics)

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        for reporter in self.reporters:
            reporter.log_images(name, grid, step)

    def should_stop(self) -> bool:
        return any(reporter.should_stop() for reporter in self.reporters)

    def close(self, metrics: dict[str, float] | None = None) -> None:
        """Let reporters that hold resources (files, W&B runs) finish; `metrics` is None after a failure."""
        for reporter in self.reporters:
            close = getattr(reporter, "close", None)
            if close is not None:
                try:
                    close(metrics)
                except TypeError:
                    close()


class JsonlReporter:
    """Appends one JSON line per report to `metrics.jsonl` and saves image grids as PNG in the run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.jsonl"

    def report(self, step: int, metrics: dict[str, float]) -> None:
        record = {"step": step, **{key: _plain(value) for key, value in metrics.items()}}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        from trainers.images import save_png

        suffix = "" if step is None else f"-{step:04d}"
        save_png(self.run_dir / "images" / f"{name.replace('/', '_')}{suffix}.png", grid)

    def should_stop(self) -> bool:
        return False


class ConsoleReporter:
    """A tqdm bar over epochs on a terminal; one summary line per run elsewhere (quiet in CI logs)."""

    def __init__(self, total_steps: int, description: str, stream=None) -> None:
        from tqdm.auto import tqdm

        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.bar = tqdm(total=total_steps, desc=description, unit="epoch", file=self.stream, leave=False,
                        disable=not self.interactive)
        self.description = description
        self.last: dict[str, float] = {}

    def report(self, step: int, metrics: dict[str, float]) -> None:
        self.last = metrics
        self.bar.set_postfix({key: f"{value:.4g}" for key, value in metrics.items() if key.startswith("val/")})
        self.bar.update(1)

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def close(self, metrics: dict[str, float] | None = None) -> None:
        self.bar.close()


def _plain(value: Any) -> Any:
    value = float(value) if isinstance(value, (np.floating, np.integer)) else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
