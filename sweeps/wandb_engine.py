"""W&B's open-source sweep engine (`sweeps` on PyPI) behind JSON lines on stdin/stdout.

Runs inside `.venv-sweeps` (the engine pins numpy<2); imports nothing from sweeplab. One request per line:
  {"action": "next", "config": SWEEP_CONFIG, "runs": [RUN, ...]} -> {"run": {"name", "config"}} or {"run": null}
  {"action": "stop", "config": SWEEP_CONFIG, "runs": [RUN, ...]} -> {"stop": [run names], "info": [lines]}
  {"action": "validate", "config": SWEEP_CONFIG}                   -> {"errors": [messages]}
RUN = {"name", "state", "config": {param: {"value": v}}, "history": [{metric: v}], "summary_metrics": {...}}.
Any error answers {"error": "..."}; the process serves until stdin closes.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def handle(request: dict[str, Any]) -> dict[str, Any]:
    import sweeps

    config = request["config"]
    action = request.get("action")
    if action == "validate":
        return {"errors": list(sweeps.schema_violations_from_proposed_config(config))}
    runs = [sweeps.SweepRun(**run) for run in request.get("runs", [])]
    if action == "next":
        suggestion = sweeps.next_run(config, runs, validate=True)
        if suggestion is None:
            return {"run": None}
        return {"run": {"name": suggestion.name, "config": suggestion.config}}
    if action == "stop":
        to_stop = sweeps.stop_runs(config, runs, validate=True)
        info = [line for run in to_stop for line in (run.early_terminate_info or {}).get("lines", [])]
        return {"stop": [run.name for run in to_stop], "info": info}
    raise ValueError(f"unknown action {action!r}; expected next, stop or validate")


def main() -> int:
    warnings.filterwarnings("ignore")  # pydantic's v1-config notice inside `sweeps` would reach the client's stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            response = handle(json.loads(line))
        except Exception as error:  # answered to the client, which raises it with the engine's message
            response = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(response, default=_plain) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
