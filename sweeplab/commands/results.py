"""`sweeplab results`: run the findings (analysis.findings) and write results/<finding>/ (tables, figures, summary).

`sweeplab transfer`, `sweeplab permute` and `sweeplab clocks compare` are the same door to one finding each."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sweeplab.errors import UserError
from sweeplab.numbers import local_processes
from sweeplab.paths import folder_path


def add_finding_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every door to a finding takes."""
    parser.add_argument("--out", type=folder_path, default="results", help="output folder (default: results)")
    parser.add_argument("--store", type=folder_path, default=None,
                        help="where finished evaluations are kept, so a rerun trains nothing done "
                             "(default: RUNS/results; not committed)")
    parser.add_argument("--fidelity", default=None,
                        help="fidelity of every finding (default: each finding's first, `cpu`; `tiny` is for tests)")
    parser.add_argument("--workers", type=local_processes, default=1,
                        help="evaluations trained at once, each in its own process with an equal share of the "
                             "cores (default: 1)")
    from sweeplab.commands import add_overwrite_argument

    add_overwrite_argument(parser, "--out")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "results", help="reproduce the findings (transfer, permutation, clock representations, claims, ...) into "
                        "results/<finding>/; resumable")
    parser.add_argument("findings", nargs="*", metavar="FINDING", help="findings to run (default: all; claims last)")
    add_finding_arguments(parser)
    parser.add_argument("--list", action="store_true", help="list the findings, their fidelities and CPU time")
    parser.set_defaults(handler=results_command)


def finding_alias(subparsers: argparse._SubParsersAction, command: str, finding: str, what: str) -> None:
    """`sweeplab COMMAND` as one more name of `sweeplab results FINDING` (same options, same files)."""
    parser = subparsers.add_parser(command, help=f"{what}: the finding `sweeplab results {finding}` "
                                                 "(docs/results.md)")
    add_finding_arguments(parser)
    parser.set_defaults(handler=lambda args: run_findings([finding], args))


def _selected(names: list[str], known: list[str]) -> list[str]:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UserError(f"unknown finding {unknown[0]!r}; known: {', '.join(known)}")
    return [name for name in known if name in names] if names else known  # registry order: claims last


def results_command(args: argparse.Namespace) -> int:
    from analysis.findings import findings

    if args.list:
        for finding in findings().values():
            print(f"{finding.name}: {finding.description} (~{finding.cpu_minutes:.0f} min on a 2-core CPU)")
            for fidelity, text in finding.fidelities.items():
                print(f"  {fidelity}: {text}")
        return 0
    return run_findings(args.findings, args)


def run_findings(names: list[str], args: argparse.Namespace) -> int:
    """Run the named findings (all when none) in registry order into `args.out`, refusing bad options first."""
    from analysis.findings import findings
    from sweeps.storage import runs_dir

    registry = findings()
    names = _selected(names, list(registry))
    for name in names:
        if args.fidelity is not None and args.fidelity not in registry[name].fidelities:
            raise UserError(f"--fidelity {args.fidelity}: finding {name} knows {', '.join(registry[name].fidelities)}")
    out = Path(args.out)
    store = Path(args.store) if args.store else runs_dir() / "results"
    for name in names:
        finding = registry[name]
        fidelity = args.fidelity or finding.default_fidelity
        started = time.perf_counter()
        print(f"== {name} ({fidelity}): {finding.description}", file=sys.stderr, flush=True)
        paths = finding.run(out / name, store, fidelity, args.workers)
        print(f"== {name}: wrote {len(paths)} files under {out / name} in {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
    return 0
