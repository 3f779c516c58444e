"""Profile option tables, keyed by the collector's own configuration names.

Why: a user copies values from their DaemonSet config (``Merge_Log On``,
``labels.dedot: true``), so options are named and spelled as the collector spells
them. Like Fluent Bit's config map, a table rejects unknown keys with the list of
allowed ones; booleans accept On/Off/true/false/yes/no/1/0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, TypeVar

import orjson

__all__ = [
    "NO_FIELDS",
    "OptionError",
    "OptionSpec",
    "OptionValue",
    "option",
    "option_specs",
    "option_values",
    "parse_model",
    "parse_options",
]

_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


class OptionError(ValueError):
    """An unknown option or a bad value; not retriable."""


OptionValue = bool | str | int | tuple[str, ...] | Mapping[str, object]
NO_FIELDS: Mapping[str, object] = MappingProxyType({})  # default of a mapping option


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    default: OptionValue
    help: str
    choices: tuple[str, ...] = ()


def _coerce(spec: OptionSpec, value: Any) -> OptionValue:
    if isinstance(spec.default, Mapping):  # a YAML mapping of JSON values
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise OptionError(f"option {spec.name}: expected a mapping with string keys, got {value!r}")
        try:
            orjson.dumps(value)
        except TypeError as exc:
            raise OptionError(f"option {spec.name}: not JSON values ({exc})") from None
        return MappingProxyType(dict(value))
    if isinstance(spec.default, tuple):  # a list of strings (YAML list; one string = one item)
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise OptionError(f"option {spec.name}: expected a list of strings, got {value!r}")
    if isinstance(spec.default, bool):
        text = str(value).strip().lower()
        if isinstance(value, bool):
            return value
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise OptionError(f"option {spec.name}: expected On/Off, got {value!r}")
    if isinstance(spec.default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise OptionError(f"option {spec.name}: expected an integer, got {value!r}") from None
    text = str(value)
    if spec.choices and text.lower() not in spec.choices:
        raise OptionError(f"option {spec.name}: {value!r} is not one of {', '.join(spec.choices)}")
    return text.lower() if spec.choices else text


def parse_options(
    profile: str, table: tuple[OptionSpec, ...], given: Mapping[str, object]
) -> dict[str, OptionValue]:
    """Defaults overlaid with ``given`` (keys case-insensitive); result keyed by spec name."""
    by_lower = {s.name.lower(): s for s in table}
    out: dict[str, OptionValue] = {s.name: s.default for s in table}
    for key, value in given.items():
        spec = by_lower.get(str(key).lower())
        if spec is None:
            allowed = ", ".join(s.name for s in table)
            raise OptionError(f"profile {profile}: unknown option '{key}'; allowed: {allowed}")
        out[spec.name] = _coerce(spec, value)
    return out


class _Model(Protocol):
    __dataclass_fields__: ClassVar[dict[str, Any]]


M = TypeVar("M", bound=_Model)


def option(key: str, default: OptionValue, help: str, choices: tuple[str, ...] = ()) -> Any:
    """A typed option field of a profile's options dataclass, spelled ``key`` in the
    collector's configuration (``Any``: the dataclass-field idiom; the annotation types it)."""
    meta = {"spec": OptionSpec(key, default, help, choices)}
    if isinstance(default, Mapping):  # unhashable: a dataclass wants a factory
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def option_specs(model: type[_Model]) -> tuple[OptionSpec, ...]:
    """The option table (``logbridge profiles``, ``--help``, validation) of an options model."""
    return tuple(f.metadata["spec"] for f in fields(model))


def parse_model(model: type[M], profile: str, given: Mapping[str, object]) -> M:
    """An options model from the collector's own keys; unknown keys and bad values raise."""
    values = parse_options(profile, option_specs(model), given)
    return model(**{f.name: values[f.metadata["spec"].name] for f in fields(model)})


def option_values(opts: _Model) -> dict[str, OptionValue]:
    """The options keyed by the collector's names (what the compiled core reads)."""
    return {f.metadata["spec"].name: getattr(opts, f.name) for f in fields(opts)}
