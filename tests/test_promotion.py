"""Promotion: the best few and probes rerun at the higher fidelity, rank the study's best, and the low rung's rank
correlation with them is measured, stored, printed, and widens the rung when poor. A user's toy task (no
framework) makes the fidelity exactly known."""

from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweeps.best import best_trial, ranked_trials
from sweeps.promotion import FIDELITY_ATTR, PROMOTED_FROM, choose, spearman

TOY = '''
from dataclasses import dataclass
import sweeplab
from sweeplab import param

@dataclass
class Config:
    rate: float = param(0.5, low=0.0, high=1.0)
    subset: int = param(100, low=0, high=100_000)
    epochs: int = param(1, low=1, high=100)

@sweeplab.task(config=Config, objective="val/accuracy", direction="maximize")
def train(config, reporter, run_dir):
    # at the low rung (subset > 0) the order of `rate` is {order}; at full data (subset 0) it is the true order
    value = config.rate if config.subset == 0 else {low_rung}
    for epoch in range(1, config.epochs + 1):
        reporter.report(epoch, {{"val/accuracy": value}})
    return {{"val/accuracy": value, "test/accuracy": value}}
'''
STUDY = """task: toy:train
fixed: {subset: 100, epochs: 1}
space:
  rate: {type: float, low: 0.0, high: 1.0}
sampler: {name: random, seed: 3}
promote: {top: 3, probes: 2, set: {subset: 0, epochs: 2}}
refit: {subset: 0, epochs: 2}
budget: {trials: 12}
"""


def sweep(folder, storage):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "sweeplab", "sweep", "study.yaml", "--storage", storage], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("order", "low_rung", "poor"), [("kept", "config.rate / 2", False),
                                                         ("reversed", "1 - config.rate", True)])
def test_promotion_ranks_the_best_and_measures_the_low_rung(tmp_path, order, low_rung, poor):
    (tmp_path / "toy.py").write_text(TOY.format(order=order, low_rung=low_rung))
    (tmp_path / "study.yaml").write_text(STUDY)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    result = sweep(tmp_path, storage)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name="study", storage=storage)
    promoted = [trial for trial in study.trials if PROMOTED_FROM in trial.user_attrs]
    assert len(promoted) == 5
    # promoted trials ran at the promotion's fidelity: their value is the true `rate`
    assert all(trial.value == pytest.approx(trial.params["rate"]) for trial in promoted)
    assert all(trial.user_attrs["config"]["subset"] == 0 and trial.user_attrs["config"]["epochs"] == 2
               for trial in promoted)
    # the best is the best promoted configuration, never a low-rung value
    assert best_trial(study).number == max(promoted, key=lambda trial: trial.value).number
    assert {trial.number for trial in ranked_trials(study)} == {trial.number for trial in promoted}
    fidelity = study.user_attrs[FIDELITY_ATTR]
    assert fidelity["spearman"] == pytest.approx(-1.0 if poor else 1.0)
    assert f"Spearman {fidelity['spearman']:.2f}" in result.stdout
    assert ("poor" in result.stdout) == poor

    first_count = len(study.trials)
    again = sweep(tmp_path, storage)
    assert again.returncode == 0, again.stderr[-3000:]
    newer = [trial for trial in optuna.load_study(study_name="study", storage=storage).trials
             if trial.number >= first_count and PROMOTED_FROM not in trial.user_attrs]
    assert newer
    assert ("widened to {'subset': 200}" in again.stdout) == poor
    assert all(trial.user_attrs["config"]["subset"] == (200 if poor else 100) for trial in newer)


@settings(deadline=None)
@given(count=st.integers(0, 40), top=st.integers(1, 6), probes=st.integers(0, 4))
def test_choose_takes_the_top_then_spread_probes(count, top, probes):
    ranking = list(range(count))  # stand-ins for trials, best first
    chosen = choose(ranking, top, probes)
    assert chosen[: min(top, count)] == ranking[:top]
    assert len(chosen) == len(set(chosen))
    rest = chosen[top:]
    assert len(rest) <= probes and (not probes or count <= top or rest)
    assert rest == sorted(rest) and all(item >= top for item in rest)
    if probes and count > top:
        assert rest[-1] == count - 1  # the lowest rank is always probed: the correlation spans the range


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), max_size=12))
def test_spearman_is_none_or_a_correlation(pairs):
    rho = spearman(pairs)
    assert rho is None or -1.0 - 1e-9 <= rho <= 1.0 + 1e-9
    if len(pairs) < 4:
        assert rho is None


