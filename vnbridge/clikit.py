"""Command-line plumbing shared by the three vnbridge CLIs.

Why: every CLI must behave the same on a bad settings file (one line, exit 2) and
offer the same ``config check`` / ``config schema`` commands, so a user who learnt
one component knows the others.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import orjson
import typer

from vnbridge import package_version
from vnbridge.checking import Probe
from vnbridge.configuring import (
    ComponentSettings,
    SettingsError,
    load_settings,
    masked_dump,
    schema_json,
    unreadable_files,
)
from vnbridge.logs import LogLevel, setup_logging

__all__ = [
    "add_component_commands",
    "add_config_commands",
    "add_version_option",
    "fail_usage",
    "load_or_exit",
    "serve",
]

S = TypeVar("S", bound=ComponentSettings)


def add_version_option(app: typer.Typer, *, prog: str) -> None:
    """``--version`` on the CLI's top level: prints ``<prog> <version>`` and exits 0."""

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{prog} {package_version()}")
            raise typer.Exit(0)

    version_option = typer.Option(
        False, "--version", callback=show, is_eager=True, help="Print the version and exit."
    )

    @app.callback()
    def _root(version_: bool = version_option) -> None:
        pass


def fail_usage(prog: str, message: str) -> NoReturn:
    """Print one line naming the cause and exit 2 (usage or settings error)."""
    typer.echo(f"{prog}: {message}", err=True)
    raise typer.Exit(2)


def load_or_exit(
    prog: str,
    model: type[S],
    path: Path | None,
    *,
    connecting: bool = True,
    overrides: dict[str, object] | None = None,
) -> S:
    """The settings, or one line naming every problem and exit 2. ``connecting``: the
    command will connect (run, check), so the TLS and kubeconfig files it names must be
    readable; an offline command (convert) does not need them."""
    try:
        settings = load_settings(model, path, overrides=overrides or None)
    except SettingsError as exc:
        fail_usage(prog, str(exc))
    if connecting and (problems := unreadable_files(settings)):
        fix = " (point each at a readable file, e.g. a mounted Secret)"
        fail_usage(prog, f"{path or 'settings'}: " + "; ".join(problems) + fix)
    return settings


def serve(
    prog: str, settings: S, log_level: LogLevel, main: Callable[[S], Coroutine[Any, Any, None]]
) -> None:
    """Run a service's ``main(settings)`` until it ends: JSON logs at ``log_level``, a
    kubeconfig the client cannot use as one usage line (exit 2), Ctrl-C as a clean stop."""
    from vnbridge.kube import KubeConfigError  # the Kubernetes client loads only to run

    setup_logging(log_level)
    try:
        asyncio.run(main(settings))
    except KubeConfigError as exc:
        fail_usage(prog, str(exc))
    except KeyboardInterrupt:
        pass


def add_config_commands(
    app: typer.Typer,
    *,
    prog: str,
    model: type[ComponentSettings],
    env_prefix: str,
    run_problems: Callable[[Any], list[str]] | None = None,
) -> None:
    """Attach ``config check FILE`` and ``config schema`` to ``app``. ``run_problems``
    names what ``run`` would refuse in otherwise valid settings (the model is shared with
    commands that do not need it, e.g. convert without sinks); check fails on them too."""
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
        problems = run_problems(settings) if run_problems is not None else []
        if problems:
            fail_usage(prog, f"{file or 'settings'}: `{prog} run` would refuse: " + "; ".join(problems))
        sys.stdout.write(orjson.dumps(masked_dump(settings), option=orjson.OPT_INDENT_2).decode() + "\n")

    @config.command("schema")
    def schema() -> None:
        """Print the JSON schema of the settings (every key, its type, default and description)."""
        sys.stdout.write(schema_json(model) + "\n")

    app.add_typer(config, name="config")


def add_component_commands(
    app: typer.Typer,
    *,
    prog: str,
    model: type[S],
    probes: Callable[[S], list[Probe]],
    endpoints: str,
    run_problems: Callable[[S], list[str]] | None = None,
) -> None:
    """What every vnbridge CLI offers beside ``run``: ``--version``, ``config check`` /
    ``config schema`` (overrides from the model's environment prefix) and
    ``check [--connect] -c FILE``: the settings as ``run`` would take them, and with
    ``--connect`` one line per endpoint (``probes``) on stdout, each failure once more on
    stderr with its cause and fix; exit 2 if anything failed."""
    add_version_option(app, prog=prog)
    prefix = str(model.model_config.get("env_prefix", ""))
    add_config_commands(app, prog=prog, model=model, env_prefix=prefix, run_problems=run_problems)

    def check(
        config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML settings file.")] = None,
        connect: Annotated[
            bool,
            typer.Option("--connect", help="Connect to every configured endpoint (else: settings only)."),
        ] = False,
    ) -> None:
        from vnbridge.checking import render, run_checks

        settings = load_or_exit(prog, model, config)
        if run_problems is not None and (problems := run_problems(settings)):
            fail_usage(prog, f"{config or 'settings'}: `{prog} run` would refuse: " + "; ".join(problems))
        if not connect:
            typer.echo(f"{config or 'settings'}: OK (add --connect to try the endpoints)")
            return
        out, failed = render(run_checks(probes(settings), timeout_s=20.0))
        for line in out:
            typer.echo(line)
        for line in failed:
            typer.echo(f"{prog}: {line}", err=True)
        if failed:
            raise typer.Exit(2)

    check.__doc__ = (
        f"Check the settings; with --connect try each endpoint `run` would use ({endpoints}), one "
        f"line each, like `filebeat test output`. Exit 2 if any fails.\n\n"
        f"Example: {prog} check --connect -c deploy/config/{prog.removeprefix('vnbridge-')}.yaml"
    )
    app.command("check")(check)
