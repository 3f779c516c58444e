"""Settings errors a user meets: every error in one line, moved keys named, misspelt
``VNBRIDGE_*`` variables refused, list values in the environment explained (no services)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from discovery.settings import DiscoverySettings
from logbridge.settings import LogbridgeSettings
from metricsbridge.settings import MetricsbridgeSettings
from vnbridge.configuring import ComponentSettings, SettingsError, load_settings, unknown_env

ROOT = Path(__file__).resolve().parents[2]
MODELS: tuple[type[ComponentSettings], ...] = (DiscoverySettings, LogbridgeSettings, MetricsbridgeSettings)


def test_every_error_is_named_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "d.yaml"
    cfg.write_text("node_preset: aws-fargate\nhttp_sd: {listen: nonsense}\nbogus: 1\n")
    with pytest.raises(SettingsError) as err:
        load_settings(DiscoverySettings, cfg)
    line = str(err.value)
    assert "\n" not in line
    assert "'node_preset' moved to 'targets.node_preset'" in line
    assert "listen must be host:port" in line
    assert "unknown key 'bogus'" in line and "targets" in line  # allowed keys listed


def test_a_misspelt_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNBRIDGE_DISCOVERY_HTTP_SD__BEARER_TOKN", "x")
    with pytest.raises(SettingsError, match="VNBRIDGE_DISCOVERY_HTTP_SD__BEARER_TOKN"):
        load_settings(DiscoverySettings)
    monkeypatch.delenv("VNBRIDGE_DISCOVERY_HTTP_SD__BEARER_TOKN")
    monkeypatch.setenv("VNBRIDGE_DISCOVERY_HTTP_SD__BEARER_TOKEN", "x")
    assert load_settings(DiscoverySettings).http_sd.bearer_token.get_secret_value() == "x"


def test_mapping_settings_take_any_key_and_other_prefixes_are_not_ours() -> None:
    env = {
        "VNBRIDGE_DISCOVERY_STATIC_LABELS__ANYTHING": "x",  # below a mapping: pydantic judges
        "VNBRIDGE_LOGBRIDGE_NOPE": "1",  # another component's prefix
        "VNBRIDGE_DISCOVERY_TARGETS__PORT": "9200",
    }
    assert unknown_env(DiscoverySettings, env) == []
    assert unknown_env(LogbridgeSettings, env) == ["VNBRIDGE_LOGBRIDGE_NOPE"]


def test_a_list_in_the_environment_that_is_not_json_says_how_to_write_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VNBRIDGE_LOGBRIDGE_SOURCE__TOPICS", "a,b")
    with pytest.raises(SettingsError, match="are JSON"):
        load_settings(LogbridgeSettings)
    monkeypatch.setenv("VNBRIDGE_LOGBRIDGE_SOURCE__TOPICS", '["a", "b"]')
    assert load_settings(LogbridgeSettings).source.topics == ["a", "b"]


def _env_names(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["name"])] if str(node.get("name", "")).startswith("VNBRIDGE_") else []
        return found + [n for v in node.values() for n in _env_names(v)]
    if isinstance(node, list):
        return [n for v in node for n in _env_names(v)]
    return []


def test_every_vnbridge_variable_the_manifests_set_is_a_setting() -> None:
    names: set[str] = set()
    for path in (ROOT / "deploy" / "kubernetes").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            names.update(_env_names(doc))
            for patch in (doc or {}).get("patches", []) if isinstance(doc, dict) else []:
                names.update(_env_names(yaml.safe_load(patch.get("patch", "")) or []))
    assert names, "the manifests set VNBRIDGE_* variables"
    env = dict.fromkeys(names, "x")
    assert [n for m in MODELS for n in unknown_env(m, env)] == []


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism and sasl_username"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512"}, "sasl_username"),
        ({"sasl_username": "u"}, "sasl_\\* settings need"),
        ({"tls": {"enabled": True}}, "would connect in plaintext"),
    ],
)
def test_contradictory_kafka_security_is_refused(kafka: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(LogbridgeSettings, overrides={"kafka": kafka})


@pytest.mark.parametrize(
    ("model", "overrides"),
    [
        (LogbridgeSettings, {"http": {"listen": "nonsense"}}),
        (MetricsbridgeSettings, {"listen": "127.0.0.1:99999"}),
        (DiscoverySettings, {"http_sd": {"listen": ":8080"}}),
    ],
)
def test_a_listen_address_that_is_not_host_port_is_refused(
    model: type[ComponentSettings], overrides: dict[str, object]
) -> None:
    with pytest.raises(SettingsError, match="listen must be host:port"):
        load_settings(model, overrides=overrides)


@pytest.mark.parametrize("model", MODELS)
def test_the_example_a_refusal_gives_is_a_real_setting(model: type[ComponentSettings]) -> None:
    import re

    prefix = str(model.model_config.get("env_prefix", ""))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"{prefix}NO_SUCH_KEY", "1")
        with pytest.raises(SettingsError) as err:
            load_settings(model)
    example = re.search(r"e\.g\. (\S+)\)", str(err.value))
    assert example and unknown_env(model, {example.group(1): "x"}) == []
