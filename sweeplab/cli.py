"""The one command line every make target wraps. Subcommands live in `sweeplab.commands.*` (auto-discovered)."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import pkgutil
import sys
import traceback
from typing import NoReturn

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the output


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other user error
        self.exit(2, f"sweeplab: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    import sweeplab.commands as commands

    parser = _Parser(prog="sweeplab", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda info: info.name):
        importlib.import_module(f"sweeplab.commands.{module.name}").register(subparsers)
    return parser


def _streams_open() -> bool:
    """A command started with stdout or stderr closed (`>&-`, some service managers) has None for it. A closed
    stderr is replaced by /dev/null (its messages are lost; the exit code still tells). A closed stdout refuses the
    command: what it prints (a table, a best trial, predictions) would be lost while it exited 0 (round 13's 7-a;
    round 8's 4-a had it end in a traceback after all the work). `> /dev/null` discards output on purpose."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (open for the process's life)
    if sys.stdout is None:
        print("sweeplab: error: standard output is closed, so what this command prints would be lost; redirect it "
              "to a file, or to /dev/null to discard it", file=sys.stderr)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the exit handlers may still flush it)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    if not _streams_open():
        return 2
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        from sweeps.signals import stop_on_signals

        stop_on_signals()  # SIGTERM / SIGHUP stop a command the way Ctrl-C does
        parser = build_parser()
        args = parser.parse_args(argv)
        from datasets.settings import check_settings

        check_settings()  # an environment setting with a value it does not take: one line before anything runs
        if getattr(args, "accept_changes", False):  # children (trial processes, agents) inherit it
            os.environ["SWEEPLAB_ACCEPT_CHANGES"] = "1"
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        from sweeplab.commands import declared_outputs

        with declared_outputs(args):
            code = int(args.handler(args) or 0)
        from sweeps.signals import Stopped, exit_at_once_on_signals, stop_requested

        exit_at_once_on_signals()  # from here a signal exits with its own line and code, not through shutdown
        if (signum := stop_requested()) is not None:  # a stop a library swallowed: never exit 0 after it
            raise Stopped(signum)
        return code
    except KeyboardInterrupt as interrupt:
        from sweeps.signals import describe, exit_code

        print(f"sweeplab: interrupted ({describe(interrupt)})", file=sys.stderr)
        return exit_code(interrupt)
    except OSError as error:  # a path the system refuses (missing, a directory, read-only, a full disk): its words
        if debug:
            traceback.print_exc()
            return 1
        where = " -> ".join(str(name) if str(name).isprintable() else repr(str(name))  # one line, whatever the name
                            for name in (error.filename, error.filename2) if name is not None)
        print(f"sweeplab: error: {error.strerror or type(error).__name__}{f': {where}' if where else ''}"
              f"{'' if error.strerror else f' ({error})'}", file=sys.stderr)
        return 2
    except Exception as error:
        from sweeplab.errors import user_error_types

        if debug or not isinstance(error, user_error_types()):
            if not debug:
                print(f"sweeplab: internal error: {type(error).__name__}: {error} (rerun with --debug for the "
                      "traceback)", file=sys.stderr)
                return 1
            traceback.print_exc()
            return 1
        message = " | ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"sweeplab: error: {message}", file=sys.stderr)
        return 2


def run() -> NoReturn:
    """The console entry (`sweeplab`, `python -m sweeplab`): `main`, then the exit handlers (W&B, logging, temporary
    files), then the process ends at once with main's code. The interpreter's own shutdown after them resets the
    signal handlers, so a stop signal in its last tenth of a second killed the process without a line naming it;
    ending here, every signal meets a handler that names it and exits 128 + its number."""
    try:
        code = main()
    except SystemExit as exit_:  # argparse's usage errors and --help; sys.exit("text") prints its text
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    from sweeps.signals import exit_at_once_on_signals

    exit_at_once_on_signals()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
