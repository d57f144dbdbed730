"""Content keys that survive new knobs: a knob added after keys were handed out is left out of the key while at
the value that behaves as before it existed, so what was cached or stored under the old key stays found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def without_added_knobs(values: Mapping[str, Any], added: Mapping[str, Any]) -> dict[str, Any]:
    """`values` less each knob of `added` that is at its listed (behaves-as-before) value."""
    return {name: value for name, value in values.items() if not (name in added and value == added[name])}
