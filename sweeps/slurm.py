"""Agents as a Slurm job array: one `sweeplab agent` per array task, every task joining the same study.

The storage URL travels in the job's environment ($SWEEPLAB_STORAGE, exported by `sbatch --export=ALL`), never
in the script or a log, so a PostgreSQL password stays out of both. With an image, each task runs the agent
through a container engine (`srun podman run ...` / `srun apptainer run ...`); otherwise through a Python
environment on a shared file system. Each agent records its array task as the trial user attr `slurm_task`,
which `sweeplab slurm status JOB` matches against the scheduler's view of the tasks.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Passed into containers by name only (values come from the job's environment, so nothing secret is written).
CONTAINER_ENV = ("SWEEPLAB_STORAGE", "SWEEPLAB_RUNS_DIR", "SWEEPLAB_DATA_DIR", "SWEEPLAB_HEARTBEAT_SECONDS",
                 "SWEEPLAB_GRACE_SECONDS", "WANDB_API_KEY", "WANDB_MODE", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID",
                 "SLURM_ARRAY_TASK_ID")
ENGINES = ("podman", "docker", "apptainer")
JOB_PREFIX = "sweeplab-"
# Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (every field digits); or UNLIMITED/INFINITE.
_TIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<fields>\d+(?::\d+){0,2})$")
_TIME_UNLIMITED = ("UNLIMITED", "INFINITE")
MAX_TIME_DAYS = 365  # a job's limit beyond a year is a typo (use UNLIMITED)


class SlurmError(RuntimeError):
    """Slurm refused or cannot be reached; the message is one line."""


# A value written into an `#SBATCH` line or the script's comment: printable, no whitespace or quotes (sbatch splits
# directive lines like a shell would), so no value can end a line and start a command. Values of the agent's own
# command line are quoted instead (shlex.join) and may hold anything but NUL.
_DIRECTIVE_VALUE = re.compile(r"^[^\s\"'`$\\;|&<>()%#\x00-\x1f\x7f]+$")  # %: file-name patterns; #: a comment


def check_directive_value(option: str, value: str) -> None:
    if not _DIRECTIVE_VALUE.match(value) or not value.isprintable():  # isprintable: no C1 controls, no U+2028, ...
        raise SlurmError(f"{option} {value!r}: not usable in a job script; expected no spaces, quotes, control or "
                         "shell characters, no '%' (Slurm expands it in file names: %j, %A, %x, ...) and no '#' "
                         "(sbatch reads the rest of an #SBATCH line as a comment)")


def check_argument_value(option: str, value: str) -> None:
    """A value that stands alone in a generated command line (`srun PYTHON`, `docker run ... IMAGE STUDY`, a bind
    path): a leading `-` would make it an option of srun or the engine (`--python=--export=NONE`)."""
    if value.startswith("-"):
        raise SlurmError(f"{option} {value!r}: not usable in a job script; it would be read as an option of the "
                         "command it is passed to: expected a path or name not starting with '-'")
    if "\x00" in value:
        raise SlurmError(f"{option} {value!r}: a NUL byte cannot be passed on a command line")


def time_limit_seconds(text: str) -> int | None:
    """Seconds of a Slurm `--time` value (None for UNLIMITED); a SlurmError unless every field is in range: hours
    < 24 after days, minutes and seconds < 60 after a larger field, and a total from 1 second to a year."""
    if text.upper() in _TIME_UNLIMITED:
        return None
    match = _TIME.match(text) if text.isascii() and len(text) <= 32 else None
    expected = (f"--time {text!r}: expected minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S (Slurm's formats) with "
                f"hours < 24 after days, minutes and seconds < 60, from 1 second to {MAX_TIME_DAYS} days")
    if match is None:
        raise SlurmError(expected)
    fields = [int(part) for part in match["fields"].split(":")]
    if match["days"] is not None:  # D-H, D-H:M, D-H:M:S
        units = [3600, 60, 1][: len(fields)]
        tops = [24, 60, 60]
        total = int(match["days"]) * 86400
    else:  # M, M:S, H:M:S: the first field is unbounded, the later ones below 60
        units = {1: [60], 2: [60, 1], 3: [3600, 60, 1]}[len(fields)]
        tops = [None, 60, 60][: len(fields)]
        total = 0
    if any(top is not None and value >= top for value, top in zip(fields, tops, strict=False)):
        raise SlurmError(expected)
    total += sum(value * unit for value, unit in zip(fields, units, strict=True))
    if not 1 <= total <= MAX_TIME_DAYS * 86400:
        raise SlurmError(expected)
    return total


@dataclass(frozen=True)
class SlurmJob:
    """Everything the array script says. `study` is a study name or an absolute study file path."""

    study: str
    study_name: str
    agents: int
    agent_args: tuple[str, ...] = ()  # flags after `agent STUDY` (--trials, --set, ...)
    workdir: Path = field(default_factory=Path.cwd)
    log_dir: Path = Path("runs/slurm")
    python: str = "python3"
    partition: str | None = None
    time: str | None = None
    gpus_per_agent: int | None = None
    cpus_per_agent: int | None = None
    image: str | None = None
    engine: str = "podman"
    mounts: tuple[str, ...] = ()  # host directories bound at the same path inside the container

    def __post_init__(self) -> None:
        if self.agents < 1:
            raise SlurmError(f"--agents must be >= 1, got {self.agents}")
        if self.time is not None:
            time_limit_seconds(self.time)
        if self.gpus_per_agent is not None and not 0 <= self.gpus_per_agent <= 64:
            raise SlurmError(f"--gpus-per-agent must be in [0, 64], got {self.gpus_per_agent}")
        if self.cpus_per_agent is not None and not 1 <= self.cpus_per_agent <= 1024:
            raise SlurmError(f"--cpus-per-agent must be in [1, 1024], got {self.cpus_per_agent}")
        if self.engine not in ENGINES:
            raise SlurmError(f"--engine {self.engine!r}: expected one of {', '.join(ENGINES)}")
        # Every value the script's comment or an #SBATCH line holds (--python and --image are named in the comment).
        for option, value in (("--partition", self.partition), ("--log-dir", str(self.log_dir)),
                              ("working directory", str(self.workdir)), ("study", self.study_name),
                              ("--python", self.python), ("--image", self.image)):
            if value is not None:
                check_directive_value(option, value)
        # Every value standing alone in the agent's command line; agent_args are the agent's own flags.
        for option, value in (("study", self.study), ("--python", self.python), ("--image", self.image),
                              *(("mount", mount) for mount in self.mounts)):
            if value is not None:
                check_argument_value(option, value)
        if self.image is not None:  # docker/podman `-v SRC:DST` and apptainer `--bind A,B` split on ':' and ','
            for mount in self.mounts:
                if ":" in mount or "," in mount:
                    raise SlurmError(f"container mount {mount!r}: a ':' or ',' in a bound path would be read as a "
                                     "separator by the container engine; use a folder without them (the runs "
                                     "folder, the storage's, the study file's or $SWEEPLAB_DATA_DIR)")
        for value in self.agent_args:
            if "\x00" in value:
                raise SlurmError(f"{value!r}: a NUL byte cannot be passed on a command line")

    @property
    def job_name(self) -> str:
        return JOB_PREFIX + self.study_name

    def log_pattern(self) -> Path:
        return self.log_dir / f"{self.study_name}-%A_%a.log"

    def agent_command(self) -> list[str]:
        """The command of one array task (after `srun`)."""
        if self.image is None:
            return [self.python, "-m", "sweeplab.cli", "agent", self.study, *self.agent_args]
        if self.engine == "apptainer":
            binds = [arg for path in self.mounts for arg in ("--bind", path)]
            return ["apptainer", "run", *binds, self.image, self.study, *self.agent_args]
        # podman/docker: the image's entrypoint is `sweeplab agent`; --init so SIGTERM reaches the agent.
        env = [arg for name in CONTAINER_ENV for arg in ("-e", name)]
        binds = [arg for path in self.mounts for arg in ("-v", f"{path}:{path}")]
        gpus = ["--device", "nvidia.com/gpu=all"] if self.gpus_per_agent and self.engine == "podman" else (
            ["--gpus", "all"] if self.gpus_per_agent else [])
        return [self.engine, "run", "--rm", "--init", "--network=host", *env, *binds, *gpus, self.image,
                self.study, *self.agent_args]


def render_script(job: SlurmJob) -> str:
    """The `sbatch` script: a job array of `job.agents` tasks, one agent each, each with its own log."""
    directives = [
        f"--job-name={job.job_name}",
        f"--array=0-{job.agents - 1}",
        "--ntasks=1",
        f"--output={job.log_pattern()}",
        f"--chdir={job.workdir}",
        "--export=ALL",
    ]
    if job.partition:
        directives.append(f"--partition={job.partition}")
    if job.time:
        directives.append(f"--time={job.time}")
    if job.cpus_per_agent:
        directives.append(f"--cpus-per-task={job.cpus_per_agent}")
    if job.gpus_per_agent:
        directives.append(f"--gres=gpu:{job.gpus_per_agent}")
    runner = f"the container image {job.image!r} ({job.engine})" if job.image else f"the Python at {job.python!r}"
    lines = [
        "#!/bin/bash",
        f"# sweeplab agents for study {job.study_name!r}: one `sweeplab agent` per array task, through {runner}.",
        "# Generated by `sweeplab slurm`. The storage URL comes from $SWEEPLAB_STORAGE in the environment",
        "# exported at submission; it is never written here.",
        *(f"#SBATCH {directive}" for directive in directives),
        "set -euo pipefail",
        ': "${SWEEPLAB_STORAGE:?submit with sweeplab slurm, or export SWEEPLAB_STORAGE}"',
        'echo "sweeplab agent: array task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname)"',
        "exec srun --ntasks=1 " + shlex.join(job.agent_command()),
        "",
    ]
    return "\n".join(lines)


def slurm_task_id(environ: Mapping[str, str] | None = None) -> str | None:
    """`ARRAYJOB_TASK` of the array task this process runs in (or the plain job id), else None."""
    environ = os.environ if environ is None else environ
    if environ.get("SLURM_ARRAY_JOB_ID") and environ.get("SLURM_ARRAY_TASK_ID"):
        return f"{environ['SLURM_ARRAY_JOB_ID']}_{environ['SLURM_ARRAY_TASK_ID']}"
    return environ.get("SLURM_JOB_ID") or None


def require(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise SlurmError(f"{command} not found: run this on a Slurm login node (or use --dry-run to see the script)")
    return path


def _first_error(stderr: str) -> str:
    """The last error line of a Slurm command, without its `sbatch: error: ` prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return re.sub(r"^\w+: error: ", "", errors[-1] if errors else lines[-1] if lines else "no message")


