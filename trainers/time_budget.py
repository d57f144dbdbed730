"""Training to a time budget, to the step: stop at the first step past it, or (a cosine schedule) plan the schedule's
length in steps from measured step times, so the learning rate has annealed when the budget ends. A budget shorter
than an epoch trains a fraction of one (a search's cheapest rung)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "process": time.process_time}


class TimeBudget(keras.callbacks.Callback):
    """Ends training at the first step that finishes past `minutes` of training (a CPU-sized budget; the epoch's
    validation still runs), on the wall clock or on the process's CPU time (all threads: equal budgets stay equal
    on a shared machine)."""

    def __init__(self, minutes: float, clock: str = "wall") -> None:
        super().__init__()
        self.seconds, self.clock, self.started = minutes * 60.0, CLOCKS[clock], 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = self.clock()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.clock() - self.started >= self.seconds:
            self.model.stop_training = True


def cosine_rate(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up from 0 over `warmup` steps, then cosine decay to 0 at step `total` (keras CosineDecay's
    shape with warmup_target=peak and alpha=0)."""
    if step < warmup:
        return peak * step / warmup
    decay = max(1, total - warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(step - warmup, decay) / decay))


def planned_steps(done: int, remaining: float, step_seconds: float, epoch_end_seconds: float, steps_per_epoch: int,
                  most: int) -> int:
    """Steps the schedule should last: those done plus those that fit in the `remaining` seconds at the measured
    seconds per step, each step carrying its share of the per-epoch validation; at most `most`."""
    cost = step_seconds + epoch_end_seconds / steps_per_epoch
    return max(done, min(most, done + math.floor(max(0.0, remaining) / max(cost, 1e-9))))


class BudgetedCosine(TimeBudget):
    """A warm-up then cosine-decay learning rate (set on the optimizer before every step) whose length is the
    configured epochs or, when fewer steps fit in `minutes`, the steps that fit: re-planned after every step from
    the measured step times (the first, which compiles, left out once there are others) and validation times, so a
    slower machine trains fewer steps but still ends at a learning rate of 0."""

    def __init__(self, minutes: float, peak: float, steps_per_epoch: int, epochs: int, warmup_epochs: float,
                 clock: str = "wall") -> None:
        super().__init__(minutes, clock)
        self.peak, self.steps_per_epoch, self.epochs = float(peak), int(steps_per_epoch), int(epochs)
        self.most = self.steps_per_epoch * self.epochs
        self.warmup = round(steps_per_epoch * warmup_epochs)
        self.planned, self.step, self.mark = self.most, 0, 0.0
        self.step_time, self.step_count, self.epoch_end = 0.0, 0, 0.0

    @property
    def planned_epochs(self) -> int:
        """The plan in epochs begun (a plan that ends inside an epoch counts that epoch)."""
        return -(-self.planned // self.steps_per_epoch)

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.planned, self.step, self.mark = self.most, 0, self.started
        self.step_time, self.step_count, self.epoch_end = 0.0, 0, 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.mark = self.clock()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        total = self.planned  # the warm-up is at most a fifth of the plan (a fraction of an epoch still decays)
        self.model.optimizer.learning_rate = cosine_rate(self.step, total, min(self.warmup, total // 5), self.peak)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = self.clock()
        if self.step:
            self.step_time += now - self.mark
            self.step_count += 1
        self.mark, self.step = now, self.step + 1
        remaining = self.seconds - (now - self.started)
        if self.step_count:
            self.planned = planned_steps(self.step, remaining, self.step_time / self.step_count, self.epoch_end,
                                         self.steps_per_epoch, self.most)
        else:  # only the compiling step so far: no pace to plan by
            self.planned = self.most if remaining > 0 else self.step
        if self.step >= self.planned:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_end = self.clock() - self.mark  # validation and callbacks after the epoch's last step


def budget_callbacks(config: object, steps_per_epoch: int) -> list[keras.callbacks.Callback]:
    """The callbacks that hold `config.train_minutes` (none at 0): a budgeted cosine schedule when the config's
    schedule is cosine (its optimizer then takes a plain rate: `scheduled_rate(config)` is False), else a stop."""
    minutes = float(getattr(config, "train_minutes", 0.0))
    clock = getattr(config, "budget_clock", "wall")
    if minutes <= 0:
        return []
    if not scheduled_rate(config):
        return [BudgetedCosine(minutes, config.learning_rate, steps_per_epoch, config.epochs, config.warmup_epochs,
                               clock)]
    return [TimeBudget(minutes, clock)]


def scheduled_rate(config: object) -> bool:
    """False when a time-budgeted cosine schedule sets the learning rate (the optimizer gets a plain rate)."""
    return not (float(getattr(config, "train_minutes", 0.0)) > 0 and getattr(config, "lr_schedule", "") == "cosine")
