"""Finding `claims`: the seed reports' claims, each checked against what the other findings measured.

Trains nothing: it reads the other findings' `evaluations.csv` next to its own folder (results/<finding>/), so it
runs last. A claim whose finding has not run says "not measured yet". Verdicts: supported (the intervals say so),
contradicted (they say the opposite), no evidence (they span both), not measured yet.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.findings import Finding, output

NAME = "claims"
SUPPORTED, CONTRADICTED, NO_EVIDENCE, NOT_MEASURED = "supported", "contradicted", "no evidence", "not measured yet"
EQUIVALENCE = 0.01  # "unaffected": the 95% interval of the accuracy change lies within +-1 percentage point


@dataclass(frozen=True)
class Check:
    """What a check returns: the measured numbers in words, the verdict and the numbers themselves."""

    measured: str
    verdict: str
    numbers: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    name: str
    text: str
    finding: str  # whose evaluations.csv the check reads; "" = no finding measures it yet
    check: Callable[[Any], Check] | None  # the finding's computed result -> Check
    unmeasured_reason: str = ""


def _interval(value: float, low: float, high: float, scale: float = 1.0, unit: str = "") -> str:
    if math.isnan(low):
        return f"{value * scale:+.2f}{unit} (no interval)"
    return f"{value * scale:+.2f}{unit} [{low * scale:+.2f}, {high * scale:+.2f}]"


def _permutation_differences(info: Any, model: str) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """One model's rows of the permutation differences, their intervals in words, and the numbers a Check keeps."""
    rows = [row for row in info.differences.to_dict("records") if row["model"] == model]
    measured = "; ".join(f"{row['dataset']}: {_interval(row['difference'], row['t low'], row['t high'], 100, ' pp')}"
                         for row in rows)
    return rows, measured, {row["dataset"]: [row["difference"], row["t low"], row["t high"]] for row in rows}


def mlp_unaffected(info: Any) -> Check:
    rows, measured, numbers = _permutation_differences(info, "mlp")
    if not rows:
        return Check("no MLP evaluations", NOT_MEASURED, {})
    if any(row["t low"] > 0 or row["t high"] < 0 for row in rows):
        verdict = CONTRADICTED
    elif all(row["t low"] >= -EQUIVALENCE and row["t high"] <= EQUIVALENCE for row in rows):
        verdict = SUPPORTED
    else:
        verdict = NO_EVIDENCE
    return Check(f"permuted - original test accuracy, {measured} (supported = every interval within +-"
                 f"{EQUIVALENCE * 100:.0f} pp)", verdict, numbers)


def cnn_hurt(info: Any) -> Check:
    rows, measured, numbers = _permutation_differences(info, "cnn")
    if not rows:
        return Check("no CNN evaluations", NOT_MEASURED, {})
    verdict = SUPPORTED if all(row["t high"] < 0 for row in rows) else \
        CONTRADICTED if any(row["t low"] > 0 for row in rows) else NO_EVIDENCE
    return Check(f"permuted - original test accuracy, {measured}", verdict, numbers)


PERIODIC_OR_MULTI_HEAD = ("periodic", "multi_head")


def periodic_or_multi_head_best(result: Any) -> Check:
    table = result.table.set_index("representation")
    claimed = [name for name in PERIODIC_OR_MULTI_HEAD if name in table.index]
    if not claimed:
        return Check("periodic and multi_head were not trained", NOT_MEASURED, {})
    others = [name for name in table.index if name not in PERIODIC_OR_MULTI_HEAD]
    best = result.best
    shown = ", ".join(f"{name} {table.loc[name, 'mean error']:.1f} min" for name in [*claimed, *others[:1]])
    if best in PERIODIC_OR_MULTI_HEAD:  # supported when the best other representation is clearly worse
        rival = next((name for name in table.index if name not in PERIODIC_OR_MULTI_HEAD), None)
        clear = rival is not None and table.loc[rival, "vs best low"] > 0
        verdict, detail = (SUPPORTED if clear else NO_EVIDENCE), rival
    else:  # contradicted when even the better of periodic / multi_head is clearly worse than the best
        rival = min(claimed, key=lambda name: table.loc[name, "mean error"])
        verdict, detail = (CONTRADICTED if table.loc[rival, "vs best low"] > 0 else NO_EVIDENCE), rival
    gap = table.loc[detail] if detail is not None else None
    comparison = "" if gap is None else (f"; {detail} vs {best}: "
                                         f"{_interval(gap['vs best'], gap['vs best low'], gap['vs best high'])} min")
    return Check(f"lowest mean test error: {best} ({shown}){comparison}", verdict,
                 {"best": best, "compared": detail,
                  "difference": None if gap is None else [gap["vs best"], gap["vs best low"], gap["vs best high"]]})


