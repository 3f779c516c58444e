"""Settings loading shared by every vnbridge component.

Why: each component has one pydantic model (``extra="forbid"``), read from one YAML
file plus ``VNBRIDGE_<COMPONENT>_*`` environment overrides, validated once at
start-up. A typo must stop the process with one line naming the key path and what
is allowed, never be silently ignored. This module is the only place that turns
files and environment into a model, so the rule holds for all three CLIs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["ComponentSettings", "SettingsError", "load_settings", "masked_dump", "schema_json"]

S = TypeVar("S", bound="ComponentSettings")


class SettingsError(Exception):
    """A settings file or override is unusable; ``str()`` is the one line to print."""

    retriable = False


class ComponentSettings(BaseSettings):
    """Base for a component's settings: strict keys, env prefix set by the subclass."""

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__", validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment beats the YAML file (passed as init kwargs), which beats defaults
        return (env_settings, init_settings)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings file ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: top level must be a mapping of settings, got {type(data).__name__}")
    return data


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names valid at ``loc``'s parent, to tell the user what is allowed."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None or not isinstance(part, str) or part not in fields:
            return []
        annotation = fields[part].annotation
        current = next(
            (a for a in getattr(annotation, "__args__", (annotation,)) if hasattr(a, "model_fields")),
            annotation,
        )
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def format_validation_error(model: type[BaseModel], exc: ValidationError, *, source: str) -> str:
    """One line: the first error's key path, what was wrong and what is allowed."""
    err = exc.errors()[0]
    loc = tuple(err.get("loc", ()))
    path = ".".join(str(p) for p in loc) or "(top level)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if err.get("type") == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"{source}: unknown key '{path}'{hint}{more}"
    return f"{source}: {path}: {err.get('msg', 'invalid value')}{more}"


def load_settings(model: type[S], path: Path | None = None, *, overrides: dict[str, Any] | None = None) -> S:
    """Build ``model`` from the YAML file at ``path`` (optional), the environment and
    ``overrides`` (command-line values, merged over the file's top-level keys)."""
    data = _read_yaml(path) if path is not None else {}
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    source = str(path) if path is not None else "settings"
    try:
        return model(**data)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(model, exc, source=source)) from None


def masked_dump(settings: BaseModel) -> dict[str, Any]:
    """The effective settings as plain data, every secret replaced by ``**********``."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "**********" if value.get_secret_value() else ""
        if isinstance(value, BaseModel):
            return {k: walk(getattr(value, k)) for k in type(value).model_fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        if hasattr(value, "value") and not isinstance(value, str | int | float | bool):
            return value.value
        return value

    dumped: dict[str, Any] = walk(settings)
    return dumped


def schema_json(model: type[BaseModel]) -> str:
    return orjson.dumps(model.model_json_schema(), option=orjson.OPT_INDENT_2).decode()
