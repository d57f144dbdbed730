"""The one reader of a run's `metrics.jsonl` (written by trainers.reporter.JsonlReporter): each line is parsed into a
checked record or skipped, so a damaged or hand-edited file costs its bad lines, never the report that reads it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets.regular_files import read_regular_bytes

MAX_STEP = 2**53  # steps are epochs; beyond this a step is not exactly a float (plotly's axis) any more
SHOWN_LINES = 3  # a warning names this many skipped lines, then counts the rest


class MalformedLine(ValueError):
    """A line of metrics.jsonl that is not a metrics record; the message says why."""


@dataclass(frozen=True)
class MetricsRecord:
    """One report: its step (a non-negative integer) and its finite metric values (others dropped)."""

    step: int
    values: dict[str, float]


def parse_metrics_line(line: bytes | str) -> MetricsRecord:
    """One line as a checked record: a JSON object with an integer `step` in 0..2**53; of its other entries only
    finite numbers are kept (the writer stores NaN and infinity as strings). MalformedLine otherwise."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, or nested past the parser's depth
        raise MalformedLine(f"not JSON ({type(error).__name__})") from None
    if not isinstance(record, dict):
        raise MalformedLine(f"a JSON {type(record).__name__}, not an object")
    step = record.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
        raise MalformedLine(f"step {_shown(step)}: expected an integer in 0..2**53")
    return MetricsRecord(step=step, values={key: float(value) for key, value in record.items()
                                            if key != "step" and _finite_number(value)})


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float's range
        return False


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer of more digits than Python prints, a deeply nested value
        return f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def read_metrics(path: Path) -> tuple[list[MetricsRecord], str | None]:
    """The file's good records and one warning naming it and its skipped lines (None when none was skipped).
    OSError when it is missing, unreadable or not a regular file (a FIFO would block the reader)."""
    records, skipped = [], []
    for number, line in enumerate(read_regular_bytes(path).split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(parse_metrics_line(line))
        except MalformedLine as error:
            skipped.append(f"line {number} ({error})")
    return records, _skipped_warning(path, skipped)


def _skipped_warning(path: Path, skipped: list[str]) -> str | None:
    if not skipped:
        return None
    more = f" and {len(skipped) - SHOWN_LINES} more" if len(skipped) > SHOWN_LINES else ""
    return (f"{path}: skipped {len(skipped)} line(s) that are not metrics records: "
            f"{', '.join(skipped[:SHOWN_LINES])}{more}")
