"""`sweeplab dashboard`: optuna-dashboard on loopback over the study storage, with image grids served from Optuna's
artifact store."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import optuna

from sweeps.optuna_study import run_study
from sweeps.spec import load_spec
from sweeps.tracking import reporter_factories


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def test_dashboard_lists_the_study_and_serves_its_images(tiny_classify, storage_url, _runs_dir):
    base = load_spec("mnist-mlp")
    spec = dataclasses.replace(base, parameters=[base.parameter("learning_rate")],
                               pruner={"name": "none"})  # 300 images: a first epoch of 5 steps may sit at chance

    def with_image(spec, number, params, run_dir):
        reporter = reporter_factories(storage=storage_url)[0](spec, number, params, run_dir)
        reporter.log_images("samples", np.full((20, 40), 200, dtype=np.uint8))
        return reporter

    study = run_study(spec, storage_url, trials=1, overrides=tiny_classify, reporter_factories=(with_image,))
    trial = study.trials[0]
    metas = optuna.artifacts.get_all_artifact_meta(trial, storage=study._storage)
    assert len(metas) == 2  # the grid logged here and classify's own `val/misclassified`
    meta = metas[0]

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "sweeplab", "dashboard", "--storage", storage_url,
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={**os.environ, "SWEEPLAB_RUNS_DIR": str(_runs_dir)})
    try:
        deadline, studies = time.monotonic() + 90, None
        while time.monotonic() < deadline and studies is None:
            assert server.poll() is None, server.stdout.read().decode()
            try:
                studies = json.loads(get(f"http://127.0.0.1:{port}/api/studies"))["study_summaries"]
            except OSError:
                time.sleep(0.5)
        assert studies is not None, "the dashboard did not answer within 90 s"
        (listed,) = studies
        assert listed["study_name"] == "mnist-mlp"
        png = get(f"http://127.0.0.1:{port}/artifacts/{listed['study_id']}/{trial._trial_id}/{meta.artifact_id}")
        assert png.startswith(b"\x89PNG")
    finally:
        server.terminate()
        server.wait(timeout=30)
