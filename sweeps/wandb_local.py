"""Run a W&B sweep without a W&B server: W&B's open-source `sweeps` engine picks the runs, our trainer trains them.

The engine needs numpy<2, so it lives in its own venv (`.venv-sweeps`) and runs as a helper process
(`sweeps/wandb_engine.py`) that speaks JSON lines: sweep config + run history in, next parameters or runs to stop
out. Training stays in this process and venv; each run is logged to W&B offline (`wandb sync` later).
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datasets.atomic import make_folder, write_text
from sweeps.spec import StudySpec
from sweeps.storage import runs_dir
from sweeps.wandb_sweep import SweepsEngineMissing, config_from_wandb, sweeps_python, to_wandb_sweep
from trainers.reporter import Reporter

ENGINE_SCRIPT = Path(__file__).resolve().parent / "wandb_engine.py"


class EngineError(RuntimeError):
    """The sweep engine refused a request (bad config, exhausted grid handled separately)."""


class SweepEngine:
    """A `.venv-sweeps` helper process answering `next`, `stop` and `validate` requests."""

    def __init__(self, python: Path | None = None) -> None:
        python = Path(python or sweeps_python())
        if not python.exists():
            venv = python.parent.parent
            raise SweepsEngineMissing(f"W&B's sweep engine is not installed: no {python}; create it with "
                                      f"`python3 -m venv {venv} && {venv}/bin/pip install sweeps==0.3.0`")
        self.python = python
        # -I: W&B's own `sweeps` package, not this project's `sweeps/` that a PYTHONPATH naming the checkout would
        # put first (round 10's 6-a), nor anything else from the environment or the user's site-packages
        self.process = subprocess.Popen([str(python), "-I", str(ENGINE_SCRIPT)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def request(self, payload: dict[str, Any], key: str) -> Any:
        """The engine's answer `key` to one request; EngineError (one line naming the engine) for anything else."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(payload) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, ValueError):  # it ended before reading (ValueError: its pipe closed)
            line = ""
        if not line:
            raise EngineError(f"{self._named()} ended without answering (exit code {self._code()}); is it a Python "
                              "with W&B's `sweeps` installed?")
        try:
            response = json.loads(line)
        except ValueError:
            response = None
        if not isinstance(response, dict):
            raise EngineError(f"{self._named()} answered {line.strip()[:80]!r}, not a JSON object; is it a Python "
                              "with W&B's `sweeps` installed?")
        if "error" in response:
            raise EngineError(f"{self._named()} refused the request: {response['error']}")
        if key not in response:
            raise EngineError(f"{self._named()} answered {line.strip()[:80]!r}, without {key!r}; is it a Python "
                              "with W&B's `sweeps` installed?")
        return response[key]

    def _named(self) -> str:
        return f"the sweep engine ({self.python}; $SWEEPLAB_SWEEPS_PYTHON, else .venv-sweeps)"

    def _code(self) -> int | None:
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # not our engine: it does not end when its input does
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> SweepEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class LocalRun:
    """One run of a local sweep, in the shape the engine reads (`SweepRun`)."""

    name: str
    config: dict[str, Any]  # {parameter: {"value": v}} as the engine proposed it
    state: str = "running"
    history: list[dict[str, float]] = field(default_factory=list)
    summary_metrics: dict[str, float] = field(default_factory=dict)
    stopped_at: int | None = None
    run_dir: str = ""
    wandb_dir: str = ""

    def for_engine(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "config": self.config, "history": self.history,
                "summary_metrics": self.summary_metrics}


class EarlyTerminationReporter(Reporter):
    """Records the run's history and, after each epoch, asks the engine whether hyperband stops it."""

    def __init__(self, engine: SweepEngine, sweep: dict[str, Any], runs: list[LocalRun], run: LocalRun) -> None:
        self.engine, self.sweep, self.runs, self.run = engine, sweep, runs, run
        self.stop_requested = False

    def report(self, step: int, metrics: dict[str, float]) -> None:
        finite = {key: float(value) for key, value in metrics.items()
                  if isinstance(value, (int, float)) and math.isfinite(value)}
        self.run.history.append({**finite, "_step": step})
        if "early_terminate" in self.sweep:
            stopped = self.engine.request({"action": "stop", "config": self.sweep,
                                           "runs": [run.for_engine() for run in self.runs]}, "stop")
            if self.run.name in stopped:
                self.stop_requested, self.run.stopped_at = True, step

    def should_stop(self) -> bool:
        return self.stop_requested


def run_local_sweep(spec: StudySpec, count: int | None = None, overrides: dict[str, Any] | None = None,
                    sweep: dict[str, Any] | None = None, wandb: bool = True, root: Path | None = None,
                    engine_python: Path | None = None) -> list[LocalRun]:
    """Run `count` runs (default: the sweep's run_cap) of the study's W&B sweep; returns the runs, also written to
    `runs/<study>-wandb/sweep.json`."""
    import trainers
    from trainers.reporter import CompositeReporter, StopTrial

    sweep = dict(sweep or to_wandb_sweep(spec))
    count = count or int(sweep.get("run_cap") or spec.trials)
    directory = (root or runs_dir()) / f"{spec.name}-wandb"
    runs: list[LocalRun] = []
    with SweepEngine(engine_python) as engine:
        errors = engine.request({"action": "validate", "config": sweep}, "errors")
        if errors:
            raise EngineError(f"the W&B sweep of {spec.name} is invalid: {'; '.join(errors)}")
        for index in range(count):
            proposal = engine.request({"action": "next", "config": sweep,
                                       "runs": [run.for_engine() for run in runs]}, "run")
            if proposal is None:  # a grid is exhausted
                break
            run = LocalRun(name=f"{spec.name}-{index:04d}", config=proposal["config"],
                           run_dir=str(directory / f"{index:04d}"))
            runs.append(run)
            config = {**config_from_wandb(spec, proposal["config"]), **(overrides or {})}
            stopper = EarlyTerminationReporter(engine, sweep, runs, run)
            reporters: list[Any] = [stopper]
            if wandb:
                from sweeps.wandb_reporter import WandbReporter

                tracker = WandbReporter(name=run.name, group=spec.name, objective=spec.objective,
                                        extra={"study": spec.name, "sweep": "local"},
                                        run_dir=Path(run.run_dir), tags=(spec.task, "wandb-local"))
                reporters.append(tracker)
            try:
                result = trainers.run(spec.task, config, CompositeReporter(*reporters), Path(run.run_dir))
                run.state, run.summary_metrics = "finished", dict(result.metrics)
            except StopTrial:
                run.state, run.summary_metrics = "finished", dict(run.history[-1]) if run.history else {}
            except Exception as error:  # a failed run is recorded and the sweep goes on, as a W&B agent would
                run.state, run.summary_metrics = "failed", {"error": f"{type(error).__name__}: {error}"[:500]}
            if wandb and tracker.run is not None:
                run.wandb_dir = str(tracker.run_path)
    make_folder(directory)
    write_text(directory / "sweep.json", json.dumps({"sweep": sweep, "runs": [asdict(run) for run in runs]},
                                                     indent=2, default=str) + "\n")
    return runs
