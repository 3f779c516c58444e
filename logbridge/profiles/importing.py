"""Read the platform's own collector config into a profile and its options.

Why: copying options by hand is where parity is lost. A platform hands over the
config its DaemonSet runs — Fluent Bit (classic or YAML), ``filebeat.yml``, Vector
(YAML or TOML) — and gets the profile options that reproduce its documents, plus one
line for every setting that shapes a document but that vnbridge cannot reproduce.
Settings that only concern the node (paths, buffers, credentials, the API client)
are left out silently: they have no meaning for a virtual node.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from logbridge.profiles import option_table
from logbridge.profiles.options import OptionError, OptionSpec

__all__ = ["ConfigImportError", "Imported", "import_config", "parse_config"]


class ConfigImportError(OptionError):
    """The file is not a collector config this reads (not retriable: fix the file)."""


@dataclass
class Imported:
    profile: str
    kind: str  # what the file was read as
    options: dict[str, object] = field(default_factory=dict)
    multiline: dict[str, str] = field(default_factory=dict)  # assembly.multiline_namespaces
    unsupported: list[str] = field(default_factory=list)  # one line each


def import_config(path: Path) -> Imported:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigImportError(f"cannot read {path}: {exc.strerror}") from None
    return parse_config(text, name=path.name, base=path.parent)


def parse_config(text: str, *, name: str, base: Path) -> Imported:
    """The profile of a collector config given as text (``name`` tells TOML by suffix)."""
    if name.endswith(".toml"):
        try:
            return _vector(tomllib.loads(text), "Vector TOML")
        except tomllib.TOMLDecodeError as exc:
            raise ConfigImportError(f"{name}: not valid TOML: {exc}") from None
    if re.search(r"(?im)^\s*\[(SERVICE|INPUT|FILTER|OUTPUT)\]\s*$", text):
        return _fluent_bit(list(_classic_sections(text, base)), "Fluent Bit classic")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigImportError(
            f"{name}: neither a Fluent Bit classic config nor valid YAML: {exc}"
        ) from None
    if not isinstance(doc, dict):
        raise ConfigImportError(f"{name}: not a collector config (expected a mapping at the top)")
    if isinstance(doc.get("pipeline"), dict):
        sections = [
            (kind.upper(), {str(k): v for k, v in (s or {}).items()})
            for plural, kind in (("inputs", "input"), ("filters", "filter"), ("outputs", "output"))
            for s in doc["pipeline"].get(plural) or []
        ]
        return _fluent_bit(sections, "Fluent Bit YAML")
    flat = _flatten(doc)
    if any(k.startswith(("filebeat.", "output.")) for k in flat):
        return _filebeat(doc, flat)
    if isinstance(doc.get("sources"), dict):
        return _vector(doc, "Vector YAML")
    raise ConfigImportError(
        f"{name}: not a Fluent Bit, Filebeat or Vector config (no pipeline, filebeat.inputs or sources)"
    )


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """go-ucfg's view: nested maps and dotted keys are the same setting."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out |= _flatten(v, key + ".")
        else:
            out[key] = v
    return out


def _specs(profile: str) -> dict[str, OptionSpec]:
    """The profile's options by lower-cased name (collectors' keys are case-insensitive)."""
    return {spec.name.lower(): spec for spec in option_table(profile)}


def _value(spec: OptionSpec, value: Any) -> Any:
    """A YAML list given for an option that takes a comma-separated string, joined."""
    if isinstance(spec.default, str) and isinstance(value, list):
        return ",".join(map(str, value))
    return value


# --- Fluent Bit ----------------------------------------------------------------------

