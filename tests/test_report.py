"""The HTML report: data computed from a real small study (tested as data), then drawn and opened in headless
Chromium, which must render the plotly figures."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from analysis.report_data import parameter_infos, study_report
from analysis.report_render import write_report
from sweeplab.commands import parse_overrides
from sweeps.optuna_study import run_study
from sweeps.spec import load_spec
from trainers.reporter import JsonlReporter

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _image_factory(spec, number, params, run_dir):
    """A second, differently named grid per trial (beside classify's own `val/misclassified`), via JSONL."""
    grid = np.full((30, 60), 40 * number, dtype=np.uint8)
    JsonlReporter(run_dir).log_images("worst_predictions", grid)
    return JsonlReporter(run_dir / "unused")


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> tuple[optuna.Study, Path]:
    """A real 3-trial study of mnist-mlp (two parameters, 2 epochs on 300 images) with its run directories."""
    root = tmp_path_factory.mktemp("report-runs")
    base = load_spec("mnist-mlp")
    spec = dataclasses.replace(base, parameters=[base.parameter("learning_rate"), base.parameter("optimizer")],
                               pruner={"name": "none"})  # 300 images: a first epoch of 3 steps may sit at chance
    overrides = {"subset": 300, "test_subset": 200, "epochs": 2, "dense_units": 32, "dense_layers": 1,
                 "batch_size": 128}
    study = run_study(spec, f"sqlite:///{root / 'optuna.db'}", trials=3, overrides=overrides,
                      reporter_factories=(_image_factory,), root=root)
    return study, root


def test_study_report_data(small_study):
    study, root = small_study
    report = study_report(study, root)
    values = [trial.value for trial in study.trials]
    assert report.n_trials == 3 and report.states == {"COMPLETE": 3}
    assert report.best_value == max(values) and report.objective == "val/accuracy"
    assert {info.name for info in report.parameters} == {"learning_rate", "optimizer"}
    assert all(len(info.values) == 3 for info in report.parameters)
    assert [len(curve.steps) for curve in report.curves] == [2, 2, 2]
    assert report.curves[0].trial == report.best_trial
    assert report.curves[0].series["val/accuracy"][-1] == pytest.approx(report.best_value)
    assert sorted(image.name for image in report.images) == ["val_misclassified"] * 3 + ["worst_predictions"] * 3
    command = report.reproduce.split()
    assert command[:3] == ["sweeplab", "run", "mnist-mlp"]
    sets = parse_overrides([command[index + 1] for index, word in enumerate(command) if word == "--set"])
    best = study.best_trial
    assert sets["learning_rate"] == pytest.approx(best.params["learning_rate"])
    assert sets["optimizer"] == best.params["optimizer"] and sets["epochs"] == 2 and sets["subset"] == 300


def test_best_value_at_the_edge_is_flagged():
    distributions = {"rate": FloatDistribution(1e-4, 1.0, log=True), "kind": CategoricalDistribution(["a", "b"])}
    trials = [optuna.trial.create_trial(params={"rate": rate, "kind": "a"}, distributions=distributions, value=value)
              for rate, value in [(0.98, 0.9), (0.01, 0.5), (0.001, 0.3)]]
    infos = {info.name: info for info in parameter_infos(trials, trials[0])}
    assert infos["rate"].at_edge and infos["rate"].log and infos["rate"].best_value == 0.98
    assert not infos["kind"].at_edge
    inside = {info.name: info for info in parameter_infos(trials, trials[1])}
    assert not inside["rate"].at_edge


def test_parameters_carry_their_role_and_come_ordered_by_it():
    distributions = {name: FloatDistribution(0.0, 1.0) for name in ("a", "b", "c")}
    trials = [optuna.trial.create_trial(params={"a": 0.1, "b": 0.2, "c": 0.3}, distributions=distributions,
                                        value=0.5)]
    infos = parameter_infos(trials, trials[0], roles={"nuisance": ["a"], "scientific": ["c"]})
    assert [(info.name, info.role) for info in infos] == [("c", "scientific"), ("a", "nuisance"),
                                                          ("b", "unassigned")]


def test_report_renders_plots_in_headless_chromium(small_study, tmp_path):
    study, root = small_study
    index = write_report(study._storage, root, tmp_path / "reports")
    page = tmp_path / "reports" / "mnist-mlp.html"
    assert 'href="mnist-mlp.html"' in index.read_text()
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 6 and "http" not in re.sub(r'href="[^"]*"', "", html.split(
        "<body>")[0])  # nothing fetched from the network: plotly.js is the file next to the page
    dom = subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    plots = dom.count('class="plot-container plotly"')
    # history, parallel coordinates, importance, learning curves, one per parameter
    assert plots == 6, plots
    assert dom.count('class="main-svg"') >= 2 * plots  # plotly drew an SVG layer set for every figure
    assert "js-plotly-plot" in dom and "Optimization History Plot" in dom and "learning_rate" in dom
    assert "Hyperparameter Importances" in dom.split("each hyperparameter against the objective")[0]
    # mnist-mlp's roles: learning_rate and optimizer are both scientific; nothing of theirs is unassigned
    assert "<h3>scientific: what the study asks about</h3>" in dom and "<h3>unassigned" not in dom
