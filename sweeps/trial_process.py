"""A trial in its own Python process (`--trial-subprocess`): whatever the trainer leaks (graphs, GPU memory, a
crash) dies with that process. The parent's objective starts `python -m sweeps.trial_process` for each trial; the
child runs that asked trial and writes its outcome to a file the parent reads back."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna

from datasets.atomic import write_text
from sweeplab.errors import UserError
from sweeps.objective import make_objective
from sweeps.run_identity import current_run_dir, remember_run_dir
from sweeps.signals import STOP_SIGNALS, signal_name
from sweeps.spec import StudySpec
from sweeps.storage_faults import StorageUnavailableError
from sweeps.trial_loop import TrialProcessStopped, agent_name, fail_reason, params_problem, result_kept_error


class TrialSetupError(UserError):
    """A trial process could not set its trial up: the study file or the task's code changed under the running
    command (a definition now refused, a module that no longer imports). Its trial fails and the command stops."""


def subprocess_objective(spec: StudySpec, storage_url: str | None, overrides: Mapping[str, Any] | None,
                         root: Path | None) -> Callable[[optuna.Trial], float]:
    """An objective that trains each trial in a fresh Python process (`--trial-subprocess`): whatever the
    trainer leaks (graphs, GPU memory, a crash) dies with that process. Costs one interpreter + Keras start."""
    from sweeps.storage import runs_dir
    from sweeps.storage import storage_url as full_storage_url

    def objective(trial: optuna.Trial) -> float:
        with tempfile.TemporaryDirectory(prefix="sweeplab-trial-") as directory:
            result_path = Path(directory) / "result.json"
            argv = [sys.executable, "-c", BOOTSTRAP, str(spec.path), full_storage_url(storage_url),
                    str(trial._trial_id), json.dumps(dict(overrides or {})), str(root or runs_dir()), str(result_path),
                    agent_name()]  # the child draws with this agent's sampler seed, not the study file's own
            code = subprocess.run(argv, check=False).returncode
            if not result_path.exists() and -code in STOP_SIGNALS:
                raise TrialProcessStopped(-code)
            if not result_path.exists():
                reason = f"trial process died (exit code {code})" if code >= 0 else \
                    f"trial process killed by {signal_name(-code)} (out of memory, or a job scheduler?)"
                trial.set_user_attr("fail_reason", reason)
                raise RuntimeError(reason)
            result = json.loads(result_path.read_text())
        if "setup_error" in result:  # every later trial would meet it too: the command stops, in one line
            trial.set_user_attr("fail_reason", f"not started: {result['setup_error']}")
            raise TrialSetupError(result["setup_error"])
        if result.get("run_dir"):  # where the child kept the result, should this process fail to store it
            remember_run_dir(Path(result["run_dir"]))
        if "storage_error" in result:
            raise StorageUnavailableError(result["storage_error"])
        if result.get("pruned"):
            raise optuna.TrialPruned(result["pruned"])
        if "error" in result:
            trial.set_user_attr("fail_reason", result["error"])
            raise RuntimeError(result["error"])
        return float(result["value"])

    return objective


# The trial process's first statement, before any import: SIGINT ends it at once like TERM and HUP (the parent then
# fails and re-queues the trial). Python's own SIGINT handler would raise KeyboardInterrupt inside whatever runs
# (a traceback from an import, or a stop swallowed by a weakref callback while the trial trains on).
BOOTSTRAP = ("import signal; signal.signal(signal.SIGINT, signal.SIG_DFL); import runpy, sys; "
             "sys.argv[0] = 'sweeps.trial_process'; runpy.run_module('sweeps.trial_process', run_name='__main__')")


def _trial_worker(argv: list[str]) -> int:
    """Child side of `subprocess_objective`: run one asked trial of the study and write its outcome."""
    from sweeplab.errors import user_error_types
    from sweeps.agent import agent_sampler_options
    from sweeps.optuna_study import create_study
    from sweeps.signals import die_with_parent
    from sweeps.spec import load_spec
    from sweeps.tracking import reporter_factories

    die_with_parent()
    spec_path, storage_url, trial_id, overrides, root, result_path, agent = argv
    try:  # the study file or the task's code may have changed since the agent started (round 11's 2-b)
        spec = load_spec(spec_path)
        spec = dataclasses.replace(spec, sampler=agent_sampler_options(spec.sampler, agent))  # round 13's 6-e
        study = create_study(spec, storage_url, json.loads(overrides))
    except user_error_types() as error:
        return _report(Path(result_path), {"setup_error": " | ".join(
            line.strip() for line in str(error).splitlines() if line.strip())})
    study.get_trials(deepcopy=False)  # Optuna's storage cache must know the trial before it takes parameters
    trial = optuna.Trial(study, int(trial_id))
    objective = make_objective(spec, json.loads(overrides), reporter_factories(storage=storage_url), Path(root))
    try:
        result: dict[str, Any] = {"value": objective(trial)}
        if (problem := params_problem(study, trial)) is not None:  # edited while it trained: not told (3-k)
            result = {"error": problem}
    except optuna.TrialPruned as pruned:
        result = {"pruned": str(pruned) or "pruned"}
    except StorageUnavailableError as error:
        result = {"storage_error": str(result_kept_error(error, trial))}
    except Exception as error:
        result = {"error": fail_reason(error)}
    run_dir = current_run_dir()
    return _report(Path(result_path), {**result, "run_dir": str(run_dir) if run_dir else None})


def _report(result_path: Path, result: dict[str, Any]) -> int:
    """Write the outcome for the parent: 0. When the parent's folder for it is gone, the parent stopped while this
    trial ran (a Ctrl-C reaches both) and has failed and re-queued the trial: say so in one line and end with 1,
    no traceback (what the trial trained stays in its run folder). Asked after the write fails, not before it, so a
    folder removed in between is caught too."""
    try:
        write_text(result_path, json.dumps(result))
    except OSError:
        if result_path.parent.is_dir():  # not the parent's stop: a real write failure, told as one
            raise
        print(f"sweeplab: trial process: the command that started it has stopped; its outcome was not handed back "
              f"({result_path.parent} is gone)", file=sys.stderr)
        return 1
    return 0




if __name__ == "__main__":
    sys.exit(_trial_worker(sys.argv[1:]))