def classes_720_fail(result: Any) -> Check:
    from analysis.findings.clock_representations import CHANCE_MINUTES, NEAR_CHANCE

    table = result.table.set_index("representation")
    if "classification-720" not in table.index:
        return Check("classification-720 was not trained", NOT_MEASURED, {})
    row, threshold = table.loc["classification-720"], NEAR_CHANCE * CHANCE_MINUTES
    verdict = SUPPORTED if row["mean low"] >= threshold else CONTRADICTED if row["mean high"] < threshold \
        else NO_EVIDENCE
    return Check(f"720 classes: mean test error {row['mean error']:.1f} [{row['mean low']:.1f}, {row['mean high']:.1f}]"
                 f" min (failing = the interval at or above {threshold:.0f} min, {NEAR_CHANCE:.0%} of chance)",
                 verdict, {"mean_error": [row["mean error"], row["mean low"], row["mean high"]],
                           "threshold": threshold})


def _setting_effects(info: Any, dataset: str) -> list[tuple[str, float, float, float]]:
    return [(row["setting"], row[f"{dataset} effect"], row[f"{dataset} low"], row[f"{dataset} high"])
            for row in info.settings.to_dict("records")]


def cnn_l2_best(infos: dict[str, Any]) -> Check:
    from analysis.findings.transfer import SOURCE, TARGET

    info = infos.get("cnn")
    if info is None or info.settings.empty:
        return Check("no CNN transfer evaluations", NOT_MEASURED, {})
    words, values, verdicts = [], {}, []
    for dataset in (SOURCE, TARGET):
        effects = [item for item in _setting_effects(info, dataset) if math.isfinite(item[1])]
        l2 = [item for item in effects if item[0].startswith("kernel_l2=") and float(item[0].split("=")[1]) > 0]
        if not l2:
            return Check("no CNN configuration used L2", NOT_MEASURED, {})
        best_l2 = max(l2, key=lambda item: item[1])
        top = max(effects, key=lambda item: item[1])
        beaten = any(item[2] > best_l2[3] for item in effects if item not in l2)  # another setting clearly better
        verdicts.append(CONTRADICTED if best_l2[3] < 0 or beaten else
                        SUPPORTED if top in l2 and best_l2[2] > 0 else NO_EVIDENCE)
        words.append(f"{dataset}: best L2 setting {best_l2[0]} {_interval(*best_l2[1:])}, top setting {top[0]} "
                     f"{_interval(*top[1:])}")
        values[dataset] = {"best_l2": list(best_l2), "top": list(top)}
    verdict = CONTRADICTED if CONTRADICTED in verdicts else SUPPORTED if set(verdicts) == {SUPPORTED} else NO_EVIDENCE
    return Check("effect on mean test accuracy vs the other configs; " + "; ".join(words), verdict, values)


def mlp_rmsprop_fashion_not_cifar(infos: dict[str, Any]) -> Check:
    from analysis.findings.transfer import SOURCE, TARGET

    info = infos.get("mlp")
    if info is None:
        return Check("no MLP transfer evaluations", NOT_MEASURED, {})
    configs = info.configs
    if "optimizer" not in configs or "rmsprop" not in set(configs["optimizer"]):
        return Check("no MLP configuration used RMSprop", NOT_MEASURED, {})
    means = {dataset: configs.groupby("optimizer")[f"{dataset} mean"].mean() for dataset in (SOURCE, TARGET)}
    effects = {dataset: next((item for item in _setting_effects(info, dataset) if item[0] == "optimizer=rmsprop"),
                             ("optimizer=rmsprop", math.nan, math.nan, math.nan)) for dataset in (SOURCE, TARGET)}
    top = {dataset: str(means[dataset].idxmax()) for dataset in (SOURCE, TARGET)}
    source, target = effects[SOURCE], effects[TARGET]
    if source[3] < 0 or (target[2] > 0 and top[TARGET] == "rmsprop"):
        verdict = CONTRADICTED
    elif source[2] > 0 and top[SOURCE] == "rmsprop" and top[TARGET] != "rmsprop" and not target[2] > 0:
        verdict = SUPPORTED
    else:
        verdict = NO_EVIDENCE
    words = "; ".join(f"{dataset}: best optimizer {top[dataset]}, RMSprop vs others {_interval(*effects[dataset][1:])}"
                      for dataset in (SOURCE, TARGET))
    numbers = {dataset: {"best_optimizer": top[dataset], "rmsprop_effect": list(effects[dataset][1:])}
               for dataset in (SOURCE, TARGET)}
    return Check(words, verdict, numbers)


