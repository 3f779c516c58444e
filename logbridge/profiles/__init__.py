"""Profiles: one encoder per DaemonSet collector, registered in one place.

Why: a profile's output for a line must equal what that collector writes for the
same line on a standard node. Each module owns its option table (the collector's
own key names) and renders a pod's metadata *fragment*; the compiled core splices it
into every record's document. Each module exports a ``SPEC`` (``spec.ProfileSpec``);
``REGISTRY`` below is the single registration point, and the profile list, the
option tables, the checked options and ``build`` are all read from it.
"""

from __future__ import annotations

from collections.abc import Mapping

from logbridge.profiles import filebeat, fluentbit, vector
from logbridge.profiles.options import OptionError, OptionSpec
from logbridge.profiles.spec import Profile, ProfileSpec

__all__ = [
    "PROFILES",
    "REGISTRY",
    "OptionError",
    "Profile",
    "ProfileSpec",
    "build",
    "checked_options",
    "option_table",
]

REGISTRY: dict[str, ProfileSpec] = {s.name: s for s in (fluentbit.SPEC, filebeat.SPEC, vector.SPEC)}
PROFILES: tuple[str, ...] = tuple(REGISTRY)  # the first is the default


def spec(name: str) -> ProfileSpec:
    if name not in REGISTRY:
        raise OptionError(f"unknown profile '{name}'; allowed: {', '.join(PROFILES)}")
    return REGISTRY[name]


def option_table(name: str) -> tuple[OptionSpec, ...]:
    return spec(name).options


def checked_options(name: str) -> frozenset[str]:
    """Options of ``name`` that ``make test`` checks against the real collector."""
    return spec(name).checked


def build(name: str, options: Mapping[str, object]) -> Profile:
    """The profile ``name`` with ``options`` (collector key names); raises OptionError."""
    return spec(name).build(options)
