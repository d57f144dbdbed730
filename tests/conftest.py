"""Shared fixtures: every test runs offline, on real data from the mirror / Debian, in temporary run dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property-based tests: a bounded number of generated examples in CI; `make fuzz` runs them longer
# (SWEEPLAB_FUZZ=1). No per-example deadline: the first example pays for imports, and a loaded CI machine is slow.
settings.register_profile("ci", deadline=None, max_examples=25, print_blob=True)
settings.register_profile("fuzz", deadline=None, max_examples=1000, print_blob=True)
settings.load_profile("fuzz" if os.environ.get("SWEEPLAB_FUZZ") else "ci")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = ROOT.parent / "shared" / "data"

# Set before anything imports keras or wandb.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["WANDB_MODE"] = "offline"
os.environ.pop("WANDB_API_KEY", None)
os.environ["SWEEPLAB_OFFLINE"] = "1"  # tests never download
if not os.environ.get("SWEEPLAB_DATA_DIR") and DEFAULT_MIRROR.exists():
    os.environ["SWEEPLAB_DATA_DIR"] = str(DEFAULT_MIRROR)


def _stop_signals_at_their_defaults() -> None:
    """A shell that starts the test run as a background job (`.ci/run &`, no job control) hands it SIGQUIT (and
    SIGINT) ignored, and sweeplab leaves an ignored signal ignored, as `nohup` asks: the signal tests would then see
    a stop that cannot land. They run as if started from a terminal; each test that wants a signal ignored sets it."""
    import signal

    from sweeps.signals import STOP_SIGNALS

    for signum in STOP_SIGNALS:
        if signum != signal.SIGINT and signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)


_stop_signals_at_their_defaults()


@pytest.fixture(scope="session", autouse=True)
def _session_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Decoded-array cache shared by the session; keras' cache empty so no test finds data there by accident."""
    os.environ["SWEEPLAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("array-cache"))
    os.environ["KERAS_HOME"] = str(tmp_path_factory.mktemp("keras-home"))


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test writes runs (and the default SQLite storage) under its own temporary directory."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("SWEEPLAB_RUNS_DIR", str(runs))
    monkeypatch.delenv("SWEEPLAB_STORAGE", raising=False)
    return runs


@pytest.fixture(autouse=True)
def _no_stop_carried_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no stop signal recorded (a stop recorded by one in-process command must not shorten
    the next test's storage patience or stop its run)."""
    import trainers.stop

    monkeypatch.setattr(trainers.stop, "_requested", [])


@pytest.fixture
def mirror_dir() -> Path:
    """The offline data mirror (MNIST IDX, CIFAR-10 JPEG, Olivetti); fails loudly when absent."""
    path = Path(os.environ.get("SWEEPLAB_DATA_DIR", DEFAULT_MIRROR))
    if not (path / "mnist").exists():
        pytest.fail(f"data mirror not found at {path}: set SWEEPLAB_DATA_DIR (see README, 'Data')")
    return path


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    """A real SQLite file for Optuna."""
    return f"sqlite:///{tmp_path / 'optuna.db'}"


# A classification config that trains in about a second on 300 MNIST images.
TINY_CLASSIFY = {"dataset": "mnist", "model": "geron_mlp", "subset": 300, "test_subset": 200, "epochs": 1,
                 "dense_units": 32, "batch_size": 64}


@pytest.fixture
def tiny_classify() -> dict:
    return dict(TINY_CLASSIFY)


@pytest.fixture
def trainer_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Record the params of every `trainers.run` call (and still train): resumability tests count them."""
    import trainers

    calls: list[dict] = []
    real_run = trainers.run

    def counting_run(*args, **kwargs):
        calls.append(args[1])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(trainers, "run", counting_run)
    return calls
