"""Score a clock model on held-out rendered sets it never trained on: the `default` variation and the harsher
`wide` one, each rendered with its own seed (training renders seed 0). Every clock benchmark reports these."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from datasets.clocks import rendered_clocks, variation_named
from trainers.clock.heads import HOUR_DECODINGS, Head, make_head
from trainers.clock.localize import centre_dials
from trainers.clock.metric import common_sense_minutes, error_histogram_counts, error_report, to_minutes
from trainers.clock.predict import InputPreparation, load_clock_model, read_views, resize_images, view_outputs


@dataclass(frozen=True)
class HeldOutSet:
    variation: str
    seed: int
    n: int = 2000

    @property
    def name(self) -> str:
        return f"{self.variation}_seed{self.seed}"


HELD_OUT_SETS = (HeldOutSet("default", 101), HeldOutSet("wide", 102))


@lru_cache(maxsize=8)
def photographs(held_out: HeldOutSet, localize: bool, workers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rendered (and cached on disk) photographs, localised once per process when asked; labels; dial found."""
    images, labels = rendered_clocks(held_out.n, held_out.seed, variation_named(held_out.variation), workers)
    if localize:
        images, found = centre_dials(images, workers)
        return images, labels, found
    return images, labels, np.ones(len(images), bool)


def _hour_decodings(head: Head) -> list[Head]:
    """The head as trained plus, for two-hand heads, every other way of reading the hour (compared in reports)."""
    if "hour_decoding" not in head.options:
        return [head]
    return [head] + [make_head(head.name, **{**head.options, "hour_decoding": decoding})
                     for decoding in HOUR_DECODINGS if decoding != head.options["hour_decoding"]]


def evaluate_model(model: Any, head: Head, preparation: InputPreparation | None = None,
                   sets: tuple[HeldOutSet, ...] = HELD_OUT_SETS, workers: int = 1) -> dict[str, Any]:
    """Per held-out set: mean, median, p90, share over 30 min, hour slips, histogram counts and the dial-found
    share; `<set>/alternatives` holds the same error measures under the other hour decodings."""
    preparation = preparation or InputPreparation()
    size = int(model.input_shape[1])
    results: dict[str, Any] = {}
    for held_out in sets:
        images, labels, found = photographs(held_out, preparation.localize, workers)
        outputs = view_outputs(model, resize_images(images, size), preparation)
        true_minutes = to_minutes(labels)
        readings = {decoding.options.get("hour_decoding", "as_trained"): read_views(decoding, outputs)
                    for decoding in _hour_decodings(head)}
        as_trained = next(iter(readings.values()))
        entry: dict[str, Any] = {**error_report(true_minutes, as_trained, held_out.name),
                                 f"{held_out.name}/dial_found_share": float(found.mean()),
                                 f"{held_out.name}/histogram": error_histogram_counts(
                                     common_sense_minutes(true_minutes, as_trained))}
        alternatives = {decoding: error_report(true_minutes, minutes, held_out.name)
                        for decoding, minutes in list(readings.items())[1:]}
        if alternatives:
            entry[f"{held_out.name}/alternatives"] = alternatives
        results.update(entry)
    return results


def evaluate_saved_model(path: Path, sets: tuple[HeldOutSet, ...] = HELD_OUT_SETS, workers: int = 1,
                         test_turns: tuple[float, ...] | None = None,
                         test_shift: float | None = None) -> dict[str, Any]:
    """`evaluate_model` for a saved `model.keras` (with its sidecar's head and input preparation; `test_turns` and
    `test_shift` replace the sidecar's)."""
    model, head, preparation = load_clock_model(Path(path))
    if test_turns is not None:
        preparation = replace(preparation, test_turns=tuple(test_turns))
    if test_shift is not None:
        preparation = replace(preparation, test_shift=float(test_shift))
    return evaluate_model(model, head, preparation, sets, workers)
