"""The peers bench's configurations are ones each peer accepts (issue 37): each built
peer validates the file the bench writes for it, offline. A peer not built here is
skipped with the one line its build script gives (``VNBRIDGE_NO_BUILD``: nothing is
built by a test)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.bench.peers import LOCAL, TOOLS, Tool

ENV = {"KAFKA_BOOTSTRAP": "127.0.0.1:9", "ES_URL": "http://127.0.0.1:9"}
VALIDATE = {  # the peer's own offline check of a config file
    "vector": lambda b, cfg: [b, "validate", "--no-environment", str(cfg)],
    "otelcol": lambda b, cfg: [b, "validate", "--config", f"file:{cfg}"],
    "filebeat": lambda b, cfg: [b, "test", "config", "-c", str(cfg), "--path.home", str(cfg.parent)],
}
SCRIPT = {"vector": "build-vector.sh", "otelcol": "build-otelcol.sh", "filebeat": "build-filebeat.sh"}


def _binary(name: str) -> str:
    got = subprocess.run(
        ["bash", str(LOCAL / SCRIPT[name])],
        capture_output=True,
        text=True,
        env={**os.environ, "VNBRIDGE_NO_BUILD": "1"},
    )
    if got.returncode != 0:
        pytest.skip(f"{name}: {(got.stderr.strip().splitlines() or ['not built'])[-1]}")
    return got.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("tool", [t for t in TOOLS if t.name in VALIDATE], ids=lambda t: t.name)
def test_the_peer_accepts_the_configuration_the_bench_writes(tool: Tool, tmp_path: Path) -> None:
    binary = _binary(tool.name)
    argv = tool.command(binary, ENV, "peers-in", "peers-group", "peers-index", tmp_path)
    cfg = Path(next(a.removeprefix("file:") for a in argv if a.endswith((".json", ".yaml", ".yml"))))
    got = subprocess.run(VALIDATE[tool.name](binary, cfg), capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, (got.stdout + got.stderr)[-2000:]
