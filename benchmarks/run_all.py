"""`make bench`: run every CPU benchmark; each writes benchmarks/results/<name>-<backend>-<device>.json."""

from __future__ import annotations

import os
import subprocess
import sys

# (module, extra environment): each runs in its own process so it can pick its Keras backend.
BENCHMARKS = [
    ("benchmarks.cpu_defaults", {}),
    ("benchmarks.fit_speed", {}),
    ("benchmarks.sweep_speed", {"KERAS_BACKEND": "jax"}),
    ("benchmarks.agents_throughput", {}),
    ("benchmarks.transfer_stats", {}),
]


def main() -> int:
    failures = 0
    for module, env in BENCHMARKS:
        print(f"== {module} {env or ''}", flush=True)
        failures += subprocess.run([sys.executable, "-m", module], env={**os.environ, **env}).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
