"""Kubelet's log file naming, both ways.

Why: a DaemonSet collector learns a line's pod from the file it tails
(``/var/log/containers/<pod>_<namespace>_<container>-<id>.log``) and writes that
path into the document (Filebeat ``log.file.path``, Vector ``file``). We parse the
name to feed files to logbridge exactly as to a collector, and rebuild the path so
a virtual-node document carries what the collector would have written on a node.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["FileIdentity", "container_log_path", "parse_container_log_name", "pod_log_path"]

# kubelet: <pod>_<namespace>_<container>-<64 hex>.log ; names are DNS labels (no "_")
_NAME = re.compile(r"(?:.*/)?([^/_]+)_([^/_]+)_(.+)-([0-9a-f]{64})\.log\Z")


class FileIdentity(NamedTuple):
    pod: str
    namespace: str
    container: str
    container_id: str


def parse_container_log_name(path: str) -> FileIdentity | None:
    m = _NAME.match(path)
    return FileIdentity(*m.groups()) if m else None


def container_log_path(*, pod: str, namespace: str, container: str, container_id: str) -> str:
    return f"/var/log/containers/{pod}_{namespace}_{container}-{container_id}.log"


def pod_log_path(*, namespace: str, pod: str, uid: str, container: str, restart: int) -> str:
    return f"/var/log/pods/{namespace}_{pod}_{uid}/{container}/{restart}.log"
