"""Command-line plumbing shared by the three vnbridge CLIs.

Why: every CLI must behave the same on a bad settings file (one line, exit 2) and
offer the same ``config check`` / ``config schema`` commands, so a user who learnt
one component knows the others.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer

from vnbridge.configuring import ComponentSettings, SettingsError, load_settings, masked_dump, schema_json

__all__ = ["add_config_commands", "fail_usage", "load_or_exit"]


def fail_usage(prog: str, message: str) -> NoReturn:
    """Print one line naming the cause and exit 2 (usage or settings error)."""
    typer.echo(f"{prog}: {message}", err=True)
    raise typer.Exit(2)


def load_or_exit(prog: str, model: type[ComponentSettings], path: Path | None, **overrides: object):  # type: ignore[no-untyped-def]
    try:
        return load_settings(model, path, overrides=dict(overrides) if overrides else None)
    except SettingsError as exc:
        fail_usage(prog, str(exc))


def add_config_commands(
    app: typer.Typer, *, prog: str, model: type[ComponentSettings], env_prefix: str
) -> None:
    """Attach ``config check FILE`` and ``config schema`` to ``app``."""
    config = typer.Typer(
        help=f"Validate and explain {prog} settings (YAML file + {env_prefix}* environment overrides).",
        no_args_is_help=True,
    )

    @config.command("check")
    def check(
        file: Annotated[
            Path | None, typer.Argument(help="YAML settings file; omit to check defaults + environment")
        ] = None,
    ) -> None:
        """Validate FILE and print the effective settings, secrets masked.

        Example: {prog} config check deploy/config/{prog}.yaml
        """
        settings = load_or_exit(prog, model, file)
        sys.stdout.write(orjson.dumps(masked_dump(settings), option=orjson.OPT_INDENT_2).decode() + "\n")

    @config.command("schema")
    def schema() -> None:
        """Print the JSON schema of the settings (every key, its type, default and description)."""
        sys.stdout.write(schema_json(model) + "\n")

    app.add_typer(config, name="config")
