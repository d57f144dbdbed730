"""Cluster commands: `agent` (one worker joining a study) and `agents` (N workers on this machine/GPU)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING

from sweeplab.commands import add_set_argument, add_storage_argument, parse_overrides
from sweeplab.numbers import local_processes, positive_int

if TYPE_CHECKING:
    import optuna


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", help="study name (sweeps/NAME.yaml) or path to a study file")
    parser.add_argument("--trials", type=positive_int, default=None,
                        help="the study's total budget of finished trials, shared by all agents "
                             "(default: the study file's budget.trials)")
    parser.add_argument("--max-failures", type=positive_int, default=None,
                        help="stop when the study holds this many failed trials (default: max(budget, 10))")
    parser.add_argument("--trial-subprocess", dest="trial_subprocess", action="store_true", default=True,
                        help="train each trial in a fresh process (the default: memory stays flat over any number "
                             "of trials, a crash or leak dies with the trial; costs a Keras start per trial)")
    parser.add_argument("--in-process", dest="trial_subprocess", action="store_false",
                        help="train trials in the agent's own process (no start-up cost per trial; its memory "
                             "grows about 2.6 MiB per trial on TensorFlow, see benchmarks/results/agents_memory-*)")
    add_storage_argument(parser)
    add_set_argument(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    agent = subparsers.add_parser("agent", help="join a study (create it if missing) and run trials until its "
                                                "budget of finished trials is reached")
    _add_common(agent)
    agent.set_defaults(handler=agent_command)

    agents = subparsers.add_parser("agents", help="start N agent processes on this machine (they may share a GPU)")
    _add_common(agents)
    agents.add_argument("--n", type=local_processes, default=2,
                        help="number of agent processes (default 2; at most two per CPU)")
    agents.set_defaults(handler=agents_command)


def _validate(args: argparse.Namespace, check_data: bool = True):  # -> (StudySpec, overrides); lazy imports
    """Refuse bad flags, study files, overrides, heartbeat settings and missing data before any trial starts."""
    from datasets.registry import check_dataset_name
    from sweeps.spec import load_spec
    from sweeps.storage import heartbeat_settings
    from trainers.runner import resolve_config

    spec = load_spec(args.study)
    overrides = parse_overrides(args.overrides)
    config = resolve_config(spec.task_info, spec.fixed, overrides)
    heartbeat_settings()
    dataset = getattr(config, "dataset", None)
    if isinstance(dataset, str):
        import datasets

        check_dataset_name(dataset)
        if check_data and dataset in datasets.dataset_names():  # not the tasks' own sets (rendered clocks)
            datasets.load(dataset)  # DataNotFoundError names each source tried and the fix
    return spec, overrides


def agent_command(args: argparse.Namespace) -> int:
    from sweeps.agent import run_agent
    from sweeps.tracking import reporter_factories

    spec, overrides = _validate(args)
    summary = run_agent(spec, args.storage, args.trials, overrides, reporter_factories(storage=args.storage),
                        max_failures=args.max_failures, trial_subprocess=args.trial_subprocess)
    if not summary.ok:
        print(f"sweeplab: agent stopped: {summary.stopped_because}", file=sys.stderr)
        return 1
    return 0


def agent_argv(args: argparse.Namespace) -> list[str]:
    """The `sweeplab agent` command line each child of `agents` runs."""
    argv = [sys.executable, "-m", "sweeplab.cli", "agent", args.study]
    if args.storage:
        argv += ["--storage", args.storage]
    if args.trials:
        argv += ["--trials", str(args.trials)]
    if args.max_failures:
        argv += ["--max-failures", str(args.max_failures)]
    if not args.trial_subprocess:
        argv.append("--in-process")
    for pair in args.overrides:
        argv += ["--set", pair]
    return argv


def exit_words(code: int) -> str:
    """A child's return code in words: "killed by SIGKILL", "stopped by SIGTERM (exit 143)", "exit 1"."""
    from sweeps.signals import STOP_SIGNALS, signal_name

    if code < 0:
        return f"killed by {signal_name(-code)}"
    if code - 128 in STOP_SIGNALS:
        return f"stopped by {signal_name(code - 128)} (exit {code})"
    return f"exit {code}"


def _killed_line(study: optuna.Study, child: subprocess.Popen, index: int, count: int, others_alive: bool) -> str:
    """Fail the running trials of an agent a signal killed (it cannot) and say so in one line."""
    from sweeps.agent import fail_dead_agent_trials
    from sweeps.storage import heartbeat_settings
    from sweeps.storage_faults import StorageUnavailableError
    from sweeps.trial_loop import agent_name

    cause = exit_words(child.returncode)
    head = f"sweeplab: agent {index + 1} of {count} (pid {child.pid}) was {cause}"
    tail = "; the other agents go on" if others_alive else ""
    try:
        numbers = fail_dead_agent_trials(study, agent_name(child.pid), cause)
    except StorageUnavailableError as error:
        return (f"{head}; its running trial could not be failed now ({error}): the heartbeat check fails and "
                f"re-queues it within {heartbeat_settings()[1]} s{tail}")
    trials = ", ".join(f"#{number}" for number in numbers)
    done = f"its running trial {trials} is failed and re-queued now" if numbers else "it held no running trial"
    return f"{head}; {done}{tail}"


def _wait_for(children: list[subprocess.Popen], study: optuna.Study, forwarded: set[int]) -> None:
    """Wait until every agent has ended; one that a signal killed is told at once and its trial failed, so the
    others take it up now rather than after the heartbeat's grace period (round 13's 4-d)."""
    seen: set[int] = set()
    while len(seen) < len(children):
        for index, child in enumerate(children):
            if index in seen or child.poll() is None:
                continue
            seen.add(index)
            if child.returncode < 0 and -child.returncode not in forwarded:
                alive = any(other.poll() is None for other in children)
                print(_killed_line(study, child, index, len(children), alive), file=sys.stderr, flush=True)
        if len(seen) < len(children):
            time.sleep(0.5)


def agents_command(args: argparse.Namespace) -> int:
    from sweeps.optuna_study import create_study
    from sweeps.signals import Stopped, stop_signals

    spec, overrides = _validate(args, check_data=False)  # each agent checks the data itself
    # once, so N children do not race to create it (a bad URL fails here); kept to fail a killed agent's trial
    study = create_study(spec, args.storage, overrides)
    # each agent in its own process group: a terminal's Ctrl-C reaches this process only, which forwards it as
    # SIGTERM (an agent still starting dies of it quietly; a running one stops and re-queues its trial), never as a
    # KeyboardInterrupt raised into an agent's start-up imports
    children = [subprocess.Popen(agent_argv(args), process_group=0) for _ in range(args.n)]
    print(f"started {args.n} agents on study {spec.name!r}: pids {', '.join(str(c.pid) for c in children)}",
          flush=True)

    received: list[int] = []
    forwarded: set[int] = set()

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        forwarded.add(signal.SIGTERM if signum == signal.SIGINT else signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    previous = {signum: signal.signal(signum, forward) for signum in stop_signals()}
    try:
        _wait_for(children, study, forwarded)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    codes = [child.returncode for child in children]
    if received:  # stopped by a signal: the agents re-queued their trials; the command reports the signal
        raise Stopped(received[0])
    failed = [f"pid {child.pid} {exit_words(code)}" for child, code in zip(children, codes, strict=True) if code != 0]
    if failed:
        print(f"sweeplab: {len(failed)} of {args.n} agents failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {args.n} agents finished")
    return 0
