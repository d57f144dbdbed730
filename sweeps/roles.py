"""The tuning playbook's roles of a study's parameters (`roles:` in a study file): scientific (what the study asks
about), nuisance (tuned so that comparison is fair), fixed (held at one value). The report groups plots by them."""

from __future__ import annotations

from typing import Any

ROLES = ("scientific", "nuisance", "fixed")


def read_roles(raw: Any, searched: list[str], fixed: dict[str, Any]) -> tuple[dict[str, list[str]], tuple[str, str]]:
    """(roles, ("", "")) for a valid `roles:` mapping, else ({}, (key, what is wrong)): each role a list of searched or
    fixed parameter names, no name in two roles."""
    roles = raw or {}
    if not isinstance(roles, dict) or not set(roles) <= set(ROLES):
        return {}, ("roles", f"expected a mapping with {' / '.join(ROLES)} lists, got {raw!r}")
    seen: dict[str, str] = {}
    for role, names in roles.items():
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            return {}, (f"roles.{role}", f"expected a list of parameter names, got {names!r}")
        for name in names:
            if name not in searched and name not in fixed:
                return {}, (f"roles.{role}", f"{name!r} is neither searched nor fixed; searched: "
                                             f"{', '.join(searched) or 'none'}")
            if name in seen:
                return {}, (f"roles.{role}", f"{name!r} is already {seen[name]}")
            seen[name] = role
    return {role: list(names) for role, names in roles.items()}, ("", "")
