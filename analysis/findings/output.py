"""What every finding shares: progress lines, the evaluations CSV, figures (PNG + plotly HTML) and the summaries.

Heavy libraries (pandas, matplotlib) are imported inside functions: the findings registry stays cheap to read.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datasets.atomic import atomic_write, make_folder, write_text

if TYPE_CHECKING:
    import pandas as pd

    from analysis.evaluations import EvaluationStore
    from analysis.stats import Estimate

EVALUATIONS = "evaluations.csv"
SUMMARY_JSON, SUMMARY_MD = "summary.json", "summary.md"
CONFIDENCE_WORDS = "95% interval"


@dataclass
class Job:
    """One evaluation to run: the trainer task, its params, a label for the progress line, the CSV row's keys."""

    task: str
    params: dict[str, Any]
    label: str
    row: dict[str, Any]


@dataclass
class Session:
    """One finding's evaluations in one invocation: a resumable store, progress lines and the timing."""

    finding: str
    store: EvaluationStore
    workers: int = 1  # evaluations trained at once, each in its own process with an equal share of the cores
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)

    @classmethod
    def open(cls, finding: str, store_dir: Path, workers: int = 1) -> Session:
        from analysis.evaluations import EvaluationStore

        return cls(finding, EvaluationStore(Path(store_dir) / finding / "evaluations.jsonl", verbose=False),
                   workers=workers)

    def run(self, jobs: Sequence[Job], metrics: Mapping[str, str], written: Path | None = None) -> pd.DataFrame:
        """Evaluate every job (stored ones are read back, the rest trained by `workers` processes): one row per job
        with its keys, `metrics` (column -> metric name), the evaluation's seconds and error. A progress line per
        trained job on stderr; `written`: the finding's earlier evaluations.csv, named when some of it must retrain."""
        import pandas as pd

        trained_before = self.store.computed
        stored = sum(self.store.has(job.task, job.params) for job in jobs)
        print(f"{self.finding}: {len(jobs)} evaluations, {stored} stored, {len(jobs) - stored} to train"
              + (f" ({self.workers} at a time)" if self.workers > 1 else ""), file=sys.stderr, flush=True)
        if written is not None and written.exists() and stored < len(jobs):
            print(f"{self.finding}: {written} was written by evaluations this store ({self.store.path.parent.parent})"
                  " does not hold: their inputs changed (a study file or a trainer default) or they were stored "
                  "elsewhere (--store); the missing ones train now", file=sys.stderr, flush=True)

        def progress(record: dict[str, Any]) -> None:
            done = stored + self.store.computed - trained_before
            values = {column: _number(record["metrics"].get(name)) for column, name in metrics.items()}
            shown = ", ".join(f"{column}={value:.4g}" for column, value in values.items())
            print(f"{self.finding} [{done}/{len(jobs)}] {record['label']}: {shown or record['error']} (trained in "
                  f"{record['seconds']:.1f} s; {time.perf_counter() - self.started:.0f} s elapsed)", file=sys.stderr,
                  flush=True)

        records = self.store.record_all([(job.task, job.params, job.label) for job in jobs], self.workers, progress)
        rows = []
        for job, record in zip(jobs, records, strict=True):
            values = {column: _number(record["metrics"].get(name)) for column, name in metrics.items()}
            rows.append({**job.row, **values, "seconds": float(record["seconds"]), "error": record["error"] or ""})
        return pd.DataFrame(rows)

    def timing(self, evaluations: pd.DataFrame) -> dict[str, Any]:
        return {"evaluations": len(evaluations), "trained_now": self.store.computed,
                "evaluation_seconds_total": round(float(evaluations["seconds"].sum()), 1),
                "wall_seconds_this_run": round(time.perf_counter() - self.started, 1),
                "cpu_seconds_this_run": round(time.process_time() - self.cpu_started, 1)}


def _number(value: Any) -> float:
    return float(value) if value is not None else math.nan


@dataclass(frozen=True)
class Report:
    """What a finding derives from its evaluations read back: tables, one figure (PNG + HTML) and the summary."""

    tables: Mapping[str, pd.DataFrame]  # name -> table, written as <name>.csv
    figure: str  # the file name of <figure>.png and <figure>.html
    draw_png: Callable[[Path], list[Path]]  # draws the PNG at the path given (and any beside it), returns their paths
    html: Sequence[Any]  # the plotly figures of <figure>.html
    html_title: str
    numbers: Mapping[str, Any]  # summary.json's "numbers"
    lines: Sequence[str]  # summary.md's body
    title: str  # summary.md's title


def training_run(finding: str, fidelities: Mapping[str, Any], jobs: Callable[[Any], Sequence[Job]],
                 metrics: Mapping[str, str], report: Callable[[pd.DataFrame], Report]) -> Callable[..., list[Path]]:
    """A training finding's `run(out_dir, store_dir, fidelity, workers)`: the fidelity's jobs trained (`workers` at
    once) or read back from the store, written to `out_dir/evaluations.csv` and read back, then `report` of that file
    written. `fidelities` maps a name to an object with the fidelity's `text`; the first is the default."""

    def run(out_dir: Path, store_dir: Path, fidelity: str = next(iter(fidelities)), workers: int = 1) -> list[Path]:
        chosen = fidelities[fidelity]
        session = Session.open(finding, store_dir, workers)
        csv_path, evaluations = write_evaluations(session.run(jobs(chosen), metrics, out_dir / EVALUATIONS), out_dir)
        drawn = report(evaluations)
        pngs = drawn.draw_png(out_dir / f"{drawn.figure}.png")
        paths = [csv_path, *write_tables(drawn.tables, out_dir), *pngs,
                 write_html(out_dir / f"{drawn.figure}.html", drawn.html, drawn.html_title)]
        return paths + write_summary(out_dir, finding, fidelity, chosen.text, drawn.numbers, drawn.lines,
                                     session.timing(evaluations), drawn.title)

    return run