_FB_IGNORED_KEYS = {  # node-, connection- or engine-only keys of the sections read
    "input": "name tag path db db.sync db.locking db.journal_mode db.compare_filename mem_buf_limit "
    "refresh_interval read_from_head buffer_chunk_size buffer_max_size rotate_wait inotify_watcher "
    "storage.type storage.pause_on_chunks_overlimit alias threaded skip_long_lines ignore_older "
    "docker_mode_flush docker_mode_parser",
    "kubernetes": "name match match_regex alias kube_url kube_ca_file kube_ca_path kube_token_file "
    "kube_token_ttl kube_token_command kube_meta_preload_cache_dir kube_meta_cache_ttl "
    "kube_meta_namespace_cache_ttl buffer_size tls.debug tls.verify use_kubelet kubelet_host kubelet_port "
    "dns_retries dns_wait_time use_tag_for_meta cache_use_docker_id kube_tag_prefix",
    "output": "name match match_regex alias host port http_user http_passwd http_api_key cloud_id cloud_auth "
    "tls tls.verify tls.ca_file tls.crt_file tls.key_file tls.debug tls.vhost buffer_size retry_limit "
    "workers trace_output trace_error suppress_type_name type compress aws_auth aws_region brokers topics "
    "format message_key queue_full_retries storage.total_limit_size net.keepalive path pipeline",
}
_FB_IGNORED = {section: frozenset(keys.split()) for section, keys in _FB_IGNORED_KEYS.items()}


def _classic_sections(text: str, base: Path, depth: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """``[SECTION]`` blocks of ``key value`` lines; ``@INCLUDE`` followed (relative to the
    file, globs allowed), ``@SET`` variables substituted. Repeated keys keep every value."""
    variables: dict[str, str] = {}
    section: tuple[str, dict[str, Any]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # comments are whole lines: a value may hold '#'
            continue
        line = re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), line)
        if line.upper().startswith("@SET "):
            k, _, v = line[5:].partition("=")
            variables[k.strip()] = v.strip()
        elif line.upper().startswith("@INCLUDE "):
            if depth > 8:
                raise ConfigImportError("@INCLUDE nested more than 8 deep")
            for inc in sorted(base.glob(line[9:].strip())):
                yield from _classic_sections(inc.read_text(encoding="utf-8"), inc.parent, depth + 1)
        elif line.startswith("[") and line.endswith("]"):
            if section:
                yield section
            section = (line[1:-1].strip().upper(), {})
        elif section is not None:
            key, _, value = line.partition(" ")
            prev = section[1].get(key)
            value = value.strip()
            section[1][key] = (
                value if prev is None else [*(prev if isinstance(prev, list) else [prev]), value]
            )
    if section:
        yield section


def _fb_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "On" if v else "Off"
    return v if isinstance(v, list) else str(v)


def _fluent_bit(sections: list[tuple[str, dict[str, Any]]], kind: str) -> Imported:
    imp = Imported("fluent-bit", kind)
    specs = _specs("fluent-bit")
    ignored = _FB_IGNORED
    outputs = 0

    def take(where: str, conf: dict[str, Any], skip: frozenset[str]) -> None:
        for key, value in conf.items():
            low = key.lower()
            if low in skip:
                continue
            if low in specs:
                imp.options[specs[low].name] = _fb_value(value)
            else:
                imp.unsupported.append(f"{where}: {key} {value}: not reproduced")

    for section, conf in sections:
        low = {k.lower(): v for k, v in conf.items()}
        plugin = str(low.get("name", "")).lower()
        where = f"[{section}] {plugin}"
        if section == "INPUT" and plugin == "tail":
            parsers = [p.strip() for p in str(low.get("multiline.parser", "")).split(",") if p.strip()]
            runtime = [p for p in parsers if p in ("cri", "docker")]
            if runtime:
                imp.options["multiline.parser"] = runtime[0]
            for p in parsers:
                if p in ("java", "python", "go") and runtime:
                    # tail uses the first parser that matches a line: the runtime's matches every one
                    imp.unsupported.append(
                        f"{where}: multiline.parser {p}: never applies after {runtime[0]} (as in Fluent Bit);"
                        " a multiline filter groups stack traces"
                    )
                elif p not in ("cri", "docker"):
                    imp.unsupported.append(f"{where}: multiline.parser {p}: not reproduced")
            rest = {k: v for k, v in conf.items() if k.lower() != "multiline.parser"}
            take(where, rest, ignored["input"])
        elif section == "FILTER" and plugin == "kubernetes":
            take(where, conf, ignored["kubernetes"])
            if "kube_tag_prefix" in low:
                imp.options["Tag_Prefix"] = str(low["kube_tag_prefix"])
        elif section == "FILTER" and plugin in ("record_modifier", "modify"):
            key = "record" if plugin == "record_modifier" else "add"
            values = low.get(key, [])
            values = values if isinstance(values, list) else [values]
            if values:
                opt = "record_modifier.Record" if plugin == "record_modifier" else "modify.Add"
                imp.options[opt] = [*imp.options.get(opt, ()), *map(str, values)]  # type: ignore[misc]
            rest = {k: v for k, v in conf.items() if k.lower() != key}
            take(where, rest, frozenset({"name", "match", "alias"}))
        elif section == "FILTER" and plugin == "multiline":
            lang = str(low.get("multiline.parser", "")).strip()
            if lang in ("java", "python", "go"):
                imp.multiline["*"] = lang
            else:
                imp.unsupported.append(f"{where}: multiline.parser {lang}: not reproduced")
        elif section == "OUTPUT" and plugin in ("es", "kafka"):
            outputs += 1
            if outputs > 1:
                imp.unsupported.append(f"{where}: a second output; only the first es/kafka output is read")
                continue
            imp.options["Output"] = plugin
            if plugin == "kafka" and str(low.get("format", "json")).lower() != "json":
                imp.unsupported.append(f"{where}: Format {low['format']}: only json is reproduced")
            take(where, conf, ignored["output"])
        elif section in ("INPUT", "FILTER") or (section == "OUTPUT" and plugin not in ("stdout", "null")):
            imp.unsupported.append(f"{where}: this plugin is not reproduced")
    return imp


