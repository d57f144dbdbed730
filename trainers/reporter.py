"""The one seam between trainers and tracking: trainers call a Reporter; backends live behind it."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np

from datasets.atomic import make_folder
from trainers.stop import raise_if_stop_requested


class StopTrial(Exception):
    """Raised by a trainer when its reporter asks to stop (e.g. Optuna pruning); carries the last step."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped by the reporter after step {step}")
        self.step = step


Outcome = Literal["complete", "pruned", "failed"]


class Reporter:
    """Base class of every reporter: each hook is a no-op, so a reporter overrides only the events it needs.

    Order per run: `start(config)` once the config is resolved, `report`/`log_images` while training (and
    `should_stop` after each report), then `end(outcome, metrics)` exactly once, metrics None unless complete.
    """

    def start(self, config: dict[str, Any]) -> None:
        """The resolved config that will train (study values, presets and `--set` overrides applied)."""

    def report(self, step: int, metrics: dict[str, float]) -> None:
        """Metrics `split/name` after step (epoch) `step`."""

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        """An image grid (H, W[, C]) uint8 or float in [0, 1]."""

    def should_stop(self) -> bool:
        """True asks the trainer to stop now (pruning); it raises StopTrial."""
        return False

    def end(self, outcome: Outcome, metrics: dict[str, float] | None = None) -> None:
        """The run is over: `complete` with its final metrics, `pruned` or `failed` with None."""




def outcome_of(error: BaseException | None) -> Outcome:
    """How a run ended, from the exception that ended it (None: it completed)."""
    if error is None:
        return "complete"
    return "pruned" if isinstance(error, StopTrial) else "failed"


class CompositeReporter(Reporter):
    """Fans every event out to several reporters; stops when any one of them asks to."""

    def __init__(self, *reporters: Reporter | None) -> None:
        self.reporters = [reporter for reporter in reporters if reporter is not None]

    def start(self, config: dict[str, Any]) -> None:
        for reporter in self.reporters:
            reporter.start(config)

    def report(self, step: int, metrics: dict[str, float]) -> None:
        raise_if_stop_requested()  # a stop signal whose exception a library swallowed ends the run here
        for reporter in self.reporters:
            reporter.report(step, metrics)

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        for reporter in self.reporters:
            reporter.log_images(name, grid, step)

    def should_stop(self) -> bool:
        return any(reporter.should_stop() for reporter in self.reporters)

    def end(self, outcome: Outcome, metrics: dict[str, float] | None = None) -> None:
        for reporter in self.reporters:
            reporter.end(outcome, metrics)


class JsonlReporter(Reporter):
    """Appends one JSON line per report to `metrics.jsonl` and saves image grids as PNG in the run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        make_folder(self.run_dir)
        self.path = self.run_dir / "metrics.jsonl"

    def report(self, step: int, metrics: dict[str, float]) -> None:
        record = {"step": step, **{key: _plain(value) for key, value in metrics.items()}}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def log_images(self, name: str, grid: np.ndarray, step: int | None = None) -> None:
        from datasets.images import save_png

        suffix = "" if step is None else f"-{step:04d}"
        save_png(self.run_dir / "images" / f"{name.replace('/', '_')}{suffix}.png", grid)


class ConsoleReporter(Reporter):
    """A tqdm bar over the resolved config's epochs on a terminal; silent elsewhere (quiet CI logs)."""

    def __init__(self, description: str, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.description = description
        self.bar: Any = None
        self.last: dict[str, float] = {}

    def start(self, config: dict[str, Any]) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=int(config.get("epochs") or 0) or None, desc=self.description, unit="epoch",
                        file=self.stream, leave=False, disable=not self.stream.isatty())

    def report(self, step: int, metrics: dict[str, float]) -> None:
        self.last = metrics
        if self.bar is not None:
            self.bar.set_postfix({key: f"{value:.4g}" for key, value in metrics.items() if key.startswith("val/")})
            self.bar.update(1)

    def end(self, outcome: Outcome, metrics: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.close()


def _plain(value: Any) -> Any:
    value = float(value) if isinstance(value, (np.floating, np.integer)) else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
