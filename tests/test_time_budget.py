"""Training to a time budget: the cosine schedule is planned from measured epoch times and ends annealed."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from trainers import get_task, run
from trainers.time_budget import BudgetedCosine, cosine_rate, planned_epochs


def test_cosine_rate_is_keras_cosine_decay_with_warmup():
    total, warmup, peak = 50, 7, 3e-3
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - warmup, warmup_target=peak,
                                                      warmup_steps=warmup)
    ours = [cosine_rate(step, total, warmup, peak) for step in range(total + 3)]
    np.testing.assert_allclose(ours, [float(schedule(step)) for step in range(total + 3)], rtol=1e-5, atol=1e-9)
    assert ours[warmup] == pytest.approx(peak) and ours[total] == 0.0 and ours[total + 2] == 0.0


@pytest.mark.parametrize(("budget", "durations", "most", "expected"), [
    (100.0, [30.0, 10.0, 10.0], 50, 10),  # the first (compiling) epoch is left out of the estimate
    (100.0, [30.0], 50, 3),  # one epoch: it is all there is to go on
    (100.0, [30.0, 10.0], 6, 6),  # never more than configured
    (10.0, [30.0, 40.0, 40.0], 50, 3),  # never fewer than done
])
def test_planned_epochs(budget, durations, most, expected):
    assert planned_epochs(budget, durations, most) == expected


class RecordRates(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def _fit(minutes: float, seconds_per_tick: float, epochs: int = 20) -> tuple[BudgetedCosine, RecordRates, int]:
    """A tiny regression fit, 4 steps an epoch, whose budget callback reads a clock that advances
    `seconds_per_tick` at each reading (epoch begin and end: an epoch takes one tick)."""
    ticks = itertools.count()
    budget = BudgetedCosine(minutes, peak=0.01, steps_per_epoch=4, epochs=epochs, warmup_epochs=1.0)
    budget.clock = lambda: next(ticks) * seconds_per_tick
    rates = RecordRates()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    history = model.fit(x, x.sum(1), batch_size=8, epochs=epochs, verbose=0, callbacks=[budget, rates])
    return budget, rates, len(history.history["loss"])


def test_budget_shortens_the_schedule_and_it_still_ends_annealed():
    budget, rates, epochs = _fit(minutes=0.5, seconds_per_tick=5.0)  # 5 s epochs, 30 s: 6 of the 20 epochs fit
    assert epochs == budget.planned == 6 and len(rates.rates) == 24
    expected = [cosine_rate(step, 24, 4, 0.01) for step in range(24)]
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-5)  # the warm-up epoch is the same in either plan
    assert rates.rates[3] == pytest.approx(0.0075) and rates.rates[-1] < 0.01 * 0.01  # annealed by the budget's end


def test_ample_budget_is_the_plain_cosine_schedule():
    budget, rates, epochs = _fit(minutes=60.0, seconds_per_tick=1.0, epochs=5)
    assert epochs == budget.planned == 5
    np.testing.assert_allclose(rates.rates, [cosine_rate(step, 20, 4, 0.01) for step in range(20)], rtol=1e-5)


def test_clock_trainer_plans_cosine_within_its_budget(tmp_path, monkeypatch):
    """A budget far below one epoch: the clock trainer's cosine schedule (built by budget_callbacks) is planned
    down to the first epoch, and training stops there instead of running five."""
    import trainers.time_budget as time_budget

    made: list[BudgetedCosine] = []

    class Recorded(BudgetedCosine):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(time_budget, "BudgetedCosine", Recorded)
    clock = get_task("clock")
    config = {**clock.smoke, "image_size": 32, "dense_units": 8, "conv_filters": 4, "epochs": 5,
              "lr_schedule": "cosine", "train_minutes": 1e-4}
    assert run("clock", config, None, tmp_path).metrics["train/epochs"] == 1
    assert len(made) == 1 and made[0].planned == 1 and made[0].step == made[0].steps_per_epoch


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_classifier_trains_within_its_minutes(tiny_classify, schedule):
    """`train_minutes` holds a classification run (the low rung, promotion and refit are planned in minutes): with
    a budget shorter than one epoch it stops after the first epoch, whatever `epochs` says; without one it does not."""
    config = {**tiny_classify, "epochs": 30, "lr_schedule": schedule}
    budgeted = run("classify", {**config, "train_minutes": 1e-5})
    assert budgeted.metrics["train/epochs"] == 1
    assert run("classify", {**config, "epochs": 3}).metrics["train/epochs"] == 3
