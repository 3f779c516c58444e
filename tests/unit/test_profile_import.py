"""``profile.config_file`` / ``logbridge profiles import``: the platform's own collector
config becomes the profile options that reproduce its documents, checked against the
configs the real-collector goldens ran with; what cannot be reproduced is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from logbridge.profiles import build
from logbridge.profiles.importing import ConfigImportError, import_config, parse_config
from logbridge.settings import LogbridgeSettings
from tests.support.goldens import FLUENT_BIT
from tests.unit.test_golden_fluentbit import RUNS, run_setup
from tests.unit.test_golden_real import FILEBEAT, GOLDEN, VECTOR

TAG_PREFIX = {"Tag_Prefix": "kube.var.log.containers."}


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_each_fluent_bit_golden_config_imports_to_the_options_its_documents_need(run: Path) -> None:
    imported = import_config(run / "fluent-bit.iso8601.conf")
    opts, _, _, multiline = run_setup(run)
    assert imported.profile == "fluent-bit"
    assert imported.options == opts | TAG_PREFIX
    assert imported.multiline == multiline
    # stdout/file outputs, and a language parser after the runtime's on tail (never applies)
    assert all("[OUTPUT]" in u or "never applies" in u for u in imported.unsupported), imported.unsupported


@pytest.mark.parametrize("case", sorted(FILEBEAT))
def test_each_real_filebeat_config_imports_to_its_options(case: str) -> None:
    imported = import_config(GOLDEN / "filebeat" / "real" / "cases" / case / "filebeat.yml")
    want = {k: v for k, v in FILEBEAT[case].items() if not k.startswith(("version", "orchestrator"))}
    got = {k: v for k, v in imported.options.items() if k != "input.type"}
    assert {k: str(v).lower() for k, v in got.items()} == {k: str(v).lower() for k, v in want.items()}
    assert imported.unsupported == []


@pytest.mark.parametrize("case", sorted(VECTOR))
def test_each_real_vector_config_imports_to_its_options(case: str) -> None:
    imported = import_config(GOLDEN / "vector" / "real" / "cases" / case / "vector.yaml")
    assert (imported.profile, imported.options, imported.unsupported) == ("vector", VECTOR[case], [])


def test_fluent_bit_yaml_and_classic_with_include_set_and_es_output(tmp_path: Path) -> None:
    classic = """