def submit(script: Path, environ: Mapping[str, str]) -> str:
    """`sbatch --parsable SCRIPT` with the given environment; the job id, or a one-line SlurmError."""
    result = subprocess.run([require("sbatch"), "--parsable", str(script)], env=dict(environ),
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise SlurmError(f"sbatch refused the job: {_first_error(result.stderr)}")
    return result.stdout.strip().split(";")[0]


@dataclass
class TaskState:
    """One array task as the scheduler sees it."""

    task: str  # ARRAYJOB_TASK, e.g. 12_0 (pending ranges as 12_[2-3])
    state: str
    elapsed: str = ""
    node: str = ""
    exit_code: str = ""


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def job_tasks(job_id: str) -> tuple[str | None, list[TaskState], str]:
    """(job name, tasks, note): sacct's view when accounting is on, else squeue's (running/pending tasks only)."""
    if not re.fullmatch(r"\d+", job_id):
        raise SlurmError(f"job id {job_id!r}: expected the number sbatch printed")
    name, tasks, note = None, {}, ""
    if shutil.which("sacct"):
        result = _run(["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "JobID,JobName,State,Elapsed,NodeList,ExitCode"])
        if result.returncode == 0:
            for line in result.stdout.splitlines():
                fields = line.split("|")
                if len(fields) == 6:
                    name = fields[1]
                    tasks[fields[0]] = TaskState(fields[0], fields[2], fields[3], fields[4], fields[5])
        else:
            note = f"sacct: {_first_error(result.stderr)} (finished tasks are not shown)"
    result = _run([require("squeue"), "-h", "-r", "-j", job_id, "-o", "%i|%j|%T|%M|%N"])
    for line in result.stdout.splitlines():
        fields = line.split("|")
        if len(fields) == 5:
            name = fields[1]
            tasks[fields[0]] = TaskState(fields[0], fields[2], fields[3], fields[4], tasks.get(fields[0], TaskState(
                "", "")).exit_code)
    if not tasks and result.returncode != 0 and "Invalid job id" not in result.stderr:
        raise SlurmError(f"squeue: {_first_error(result.stderr)}")
    return name, sorted(tasks.values(), key=lambda task: _task_key(task.task)), note


def _task_key(task: str) -> tuple[int, str]:
    index = task.partition("_")[2]
    return (int(index), task) if index.isdigit() else (1 << 30, task)


def study_name_of(job_name: str | None) -> str | None:
    return job_name.removeprefix(JOB_PREFIX) if job_name and job_name.startswith(JOB_PREFIX) else None
