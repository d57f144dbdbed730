"""`make bench`: run every CPU benchmark; each writes benchmarks/results/<name>-<backend>-<device>.json."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["benchmarks.fit_speed"]


def main() -> int:
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
