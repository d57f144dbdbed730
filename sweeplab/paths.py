"""The one door for paths on the command line: every option naming a file or directory to read or write (`--out`,
`--run-dir`, `--store`, `--model`, ...) is parsed by `path_text`, so an empty or blank value is refused by argparse
in one line naming the option, instead of being read as `.` (the working directory) or as "use the default"."""

from __future__ import annotations

import argparse


def path_text(text: str) -> str:
    """An argparse type: the path as given, unless it is empty, blank or holds a NUL byte."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r} (an empty path would mean the working "
                                         "directory; give one, or leave the option out for its default)")
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r} (a NUL byte cannot be in a path)")
    return text


path_text.__name__ = "path"
