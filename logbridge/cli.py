"""The ``logbridge`` command line.

Why: one entry point with sub-commands that teach by example; settings errors and
usage errors exit 2 with one line, processing errors never stop a run.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import orjson
import typer
import yaml

from logbridge.converting import convert_lines, iter_inputs, write_outputs
from logbridge.decoding import explain as explain_record
from logbridge.profiles import PROFILES, OptionError, build, checked_options, option_table
from logbridge.profiles.importing import import_config
from logbridge.settings import LogbridgeSettings, run_problems
from vnbridge.clikit import (
    add_component_commands,
    fail_usage,
    load_or_exit,
)
from vnbridge.configuring import IS_A_DIRECTORY, file_problem
from vnbridge.logs import LogLevel, setup_logging
from vnbridge.podfiles import PodFileError, load_inventory

PROG = "logbridge"
app = typer.Typer(
    name=PROG,
    no_args_is_help=True,
    add_completion=False,
    help="""Turn virtual-node container logs into the documents your DaemonSet collector writes.

Examples:

  logbridge convert --pods pods/ /var/log/containers/web-1_shop_app-<id>.log

  kafkacat -C -t eks-logs -e | logbridge convert --profile vector --pods pods.json

  logbridge convert --option Merge_Log=On --option Replace_Dots=On --bulk input.log

  logbridge run --config deploy/config/logbridge.yaml

  logbridge config check logbridge.yaml
