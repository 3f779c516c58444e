"""`make demo` end to end: the parity report shows no difference between a standard
and a virtual pod (runs the real command on the real stack)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.integration.conftest import ROOT, Stack


def test_demo_prints_a_parity_report_without_differences(stack: Stack) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "demo", "--seed", "41", "--cronjob-pods", "4"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".stack")},
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:] + out[-2000:]
    assert "differs" not in out
    assert out.count("same labels") == 7  # 5 series + 2 recorded by the kube-prometheus rules
    tomb = re.search(r"(\d+) of their\s+(\d+) documents carry full pod", out)
    assert tomb and tomb.group(1) == tomb.group(2) and int(tomb.group(1)) > 0
    panels = re.search(r"(\d+) of (\d+) panel queries", out)
    assert panels, "the Pod dashboard check (tests/reference/kube-prometheus) ran"
    assert panels.group(1) == panels.group(2)
