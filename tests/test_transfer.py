"""Transfer analysis: config selection, importances, the evaluation store and a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import transfer
from analysis.evaluations import EvaluationStore, evaluation_key
from analysis.transfer import SOURCE, TARGET
from sweeps.space import Parameter

RATE = Parameter("learning_rate", "float", low=1e-4, high=1e-1, log=True)
OPTIMIZER = Parameter("optimizer", "categorical", choices=("sgd", "adam", "rmsprop"))
LAYERS = Parameter("dense_layers", "int", low=1, high=4)
PARAMETERS = [RATE, OPTIMIZER, LAYERS]


def _configs(count: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"learning_rate": float(10 ** rng.uniform(-4, -1)), "optimizer": str(rng.choice(OPTIMIZER.choices)),
             "dense_layers": int(rng.integers(1, 5))} for _ in range(count)]


def _evaluations(source: np.ndarray, target: np.ndarray, seeds: int = 3, noise: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame([{"config": index, "dataset": name, "seed": seed,
                          "score": float(scores[index] + noise * rng.normal())}
                         for name, scores in ((SOURCE, source), (TARGET, target))
                         for index in range(len(scores)) for seed in range(seeds)])


def test_importances_find_the_parameter_that_matters() -> None:
    configs = _configs(40)
    scores = [0.5 + 0.4 * (config["optimizer"] == "adam") + 0.01 * config["dense_layers"] for config in configs]
    values, method = transfer.importances(configs, scores, PARAMETERS)
    assert method == "fanova"
    assert max(values, key=values.get) == "optimizer" and sum(values.values()) == pytest.approx(1.0)
    configs[0]["optimizer"], configs[1]["learning_rate"] = "adadelta", 0.5  # outside the declared space
    assert "optimizer" in transfer.importances(configs, scores, PARAMETERS)[0]


def test_transfer_info_on_a_perfect_transfer() -> None:
    configs = _configs(12)
    source = np.linspace(0.6, 0.9, 12)
    info = transfer.transfer_info("mlp", configs, _evaluations(source, source - 0.4), PARAMETERS, n_bootstrap=300)
    assert info.spearman.value == pytest.approx(1.0) and info.spearman.low > 0.99
    assert info.kendall.value == pytest.approx(1.0)
    assert info.regret == pytest.approx(0.0) and info.top_k_overlap == 1.0 and info.source_best == 11
    assert info.configs[f"{TARGET} mean"].to_numpy() == pytest.approx(source - 0.4)
    assert set(info.importance["parameter"]) <= {"learning_rate", "optimizer", "dense_layers"}
    assert len(transfer.render(info)) == 3


def test_transfer_info_on_an_unrelated_target() -> None:
    configs = _configs(30)
    rng = np.random.default_rng(9)
    info = transfer.transfer_info("cnn", configs, _evaluations(rng.uniform(size=30), rng.uniform(size=30), noise=0.01),
                                  PARAMETERS, n_bootstrap=300)
    assert info.spearman.covers(0.0) and info.kendall.covers(0.0)
    assert info.regret <= 0


def test_store_recomputes_nothing_and_keys_ignore_spelling(tmp_path) -> None:
    calls = []

    def runner(task, params):
        calls.append(params)
        if params.get("learning_rate") == 0.5:
            raise FloatingPointError("diverged")
        return {"test/accuracy": 0.5 + params["seed"] / 10}

    path = tmp_path / "evaluations.jsonl"
    store = EvaluationStore(path, runner, verbose=False)
    base = {"dataset": "mnist", "model": "geron_mlp", "epochs": 1}
    assert store.metric("classify", {**base, "seed": 1}, "test/accuracy") == pytest.approx(0.6)
    assert store.metric("classify", {**base, "seed": 1, "label_smoothing": 0, "dense_units": 300}, "test/accuracy") == \
        pytest.approx(0.6)  # a float field's 0 is its default 0.0, and 300 is the preset's value anyway
    assert math.isnan(store.metric("classify", {**base, "seed": 2, "learning_rate": 0.5}, "test/accuracy"))
    assert len(calls) == 2 and store.computed == 2
    reopened = EvaluationStore(path, runner, verbose=False)
    assert reopened.metric("classify", {**base, "seed": 1}, "test/accuracy") == pytest.approx(0.6)
    assert math.isnan(reopened.metric("classify", {**base, "seed": 2, "learning_rate": 0.5}, "test/accuracy"))
    assert len(calls) == 2 and reopened.computed == 0 and len(reopened) == 2
    assert evaluation_key("classify", {**base, "seed": 1}) != evaluation_key("classify", {**base, "seed": 3})
    assert evaluation_key("classify", base) != evaluation_key("classify", {**base, "permute_pixels": True})
    assert evaluation_key("classify", base) != evaluation_key("classify", {**base, "dataset": "cifar10"})


def test_missing_data_stops_the_analysis_and_is_not_stored(tmp_path) -> None:
    from datasets import DataNotFoundError

    attempts = []

    def runner(task, params):
        attempts.append(params)
        if len(attempts) == 1:
            raise DataNotFoundError("dataset 'mnist' is not available")
        return {"test/accuracy": 0.9}

    path = tmp_path / "evaluations.jsonl"
    params = {"dataset": "mnist", "model": "geron_mlp", "seed": 0}
    with pytest.raises(DataNotFoundError):
        EvaluationStore(path, runner, verbose=False).metric("classify", params, "test/accuracy")
    retried = EvaluationStore(path, runner, verbose=False)  # once the data is there, the run happens
    assert retried.metric("classify", params, "test/accuracy") == pytest.approx(0.9)
    assert len(attempts) == 2 and len(retried) == 1


def test_a_finding_whose_written_evaluations_are_not_stored_says_so_before_training(tmp_path, capsys) -> None:
    from analysis.findings.output import Job, Session

    written = tmp_path / "results" / "evaluations.csv"
    written.parent.mkdir()
    written.write_text("config,score\n0,0.5\n")
    jobs = [Job("classify", {"dataset": "mnist", "seed": seed}, f"seed {seed}", {"seed": seed}) for seed in (0, 1)]

    def session(path):
        return Session("f", EvaluationStore(path, lambda task, params: {"test/accuracy": 0.5}, verbose=False))

    first = session(tmp_path / "store" / "f" / "evaluations.jsonl")
    first.run(jobs, {"acc": "test/accuracy"}, written)
    assert "does not hold: their inputs changed" in capsys.readouterr().err and first.store.computed == 2
    again = session(tmp_path / "store" / "f" / "evaluations.jsonl")
    table = again.run(jobs, {"acc": "test/accuracy"}, written)
    assert "does not hold" not in capsys.readouterr().err and again.store.computed == 0
    assert table["acc"].tolist() == [0.5, 0.5]