def sgd_slow(table: Any) -> Check:
    """"Far slower" = needs more than 3x the epochs: supported when SGD trained 3x as long is still clearly behind
    every other optimizer (paired by seed), contradicted when it is clearly ahead of one of them."""
    from analysis.findings.optimizers import SLOW

    rows = [row for row in table.to_dict("records") if row["optimizer"] != SLOW and math.isfinite(row["sgd 3x high"])]
    if not rows:
        return Check("no SGD run with 3x another optimizer's epochs", NOT_MEASURED, {})
    if any(row["sgd 3x low"] > 0 for row in rows):  # SGD needs less than 3x the epochs of one of them
        verdict = CONTRADICTED
    elif all(row["sgd 3x high"] < 0 for row in rows):
        verdict = SUPPORTED
    else:
        verdict = NO_EVIDENCE
    words = "; ".join(f"SGD at {3 * row['epochs']} epochs - {row['optimizer']} at {row['epochs']}: "
                      f"{_interval(row['sgd 3x minus this'], row['sgd 3x low'], row['sgd 3x high'], 100, ' pp')}"
                      for row in rows)
    return Check(f"test accuracy, paired by seed: {words} (supported = every interval below 0, contradicted = one "
                 "above 0)", verdict,
                 {f"{row['optimizer']}/{row['epochs']}": [row["sgd 3x minus this"], row["sgd 3x low"],
                                                          row["sgd 3x high"]] for row in rows})


CLAIMS: tuple[Claim, ...] = (
    Claim("mlp-permutation", "An MLP is unaffected by permuted pixels (MNIST, Fashion-MNIST)", "permutation",
          mlp_unaffected),
    Claim("cnn-permutation", "A CNN is hurt by permuted pixels (MNIST, Fashion-MNIST)", "permutation", cnn_hurt),
    Claim("clock-periodic", "Periodic or multi-head labels read the clock best", "clock-representations",
          periodic_or_multi_head_best),
    Claim("clock-720", "Classification with 720 classes fails to converge", "clock-representations",
          classes_720_fail),
    Claim("cnn-l2", "For the CNN, L2 is the best setting on both Fashion-MNIST and CIFAR-10", "transfer", cnn_l2_best),
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
    module = importlib.import_module(_module_names()[finding])
    return module.compute(output.read_evaluations(folder))


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
        rows.append({"claim": claim.name, "text": claim.text, "finding": claim.finding, "fidelity": fidelity,
                     "measured": check.measured, "verdict": check.verdict, "numbers": check.numbers})
    return rows


def summarize(out_dir: Path) -> dict[str, Any]:
    rows = check_all(Path(out_dir).parent)
    return {"claims": {row["claim"]: {key: row[key] for key in ("text", "finding", "fidelity", "verdict", "numbers")}
                       for row in rows}}


def lines(rows: list[dict[str, Any]]) -> list[str]:
    text = ["Each claim from the seed reports, what this platform measured (95% intervals) and the verdict: supported, "
            "contradicted, no evidence (the intervals allow both), or not measured yet. With 3 seeds most intervals "
            "are wide; 'no evidence' is not a failure of the claim, only of this budget to decide it.", "",
            "| claim | finding (fidelity) | measured | verdict |", "|---|---|---|---|"]
    for row in rows:
        source = f"{row['finding']} ({row['fidelity']})" if row["fidelity"] else row["finding"] or "-"
        text.append(f"| {row['text']} | {source} | {row['measured']} | **{row['verdict']}** |")
    return text


def run(out_dir: Path, store_dir: Path, fidelity: str = "committed") -> list[Path]:
    import pandas as pd

    started, cpu_started = time.perf_counter(), time.process_time()
    rows = check_all(Path(out_dir).parent)
    out_dir.mkdir(parents=True, exist_ok=True)
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
