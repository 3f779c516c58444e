"""What a profile is: the ``Profile`` protocol and the ``ProfileSpec`` each profile
module exports.

Why: the profile list, the option tables, the options ``make test`` checks against a
real collector and the settings' allowed names were kept by hand in three places; now
each profile module says all of it once, in its ``SPEC``, and ``logbridge.profiles``
derives the rest (the CLI's lists, ``profile.name``'s allowed values, ``build``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import vnbridge_core

from logbridge.enrichment import Resolved
from logbridge.profiles.options import OptionSpec
from logbridge.records import PodRef

__all__ = ["Profile", "ProfileSpec"]


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

    def fragment(self, ref: PodRef, res: Resolved) -> tuple[bytes, ...] | None:
        """The pod-dependent parts of a document for ``ref``'s pod and container, rendered
        once per pod change and spliced by the core into every record of that pod; None
        when the collector's configuration excludes the pod's lines (filtered)."""
        ...


@dataclass(frozen=True)
class ProfileSpec:
    """One profile, as its module registers it."""

    name: str  # the collector's name as users write it in profile.name
    options: tuple[OptionSpec, ...]  # the option table, by the collector's own key names
    build: Callable[[Mapping[str, object]], Profile]  # options -> the profile; raises OptionError
    checked: frozenset[str] = frozenset()  # options make test compares with the real collector
