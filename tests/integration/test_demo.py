"""`make demo` end to end: the parity report shows no difference between a standard
and a virtual pod (runs the real command on the real stack), and a run after another
run with other pods on the same IPs gives the same report."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.integration.conftest import ROOT, Stack


def _demo(seed: int) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "demo", "--seed", str(seed), "--cronjob-pods", "4"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".stack")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    return proc.stdout


def _report(out: str) -> list[str]:
    """The report without what differs by design between runs: run ids, ports, times and
    the pod uids the API server assigns when a pod is created again."""
    lines = []
    for line in out.splitlines():
        if "an earlier run left" in line or "earlier demo runs left" in line or "starting vnbridge" in line:
            continue
        line = re.sub(r"\b\d{6}\b", "RUN", line)
        line = re.sub(r"127\.0\.0\.1:\d+", "HOST", line)
        line = re.sub(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "UID", line)
        lines.append(re.sub(r"\[\d\d:\d\d:\d\d\]", "", line).rstrip())
    return [line for line in lines if line.strip()]


def _check(out: str) -> None:
    assert "differs" not in out
    assert out.count("same labels") == 7  # 5 series + 2 recorded by the kube-prometheus rules
    tomb = re.search(r"(\d+) of their\s+(\d+) documents carry full pod", out)
    assert tomb and tomb.group(1) == tomb.group(2) and int(tomb.group(1)) > 0
    panels = re.search(r"(\d+) of (\d+) panel queries", out)
    assert panels, "the Pod dashboard check (tests/reference/kube-prometheus) ran"
    assert panels.group(1) == panels.group(2)


def test_demo_prints_a_parity_report_without_differences_and_repeats_it(stack: Stack) -> None:
    first = _demo(41)
    _check(first)
    # another cluster's pods take the same pod IPs in the same namespaces (as a test run
    # before `make demo` does); then the first again: the same report as the first time
    _check(_demo(42))
    again = _demo(41)
    _check(again)
    assert "an earlier run left" in again
    assert _report(again) == _report(first)
