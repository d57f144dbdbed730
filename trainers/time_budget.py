"""Training to a time budget: stop after the epoch that passes it, or (a cosine schedule) plan the schedule's length
from measured epoch times so the learning rate has annealed when the budget ends."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "process": time.process_time}


class TimeBudget(keras.callbacks.Callback):
    """Ends training after the first epoch that finishes past `minutes` of training (a CPU-sized budget), on the
    wall clock or on the process's CPU time (all threads: equal budgets stay equal on a shared machine)."""

    def __init__(self, minutes: float, clock: str = "wall") -> None:
        super().__init__()
        self.seconds, self.clock, self.started = minutes * 60.0, CLOCKS[clock], 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = self.clock()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.clock() - self.started >= self.seconds:
            self.model.stop_training = True


def cosine_rate(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up from 0 over `warmup` steps, then cosine decay to 0 at step `total` (keras CosineDecay's
    shape with warmup_target=peak and alpha=0)."""
    if step < warmup:
        return peak * step / warmup
    decay = max(1, total - warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(step - warmup, decay) / decay))


def planned_epochs(budget: float, durations: list[float], most: int) -> int:
    """Epochs that fit in `budget` seconds given the epoch durations so far (the first, which compiles, is left out
    once there are others), at least those done and at most `most`."""
    done = len(durations)
    typical = sum(durations[1:]) / (done - 1) if done > 1 else durations[0]
    return max(done, min(most, math.floor(budget / max(typical, 1e-9))))


class BudgetedCosine(TimeBudget):
    """A warm-up then cosine-decay learning rate (set on the optimizer before every step) whose length is the
    configured epochs or, when fewer fit in `minutes`, the epochs that fit: re-planned after every epoch from the
    measured epoch times, so a slower machine trains fewer epochs but still ends at a learning rate of 0."""

    def __init__(self, minutes: float, peak: float, steps_per_epoch: int, epochs: int, warmup_epochs: float,
                 clock: str = "wall") -> None:
        super().__init__(minutes, clock)
        self.peak, self.steps_per_epoch, self.epochs = float(peak), int(steps_per_epoch), int(epochs)
        self.warmup = round(steps_per_epoch * warmup_epochs)
        self.planned, self.step, self.durations, self.epoch_started = self.epochs, 0, [], 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.planned, self.step, self.durations = self.epochs, 0, []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = self.clock()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        total = self.planned * self.steps_per_epoch
        self.model.optimizer.learning_rate = cosine_rate(self.step, total, min(self.warmup, total - 1), self.peak)
        self.step += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.durations.append(self.clock() - self.epoch_started)
        self.planned = planned_epochs(self.seconds, self.durations, self.epochs)
        if epoch + 1 >= self.planned:
            self.model.stop_training = True


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
