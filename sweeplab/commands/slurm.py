"""`sweeplab slurm STUDY --agents N`: agents as a Slurm job array; `sweeplab slurm status JOB`: its tasks and trials."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from datasets.atomic import make_folder
from sweeplab.commands import add_set_argument, add_storage_argument
from sweeplab.errors import UserError
from sweeplab.numbers import array_tasks, cpus_per_task, gpus_per_task, positive_int
from sweeplab.paths import folder_path

STATUS = "status"


def register(subparsers: argparse._SubParsersAction) -> None:
    slurm = subparsers.add_parser(
        "slurm", help="submit N agents of a study as a Slurm job array (or: slurm status JOB)",
        description="sweeplab slurm STUDY --agents N [...] submits an sbatch job array, one agent per task; "
                    "sweeplab slurm status JOB summarises the array's tasks against the study's trials.")
    slurm.add_argument("study", help="study name (sweeps/NAME.yaml) or path to a study file; or `status`")
    slurm.add_argument("job", nargs="?", help="with `status`: the job id sbatch printed")
    slurm.add_argument("--agents", type=array_tasks, default=2, help="array tasks, one agent each (default 2)")
    slurm.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's default)")
    slurm.add_argument("--time", default=None, help="time limit per agent, e.g. 30, 2:00:00 or 1-00:00:00")
    slurm.add_argument("--gpus-per-agent", type=gpus_per_task, default=None, help="GPUs per array task (--gres=gpu:G)")
    slurm.add_argument("--cpus-per-agent", type=cpus_per_task, default=None, help="CPUs per array task")
    slurm.add_argument("--image", default=None,
                       help="run each agent in this container image (e.g. sweeplab:cpu, or a .sif for apptainer) "
                            "instead of the Python environment")
    slurm.add_argument("--engine", default="podman", help="container engine for --image: podman, docker, apptainer")
    slurm.add_argument("--python", default=None,
                       help="Python of the project's environment on the nodes (default: the one running this)")
    slurm.add_argument("--log-dir", type=folder_path, default=None,
                       help="where the script and the task logs go (default: RUNS/slurm)")
    slurm.add_argument("--dry-run", action="store_true", help="print the sbatch script; submit nothing")
    slurm.add_argument("--trials", type=positive_int, default=None,
                       help="the study's total budget of finished trials, shared by all agents")
    slurm.add_argument("--max-failures", type=positive_int, default=None, help="as for `sweeplab agent`")
    slurm.add_argument("--trial-subprocess", dest="trial_subprocess", action="store_true", default=True,
                       help="as for `sweeplab agent` (the default)")
    slurm.add_argument("--in-process", dest="trial_subprocess", action="store_false", help="as for `sweeplab agent`")
    add_storage_argument(slurm)
    add_set_argument(slurm)
    slurm.set_defaults(handler=slurm_command)


def slurm_command(args: argparse.Namespace) -> int:
    if args.study == STATUS:
        if not args.job:
            raise UserError("slurm status needs the job id: sweeplab slurm status JOB")
        return status_command(args.job, args.storage)
    if args.job:
        raise UserError(f"unexpected argument {args.job!r} (did you mean `sweeplab slurm status {args.job}`?)")
    return submit_command(args)


def submit_command(args: argparse.Namespace) -> int:
    from sweeplab.commands.agents import _validate, agent_argv
    from sweeps.slurm import SlurmError, SlurmJob, render_script, require, submit
    from sweeps.storage import _redact, absolute_url, file_of, runs_dir, storage_url

    spec, overrides = _validate(args, check_data=False)  # each agent checks the data itself, on its node
    storage = absolute_url(storage_url(args.storage))
    runs = runs_dir().resolve()
    study = str(Path(args.study).resolve()) if Path(args.study).is_file() else args.study  # a name: sweeps/NAME.yaml
    args.storage = None  # agents read it from $SWEEPLAB_STORAGE: no URL (or password) on the command line
    agent_args = tuple(agent_argv(argparse.Namespace(**{**vars(args), "study": study}))[5:])
    mounts = [runs]
    if (path := file_of(storage)) is not None:
        mounts.append(path.parent)
    if Path(study).exists():
        mounts.append(Path(study).parent)
    if os.environ.get("SWEEPLAB_DATA_DIR"):
        mounts.append(Path(os.environ["SWEEPLAB_DATA_DIR"]).resolve())
    log_dir = Path(args.log_dir).resolve() if args.log_dir else runs / "slurm"
    try:
        job = SlurmJob(study=study, study_name=spec.name, agents=args.agents, agent_args=agent_args,
                       workdir=Path.cwd(), log_dir=log_dir, python=args.python or sys.executable,
                       partition=args.partition, time=args.time, gpus_per_agent=args.gpus_per_agent,
                       cpus_per_agent=args.cpus_per_agent, image=args.image, engine=args.engine,
                       mounts=tuple(dict.fromkeys(str(mount) for mount in mounts)))
    except SlurmError as error:
        raise UserError(str(error)) from None
    if (stored := file_of(storage)) is not None and stored.exists():  # a changed study file is refused here too,
        from sweeps.joining import check_join  # not by every array task once the job starts
        from sweeps.storage import open_storage

        check_join(open_storage(storage, create=False), spec, overrides)
    script = render_script(job)
    if args.dry_run:
        print(script, end="")
        return 0
    from datasets.atomic import write_text
    from sweeps.optuna_study import create_study

    try:
        require("sbatch")
    except SlurmError as error:
        raise UserError(str(error)) from None
    if args.image is None:  # once, so the tasks do not race to create it (and a bad URL fails here); in a
        create_study(spec, storage, overrides)  # container the image user creates it (a root-owned journal: unwritable)
    make_folder(log_dir)
    path = log_dir / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}.sbatch"
    write_text(path, script)
    environ = {**os.environ, "SWEEPLAB_STORAGE": storage, "SWEEPLAB_RUNS_DIR": str(runs)}
    try:
        job_id = submit(path, environ)
    except SlurmError as error:
        raise UserError(str(error)) from None
    print(f"submitted job {job_id}: {args.agents} agents on study {spec.name!r} (storage {_redact(storage)})")
    print(f"  script: {path}")
    print(f"  logs:   {job.log_pattern()}  (%A = {job_id}, %a = task)")
    print(f"  follow: squeue -r -j {job_id}   |   sacct -j {job_id}   |   sweeplab slurm status {job_id}")
    print(f"  dashboard: sweeplab dashboard --storage '{_redact(storage)}'")
    return 0


def status_command(job_id: str, storage: str | None) -> int:
    import optuna

    from sweeps.slurm import SlurmError, job_tasks, study_name_of
    from sweeps.storage import open_storage

    try:
        name, tasks, note = job_tasks(job_id)
    except SlurmError as error:
        raise UserError(str(error)) from None
    study_name = study_name_of(name)
    if not tasks or study_name is None:
        raise UserError(f"job {job_id} is not a sweeplab job known to Slurm (no tasks named sweeplab-STUDY)")
    try:
        study = optuna.load_study(study_name=study_name, storage=open_storage(storage, create=False))
    except KeyError:
        raise UserError(f"no study named {study_name!r} in the storage; pass the job's --storage") from None
    trials = study.get_trials(deepcopy=False)
    per_task: dict[str, dict[str, int]] = {}
    for trial in trials:
        counts = per_task.setdefault(str(trial.user_attrs.get("slurm_task", "-")), {})
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    print(f"job {job_id} (study {study_name!r}): {len(tasks)} array tasks")
    print(f"{'task':<14}{'state':<12}{'elapsed':<12}{'node':<12}trials")
    for task in tasks:
        counts = per_task.get(task.task, {})
        summary = ", ".join(f"{state} {count}" for state, count in sorted(counts.items())) or "none"
        print(f"{task.task:<14}{task.state:<12}{task.elapsed:<12}{task.node:<12}{summary}")
    totals: dict[str, int] = {}
    for trial in trials:
        totals[trial.state.name] = totals.get(trial.state.name, 0) + 1
    print("study: " + (", ".join(f"{state} {count}" for state, count in sorted(totals.items())) or "no trials"))
    if note:
        print(note)
    return 0