""",
)
add_component_commands(
    app,
    prog=PROG,
    model=LogbridgeSettings,
    probes=lambda s: __import__("logbridge.checking", fromlist=["probes"]).probes(s),
    endpoints="Kafka with its TLS / SASL and source topics, Elasticsearch when its sink is on, "
    "the Kubernetes API of the live inventory",
    run_problems=run_problems,
)


def _parse_kv(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail_usage(PROG, f"--option expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


@app.command()
def convert(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files of provider records or kubelet-named container logs; '-' or none reads stdin."
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="logbridge YAML settings.")] = None,
    profile: Annotated[str | None, typer.Option(help=f"Collector profile: {', '.join(PROFILES)}.")] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            help="Profile option by the collector's key name, e.g. Merge_Log=On (repeatable).",
        ),
    ] = None,
    pods: Annotated[Path | None, typer.Option(help="Pod JSON/YAML file or directory for enrichment.")] = None,
    bulk: Annotated[
        bool,
        typer.Option(help="Prefix each document with its bulk action line (the profile's create or index)."),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            help="Print, per record, the shape it matched and where identity, message and time came from "
            "(or why it cannot be read: the nearest shape and the keys it lacks), instead of documents."
        ),
    ] = False,
) -> None:
    """Convert records to collector documents on stdout; dead letters go to stderr.

    Example: logbridge convert --pods examples/pods examples/cri/*.log

    Example: logbridge convert --explain examples/eks-records.jsonl
    """
    settings = load_or_exit(PROG, LogbridgeSettings, config, connecting=False)
    name = profile or settings.profile.name
    opts = dict(settings.profile.options) if name == settings.profile.name else {}
    opts.update(_parse_kv(option or []))
    try:
        prof = build(name, opts)
    except OptionError as exc:
        fail_usage(PROG, str(exc))
    pods_path = pods or settings.inventory.pods_path
    lookup = None
    if pods_path is not None:
        try:
            lookup = load_inventory(pods_path, retention_s=settings.inventory.tombstone_retention_s)
        except PodFileError as exc:
            fail_usage(PROG, str(exc))
    for p in inputs or []:
        if str(p) != "-" and (problem := file_problem(p)):
            hint = f"; name its log files ({p}/*.log)" if problem == IS_A_DIRECTORY else ""
            fail_usage(PROG, f"{p}: {problem}{hint}")
    record = settings.source.record.core()
    if explain:
        for value, (path, n), ctx in iter_inputs(inputs or [], sys.stdin.buffer):
            got = explain_record(value, ctx, shape=settings.source.decoder, record=record)
            sys.stdout.buffer.write(orjson.dumps({"input": f"{path}:{n + 1}", **got}) + b"\n")
        sys.stdout.flush()
        return
    items = convert_lines(
        iter_inputs(inputs or [], sys.stdin.buffer), profile=prof, lookup=lookup, **settings.core_assembly()
    )
    write_outputs(items, out=sys.stdout.buffer, err=sys.stderr.buffer, bulk=bulk, op=prof.bulk_action)
    sys.stdout.flush()


@app.command("run")
def run_cmd(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="logbridge YAML settings.")] = None,
    log_level: Annotated[LogLevel, typer.Option(help="Log level (JSON lines on stderr).")] = LogLevel.info,
    start: Annotated[
        str | None,
        typer.Option(
            help="Where partitions the group never committed start (overrides source.start): earliest, "
            "latest, an RFC 3339 time (2026-12-04T08:00:00Z) or a duration ago (-2h). Committed offsets "
            "always win.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Consume the provider topics as a consumer group and deliver exactly once in effect.

    Every record ends delivered to all enabled sinks, dead-lettered with a reason, or
    counted as filtered; offsets are committed in the same Kafka transaction as the
    sink and dead-letter records. SIGTERM drains, commits and exits 0.

    Example: logbridge run -c deploy/config/logbridge.yaml --start -2h
    """
    import asyncio
    import gc

    gc.disable()  # until start-up is done (running.quiet_gc): a tenth of a backlog run's CPU went to
    # collections during imports that free nothing
    from logbridge.kafka.transactions import TooLarge
    from logbridge.running import RunError, run
    from logbridge.sinks.contract import Fatal

    overrides: dict[str, object] = {"source": {"start": start}} if start is not None else {}
    settings = load_or_exit(PROG, LogbridgeSettings, config, overrides=overrides)
    setup_logging(log_level, quiet=("aiokafka", "elastic_transport"))
    loop_factory = None
    if settings.event_loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(run(settings))
    except RunError as exc:
        fail_usage(PROG, str(exc))
    except TooLarge as exc:  # progress stops rather than drop a record
        typer.echo(f"{PROG}: stopped: {exc}", err=True)
        raise typer.Exit(1) from None
    except Fatal as exc:  # a sink refuses for good: stop rather than retry forever or drop
        typer.echo(f"{PROG}: stopped: {exc}; nothing was committed past what was delivered", err=True)
        raise typer.Exit(1) from None


@app.command()
def profiles(
    name: Annotated[str | None, typer.Argument(help="Profile to describe, or 'import'.")] = None,
    file: Annotated[
        Path | None, typer.Argument(help="With 'import': the collector config to read.", show_default=False)
    ] = None,
) -> None:
    """List the profiles and their options (the collector's own key names and defaults).

    `logbridge profiles import FILE` reads a platform's own collector config (Fluent Bit
    classic or YAML, filebeat.yml, Vector YAML/TOML) and prints the logbridge settings
    that reproduce its documents; each setting it cannot reproduce goes to stderr, one
    line each. Or set profile.config_file to FILE.
    """
    if name == "import":
        _import(file)
        return
    if file is not None:
        fail_usage(PROG, f"unexpected argument {file}; did you mean 'profiles import {file}'?")
    for pname in [name] if name else list(PROFILES):
        try:
            table = option_table(pname)
        except OptionError as exc:
            fail_usage(PROG, str(exc))
        checked = checked_options(pname)
        typer.echo(f"{pname}:" + ("  (* = checked against a real collector in make test)" if checked else ""))
        for spec in table:
            default = (
                ("On" if spec.default else "Off")
                if isinstance(spec.default, bool)
                else repr(dict(spec.default) if isinstance(spec.default, Mapping) else spec.default)
            )
            mark = "*" if spec.name in checked else " "
            typer.echo(f"{mark} {spec.name:34} default {default:22} {spec.help}")


def _import(file: Path | None) -> None:
    if file is None:
        fail_usage(PROG, "profiles import needs the collector config file: logbridge profiles import FILE")
    try:
        imported = import_config(file)
        build(imported.profile, imported.options)
    except OptionError as exc:
        fail_usage(PROG, str(exc))
    doc: dict[str, object] = {"profile": {"name": imported.profile, "options": imported.options}}
    if imported.multiline:
        doc["assembly"] = {"multiline_namespaces": imported.multiline}
    typer.echo(f"# logbridge settings read from {file} ({imported.kind})")
    typer.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).rstrip())
    for line in imported.unsupported:
        typer.echo(f"{PROG}: not reproduced: {line}", err=True)


def main() -> None:
    app()