# --- Filebeat ------------------------------------------------------------------------

_BEAT_INPUT_IGNORED = [
    "type",
    "id",
    "paths",
    "enabled",
    "prospector",
    "parsers",
    "file_identity",
    "close",
    "clean",
    "ignore_older",
    "harvester_limit",
    "harvester_buffer_size",
    "backoff",
    "message_max_bytes",
    "encoding",
    "take_over",
    "rotation",
    "delete",
]
_BEAT_K8S_IGNORED = [
    "host",
    "node",
    "kube_config",
    "kube_client_options",
    "matchers",
    "indexers",
    "default_indexers",
    "default_matchers",
    "scope",
    "sync_period",
    "cleanup_timeout",
    "namespace",
    "add_resource_metadata.namespace.use_regex_include",
    "add_resource_metadata.node.use_regex_include",
]


def _filebeat(doc: dict[str, Any], flat: dict[str, Any]) -> Imported:
    imp = Imported("filebeat", "filebeat.yml")
    specs = _specs("filebeat")
    if "name" in doc:
        imp.options["agent.name"] = str(doc["name"])
    inputs = [i for i in flat.get("filebeat.inputs") or [] if isinstance(i, dict)]
    ours = [i for i in inputs if i.get("type") in ("filestream", "container")]
    if not ours:
        imp.unsupported.append("filebeat.inputs: no filestream or container input")
    procs: list[Any] = list(doc.get("processors") or [])
    for n, inp in enumerate(ours):
        if n:
            imp.unsupported.append(f"filebeat.inputs[{n}]: only the first filestream/container input is read")
            continue
        imp.options["input.type"] = inp["type"]
        for key, value in _flatten(inp).items():
            top = key.split(".")[0]
            if key in ("include_lines", "exclude_lines", "fields_under_root") or top == "fields":
                continue
            if top == "processors" or top in _BEAT_INPUT_IGNORED:
                continue
            imp.unsupported.append(f"filebeat.inputs[0]: {key}: {value!r}: not reproduced")
        for key in ("include_lines", "exclude_lines", "fields", "fields_under_root"):
            if key in inp:
                imp.options[key] = inp[key]
        procs = [*(inp.get("processors") or []), *procs]
        for p in inp.get("parsers") or []:
            if isinstance(p, dict) and p.get("container") and p["container"].get("stream", "all") != "all":
                imp.unsupported.append(
                    f"parsers: container.stream {p['container']['stream']}: not reproduced"
                )
    if any(k.startswith("filebeat.autodiscover") for k in flat):
        imp.unsupported.append("filebeat.autodiscover: not reproduced (use a filestream input)")
    add_fields: list[Any] = []
    drops: list[Any] = []
    for proc in procs:
        if not isinstance(proc, dict) or len(proc) != 1:
            imp.unsupported.append(f"processors: {proc!r}: not a processor")
            continue
        ((pname, conf),) = proc.items()
        conf = conf or {}
        if pname == "add_kubernetes_metadata":
            for key, value in _flatten(conf).items():
                if any(key == i or key.startswith(i + ".") for i in _BEAT_K8S_IGNORED):
                    continue
                if (spec := specs.get(key.lower())) is not None:
                    imp.options[spec.name] = _value(spec, value)
                else:
                    imp.unsupported.append(f"add_kubernetes_metadata: {key}: {value!r}: not reproduced")
        elif pname == "add_fields":
            add_fields.append(conf)
        elif pname == "drop_event":
            drops.append(conf)
        else:
            imp.unsupported.append(f"processors: {pname}: not reproduced")
    if add_fields:
        imp.options["add_fields"] = add_fields
    if drops:
        imp.options["drop_event"] = drops
    for key, value in flat.items():
        if key == "output.elasticsearch.index":
            imp.options["index"] = value
        elif key.startswith("output.") and not key.startswith(("output.elasticsearch.", "output.kafka.")):
            imp.unsupported.append(f"{key}: only the elasticsearch and kafka outputs are reproduced")
        elif key in ("output.elasticsearch.pipeline", "output.elasticsearch.pipelines"):
            imp.unsupported.append(
                f"{key}: ingest pipelines run in Elasticsearch; point the sink at it there"
            )
        elif key.startswith("output.elasticsearch.indices"):
            imp.unsupported.append(f"{key}: conditional indices are not reproduced (one index format string)")
    return imp


