"""Training to a time budget: the cosine schedule is planned in steps from measured step times and ends annealed."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from trainers import get_task, run
from trainers.time_budget import BudgetedCosine, TimeBudget, cosine_rate, planned_steps


def test_cosine_rate_is_keras_cosine_decay_with_warmup():
    total, warmup, peak = 50, 7, 3e-3
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - warmup, warmup_target=peak,
                                                      warmup_steps=warmup)
    ours = [cosine_rate(step, total, warmup, peak) for step in range(total + 3)]
    np.testing.assert_allclose(ours, [float(schedule(step)) for step in range(total + 3)], rtol=1e-5, atol=1e-9)
    assert ours[warmup] == pytest.approx(peak) and ours[total] == 0.0 and ours[total + 2] == 0.0


@pytest.mark.parametrize(("done", "remaining", "step", "epoch_end", "most", "expected"), [
    (10, 20.0, 1.0, 0.0, 500, 30),  # 20 more one-second steps fit
    (10, 20.0, 1.0, 10.0, 500, 20),  # each step carries its share of a 10-second validation (10 steps an epoch)
    (10, 20.0, 1.0, 0.0, 15, 15),  # never more than configured
    (10, -5.0, 1.0, 0.0, 500, 10),  # never fewer than done
])
def test_planned_steps(done, remaining, step, epoch_end, most, expected):
    assert planned_steps(done, remaining, step, epoch_end, 10, most) == expected


class RecordRates(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


class FakeClock(keras.callbacks.Callback):
    """A clock that advances `per_step` seconds at every training step (listed before the budget, so the budget
    reads the step's end), and `first` extra seconds at the first step (the compile)."""

    def __init__(self, per_step: float, first: float = 0.0) -> None:
        super().__init__()
        self.now, self.per_step, self.first, self.steps = 0.0, per_step, first, 0

    def __call__(self) -> float:
        return self.now

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.now += self.per_step + (self.first if self.steps == 0 else 0.0)
        self.steps += 1


def _fit(minutes: float, seconds_per_step: float, epochs: int = 20, first: float = 0.0, steps: int = 4,
         ) -> tuple[BudgetedCosine, RecordRates, int]:
    """A tiny regression fit, `steps` steps an epoch, whose budget reads a fake clock of `seconds_per_step` a step."""
    clock = FakeClock(seconds_per_step, first)
    budget = BudgetedCosine(minutes, peak=0.01, steps_per_epoch=steps, epochs=epochs,
                            warmup_epochs=1.0 if steps == 4 else 0.0)
    budget.clock = clock
    rates = RecordRates()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(8 * steps, 3)).astype("float32")
    history = model.fit(x, x.sum(1), batch_size=8, epochs=epochs, verbose=0, callbacks=[clock, budget, rates])
    return budget, rates, len(history.history["loss"])


def test_budget_shortens_the_schedule_and_it_still_ends_annealed():
    budget, rates, epochs = _fit(minutes=0.5, seconds_per_step=1.25)  # 5 s epochs, 30 s: 6 of the 20 epochs fit
    assert epochs == budget.planned_epochs == 6 and budget.planned == len(rates.rates) == 24
    expected = [cosine_rate(step, 24, 4, 0.01) for step in range(24)]
    np.testing.assert_allclose(rates.rates[1:], expected[1:], rtol=1e-5)  # step 0 is planned before any timing
    assert rates.rates[3] == pytest.approx(0.0075) and rates.rates[-1] < 0.01 * 0.01  # annealed by the budget's end


def test_a_budget_below_one_epoch_trains_a_fraction_of_it_annealed():
    """The cheapest rung: 6 of an epoch's 40 steps fit; the compile's slow first step is paid from the budget but
    not taken as the pace."""
    budget, rates, epochs = _fit(minutes=0.1, seconds_per_step=0.5, epochs=10, first=3.0, steps=40)
    assert epochs == 1 and budget.step == budget.planned == len(rates.rates) == 6  # (6 s - 3.5 s) / 0.5 s + 1
    assert rates.rates[-1] < 0.01 * 0.1


def test_ample_budget_is_the_plain_cosine_schedule():
    budget, rates, epochs = _fit(minutes=60.0, seconds_per_step=0.25, epochs=5)
    assert epochs == budget.planned_epochs == 5
    np.testing.assert_allclose(rates.rates, [cosine_rate(step, 20, 4, 0.01) for step in range(20)], rtol=1e-5)


def test_clock_trainer_plans_cosine_within_its_budget(tmp_path, monkeypatch):
    """A budget far below one epoch: the clock trainer's cosine schedule (built by budget_callbacks) is planned
    down to a fraction of the first epoch, and training stops there instead of running five."""
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
    assert len(made) == 1 and made[0].planned == made[0].step < made[0].steps_per_epoch


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_classifier_trains_within_its_minutes(tiny_classify, schedule):
    """`train_minutes` holds a classification run (the low rung, promotion and refit are planned in minutes): with
    a budget shorter than one epoch it stops inside the first epoch, whatever `epochs` says; without one it does not."""
    config = {**tiny_classify, "epochs": 30, "lr_schedule": schedule}
    budgeted = run("classify", {**config, "train_minutes": 1e-5})
    assert budgeted.metrics["train/epochs"] == 1
    assert run("classify", {**config, "epochs": 3}).metrics["train/epochs"] == 3


def test_final_validation_reuses_fit_s_last_validation_only_when_it_is_of_the_final_weights():
    """A fit stopped by its budget inside an epoch still validates the final weights at that epoch's end: the
    classifier reuses those numbers instead of a second pass, and they equal a fresh evaluation."""
    from trainers.classification import _final_validation
    from trainers.tasks.classify import ClassifyConfig

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(512, 6)).astype("float32"), rng.integers(0, 3, 512)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax",
                                                                   kernel_regularizer=keras.regularizers.L2(0.1))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = FakeClock(1.0)
    budget = TimeBudget(3 / 60)  # 3 s of 1-second steps: stops at step 3 of the first epoch's 16
    budget.clock = clock
    history = model.fit(x, y, validation_data=(x[:100], y[:100]), batch_size=32, epochs=4, verbose=0,
                        callbacks=[clock, budget])
    assert clock.steps == 3 and len(history.history["val_loss"]) == 1
    fresh = model.evaluate(x[:100], y[:100], verbose=0, return_dict=True)
    reused = _final_validation(model, history, x[:100], y[:100], ClassifyConfig())
    assert reused["loss"] == pytest.approx(fresh["loss"], rel=1e-5)  # the L2 penalty included, as evaluate has it
    assert reused["accuracy"] == pytest.approx(fresh["accuracy"])
    history.history["val_loss"][-1] = -1.0  # with early stopping (other weights restored) it evaluates again
    again = _final_validation(model, history, x[:100], y[:100], ClassifyConfig(patience=2))
    assert again["loss"] == pytest.approx(fresh["loss"], rel=1e-5)
