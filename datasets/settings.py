"""Where data comes from: environment settings, read at call time so tests and users can change them."""

from __future__ import annotations

import os
from pathlib import Path

DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")
FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
               "off": False, "": False}
FLAG_SETTINGS = ("SWEEPLAB_OFFLINE", "SWEEPLAB_WANDB", "SWEEPLAB_ACCEPT_CHANGES")  # every on/off setting


class SettingError(ValueError):
    """An environment setting holding a value it does not take: one line naming it, the value and what it takes."""


def env_flag(name: str) -> bool:
    """An on/off setting: 1/true/yes/on or 0/false/no/off (any case, spaces around ignored), unset or empty is off.
    Anything else is refused: `SWEEPLAB_OFFLINE=maybe` or `=TRUE.` read as "off" left downloads on silently."""
    raw = os.environ.get(name, "")
    try:
        return FLAG_VALUES[raw.strip().lower()]
    except KeyError:
        raise SettingError(f"${name}={raw!r}: expected 1, true, yes or on (or 0, false, no, off, or unset)") from None


FOLDER_SETTINGS = ("SWEEPLAB_RUNS_DIR", "SWEEPLAB_DATA_DIR", "SWEEPLAB_CACHE_DIR", "SWEEPLAB_DEBIAN_DATA_DIR")


def check_settings() -> None:
    """Every on/off setting read once, and every folder setting that names something other than a folder, at the
    command's start: a bad one stops it before anything runs (round 8's 5-e: a runs folder that was a file was found
    only by the first trial, which failed and was stored)."""
    for name in FLAG_SETTINGS:
        env_flag(name)
    for name in FOLDER_SETTINGS:
        raw = os.environ.get(name, "").strip()
        path = Path(raw).expanduser() if raw else None
        if path is not None and (problem := folder_problem(path, written=name in WRITTEN_FOLDERS)) is not None:
            raise SettingError(f"${name}={raw!r}: {problem}")


WRITTEN_FOLDERS = ("SWEEPLAB_RUNS_DIR", "SWEEPLAB_CACHE_DIR")


def folder_problem(path: Path, written: bool = True) -> str | None:
    """Why `path` cannot be a folder, or None: it is a file, or lies under one (round 10's 6-b: a runs folder below a
    file failed every trial), or, for a folder written into, lies among the system's own files (/dev, /proc, /sys;
    /dev/shm is a scratch file system: 6-c)."""
    from datasets.atomic import among_system_files

    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                return "names a file, not a folder" if part == path else f"lies under {str(part)!r}, a file"
            break
    if written and among_system_files(Path(os.path.abspath(path))):
        return "lies among the system's own files (/dev, /proc, /sys), not a folder to write into"
    return None


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
    return not env_flag("SWEEPLAB_OFFLINE")
