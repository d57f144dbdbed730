"""The packages' public names load lazily through one loader (`datasets.lazy`): the CLI's stop handlers go in
before numpy, Optuna or Keras load (a Ctrl-C in those imports was a traceback), and every public name resolves."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sweeplab", "sweeps", "trainers", "datasets")


def test_importing_the_packages_and_the_stop_handlers_loads_no_framework():
    code = ("import sys, sweeplab, sweeps, trainers, datasets, sweeps.signals; "
            "print(sorted(m for m in ('numpy', 'optuna', 'keras', 'tensorflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_and_an_unknown_one_is_an_attribute_error(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018 (the access is the test)
