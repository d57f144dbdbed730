"""Promotion: the search's best few configurations (and a few probes from lower ranks) rerun at a higher fidelity.

A search on a CPU ranks tens of configurations cheaply (`fixed:` holds the low rung: a training subset, an epoch
or two); `promote: {top, probes, set}` reruns the `top` best and `probes` spread over the rest of the ranking with
`set` on top (more data, more epochs). The promoted results decide the best (and so the refit), and their rank
correlation with the low rung is the study's measured fidelity, stored on the study and printed. The probes keep
that correlation honest: over the top few alone it would be low from the narrow range, whatever the rung.

`every: N` also promotes during the search, in the spirit of asynchronous successive halving: after every N finished
low-rung trials the low rung's best is rerun at once unless it was promoted already, so the study holds a promoted
answer minutes before its search ends (the final promotion skips it). Those reruns count against the search's time.
The sampler sees their higher-fidelity values too, which pulls it towards the incumbent.

When the measured correlation is poor, the next `sweep` of the study widens the low rung (twice the subset, or one
more epoch; twice its minutes when it is capped in time) and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeps.best import PROMOTED_FROM, is_promoted, ranked_trials

PROMOTED_SET = "promoted_set"  # trial user attr: the values the promotion sets over the study's fixed ones
FIDELITY_ATTR = "fidelity"  # study user attr: the measured low-rung vs promoted rank correlation
WIDENED_ATTR = "widened_rung"  # study user attr: values that widen the low rung after a poor correlation
POOR_CORRELATION = 0.5  # Spearman below this (over >= 4 configurations): the low rung ranks badly
MIN_PAIRS = 4


def choose(ranking: list[FrozenTrial], top: int, probes: int) -> list[FrozenTrial]:
    """The `top` best and `probes` evenly spread over the rest (lowest rank included), best first."""
    chosen = ranking[:top]
    rest = ranking[top:]
    if probes and rest:
        step = len(rest) / probes
        indices = sorted({max(0, min(len(rest) - 1, round((index + 1) * step) - 1)) for index in range(probes)})
        chosen += [rest[index] for index in indices]
    return chosen


def _promoted_sources(trials: list[FrozenTrial]) -> set[int]:
    """The low-rung trial numbers already promoted (run, running or queued)."""
    return {trial.user_attrs[PROMOTED_FROM] for trial in trials if is_promoted(trial)}


def _enqueue(study: optuna.Study, trial: FrozenTrial, promote: Mapping[str, Any]) -> None:
    """Queue a rerun of `trial`'s configuration at the promoted fidelity."""
    study.enqueue_trial(dict(trial.params), user_attrs={PROMOTED_FROM: trial.number,
                                                        PROMOTED_SET: dict(promote.get("set", {}))})


def enqueue_promotions(study: optuna.Study, promote: Mapping[str, Any]) -> list[int]:
    """Queue the chosen configurations not yet promoted; returns the low-rung trial numbers queued."""
    done = _promoted_sources(study.get_trials(deepcopy=False))
    queued = []
    for trial in choose(ranked_trials(study, low_rung=True), int(promote.get("top", 3)), int(promote.get("probes", 2))):
        if trial.number not in done:
            _enqueue(study, trial, promote)
            queued.append(trial.number)
    return queued


def promote_early(study: optuna.Study, promote: Mapping[str, Any], seen: set[int]) -> list[int]:
    """`every: N`: once per N finished low-rung trials (counts already acted on are in `seen`), queue the low rung's
    best unless it was promoted already; returns the trial numbers queued."""
    every = int(promote.get("every") or 0)
    if not every:
        return []
    trials = study.get_trials(deepcopy=False)
    finished = sum(trial.state.is_finished() for trial in trials if not is_promoted(trial))
    if not finished or finished % every or finished in seen:
        return []
    seen.add(finished)
    ranking = ranked_trials(study, low_rung=True)
    if not ranking or ranking[0].number in _promoted_sources(trials):
        return []
    _enqueue(study, ranking[0], promote)
    return [ranking[0].number]


def spearman(pairs: list[tuple[float, float]]) -> float | None:
    """Rank correlation of (low rung, promoted) values; None below MIN_PAIRS or with no spread."""
    if len(pairs) < MIN_PAIRS:
        return None
    from scipy.stats import spearmanr

    low, high = zip(*pairs, strict=True)
    if len(set(low)) < 2 or len(set(high)) < 2:
        return None
    return float(spearmanr(low, high).statistic)


def measure_fidelity(study: optuna.Study) -> dict[str, Any]:
    """Pairs of (low-rung value, promoted value) per promoted configuration and their Spearman correlation; stored
    on the study."""
    by_number = {trial.number: trial for trial in study.get_trials(deepcopy=False)}
    pairs = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        source = by_number.get(trial.user_attrs.get(PROMOTED_FROM, -1))
        if is_promoted(trial) and source is not None and source.value is not None and trial.value is not None:
            pairs.append({"trial": trial.number, "low": source.value, "promoted": trial.value})
    rho = spearman([(pair["low"], pair["promoted"]) for pair in pairs])
    low_rung = [trial for trial in study.get_trials(deepcopy=False) if not is_promoted(trial)]
    record = {"spearman": rho, "pairs": pairs, "low_rung_trials": len(ranked_trials(study, low_rung=True)),
              "low_rung_tried": sum(trial.state.is_finished() for trial in low_rung)}
    study.set_user_attr(FIDELITY_ATTR, record)
    return record


def describe_fidelity(record: Mapping[str, Any] | None) -> str:
    if not record or not record.get("pairs"):
        return "fidelity: no promoted configurations yet"
    rho = record.get("spearman")
    measured = f"Spearman {rho:.2f}" if rho is not None else f"too few to correlate (< {MIN_PAIRS})"
    verdict = "" if rho is None else (" (poor: the next sweep widens the low rung)" if rho < POOR_CORRELATION
                                      else " (the low rung ranks well)")
    tried = record.get("low_rung_tried", record["low_rung_trials"])
    return (f"fidelity: {tried} configurations tried at the low rung ({record['low_rung_trials']} not pruned), "
            f"{len(record['pairs'])} promoted; "
            f"low rung vs promoted {measured}{verdict}")


def widened_rung(fixed: Mapping[str, Any], study: optuna.Study) -> dict[str, Any]:
    """Values that widen the low rung when the study's measured fidelity was poor (and those it widened before)."""
    widened = dict(study.user_attrs.get(WIDENED_ATTR) or {})
    record = study.user_attrs.get(FIDELITY_ATTR) or {}
    rho = record.get("spearman")
    if rho is None or rho >= POOR_CORRELATION or record.get("widened"):
        return widened
    current = {**fixed, **widened}
    if int(current.get("subset", 0) or 0) > 0:
        widened["subset"] = int(current["subset"]) * 2
    elif "epochs" in current:
        widened["epochs"] = int(current["epochs"]) + 1
    if float(current.get("train_minutes", 0) or 0) > 0:  # a rung capped in time gets the time the wider rung needs
        widened["train_minutes"] = float(current["train_minutes"]) * 2
    study.set_user_attr(WIDENED_ATTR, widened)
    study.set_user_attr(FIDELITY_ATTR, {**record, "widened": widened})
    return widened
