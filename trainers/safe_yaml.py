"""The one YAML reader for study files and `--set` values: YAML 1.2 numbers, no duplicate keys, no alias bombs.

PyYAML's SafeLoader follows YAML 1.1, where `0300` is octal (192) and `1:30` is 90; a mapping may repeat a key
(the last one silently wins); and a few hundred bytes of nested aliases expand to billions of nodes.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError

MAX_EXPANDED_NODES = 100_000  # a study file has a few hundred; aliases may not multiply that beyond this
INT_TAG, FLOAT_TAG, BOOL_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"
DECIMAL_INT = re.compile(r"^[-+]?[0-9]+$")
# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution): what an int or a float may look like.
CORE_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
CORE_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


MAX_INT_DIGITS = 1000  # far beyond any count, seed or size a config holds


class AliasBombError(yaml.YAMLError):
    """The document's aliases expand to more nodes than any study file needs."""

    def __init__(self, nodes: int, mark: Any) -> None:
        super().__init__(f"aliases expand to more than {nodes} nodes")
        self.problem, self.problem_mark = f"aliases expand to more than {nodes} nodes; refusing it", mark


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it (~5x faster)


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    """SafeLoader with YAML 1.2 numbers and booleans (`1e-3` is a float, `0300` is 300, `1_0` and `yes` are text),
    unique keys and bounded aliases."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class-level table, replaced whole
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (INT_TAG, FLOAT_TAG, BOOL_TAG)]
        for first, resolvers in _BASE.yaml_implicit_resolvers.items()
    }

    def get_single_node(self) -> Any:  # the one composing entry point both parsers (C and Python) share
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):  # keys written twice (merge keys `<<` may still override)
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise ConstructorError("while reading a mapping", node.start_mark, f"duplicate key {key!r}",
                                           key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: Any) -> int:
        """YAML 1.2 core integers only, also under an explicit `!!int` tag: decimal, `0o` octal, `0x` hex."""
        text = str(self.construct_scalar(node))
        if not CORE_INT.match(text):
            raise ConstructorError(None, None, f"{text!r} is not a YAML 1.2 integer (decimal, 0o octal or 0x hex; "
                                   "no 0b, _ separators or 1:30)", node.start_mark)
        if len(text) > MAX_INT_DIGITS:  # Python refuses past 4,300 digits (round 17's 6-b): no value here is that long
            raise ConstructorError(None, None, f"an integer of {len(text)} digits is too long (at most "
                                   f"{MAX_INT_DIGITS})", node.start_mark)
        if DECIMAL_INT.match(text):
            return int(text, 10)  # a leading zero does not make it octal (YAML 1.2)
        return int(text[2:], 8 if text[1] == "o" else 16)

    def construct_yaml_float(self, node: Any) -> float:
        """YAML 1.2 core floats only, also under an explicit `!!float` tag (no 1:30.5, `_` or `+.nan`)."""
        text = str(self.construct_scalar(node))
        if not (CORE_FLOAT.match(text) or DECIMAL_INT.match(text)):
            raise ConstructorError(None, None, f"{text!r} is not a YAML 1.2 float", node.start_mark)
        special = text.lstrip("+-").lower()
        if special == ".inf":
            return -math.inf if text.startswith("-") else math.inf
        return math.nan if special == ".nan" else float(text)


_Loader.add_constructor(INT_TAG, _Loader.construct_yaml_int)
_Loader.add_constructor(FLOAT_TAG, _Loader.construct_yaml_float)
# YAML 1.2's core schema: no `_` digit separators (YAML 1.1 read `1_0` as 10) and no `0b` binary, so both stay text.
_Loader.add_implicit_resolver(INT_TAG, CORE_INT, list("-+0123456789"))
# YAML 1.2's booleans only: YAML 1.1 also read yes/no/on/off as booleans (`--set save_model=off` was False).
_Loader.add_implicit_resolver(BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(FLOAT_TAG, CORE_FLOAT, list("-+0123456789."))


def _check_expansion(root: Any) -> None:
    """Count the nodes the document has once every alias is expanded (shared nodes counted once per use)."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in visiting:  # a node that contains itself expands forever
            raise AliasBombError(MAX_EXPANDED_NODES, node.start_mark)
        children = _children(node)
        if children_done or not children:
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 0) for child in children)
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise AliasBombError(MAX_EXPANDED_NODES, node.start_mark)
            continue
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely (a SafeLoader subclass); raises yaml.YAMLError with a mark on bad input."""
    return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