# --- Vector --------------------------------------------------------------------------

_VECTOR_SOURCE_IGNORED = [
    "type",
    "self_node_name",
    "kube_config_file",
    "data_dir",
    "glob_minimum_cooldown_ms",
    "read_from",
    "use_apiserver_cache",
    "delay_deletion_ms",
    "oldest_first",
    "rotate_wait_secs",
    "timezone",
    "internal_metrics",
    "max_read_bytes",
    "include_paths_glob_patterns",
]
_VECTOR_SINK_IGNORED = [
    "type",
    "inputs",
    "endpoints",
    "endpoint",
    "auth",
    "tls",
    "compression",
    "batch",
    "request",
    "buffer",
    "healthcheck",
    "api_version",
    "acknowledgements",
    "distribution",
    "proxy",
    "suppress_type_name",
    "query",
    "aws",
    "opensearch_service_type",
]


def _vector(doc: dict[str, Any], kind: str) -> Imported:
    imp = Imported("vector", kind)
    specs = _specs("vector")
    sources = {k: v for k, v in (doc.get("sources") or {}).items() if isinstance(v, dict)}
    k8s = [k for k, v in sources.items() if v.get("type") == "kubernetes_logs"]
    if not k8s:
        raise ConfigImportError("no kubernetes_logs source in this Vector config")
    src = sources[k8s[0]]
    for key, value in _flatten(src).items():
        top = key.split(".")[0]
        if top in _VECTOR_SOURCE_IGNORED:
            continue
        if (spec := specs.get(key.lower())) is not None:
            imp.options[spec.name] = _value(spec, value)
        else:
            imp.unsupported.append(f"sources.{k8s[0]}: {key}: {value!r}: not reproduced")
    for name, t in (doc.get("transforms") or {}).items():
        imp.unsupported.append(f"transforms.{name} ({(t or {}).get('type')}): transforms are not reproduced")
    sinks = [(n, s) for n, s in (doc.get("sinks") or {}).items() if isinstance(s, dict)]
    es = [(n, s) for n, s in sinks if s.get("type") == "elasticsearch"]
    for n, s in es[:1]:
        for key, value in _flatten(s).items():
            top = key.split(".")[0]
            if key == "bulk.index":
                imp.options["index"] = value
            elif key == "bulk.action":
                imp.options["bulk.action"] = value
            elif key == "mode" and value in ("bulk", None):
                continue
            elif top not in _VECTOR_SINK_IGNORED:
                imp.unsupported.append(f"sinks.{n}: {key}: {value!r}: not reproduced")
    for n, s in [*es[1:], *((n, s) for n, s in sinks if s.get("type") not in ("elasticsearch", "kafka"))]:
        imp.unsupported.append(f"sinks.{n} ({s.get('type')}): only one elasticsearch sink is read")
    return imp
