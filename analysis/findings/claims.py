"""Finding `claims`: the seed reports' claims, each checked against what the other findings measured.

Trains nothing: it reads the other findings' `evaluations.csv` next to its own folder (results/<finding>/), so it
runs last. A claim whose finding has not run says "not measured yet". Verdicts: supported (the intervals say so),
contradicted (they say the opposite), no evidence (they span both), not tested as stated (the seed's own setting was
not among those evaluated), not measured yet. A verdict from a finding trained at a fixed budget says "at this
budget" where the claim is about convergence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.findings import Finding, output
from analysis.findings.claim_checks import (
    CONTRADICTED,
    NO_EVIDENCE,
    NOT_MEASURED,
    SEED_L2,
    SUPPORTED,
    Check,
    classes_720_fail,
    cnn_hurt,
    cnn_l2_best,
    mlp_rmsprop_fashion_not_cifar,
    mlp_unaffected,
    periodic_or_multi_head_best,
    rankings_do_not_carry,
    sgd_slow,
)
from datasets.atomic import make_folder

NAME = "claims"
AT_THIS_BUDGET = " at this budget"


@dataclass(frozen=True)
class Claim:
    name: str
    text: str
    finding: str  # whose evaluations.csv the check reads; "" = no finding measures it yet
    check: Callable[[Any], Check] | None  # the finding's computed result -> Check
    unmeasured_reason: str = ""
    budget_bound: bool = False  # a claim about convergence: a verdict holds only at the finding's training budget


CLAIMS: tuple[Claim, ...] = (
    Claim("mlp-permutation", "An MLP is unaffected by permuted pixels (MNIST, Fashion-MNIST)", "permutation",
          mlp_unaffected),
    Claim("cnn-permutation", "A CNN is hurt by permuted pixels (MNIST, Fashion-MNIST)", "permutation", cnn_hurt),
    Claim("clock-periodic", "Periodic or multi-head labels read the clock best", "clock-representations",
          periodic_or_multi_head_best),
    Claim("clock-720", "Classification with 720 classes fails to converge (a seed report trained it 1.5 minutes)",
          "clock-representations", classes_720_fail, budget_bound=True),
    Claim("transfer-rankings", "Gains on Fashion-MNIST do not carry over to CIFAR-10 (the seeds' central transfer "
          "claim)", "transfer", rankings_do_not_carry),
    Claim("cnn-l2", f"For the CNN, L2 ({SEED_L2:g}) is the best setting on both Fashion-MNIST and CIFAR-10", "transfer",
          cnn_l2_best),
    Claim("mlp-rmsprop", "RMSprop is best for the MLP on Fashion-MNIST but not on CIFAR-10", "transfer",
          mlp_rmsprop_fashion_not_cifar),
    Claim("sgd-slow", "SGD converges far more slowly than RMSprop, Adam and Nadam", "optimizers", sgd_slow),
)


def _computed(results_root: Path, finding: str) -> Any | None:
    """The finding's computed result from its evaluations.csv, or None when it has not run."""
    import importlib

    from analysis.findings import _module_names

    folder = results_root / finding
    if not (folder / output.EVALUATIONS).exists():
        return None
    from datasets.formats import CorruptDataError

    module = importlib.import_module(_module_names()[finding])
    evaluations = output.read_evaluations(folder)  # CorruptDataError when it is no CSV table at all
    try:
        return module.compute(evaluations)
    except (KeyError, ValueError, TypeError, IndexError) as error:  # a table of other columns or values (edited)
        raise CorruptDataError(f"{folder / output.EVALUATIONS}: not the {finding} finding's evaluations table "
                               f"({type(error).__name__}: {error}); `sweeplab results {finding}` writes it again") \
            from None


def check_all(results_root: Path) -> list[dict[str, Any]]:
    """One row per claim: claim, finding, the source's fidelity, what was measured, verdict (and the numbers)."""
    computed: dict[str, Any] = {}
    rows = []
    for claim in CLAIMS:
        if not claim.finding or claim.check is None:
            check, fidelity = Check(claim.unmeasured_reason, NOT_MEASURED, {}), ""
        else:
            if claim.finding not in computed:
                computed[claim.finding] = _computed(results_root, claim.finding)
            source = computed[claim.finding]
            summary = output.read_summary(results_root / claim.finding) or {}
            fidelity = summary.get("fidelity", "")
            check = Check(f"results/{claim.finding}/ not written yet", NOT_MEASURED, {}) if source is None \
                else claim.check(source)
            if claim.budget_bound and check.verdict in (SUPPORTED, CONTRADICTED, NO_EVIDENCE):
                check = Check(check.measured, check.verdict + AT_THIS_BUDGET, check.numbers)
        rows.append({"claim": claim.name, "text": claim.text, "finding": claim.finding, "fidelity": fidelity,
                     "measured": check.measured, "verdict": check.verdict, "numbers": check.numbers})
    return rows


def summarize(out_dir: Path) -> dict[str, Any]:
    rows = check_all(Path(out_dir).parent)
    return {"claims": {row["claim"]: {key: row[key] for key in ("text", "finding", "fidelity", "verdict", "numbers")}
                       for row in rows}}


def lines(rows: list[dict[str, Any]]) -> list[str]:
    text = ["Each claim from the seed reports, what this platform measured (95% intervals) and the verdict: supported, "
            "contradicted, no evidence (the intervals allow both), not tested as stated (the seed's own setting was "
            "not among those evaluated), or not measured yet; 'at this budget' where a claim about convergence was "
            "checked at one training budget. With 3 seeds most intervals are wide; 'no evidence' is not a failure "
            "of the claim, only of this budget to decide it.", "",
            "| claim | finding (fidelity) | measured | verdict |", "|---|---|---|---|"]
    for row in rows:
        source = f"{row['finding']} ({row['fidelity']})" if row["fidelity"] else row["finding"] or "-"
        text.append(f"| {row['text']} | {source} | {row['measured']} | **{row['verdict']}** |")
    return text


def run(out_dir: Path, store_dir: Path, fidelity: str = "committed", workers: int = 1) -> list[Path]:
    """Trains nothing (`store_dir` and `workers` unused): reads the other findings' evaluations.csv."""
    import pandas as pd

    started, cpu_started = time.perf_counter(), time.process_time()
    rows = check_all(Path(out_dir).parent)
    make_folder(out_dir)
    table = pd.DataFrame([{key: value for key, value in row.items() if key != "numbers"} for row in rows])
    paths = output.write_tables({"claims": table}, out_dir)
    timing = {"evaluations": 0, "trained_now": 0, "evaluation_seconds_total": 0.0,
              "wall_seconds_this_run": round(time.perf_counter() - started, 1),
              "cpu_seconds_this_run": round(time.process_time() - cpu_started, 1)}
    return paths + output.write_summary(out_dir, NAME, fidelity, FIDELITY_TEXT, summarize(out_dir), lines(rows),
                                        timing, "The seeds' claims, checked", default_fidelity="committed")


FIDELITY_TEXT = "trains nothing: reads results/<finding>/evaluations.csv of the findings named per claim"
FINDING = Finding(
    name=NAME,
    description="the seed reports' claims, each with what the platform measured and a verdict",
    fidelities={"committed": FIDELITY_TEXT, "tiny": FIDELITY_TEXT},
    cpu_minutes=0.5,
    run=run,
    summarize=summarize,
)
