"""`sweeplab slurm --dry-run`: the job-array script it prints, without a Slurm cluster (tests/test_slurm.py has one)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweeplab.cli import main
from sweeps.slurm import _DIRECTIVE_VALUE, SlurmError, SlurmJob, render_script, slurm_task_id

ROOT = Path(__file__).resolve().parent.parent
SECRET_URL = "postgresql+psycopg://alice:s3cret-pw@db.example:5432/optuna"


def dry_run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["slurm", "fashion-mlp", "--dry-run", *argv]) == 0
    return capsys.readouterr().out


def directives(script: str) -> dict[str, str]:
    pairs = [line.removeprefix("#SBATCH --").split("=", 1) for line in script.splitlines()
             if line.startswith("#SBATCH --")]
    return dict(pairs)


def srun_argv(script: str) -> list[str]:
    line = next(line for line in script.splitlines() if line.startswith("exec srun "))
    return shlex.split(line)[1:]


def test_array_script_runs_one_agent_per_task_in_this_python(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    script = dry_run(capsys, "--agents", "3", "--storage", SECRET_URL, "--partition", "gpu", "--time", "2:00:00",
                     "--gpus-per-agent", "1", "--trials", "12", "--set", "epochs=2", "--log-dir", str(tmp_path))
    assert script.startswith("#!/bin/bash\n")
    options = directives(script)
    assert options["array"] == "0-2" and options["job-name"] == "sweeplab-fashion-mlp"
    assert options["partition"] == "gpu" and options["time"] == "2:00:00" and options["gres"] == "gpu:1"
    assert options["output"] == f"{tmp_path}/fashion-mlp-%A_%a.log"  # one log per array task
    assert options["export"] == "ALL" and options["chdir"] == str(Path.cwd())
    argv = srun_argv(script)
    assert argv[:2] == ["srun", "--ntasks=1"]
    assert argv[2:] == [sys.executable, "-m", "sweeplab.cli", "agent", "fashion-mlp", "--trials", "12", "--set",
                        "epochs=2"]
    assert "s3cret" not in script and "db.example" not in script and "--storage" not in script
    assert '${SWEEPLAB_STORAGE:?' in script


def test_script_runs_as_bash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The script is valid bash, and refuses to start an agent without the storage in its environment."""
    path = tmp_path / "job.sbatch"
    path.write_text(dry_run(capsys, "--agents", "2"))
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    env = {key: value for key, value in os.environ.items() if key != "SWEEPLAB_STORAGE"}
    result = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "SWEEPLAB_STORAGE" in result.stderr


