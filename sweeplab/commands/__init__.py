"""CLI subcommands. Each module defines `register(subparsers)`; the CLI imports them all."""

from __future__ import annotations

import argparse
from typing import Any

from trainers.config import parse_assignment


def add_storage_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL (default: $SWEEPLAB_STORAGE or sqlite:///runs/sweeplab.db); "
                             "postgresql://... or journal:///path.log for clusters")


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value (repeatable), e.g. --set epochs=5 --set subset=0")


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    return dict(parse_assignment(pair) for pair in pairs)
