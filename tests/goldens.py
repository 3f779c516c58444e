"""Locate the shared golden data (../shared/golden) and read Fluent Bit configs."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VNBRIDGE_SHARED", ROOT.parent / "shared"))
FLUENT_BIT = SHARED / "golden" / "fluent-bit"

_FB_KEYS = {
    "merge_log",
    "merge_log_key",
    "keep_log",
    "labels",
    "annotations",
    "owner_references",
    "merge_log_trim",
}


def fluent_bit_filter_options(conf: Path) -> dict[str, str]:
    """The kubernetes filter's options from a golden fluent-bit.conf."""
    opts: dict[str, str] = {}
    section = ""
    for raw in conf.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
            continue
        parts = re.split(r"\s+", line, maxsplit=1)
        if section == "[FILTER]" and len(parts) == 2 and parts[0].lower() in _FB_KEYS:
            opts[parts[0]] = parts[1]
    return opts
