"""The resumable loop of the candidate benchmarks (benchmarks/generative_*.py): each candidate measured once, its
part written as it lands, so a stopped run resumes where it stopped."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path


def measure_missing(names: Iterable[str], known: Iterable[str], parts: Path, measure: Callable[[str], dict],
                    describe: Callable[[dict], str]) -> None:
    """Measure each named candidate whose part `parts/<name>.json` is missing, write the part (whole or not at all)
    and print `describe(part)`; an unknown name stops before anything runs."""
    from datasets.atomic import make_folder, write_text

    names, known = list(names), list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown candidate {unknown[0]!r}; known: {', '.join(known)}")
    make_folder(parts)
    for name in names:
        part = parts / f"{name}.json"
        if part.exists():
            continue
        row = measure(name)
        write_text(part, json.dumps(row, indent=2, sort_keys=True) + "\n")
        print(f"{name}: {describe(row)}", flush=True)
