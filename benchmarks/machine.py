"""Describe the machine a benchmark ran on, so numbers are only compared within one machine."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def describe_machine() -> dict:
    import keras

    from trainers.provenance import git_sha, library_versions

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = "none"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10).stdout.strip() or "none"
    return {"host": platform.node(), "cpu": cpu, "cpu_count": os.cpu_count(), "gpu": gpu,
            "keras_backend": keras.backend.backend(), "git_sha": git_sha(), "versions": library_versions(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def write_result(name: str, payload: dict) -> Path:
    """Write benchmarks/results/<name>-<backend>-<gpu or cpu>.json."""
    machine = describe_machine()
    device = "cpu" if machine["gpu"] == "none" else machine["gpu"].split()[-1].lower()
    path = RESULTS_DIR / f"{name}-{machine['keras_backend']}-{device}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "machine": machine, **payload}, indent=2) + "\n")
    return path
