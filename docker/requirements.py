"""Print the project's runtime requirements from pyproject.toml, one a line, without the named distributions.

The GPU image runs Keras on JAX: it installs these requirements without TensorFlow (the Linux x86_64 marker
would otherwise pull `tensorflow-cpu` in beside the CUDA stack), then the project itself with `--no-deps`:
    python3 docker/requirements.py --without tensorflow tensorflow-cpu > /tmp/requirements.txt
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tomllib


def requirement_name(requirement: str) -> str:
    """PEP 503-normalised distribution name of a requirement string."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)).lower()


def requirements(pyproject: Path, without: set[str]) -> list[str]:
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    excluded = {re.sub(r"[-_.]+", "-", name).lower() for name in without}
    return [requirement for requirement in dependencies if requirement_name(requirement) not in excluded]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path(__file__).resolve().parent.parent / "pyproject.toml")
    parser.add_argument("--without", nargs="*", default=[], help="distribution names to leave out")
    args = parser.parse_args(argv)
    print("\n".join(requirements(args.pyproject, set(args.without))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
