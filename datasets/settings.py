"""Where data comes from: environment settings, read at call time so tests and users can change them."""

from __future__ import annotations

import os
from pathlib import Path

DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")


def mirror_dir() -> Path | None:
    """The offline mirror directory (`SWEEPLAB_DATA_DIR`), if configured."""
    value = os.environ.get("SWEEPLAB_DATA_DIR", "").strip()
    return Path(value).expanduser() if value else None


def debian_dir() -> Path:
    return Path(os.environ.get("SWEEPLAB_DEBIAN_DATA_DIR", "").strip() or str(DEBIAN_DATASETS_DIR))


def keras_cache_dir() -> Path:
    """Keras' own download cache (`$KERAS_HOME/datasets`, default `~/.keras/datasets`)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def array_cache_dir() -> Path:
    """Where decoded arrays are cached (`SWEEPLAB_CACHE_DIR`, default `~/.cache/sweeplab`)."""
    return Path(os.environ.get("SWEEPLAB_CACHE_DIR", "").strip() or Path.home() / ".cache" / "sweeplab")


def downloads_allowed() -> bool:
    """False when `SWEEPLAB_OFFLINE=1`: the keras download source is skipped."""
    return os.environ.get("SWEEPLAB_OFFLINE", "0").lower() not in {"1", "true", "yes"}