def test_a_poor_rung_is_widened_once_per_measurement_in_data_and_time():
    from sweeps.promotion import WIDENED_ATTR, widened_rung

    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction="maximize")
    fixed = {"subset": 100, "epochs": 2, "train_minutes": 0.1}
    assert widened_rung(fixed, study) == {}  # nothing measured yet
    study.set_user_attr(FIDELITY_ATTR, {"spearman": 0.9, "pairs": []})
    assert widened_rung(fixed, study) == {}  # a good rung stays
    study.set_user_attr(FIDELITY_ATTR, {"spearman": 0.1, "pairs": []})
    assert widened_rung(fixed, study) == {"subset": 200, "train_minutes": 0.2}
    assert widened_rung(fixed, study) == {"subset": 200, "train_minutes": 0.2}  # not again for the same measurement
    assert study.user_attrs[WIDENED_ATTR] == {"subset": 200, "train_minutes": 0.2}


def test_every_promotes_the_low_rungs_best_during_the_search(tmp_path):
    (tmp_path / "toy.py").write_text(TOY.format(order="kept", low_rung="config.rate / 2"))
    (tmp_path / "study.yaml").write_text(STUDY.replace("promote: {top: 3,", "promote: {top: 3, every: 4,"))
    storage = f"sqlite:///{tmp_path / 's.db'}"
    result = sweep(tmp_path, storage)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = optuna.load_study(study_name="study", storage=storage).trials
    low = [trial for trial in trials if PROMOTED_FROM not in trial.user_attrs]
    early = [trial for trial in trials if PROMOTED_FROM in trial.user_attrs
             and trial.number < max(t.number for t in low)]
    assert early, result.stdout[-2000:]
    for trial in early:  # each reruns the best of the low-rung trials finished before it, right after a 4th one
        before = [t for t in low if t.number < trial.number]
        assert len(before) % 4 == 0
        assert trial.user_attrs[PROMOTED_FROM] == max(before, key=lambda t: t.value).number
        assert f"promoting trial #{trial.user_attrs[PROMOTED_FROM]} early" in result.stdout
        assert trial.value == pytest.approx(trial.params["rate"])  # at the promoted fidelity
    sources = [trial.user_attrs[PROMOTED_FROM] for trial in trials if PROMOTED_FROM in trial.user_attrs]
    assert len(sources) == len(set(sources))  # the final promotion skips what was promoted early
    ranking = sorted(low, key=lambda t: t.value, reverse=True)
    assert {trial.number for trial in choose(ranking, 3, 2)} <= set(sources)


@settings(deadline=None, max_examples=60)
@given(values=st.lists(st.floats(0, 1), min_size=1, max_size=30), every=st.integers(0, 6))
def test_early_promotion_reruns_only_a_new_incumbent_once_per_every(values, every):
    from sweeps.promotion import PROMOTED_SET, promote_early

    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction="maximize")
    distributions = {"x": optuna.distributions.FloatDistribution(0, 1)}
    seen: set[int] = set()
    promoted: list[int] = []
    for count, value in enumerate(values, start=1):
        study.add_trial(optuna.trial.create_trial(params={"x": value}, distributions=distributions, value=value))
        for _ in range(2):  # asked again after the same trial (e.g. after a promoted one): nothing more
            queued = promote_early(study, {"every": every, "set": {"epochs": 2}}, seen)
            for number in queued:
                trial = study.ask()  # the queued rerun runs next, and finishes
                assert trial.user_attrs[PROMOTED_FROM] == number and trial.user_attrs[PROMOTED_SET] == {"epochs": 2}
                study.tell(trial, value)
                promoted.append(number)
            if queued:
                assert every and count % every == 0
                best = max(range(count), key=lambda index: (values[index], -index))
                lows = [t for t in study.trials if PROMOTED_FROM not in t.user_attrs]
                assert lows[best].number == queued[0]
    assert len(promoted) == len(set(promoted))
    if not every:
        assert not promoted
