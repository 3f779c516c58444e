"""Settings loading shared by every vnbridge component.

Why: each component has one pydantic model (``extra="forbid"``), read from one YAML
file plus ``VNBRIDGE_<COMPONENT>_*`` environment overrides, validated once at
start-up. A typo must stop the process with one line naming the key path and what
is allowed, never be silently ignored. This module is the only place that turns
files and environment into a model, so the rule holds for all three CLIs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import orjson
import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as EnvSettingsError

__all__ = [
    "IS_A_DIRECTORY",
    "ComponentSettings",
    "SettingsError",
    "file_problem",
    "load_settings",
    "masked_dump",
    "schema_json",
    "unknown_env",
    "unreadable_files",
]

# files a client or server reads when it connects: certificates, keys, CAs, kubeconfig
CREDENTIAL_FILES = frozenset({"ca_file", "cert_file", "key_file", "client_ca_file", "kubeconfig"})

S = TypeVar("S", bound="ComponentSettings")


class SettingsError(Exception):
    """A settings file or override is unusable; ``str()`` is the one line to print."""

    retriable = False


class ComponentSettings(BaseSettings):
    """Base for a component's settings: strict keys, env prefix set by the subclass."""

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__", validate_default=True)
    # keys that moved: old top-level key -> its new path (named in the error instead of
    # a bare "unknown key")
    moved_keys: ClassVar[dict[str, str]] = {}

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


def _model_of(annotation: Any) -> Any:
    """The settings model inside a field's annotation (``X | None`` included), else the
    annotation itself (a mapping or a scalar: no further keys to walk)."""
    return next(
        (a for a in getattr(annotation, "__args__", (annotation,)) if hasattr(a, "model_fields")),
        annotation,
    )


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names valid at ``loc``'s parent, to tell the user what is allowed."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None or not isinstance(part, str) or part not in fields:
            return []
        current = _model_of(fields[part].annotation)
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _describe(model: type[BaseModel], err: Any) -> str:
    loc = tuple(err.get("loc", ()))
    path = ".".join(str(p) for p in loc) or "(top level)"
    if err.get("type") == "extra_forbidden":
        moved = getattr(model, "moved_keys", {}).get(path)
        if moved:
            return f"'{path}' moved to '{moved}'"
        allowed = _allowed_keys(model, loc)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key '{path}'{hint}"
    return f"{path}: {err.get('msg', 'invalid value')}"


def format_validation_error(model: type[BaseModel], exc: ValidationError, *, source: str) -> str:
    """One line naming every error: its key path, what was wrong and what is allowed."""
    return f"{source}: " + "; ".join(_describe(model, err) for err in exc.errors())


def _env_prefix(model: type[BaseModel]) -> str:
    return str(getattr(model, "model_config", {}).get("env_prefix", "")).upper()


def unknown_env(model: type[BaseModel], environ: dict[str, str] | None = None) -> list[str]:
    """``VNBRIDGE_<COMPONENT>_*`` variables that name no setting (pydantic-settings would
    ignore them silently, so a misspelt override would never take effect)."""
    prefix = _env_prefix(model)
    if not prefix:
        return []
    bad: list[str] = []
    for name in sorted(environ if environ is not None else os.environ):
        if not name.upper().startswith(prefix):
            continue
        current: Any = model
        for part in name[len(prefix) :].lower().split("__"):
            fields = getattr(current, "model_fields", None)
            if fields is None:
                break  # below a mapping or a scalar: pydantic judges the value
            if part not in fields:
                bad.append(name)
                break
            current = _model_of(fields[part].annotation)
    return bad


def _nested_example(model: type[BaseModel]) -> str:
    """A real nested variable name of ``model``, e.g. ``VNBRIDGE_LOGBRIDGE_KAFKA__CLIENT_ID``."""
    for name, info in model.model_fields.items():
        sub = getattr(_model_of(info.annotation), "model_fields", None)
        if sub:
            return f"{_env_prefix(model)}{name.upper()}__{next(iter(sub)).upper()}"
    return f"{_env_prefix(model)}<KEY>"


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
    stray = unknown_env(model)
    if stray:
        prefix = _env_prefix(model)
        raise SettingsError(
            f"unknown environment variable(s) {', '.join(stray)}: no such setting (names are "
            f"{prefix}<KEY>, nested keys joined by __, e.g. {_nested_example(model)})"
        )
    try:
        return model(**data)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(model, exc, source=source)) from None
    except EnvSettingsError as exc:
        cause = exc.__cause__
        raise SettingsError(
            f"{exc}: lists and mappings in environment variables are JSON, "
            f'e.g. \'["a", "b"]\' or \'{{"key": "value"}}\''
            + (f" ({type(cause).__name__})" if cause is not None else "")
        ) from None


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


IS_A_DIRECTORY = "is a directory"


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (a directory, missing, no read permission), or None."""
    if path.is_dir():
        return IS_A_DIRECTORY
    if not path.is_file():
        return "does not exist or is not a file"
    if not os.access(path, os.R_OK):
        return "is not readable by this user"
    return None


def unreadable_files(settings: BaseModel, *, at: str = "") -> list[str]:
    """One line per credential file (TLS certificates, keys, CAs, kubeconfig) that is set
    but cannot be read: ``run`` would otherwise fail deep inside a client library."""
    problems: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        key = f"{at}{name}"
        if isinstance(value, BaseModel):
            problems.extend(unreadable_files(value, at=f"{key}."))
        elif name in CREDENTIAL_FILES and isinstance(value, Path) and (problem := file_problem(value)):
            problems.append(f"{key}: {value} {problem}")
    return problems
