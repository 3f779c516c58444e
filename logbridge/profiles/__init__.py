"""Profiles: one encoder per DaemonSet collector, registered in one place.

Why: a profile's output for a line must equal what that collector writes for the
same line on a standard node. Each module owns its option table (the collector's
own key names) and renders a pod's metadata *fragment*; the compiled core splices it
into every record's document. ``build`` is the single registration point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import vnbridge_core

from logbridge.enrichment import Resolved
from logbridge.profiles.options import OptionError, OptionSpec
from logbridge.records import LogLine

__all__ = ["PROFILES", "OptionError", "Profile", "build", "checked_options", "option_table"]


class Profile(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def parser(self) -> str:
        """How lines were read on a node: "cri" | "docker" (+ "-classic" variants)."""
        ...

    @property
    def bulk_action(self) -> str:
        """The Elasticsearch bulk action the collector's output writes: create | index."""
        ...

    def core_config(self) -> vnbridge_core.ProfileConfig:
        """The options the compiled core needs for the per-record half of the document."""
        ...

    def fragment(self, line: LogLine, res: Resolved) -> tuple[bytes, ...] | None:
        """The pod-dependent parts of a document for ``line``'s pod and container, rendered
        once per pod change and spliced by the core into every record of that pod; None
        when the collector's configuration excludes the pod's lines (filtered)."""
        ...


def _registry() -> dict[str, tuple[tuple[OptionSpec, ...], Callable[[Mapping[str, object]], Profile]]]:
    from logbridge.profiles import filebeat, fluentbit, vector

    return {
        fluentbit.NAME: (fluentbit.OPTIONS, fluentbit.FluentBit.from_options),
        filebeat.NAME: (filebeat.OPTIONS, filebeat.Filebeat.from_options),
        vector.NAME: (vector.OPTIONS, vector.Vector.from_options),
    }


PROFILES = ("fluent-bit", "filebeat", "vector")


def option_table(name: str) -> tuple[OptionSpec, ...]:
    reg = _registry()
    if name not in reg:
        raise OptionError(f"unknown profile '{name}'; allowed: {', '.join(PROFILES)}")
    return reg[name][0]


def checked_options(name: str) -> frozenset[str]:
    """Options of ``name`` that ``make test`` checks against the real collector."""
    from logbridge.profiles import filebeat

    return filebeat.CHECKED if name == filebeat.NAME else frozenset()


def build(name: str, options: Mapping[str, object]) -> Profile:
    """The profile ``name`` with ``options`` (collector key names); raises OptionError."""
    option_table(name)
    return _registry()[name][1](options)