@SET prefix=app
@INCLUDE filters/*.conf
[INPUT]
    Name tail
    Path /var/log/containers/*.log
    multiline.parser docker, cri
[OUTPUT]
    Name es
    Match kube.*
    Host es.example
    HTTP_Passwd secret
    Logstash_Format On
    Logstash_Prefix ${prefix}
    Replace_Dots On
    Current_Time_Index On
"""
    (tmp_path / "filters").mkdir()
    (tmp_path / "filters" / "k8s.conf").write_text(
        "[FILTER]\n    Name kubernetes\n    Match kube.*\n    Merge_Log On\n    K8S-Logging.Exclude On\n"
        "[FILTER]\n    Name grep\n    Match *\n    Exclude log ^DEBUG\n"
        "[FILTER]\n    Name record_modifier\n    Match *\n    Record cluster eu-1\n    Record env prod\n"
        "# a comment line\n    Record color #fff\n"
    )
    conf = tmp_path / "fluent-bit.conf"
    conf.write_text(classic)
    imported = import_config(conf)
    assert imported.options == {
        "Merge_Log": "On",
        "K8S-Logging.Exclude": "On",
        "record_modifier.Record": ["cluster eu-1", "env prod", "color #fff"],  # '#' in a value stays
        "multiline.parser": "docker",
        "Output": "es",
        "Logstash_Format": "On",
        "Logstash_Prefix": "app",
        "Replace_Dots": "On",
    }
    assert imported.unsupported == [
        "[FILTER] grep: this plugin is not reproduced",
        "[OUTPUT] es: Current_Time_Index On: not reproduced",
    ]
    build("fluent-bit", imported.options)  # what was read is a valid profile
    as_yaml = {
        "pipeline": {
            "inputs": [{"name": "tail", "multiline.parser": "cri"}],
            "filters": [{"name": "kubernetes", "merge_log": True, "keep_log": "off", "labels": False}],
            "outputs": [
                {"name": "kafka", "brokers": "k:9092", "topics": "logs", "timestamp_format": "iso8601"}
            ],
        }
    }
    imported = parse_config(yaml.safe_dump(as_yaml), name="fluent-bit.yaml", base=tmp_path)
    assert imported.kind == "Fluent Bit YAML"
    assert imported.options == {
        "multiline.parser": "cri",
        "Merge_Log": "On",
        "Keep_Log": "off",
        "Labels": "Off",
        "Output": "kafka",
        "Timestamp_Format": "iso8601",
    }
    build("fluent-bit", imported.options)


def test_filebeat_settings_it_cannot_reproduce_are_one_line_each(tmp_path: Path) -> None:
    conf = {
        "filebeat.inputs": [
            {
                "type": "container",
                "paths": ["/var/log/containers/*.log"],
                "exclude_files": ["envoy"],
                "tags": ["k8s"],
                "fields": {"env": "prod"},
                "processors": [{"decode_json_fields": {"fields": ["message"]}}],
            }
        ],
        "processors": [
            {
                "add_kubernetes_metadata": {
                    "host": "${NODE_NAME}",
                    "labels.dedot": False,
                    "include_labels": ["a"],
                }
            },
            {"add_host_metadata": None},
            {"drop_event": {"when": {"equals": {"kubernetes.namespace": "kube-system"}}}},
        ],
        "output.logstash": {"hosts": ["ls:5044"]},
    }
    imported = parse_config(yaml.safe_dump(conf), name="filebeat.yml", base=tmp_path)
    assert imported.options == {
        "input.type": "container",
        "fields": {"env": "prod"},
        "labels.dedot": False,
        "include_labels": "a",
        "drop_event": [{"when": {"equals": {"kubernetes.namespace": "kube-system"}}}],
    }
    assert imported.unsupported == [
        "filebeat.inputs[0]: exclude_files: ['envoy']: not reproduced",
        "filebeat.inputs[0]: tags: ['k8s']: not reproduced",
        "processors: decode_json_fields: not reproduced",
        "processors: add_host_metadata: not reproduced",
        "output.logstash.hosts: only the elasticsearch and kafka outputs are reproduced",
    ]
    build("filebeat", imported.options)


def test_vector_toml_with_a_transform(tmp_path: Path) -> None:
    toml = """
[sources.k8s]
type = "kubernetes_logs"
auto_partial_merge = false
extra_label_selector = "app!=noisy"
exclude_paths_glob_patterns = ["**/istio-proxy/**"]
ingestion_timestamp_field = "ingested"
[sources.k8s.pod_annotation_fields]
pod_name = "k8s.pod"
[transforms.parse]
type = "remap"
inputs = ["k8s"]
source = ". = parse_json!(.message)"
[sinks.es]
type = "elasticsearch"
inputs = ["parse"]
endpoints = ["https://es:9200"]
bulk.index = "logs-{{ kubernetes.pod_namespace }}-%Y.%m.%d"
"""
    imported = parse_config(toml, name="vector.toml", base=tmp_path)
    assert imported.options == {
        "auto_partial_merge": False,
        "extra_label_selector": "app!=noisy",
        "exclude_paths_glob_patterns": "**/istio-proxy/**",
        "pod_annotation_fields.pod_name": "k8s.pod",
        "index": "logs-{{ kubernetes.pod_namespace }}-%Y.%m.%d",
    }
    assert imported.unsupported == [
        "sources.k8s: ingestion_timestamp_field: 'ingested': not reproduced",
        "transforms.parse (remap): transforms are not reproduced",
    ]
    build("vector", imported.options)


@pytest.mark.parametrize(
    ("text", "name", "why"),
    [
        ("a = [", "vector.toml", "not valid TOML"),
        ("just: [a, list", "x.yaml", "neither"),
        ("- 1\n- 2", "x.yaml", "mapping at the top"),
        ("logging: {level: info}", "x.yaml", "not a Fluent Bit, Filebeat or Vector config"),
        ("sources: {f: {type: file}}", "x.yaml", "no kubernetes_logs source"),
    ],
)
def test_what_is_not_a_collector_config_is_one_clear_error(
    text: str, name: str, why: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigImportError, match=why):
        parse_config(text, name=name, base=tmp_path)


def test_profile_config_file_in_settings(tmp_path: Path) -> None:
    run = next(r for r in RUNS if "filter-ml-java" in r.name)
    conf = run / "fluent-bit.iso8601.conf"
    s = LogbridgeSettings.model_validate(
        {"profile": {"config_file": str(conf), "options": {"Keep_Log": "On"}}}
    )
    assert s.profile.name == "fluent-bit"
    assert s.profile.options["Merge_Log"] == "On" and s.profile.options["Keep_Log"] == "On"  # ours win
    assert s.assembly.multiline_namespaces == {"*": "java"}
    assert s.profile.unsupported and all("[OUTPUT]" in u for u in s.profile.unsupported)
    beat = GOLDEN / "filebeat" / "real" / "cases" / "default" / "filebeat.yml"
    with pytest.raises(ValueError, match="contradicts"):
        LogbridgeSettings.model_validate({"profile": {"name": "vector", "config_file": str(beat)}})
    with pytest.raises(ValueError, match="cannot read"):
        LogbridgeSettings.model_validate({"profile": {"config_file": str(tmp_path / "nope.conf")}})


def test_profiles_import_prints_settings_that_load(tmp_path: Path) -> None:
    beat = GOLDEN / "filebeat" / "real" / "cases" / "resource_meta" / "filebeat.yml"
    out = subprocess.run(
        [sys.executable, "-m", "logbridge", "profiles", "import", str(beat)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    settings = LogbridgeSettings.model_validate(yaml.safe_load(out.stdout))
    assert settings.profile.name == "filebeat"
    assert settings.profile.options["add_resource_metadata.cronjob"] is True
    bad = subprocess.run(
        [sys.executable, "-m", "logbridge", "profiles", "import", str(FLUENT_BIT / "nope")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr
