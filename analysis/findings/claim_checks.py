"""The checks behind the `claims` finding: each turns another finding's computed result into what was measured (in
words, with 95% intervals), a verdict and the numbers. Verdicts: supported, contradicted, no evidence (the intervals
allow both), not tested as stated (the seed's own setting was not evaluated), not measured yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SUPPORTED, CONTRADICTED, NO_EVIDENCE, NOT_MEASURED = "supported", "contradicted", "no evidence", "not measured yet"
NOT_AS_STATED = "not tested as stated"
EQUIVALENCE = 0.01  # "unaffected": the 95% interval of the accuracy change lies within +-1 percentage point
SEED_L2 = 0.01  # the L2 penalty the seed report's CNN claim is about
WEAK_CARRY_OVER = 0.3  # a Spearman rank correlation below this: at most a weak carry-over of the rankings


@dataclass(frozen=True)
class Check:
    """What a check returns: the measured numbers in words, the verdict and the numbers themselves."""

    measured: str
    verdict: str
    numbers: dict[str, Any]


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
    """The seed's claim is about L2 = 0.01: when no configuration used it, the measured L2 settings are reported and
    the verdict is "not tested as stated", whatever they show."""
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
        words.append(f"{dataset}: best L2 setting {best_l2[0]} {_interval(*best_l2[1:], 100, ' pp')}, top setting "
                     f"{top[0]} {_interval(*top[1:], 100, ' pp')}")
        values[dataset] = {"best_l2": list(best_l2), "top": list(top)}
    verdict = CONTRADICTED if CONTRADICTED in verdicts else SUPPORTED if set(verdicts) == {SUPPORTED} else NO_EVIDENCE
    tested = sorted({float(value) for value in info.configs.get("kernel_l2", [])})
    values["l2_values_tested"] = tested
    measured = "effect on mean test accuracy with the other settings held; " + "; ".join(words)
    if not any(math.isclose(value, SEED_L2) for value in tested):
        return Check(f"the seed's L2 = {SEED_L2:g} was not evaluated (L2 values tested: "
                     f"{', '.join(f'{value:g}' for value in tested)}); at those, {measured} (would read: {verdict})",
                     NOT_AS_STATED, values)
    return Check(measured, verdict, values)


def rankings_do_not_carry(infos: dict[str, Any]) -> Check:
    """"Gains on Fashion-MNIST do not carry over to CIFAR-10": per family, the Spearman rank correlation of the
    configurations' mean test accuracy on the two datasets. Supported = every family's interval below +0.3 (at most
    a weak carry-over); contradicted = one family's interval above +0.3 (its rankings carry over)."""
    measured = {family: info for family, info in sorted(infos.items()) if info is not None}
    if not measured:
        return Check("no transfer evaluations", NOT_MEASURED, {})
    spearman = {family: info.spearman for family, info in measured.items()}
    if any(estimate.low > WEAK_CARRY_OVER for estimate in spearman.values()):
        verdict = CONTRADICTED
    elif all(estimate.high < WEAK_CARRY_OVER for estimate in spearman.values()):
        verdict = SUPPORTED
    else:
        verdict = NO_EVIDENCE
    words = "; ".join(f"{family.upper()} ({len(measured[family].configs)} configs): Spearman "
                      f"{estimate.value:+.2f} [{estimate.low:+.2f}, {estimate.high:+.2f}]"
                      for family, estimate in spearman.items())
    return Check(f"rank correlation of the configurations' mean test accuracy, Fashion-MNIST vs CIFAR-10: {words} "
                 f"(supported = every interval below +{WEAK_CARRY_OVER}, contradicted = one above it)", verdict,
                 {family: [estimate.value, estimate.low, estimate.high] for family, estimate in spearman.items()})


def mlp_rmsprop_fashion_not_cifar(infos: dict[str, Any]) -> Check:
    from analysis.findings.transfer import SOURCE, TARGET

    info = infos.get("mlp")
    if info is None:
        return Check("no MLP transfer evaluations", NOT_MEASURED, {})
    configs = info.configs
    if "optimizer" not in configs or "rmsprop" not in set(configs["optimizer"]):
        return Check("no MLP configuration used RMSprop", NOT_MEASURED, {})
    optimizers = {dataset: [item for item in _setting_effects(info, dataset) if item[0].startswith("optimizer=")]
                  for dataset in (SOURCE, TARGET)}
    effects = {dataset: next((item for item in items if item[0] == "optimizer=rmsprop"),
                             ("optimizer=rmsprop", math.nan, math.nan, math.nan))
               for dataset, items in optimizers.items()}
    top = {dataset: max(items, key=lambda item: item[1])[0].removeprefix("optimizer=")
           for dataset, items in optimizers.items()}
    source, target = effects[SOURCE], effects[TARGET]
    if source[3] < 0 or (target[2] > 0 and top[TARGET] == "rmsprop"):
        verdict = CONTRADICTED
    elif source[2] > 0 and top[SOURCE] == "rmsprop" and top[TARGET] != "rmsprop" and not target[2] > 0:
        verdict = SUPPORTED
    else:
        verdict = NO_EVIDENCE
    words = "; ".join(f"{dataset}: best optimizer {top[dataset]}, RMSprop vs the average optimizer "
                      f"{_interval(*effects[dataset][1:], 100, ' pp')}"
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
