"""``check --connect``: every probe returns a value naming the cause and the fix, never
raises; the CLI prints one line per endpoint and exits 2 when one failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from discovery.cli import app as discovery_app
from logbridge.checking import check_kafka
from simulator.supervising import free_port
from vnbridge.checking import Check, check_kube, render, run_checks
from vnbridge.clientsettings import KafkaSettings, KubeSettings


def _kubeconfig(tmp: Path, port: int) -> Path:
    path = tmp / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: 'https://127.0.0.1:{port}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    return path


def test_an_unreachable_api_server_is_a_failed_check_not_an_exception(tmp_path: Path) -> None:
    got = asyncio.run(check_kube(KubeSettings(kubeconfig=_kubeconfig(tmp_path, free_port()))))
    assert not got.ok and "check the server address" in got.detail


def test_a_missing_kubeconfig_names_the_setting(tmp_path: Path) -> None:
    got = asyncio.run(check_kube(KubeSettings(kubeconfig=tmp_path / "nope")))
    assert not got.ok and "kube.kubeconfig" in got.detail


def test_an_unreachable_kafka_names_the_settings_to_check() -> None:
    got = asyncio.run(check_kafka(KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"), ["t"]))
    assert not got.ok and "kafka.bootstrap_servers" in got.detail, got


def test_a_probe_that_hangs_is_bounded() -> None:
    async def hangs() -> Check:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    (got,) = run_checks([hangs], timeout_s=0.05)
    assert not got.ok and "no answer" in got.detail


def test_render_prints_every_endpoint_and_repeats_failures() -> None:
    out, failed = render([Check("a", True, "fine"), Check("b", False, "refused; fix it")])
    assert out == ["a ... OK: fine", "b ... ERROR: refused; fix it"]
    assert failed == ["b: refused; fix it"]


def test_the_cli_exits_2_with_the_cause_on_stderr(tmp_path: Path) -> None:
    cfg = tmp_path / "d.yaml"
    cfg.write_text(f"kube:\n  kubeconfig: {_kubeconfig(tmp_path, free_port())}\n")
    result = CliRunner().invoke(discovery_app, ["check", "--connect", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "ERROR" in result.stdout and "Traceback" not in result.output
    ok = CliRunner().invoke(discovery_app, ["check", "-c", str(cfg)])
    assert ok.exit_code == 0 and "add --connect" in ok.stdout
