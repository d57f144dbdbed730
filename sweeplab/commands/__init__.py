"""CLI subcommands. Each module defines `register(subparsers)`; the CLI imports them all."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from trainers.config import Overrides, read_overrides

if TYPE_CHECKING:
    import optuna


def add_storage_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL (default: $SWEEPLAB_STORAGE or sqlite:///runs/sweeplab.db); "
                             "postgresql://... or journal:///path.log for clusters")
    parser.add_argument("--accept-changes", action="store_true",
                        help="continue a stored study although its study file's definition changed (fixed values, "
                             "space, ...); without it such a join is refused with the differences listed")


def add_overwrite_argument(parser: argparse.ArgumentParser, *options: str) -> None:
    """`options` name places the user points the command at: a file there that sweeplab did not write is kept and
    the command refused (`datasets.ownership`), unless `--overwrite` is given."""
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace files at {' / '.join(options)} that sweeplab did not write there "
                             "(without it they are kept and the command refused)")
    parser.set_defaults(output_options=options)


@contextlib.contextmanager
def declared_outputs(args: argparse.Namespace) -> Iterator[None]:
    """The command's user-named outputs (`add_overwrite_argument`), declared to the write door while it runs."""
    from datasets.ownership import user_outputs

    with contextlib.ExitStack() as stack:
        for option in getattr(args, "output_options", ()):
            value = getattr(args, option.lstrip("-").replace("-", "_"), None)
            stack.enter_context(user_outputs(value, option, bool(getattr(args, "overwrite", False))))
        yield


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value (repeatable), e.g. --set epochs=5 --set subset=0")


def parse_overrides(pairs: list[str]) -> Overrides:
    """`--set` pairs (`trainers.config.read_overrides`): each value a YAML 1.2 literal, typed against the config's
    field by `resolve` (the same check as a study file's); a key given twice is refused."""
    return read_overrides(pairs, "--set")


def load_existing_study(name_or_path: str, storage: str | None) -> optuna.Study:
    """A study already in the storage, named directly or by its study file; a clear error when it is not there."""
    import optuna

    from sweeplab.errors import UserError
    from sweeps.joining import check_identity
    from sweeps.spec import load_spec, study_path
    from sweeps.storage import StorageMissingError, open_storage

    spec = load_spec(name_or_path) if study_path(name_or_path).exists() else None
    name = spec.name if spec is not None else name_or_path
    try:
        opened = open_storage(storage, create=False)
        study = optuna.load_study(study_name=name, storage=opened)
    except StorageMissingError as missing:
        raise UserError(f"no study named {name!r}: {str(missing).removeprefix('storage ')}") from None
    except KeyError:
        raise UserError(f"no study named {name!r} in the storage ({_held(opened)}); run `sweeplab sweep {name}` "
                        "first") from None
    if spec is not None:  # named by its file: ranked by the file's direction, so the stored one must agree
        check_identity(opened, spec, study._study_id)
    return study


def _held(storage: object) -> str:
    """What a storage holds, for a "no study named" line: a renamed or emptied name shows here as it is."""
    names = [study.study_name for study in storage.get_all_studies()]  # type: ignore[attr-defined]
    if not names:
        return "it holds no study"
    shown = ", ".join(repr(name) for name in names[:5]) + (f", and {len(names) - 5} more" if len(names) > 5 else "")
    return f"it holds {shown}"


def refuse_output_over_inputs(option: str, out: str | None, inputs: dict[str, Path | None]) -> None:
    """An output path that is one of the files the command reads (the same file by any name: a symbolic or hard
    link) would replace it with the output: refused in one line naming both. Round 7: `predict --out` given the
    model's path turned the trained model into a 47-byte CSV."""
    import os

    from sweeplab.errors import UserError

    if out is None or not os.path.exists(out):
        return
    for what, path in inputs.items():
        if path is not None and os.path.exists(path) and os.path.samefile(out, path):
            raise UserError(f"{option} {out}: that is {what} ({path}), which this command reads; writing there "
                            "would replace it: choose another file")
