"""Typed, strict configs: dataclasses with defaults; unknown keys and wrong types are errors naming the key."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from trainers.bounds import out_of_bounds
from trainers.safe_yaml import load_yaml

ConfigT = TypeVar("ConfigT")
__all__ = ["ConfigError", "Overrides", "as_dict", "check_value", "field_types", "load_yaml", "parse_assignment",
           "resolve"]


class ConfigError(ValueError):
    """A config key is unknown or has a value of the wrong type."""


class Overrides(dict):
    """Config values given on the command line (`--set KEY=VALUE`): `resolve` names the option in an error about
    one of them, as a study file's errors name the file."""

    source = "--set"


SCALAR_ONLY = "one value on one line: a number, true/false or a word, optionally quoted"
_YAML_KINDS = {"Anchor": "an anchor (&)", "Alias": "an alias (*)", "Tag": "a tag (!)", "Directive": "a directive (%)",
               "DocumentStart": "a document marker", "DocumentEnd": "a document marker",
               **dict.fromkeys(["FlowSequenceStart", "FlowSequenceEnd", "BlockSequenceStart", "BlockEntry",
                                "FlowEntry"], "a list"),
               **dict.fromkeys(["FlowMappingStart", "FlowMappingEnd", "BlockMappingStart", "Key", "Value"],
                               "a mapping")}


def _one_scalar_problem(raw: str) -> str | None:
    """Why `raw` is not one YAML scalar written out whole, or None. A command-line value is a single scalar: a
    control character (a newline), a comment (`32 #64` would be read as 32), an anchor, alias or tag, a list, a
    mapping or a document marker would each be read as something other than what was typed."""
    if not all(char.isprintable() for char in raw):  # ASCII controls, also U+2028, U+0085, a zero-width space...
        return "it holds a control or separator character (a newline, a tab, U+2028, ...)"
    text = raw.strip()
    try:
        tokens = [token for token in yaml.scan(text)
                  if not isinstance(token, (yaml.StreamStartToken, yaml.StreamEndToken))]
    except yaml.YAMLError:
        return None  # not YAML at all: read as the text typed, and typed against the config like any string
    if not tokens:
        return None  # empty: the empty string
    if len(tokens) != 1 or not isinstance(tokens[0], yaml.ScalarToken):
        kinds = sorted({_YAML_KINDS.get(type(token).__name__.removesuffix("Token"), "structure") for token in tokens
                        if not isinstance(token, (yaml.ScalarToken, yaml.BlockEndToken))})
        return f"YAML reads it as {' and '.join(kinds)}, not one value"
    if tokens[0].style in ("|", ">"):  # `>` alone is a folded block scalar: the empty string, not what was typed
        return "YAML reads it as a block scalar (its text would follow on later lines), not one value"
    if tokens[0].end_mark.index != len(text):
        return f"YAML stops reading it at {text[tokens[0].end_mark.index:].strip()!r} (a comment?)"
    return None


def parse_assignment(text: str, source: str = "--set") -> tuple[str, Any]:
    """Parse one `key=value` of option `source`; the value is one YAML scalar (`3`, `1e-3`, `true`, `adam`),
    written out whole: no comment, anchor, tag, list, mapping or newline."""
    key, separator, raw = text.partition("=")
    if not separator or not key.strip():
        raise ConfigError(f"{source} {text!r}: expected key=value")
    problem = _one_scalar_problem(raw)
    if problem:
        raise ConfigError(f"{source} {key.strip()}: {raw!r}: {problem}; expected {SCALAR_ONLY}")
    try:  # one scalar: no alias to expand
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw.strip()
    return key.strip(), value


def read_overrides(pairs: list[str], source: str) -> Overrides:
    """`KEY=VALUE` pairs of option `source` (`--refit-set`) as Overrides whose errors name that option; a key given
    twice is a mistake (which one was meant?), not "the last wins"."""
    overrides = Overrides()
    overrides.source = source
    for pair in pairs:
        key, value = parse_assignment(pair, source)
        if key in overrides:
            raise ConfigError(f"{source} {key}: given twice ({overrides[key]!r} and {value!r}); give it once")
        overrides[key] = value
    return overrides


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Literal:  # the value's type too: `true` is not the choice 1, nor `2.0` the choice 2
        choices = get_args(annotation)
        if not any(type(value) is type(choice) and value == choice for choice in choices):
            raise ConfigError(f"{key}: expected one of {list(choices)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in get_args(annotation):
            if option is type(None) and value is None:
                return None
        options = [option for option in get_args(annotation) if option is not type(None)]
        return _coerce(key, value, options[0])
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if annotation is int:  # an integer literal only: 10, not 10.0, 1e1, 1_0 or true (the same for --set and a file)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer (digits only, e.g. 10; no decimal point, exponent or _), "
                              f"got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except OverflowError:  # round 17's 6-b: an integer past float's range
            raise ConfigError(f"{key}: an integer of {len(str(abs(value)))} digits is past any number this field "
                              "takes") from None
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def check_value(key: str, value: Any, annotation: Any, config_type: type | None = None) -> Any:
    """`value` coerced to `annotation` and within the field's bounds (a user config's declared ones first), else
    ConfigError naming the key."""
    value = _coerce(key, value, annotation)
    problem = out_of_bounds(key, value, config_type)
    if problem:
        raise ConfigError(problem)
    return value


def field_types(config_type: type) -> dict[str, Any]:
    """Field name -> type annotation of a config dataclass."""
    hints = get_type_hints(config_type)
    return {field.name: hints[field.name] for field in dataclasses.fields(config_type)}


def resolve(config_type: type[ConfigT], *layers: Mapping[str, Any]) -> ConfigT:
    """Build `config_type` from its defaults and `layers` (later layers win), refusing unknown keys and bad types."""
    types_by_name = field_types(config_type)
    values: dict[str, Any] = {}
    for layer in layers:
        source = f"{layer.source} " if isinstance(layer, Overrides) else ""
        for key, value in layer.items():
            if key not in types_by_name:
                raise ConfigError(f"{source}unknown config key {key!r}; known keys: {', '.join(sorted(types_by_name))}")
            try:
                values[key] = check_value(key, value, types_by_name[key], config_type)
            except ConfigError as error:
                raise ConfigError(f"{source}{error}") from None
    config = config_type(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def as_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
