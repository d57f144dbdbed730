"""The one door for paths on the command line: every option naming a file or directory to read or write (`--out`,
`--run-dir`, `--store`, `--model`, ...) is parsed by `path_text`, so an empty or blank value is refused by argparse
in one line naming the option, instead of being read as `.` (the working directory) or as "use the default"."""

from __future__ import annotations

import argparse
from pathlib import Path


def path_text(text: str) -> str:
    """An argparse type: the path as given, unless it is empty, blank or holds a NUL byte."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r} (an empty path would mean the working "
                                         "directory; give one, or leave the option out for its default)")
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r} (a NUL byte cannot be in a path)")
    return text


path_text.__name__ = "path"


def file_path(text: str) -> str:
    """An argparse type for an option naming a file to write (`predict --out`): a `path_text` that does not end in
    a slash or name `.`/`..` (round 14's 5-h: `--out o39/` wrote a file named `o39`); `-` is standard output, as
    for most tools (round 15: it wrote a file named `-`)."""
    text = path_text(text)
    if text == "-":
        return "/dev/stdout"
    if text.endswith(("/", "/.", "/..")) or text in (".", ".."):
        raise argparse.ArgumentTypeError(f"expected a file name, but {shown(text)} names a folder")
    return text


file_path.__name__ = "file"
file_path.path_door = path_text  # type: ignore[attr-defined]  # it calls the path door first


def folder_path(text: str) -> str:
    """An argparse type for an option naming a folder to write into (`--out`, `--run-dir`, `--store`, ...): a
    `path_text` whose nearest existing part is a folder, so a file given there is refused before anything runs
    (round 9's 5-c: `transfer --store s0.db` trained 14 s, then ended in `Not a directory: s0.db/transfer`)."""
    from datasets.settings import folder_problem

    if path_text(text) == "-":  # round 17's 5-a: `--out -` made a folder named `-` (for a file, `-` is stdout)
        raise argparse.ArgumentTypeError("expected a folder; '-' (standard output) cannot hold one (write ./- to "
                                         "name a folder '-')")
    if (problem := folder_problem(Path(path_text(text)))) is not None:
        raise argparse.ArgumentTypeError(f"expected a folder, but {shown(text)} {problem}")
    return text


folder_path.__name__ = "folder"
folder_path.path_door = path_text  # type: ignore[attr-defined]  # it calls the path door first


def shown(path: str | Path) -> str:
    """A path for one output line: as it is, or quoted (`repr`) when it holds a newline, a control or another
    character that is not printable (round 9's 5-d: a newline in `--out` split `report:`'s line in two)."""
    text = str(path)
    return text if text.isprintable() else repr(text)
