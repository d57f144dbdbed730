"""One lazy loader for the packages' public names (PEP 562): `sweeplab`, `sweeps`, `trainers` and `datasets` import
a name's module on its first use, so the CLI's stop handlers are in before numpy, Optuna or Keras load. It lives on
the ground floor (`datasets`), which every other package may import."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, public: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: `public` maps each name to the module that defines it."""

    def load(name: str) -> Any:
        if name in public:
            return getattr(importlib.import_module(public[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return load