def test_image_runs_each_agent_in_the_container(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    study = tmp_path / "studies" / "mine.yaml"
    study.parent.mkdir()
    study.write_text((ROOT / "sweeps" / "fashion-mlp.yaml").read_text())
    monkeypatch.setenv("SWEEPLAB_DATA_DIR", str(tmp_path / "data"))
    assert main(["slurm", str(study), "--dry-run", "--image", "sweeplab:cpu", "--storage",
                 f"journal://{tmp_path / 'shared' / 'study.log'}"]) == 0
    argv = srun_argv(capsys.readouterr().out)
    assert argv[2:6] == ["podman", "run", "--rm", "--init"]
    for name in ("SWEEPLAB_STORAGE", "SWEEPLAB_RUNS_DIR", "SWEEPLAB_HEARTBEAT_SECONDS", "SLURM_ARRAY_TASK_ID"):
        assert argv[argv.index(name) - 1] == "-e"  # passed by name: the value stays in the job's environment
    mounts = {argv[index + 1] for index, flag in enumerate(argv) if flag == "-v"}
    for directory in (tmp_path / "shared", study.parent, tmp_path / "data"):
        assert f"{directory}:{directory}" in mounts
    assert argv[argv.index("sweeplab:cpu") + 1] == str(study)

    assert main(["slurm", "fashion-mlp", "--dry-run", "--image", "sweeplab.sif", "--engine", "apptainer"]) == 0
    argv = srun_argv(capsys.readouterr().out)
    assert argv[2:4] == ["apptainer", "run"] and argv[argv.index("sweeplab.sif") + 1] == "fashion-mlp"


@pytest.mark.parametrize(("argv", "message"), [
    (["fashion-mlp", "--time", "1h"], "--time '1h': expected minutes"),
    (["fashion-mlp", "--log-dir", "/tmp/%x%%"], "no '%' (Slurm expands it"),  # round 4: logs elsewhere than said
    (["fashion-mlp", "--partition", "gpu%j"], "no '%' (Slurm expands it"),
    (["fashion-mlp", "--log-dir", "/tmp/logs#x"], "no '#'"),  # round 5: the rest of the #SBATCH line is a comment
    (["fashion-mlp", "--partition", "gpu#debug"], "no '#'"),
    (["fashion-mlp", "--agents", "0"], "argument --agents: expected a whole number from 1 to 1000"),
    (["fashion-mlp", "--image", "x", "--engine", "singularity-ce"], "--engine 'singularity-ce'"),
    (["status"], "slurm status needs the job id"),
    (["fashion-mlp", "12"], "did you mean `sweeplab slurm status 12`"),
    (["status", "12x"], "job id '12x': expected the number sbatch printed"),
])
def test_mistakes_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["slurm", *argv, "--dry-run"])
    except SystemExit as refused:  # refused by argparse (a bad number) rather than by the command
        code = refused.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("sweeplab: error: ") and message in err and len(err.splitlines()) == 1


def test_without_sbatch_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "SWEEPLAB_RUNS_DIR": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "sweeplab.cli", "slurm", "fashion-mlp", "--storage",
                             f"sqlite:///{tmp_path / 'o.db'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("sweeplab")]
    assert result.returncode == 2 and lines == ["sweeplab: error: sbatch not found: run this on a Slurm login node "
                                                "(or use --dry-run to see the script)"], result.stderr


def test_slurm_task_id_and_job_validation() -> None:
    assert slurm_task_id({"SLURM_ARRAY_JOB_ID": "7", "SLURM_ARRAY_TASK_ID": "1", "SLURM_JOB_ID": "9"}) == "7_1"
    assert slurm_task_id({"SLURM_JOB_ID": "9"}) == "9"
    assert slurm_task_id({}) is None
    with pytest.raises(SlurmError, match="--time"):
        SlurmJob(study="s", study_name="s", agents=1, time="soon")
    assert "--array=0-0" in render_script(SlurmJob(study="s", study_name="s", agents=1))


