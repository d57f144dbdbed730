"""The findings `sweeplab results` reproduces: a registry name -> `Finding`, one small module per finding.

The interface a finding module implements (the generative helper's module follows the same):

    FINDING = Finding(
        name="permutation",                      # the folder under results/ and the CLI name
        description="one line: what question the finding answers",
        fidelities={"cpu": "what the default measures and why", "tiny": "tests only"},  # first = the default
        cpu_minutes=30.0,                        # expected wall minutes at the default fidelity on a 2-core CPU
        run=run,                                 # run(out_dir, store_dir, fidelity, workers) -> list[Path]
        summarize=summarize,                     # summarize(out_dir) -> dict: summary.json's "numbers", recomputed
    )                                            # from the CSVs in out_dir (the committed-results test calls it)

`run` trains through an `analysis.evaluations.EvaluationStore` under `store_dir` (so a rerun trains nothing done),
writes `out_dir/evaluations.csv` first and derives every table, figure and summary from that file read back, so
`summarize(out_dir)` reproduces `summary.json["numbers"]` exactly; a training finding gets that `run` from
`output.training_run(NAME, FIDELITIES, jobs, metrics, report)`. Modules import no framework at top level: this
registry is read by `sweeplab results --list`, which must stay fast.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Run = Callable[[Path, Path, str, int], list[Path]]
Summarize = Callable[[Path], dict[str, Any]]

# name -> module defining FINDING; `claims` reads the others' results, so it runs last
_MODULES: dict[str, str] = {
    "transfer": "analysis.findings.transfer",
    "permutation": "analysis.findings.permutation",
    "clock-representations": "analysis.findings.clock_representations",
    "optimizers": "analysis.findings.optimizers",
}
_OPTIONAL = {"generative": "analysis.findings.generative"}  # registered when its module exists (another helper's)
_LAST = {"claims": "analysis.findings.claims"}


@dataclass(frozen=True)
class Finding:
    """One reproducible result: how to run it, at which fidelities, how long it takes, how to recompute its numbers."""

    name: str
    description: str
    fidelities: Mapping[str, str]  # fidelity name -> what it measures (and why); the first is the default
    cpu_minutes: float  # expected wall minutes at the default fidelity on a quiet 2-core CPU
    run: Run  # (out_dir, store_dir, fidelity, workers: evaluations trained at once) -> the paths written
    summarize: Summarize  # out_dir -> summary.json's "numbers", recomputed from the CSVs there

    @property
    def default_fidelity(self) -> str:
        return next(iter(self.fidelities))


def _module_names() -> dict[str, str]:
    modules = dict(_MODULES)
    for name, module in _OPTIONAL.items():
        if importlib.util.find_spec(module) is not None:
            modules[name] = module
    return {**modules, **_LAST}


def findings() -> dict[str, Finding]:
    """Every registered finding, in the order `sweeplab results` runs them (claims last)."""
    registry = {}
    for name, module in _module_names().items():
        finding = importlib.import_module(module).FINDING
        if not isinstance(finding, Finding) or finding.name != name:
            raise TypeError(f"{module}.FINDING must be a Finding named {name!r}")
        registry[name] = finding
    return registry


def finding_names() -> list[str]:
    return list(_module_names())