def write_evaluations(evaluations: pd.DataFrame, out_dir: Path) -> tuple[Path, pd.DataFrame]:
    """Write the long CSV and read it back: every number downstream comes from the file, as a rerun would see it."""
    import pandas as pd

    make_folder(out_dir)
    path = out_dir / EVALUATIONS
    atomic_write(path, lambda temporary: evaluations.to_csv(temporary, index=False))
    return path, read_evaluations(out_dir) if len(evaluations) else pd.DataFrame(columns=evaluations.columns)


def read_evaluations(out_dir: Path) -> pd.DataFrame:
    """The finding's evaluations table; CorruptDataError (one line naming the file) when it is not a CSV table."""
    import pandas as pd

    from datasets.formats import CorruptDataError

    path = Path(out_dir) / EVALUATIONS
    try:
        return pd.read_csv(path, keep_default_na=True).fillna({"error": ""})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise CorruptDataError(f"{path}: not a CSV table ({type(error).__name__}: "
                               f"{str(error).splitlines()[0] if str(error) else ''})") from None


def markdown_header(*columns: str) -> list[str]:
    """The two header lines of a markdown table."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def write_tables(tables: Mapping[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    paths = []
    for name, table in tables.items():
        paths.append(out_dir / f"{name}.csv")
        atomic_write(paths[-1], lambda temporary, table=table: table.to_csv(temporary, index=False))
    return paths


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    try:  # long tick labels are kept, not clipped
        return atomic_write(path, lambda temporary: figure.savefig(temporary, dpi=110, bbox_inches="tight"))
    finally:
        pyplot().close(figure)


def write_html(path: Path, figures: Sequence[Any], title: str) -> Path:
    """A finding's figures on one page, linking the plotly.js every finding shares (results/plotly.min.js)."""
    from analysis.pages import write_figures_page

    return write_figures_page(path, figures, title, shared_script=path.parent.parent)


def clean(value: Any) -> Any:
    """JSON-ready numbers: numpy scalars to Python, NaN kept (json writes NaN), nested containers walked."""
    if isinstance(value, Mapping):
        return {str(key): clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def estimate_numbers(estimate: Estimate) -> dict[str, float]:
    return {"value": estimate.value, "low": estimate.low, "high": estimate.high}


def interval_text(estimate: Estimate, digits: int = 3, percent: bool = False) -> str:
    scale, unit = (100.0, " pp") if percent else (1.0, "")
    if math.isnan(estimate.value):
        return "not measured"
    if math.isnan(estimate.low):
        return f"{estimate.value * scale:+.{digits}f}{unit} (no interval: fewer than 2 values)"
    return (f"{estimate.value * scale:+.{digits}f}{unit} [{estimate.low * scale:+.{digits}f}, "
            f"{estimate.high * scale:+.{digits}f}]")


def effect_words(estimate: Estimate, seeds: int) -> str:
    """Honest words for a difference: an interval spanning 0 is no evidence, whatever its point estimate."""
    if math.isnan(estimate.low) or math.isnan(estimate.high):
        return "undetermined (no interval)"
    if estimate.low <= 0 <= estimate.high:
        words = "no evidence of a difference (the 95% interval spans 0)"
    else:
        words = f"{'higher' if estimate.low > 0 else 'lower'} (the 95% interval excludes 0)"
    if seeds <= 3:
        words += f"; with {seeds} seeds the interval is wide"
    return words


def write_summary(out_dir: Path, finding: str, fidelity: str, fidelity_text: str, numbers: Mapping[str, Any],
                  lines: Sequence[str], timing: Mapping[str, Any], title: str,
                  default_fidelity: str = "cpu") -> list[Path]:
    """summary.json (the numbers summary.md shows, plus fidelity, command and timing) and summary.md."""
    command = f"sweeplab results {finding}" + ("" if fidelity == default_fidelity else f" --fidelity {fidelity}")
    payload = {"finding": finding, "fidelity": fidelity, "fidelity_text": fidelity_text, "command": command,
               "timing": clean(dict(timing)), "numbers": clean(dict(numbers))}
    json_path, markdown_path = out_dir / SUMMARY_JSON, out_dir / SUMMARY_MD
    write_text(json_path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
    minutes = timing.get("evaluation_seconds_total", 0.0) / 60
    markdown = [f"# {title}", "", *lines, "", "## How this was measured", "",
                f"- Fidelity `{fidelity}`: {fidelity_text}",
                f"- Regenerate: `{command}` (or `make results ARGS={finding}`); a rerun trains nothing already stored.",
                f"- Time: {timing.get('evaluations', 0)} evaluations, {minutes:.1f} min of training in total (sum "
                f"of each evaluation's wall time, from `{EVALUATIONS}`); the last invocation trained "
                f"{timing.get('trained_now', 0)} and took {timing.get('wall_seconds_this_run', 0):.0f} s wall, "
                f"{timing.get('cpu_seconds_this_run', 0):.0f} s CPU.",
                f"- Intervals are {CONFIDENCE_WORDS}s; with a handful of seeds they are wide, and an interval that "
                "spans 0 is reported as no evidence, not as a finding.", ""]
    write_text(markdown_path, "\n".join(markdown))
    return [json_path, markdown_path]


def read_summary(out_dir: Path) -> dict[str, Any] | None:
    path = Path(out_dir) / SUMMARY_JSON
    return json.loads(path.read_text()) if path.exists() else None