def test_agents_of_different_array_tasks_have_different_names_and_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two containers on one node (host network, same pid) must still differ: the task is part of the name."""
    from sweeps.agent import agent_sampler_options
    from sweeps.trial_loop import agent_name

    seeds = set()
    for task in ("0", "1"):
        monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "7")
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", task)
        assert agent_name().endswith(f":7_{task}:{os.getpid()}")
        seeds.add(agent_sampler_options({"name": "random", "seed": 1})["seed"])
    assert len(seeds) == 2


ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=24)
# Mostly harmless-looking values with one generated character somewhere, so generated jobs often get past the checks.
PLAIN = st.from_regex(r"[A-Za-z0-9/_.:-]{0,8}", fullmatch=True)
NEAR_VALID = st.builds(lambda head, char, tail: head + char + tail, PLAIN, st.characters(codec="utf-8"), PLAIN)
VALUE = st.one_of(ANY_TEXT, NEAR_VALID)


@given(partition=st.one_of(st.none(), VALUE), log_dir=VALUE, workdir=VALUE, python=VALUE,
       image=st.one_of(st.none(), VALUE), study=VALUE, study_name=VALUE, agent_args=st.lists(VALUE, max_size=4),
       mounts=st.lists(VALUE, max_size=2), time=st.one_of(st.none(), VALUE), engine=st.one_of(st.sampled_from(
           ["podman", "docker", "apptainer"]), VALUE), agents=st.integers(-2, 5),
       gpus=st.one_of(st.none(), st.integers(-2, 4)), cpus=st.one_of(st.none(), st.integers(-2, 4)))
def test_no_value_reaches_the_script_unquoted(partition, log_dir, workdir, python, image, study, study_name, agent_args,
                                              mounts, time, engine, agents, gpus, cpus) -> None:
    """Whatever text a user passes for any option, the script is refused in one line, or holds exactly the fixed
    lines, one `#SBATCH` line per directive, a comment whose every user value (--python, --image, the study, ...)
    passed the directive whitelist, and an exec line that splits back into the agent's own argv."""
    try:
        job = SlurmJob(study=study, study_name=study_name, agents=agents, agent_args=tuple(agent_args),
                       workdir=Path(workdir), log_dir=Path(log_dir), python=python, partition=partition, time=time,
                       image=image, engine=engine, mounts=tuple(mounts), gpus_per_agent=gpus, cpus_per_agent=cpus)
    except (SlurmError, ValueError) as error:  # ValueError: Path() of a NUL
        assert "\n" not in str(error)
        return
    if job.image is not None:  # round 6's 5-a: a container engine splits bound paths on ':' and ','
        assert not any(":" in mount or "," in mount for mount in job.mounts), job.mounts
    script = render_script(job)
    head, _, command = script.partition("\nexec srun ")
    lines = head.splitlines()
    assert lines[0] == "#!/bin/bash" and all(line.startswith("#") for line in lines[1:-3])
    assert lines[-3:] == ["set -euo pipefail", ': "${SWEEPLAB_STORAGE:?submit with sweeplab slurm, or export '
                          'SWEEPLAB_STORAGE}"', 'echo "sweeplab agent: array task ${SLURM_ARRAY_JOB_ID}_'
                          '${SLURM_ARRAY_TASK_ID} on $(hostname)"']
    sbatch = [line for line in lines if line.startswith("#SBATCH")]
    assert all(len(line.split()) == 2 for line in sbatch)  # one directive, one value, nothing after it
    written = [job.study_name, str(job.log_dir), str(job.workdir), job.partition, job.image if job.image else
               job.python]  # the values the comment and the #SBATCH lines hold
    for value in written:
        if value is not None:
            assert value in head and _DIRECTIVE_VALUE.match(value) and value.isprintable(), value
    assert shlex.split(command) == ["--ntasks=1", *job.agent_command()]


@given(head=st.from_regex(r"/tmp/[a-z]{1,6}", fullmatch=True), separator=st.sampled_from([":", ","]),
       tail=st.from_regex(r"[a-z0-9]{0,6}", fullmatch=True), engine=st.sampled_from(["podman", "docker", "apptainer"]))
def test_a_container_mount_with_a_separator_is_refused(head, separator, tail, engine) -> None:
    """Round 6's 5-a: `SWEEPLAB_RUNS_DIR=/tmp/x:y` became `-v /tmp/x:y:/tmp/x:y` (and `--bind /tmp/a,b` two
    binds). A bound path holding the engine's separator is refused in one line naming the mount."""
    mount = head + separator + tail
    with pytest.raises(SlurmError, match="container mount") as refused:
        SlurmJob(study="tiny", study_name="tiny", agents=1, workdir=Path("/tmp"), log_dir=Path("/tmp/logs"),
                 python="/usr/bin/python3", image="img:1", engine=engine, mounts=(mount,))
    assert "\n" not in str(refused.value) and mount in str(refused.value)
    SlurmJob(study="tiny", study_name="tiny", agents=1, workdir=Path("/tmp"), log_dir=Path("/tmp/logs"),
             python="/usr/bin/python3", image=None, mounts=(mount,))  # no container: nothing splits it
