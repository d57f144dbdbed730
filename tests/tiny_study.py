"""A tiny classification study (seconds a trial, no pruner, so every finished trial is COMPLETE) for agent tests."""

from __future__ import annotations


def tiny_study_text(name: str, trials: int) -> str:
    return f"""\
study: {name}
task: classify
fixed: {{dataset: mnist, model: geron_mlp, epochs: 1, subset: 300, test_subset: 200, dense_layers: 1, dense_units: 16}}
space:
  learning_rate: {{type: float, low: 1.0e-3, high: 1.0e-1, log: true}}
  batch_size: {{type: categorical, choices: [64, 128]}}
objective: val/accuracy
sampler: {{name: random}}
pruner: none
budget: {{trials: {trials}}}
"""
