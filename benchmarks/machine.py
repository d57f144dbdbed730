"""Describe the machine a benchmark ran on, so numbers are only compared within one machine."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterable
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


def comma_list(parser: argparse.ArgumentParser, text: str, known: Iterable[str], what: str) -> list[str]:
    """`a,b` from the command line, each one of `known` (else the parser's one-line error)."""
    chosen, known = text.split(","), list(known)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"unknown {what} {unknown[0]!r}; {what}s: {', '.join(known)}")
    return chosen


def measured_parts(parts: Path, names: list[str], seeds: list[int], part_name: Callable[[str, int], str],
                   measure: Callable[[str, int], dict], said: Callable[[str, int, dict], str]
                   ) -> dict[str, dict[int, dict]]:
    """Each (name, seed) measured once into `parts/part_name(name, seed)` with the machine noted; a part already
    there is kept, so an interrupted benchmark resumes. Seeds outer, names inner: a busy spell of the machine slows
    every name alike. Returns each name's parts by seed (those present)."""
    parts.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        for name in names:
            part = parts / part_name(name, seed)
            if not part.exists():
                result = {**measure(name, seed), "machine": describe_machine()}
                part.write_text(json.dumps(result, indent=1) + "\n")
                print(said(name, seed, result), flush=True)
    return {name: {seed: json.loads((parts / part_name(name, seed)).read_text()) for seed in seeds
                   if (parts / part_name(name, seed)).exists()} for name in names}
