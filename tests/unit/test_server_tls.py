"""HTTPS on our own endpoints (the shared ``http_server``), with optional client-certificate
auth, on loopback with certificates made by openssl for the test; and the settings of the
three services that turn it on, contradictions refused."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from discovery.settings import DiscoverySettings
from logbridge.settings import LogbridgeSettings
from metricsbridge.settings import MetricsbridgeSettings
from simulator.supervising import free_port
from vnbridge.clientsettings import ServerTLSSettings
from vnbridge.httpkit import http_server


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all from it."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=vnbridge test CA",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        extra = ["-extfile", "san.ext"] if name == "server" else []
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            *extra,
            cwd=d,
        )
    return d


@contextmanager
def _serving(tls: ServerTLSSettings) -> Iterator[str]:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    port = free_port()
    server = http_server(app, listen=f"127.0.0.1:{port}", tls=tls)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_https_and_no_plaintext(pki: Path) -> None:
    tls = ServerTLSSettings(enabled=True, cert_file=pki / "server.crt", key_file=pki / "server.key")
    with _serving(tls) as addr:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        assert httpx.get(f"https://{addr}/healthz", verify=ctx).json() == {"ok": True}
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://{addr}/healthz", timeout=5)
        with pytest.raises(httpx.ConnectError):  # an unknown CA is refused by the client
            httpx.get(f"https://{addr}/healthz", verify=ssl.create_default_context())


def test_required_client_certificates(pki: Path) -> None:
    tls = ServerTLSSettings(
        enabled=True,
        cert_file=pki / "server.crt",
        key_file=pki / "server.key",
        client_ca_file=pki / "ca.crt",
        require_client_cert=True,
    )
    with _serving(tls) as addr:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://{addr}/healthz", verify=ctx, timeout=5)
        ctx.load_cert_chain(str(pki / "client.crt"), str(pki / "client.key"))
        assert httpx.get(f"https://{addr}/healthz", verify=ctx).json() == {"ok": True}


def test_every_service_has_server_tls_and_refuses_contradictions(pki: Path) -> None:
    on = {"enabled": True, "cert_file": str(pki / "server.crt"), "key_file": str(pki / "server.key")}
    assert LogbridgeSettings.model_validate({"http": {"tls": on}}).http.tls.enabled
    assert MetricsbridgeSettings.model_validate({"listen_tls": on}).listen_tls.enabled
    assert DiscoverySettings.model_validate({"http_sd": {"tls": on}}).http_sd.tls.enabled
    for bad, why in (
        ({"enabled": True}, "needs tls.cert_file"),
        ({**on, "require_client_cert": True}, "needs tls.client_ca_file"),
        ({"client_ca_file": str(pki / "ca.crt")}, "need tls.enabled"),
        ({**on, "verify": False}, "Extra inputs"),
    ):
        with pytest.raises(ValidationError, match=why):
            LogbridgeSettings.model_validate({"http": {"tls": bad}})
