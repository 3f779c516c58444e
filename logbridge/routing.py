"""Index templates of the collectors, resolved once per pod into a date pattern.

Why: platforms route by namespace or label — Filebeat's ``index:
"logs-%{[kubernetes.namespace]}-%{+yyyy.MM.dd}"``, Vector's ``index:
"logs-{{ kubernetes.pod_namespace }}-%Y.%m.%d"``. Every field those templates name in
practice is the pod's (its metadata fragment), so a template is resolved when the
fragment is rendered, into a strftime pattern the compiled core fills with each
record's date. A template whose field is missing makes the collector drop the event
with an error (Filebeat: "key not found"; Vector: "Missing fields"); here those
records become dead letters ``bad_index`` with the reason — as does a name
Elasticsearch would refuse (the core checks every index).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import vnbridge_core

__all__ = ["UNRESOLVED", "IndexTemplate", "TemplateError"]

UNRESOLVED = b"\x00"  # first byte of a fragment's index part that could not be resolved

# Joda-style letters Filebeat's %{+...} takes (libbeat dtfmt), as strftime directives
_JODA = {"yyyy": "%Y", "YYYY": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_JODA_RUN = re.compile(r"([A-Za-z])\1*")
_FILEBEAT = re.compile(r"%\{(?:\[(?P<field>[^\]]*)\](?::(?P<default>[^}]*))?|\+(?P<date>[^}]*))\}")
_VECTOR = re.compile(r"\{\{\s*(?P<field>[^}\s]+)\s*\}\}")


class TemplateError(ValueError):
    """A template the profile cannot use (bad syntax, a per-line field); not retriable."""


def _joda(fmt: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _JODA_RUN.finditer(fmt):
        out.append(fmt[pos : m.start()].replace("%", "%%"))
        token = m.group(0)
        if token not in _JODA:
            raise TemplateError(f"date format {fmt!r}: {token!r} is not supported ({', '.join(_JODA)})")
        out.append(_JODA[token])
        pos = m.end()
    out.append(fmt[pos:].replace("%", "%%"))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class IndexTemplate:
    """A parsed template: literal/strftime text and field references (dotted paths)."""

    dialect: Literal["filebeat", "vector"]
    parts: tuple[tuple[str, str, str | None], ...]  # ("text", pattern, None) | ("field", path, default)

    @property
    def dynamic(self) -> bool:
        return any(kind == "field" for kind, _, _ in self.parts)

    @classmethod
    def parse(
        cls, dialect: Literal["filebeat", "vector"], text: str, *, per_line: frozenset[str]
    ) -> IndexTemplate:
        rx = _FILEBEAT if dialect == "filebeat" else _VECTOR
        parts: list[tuple[str, str, str | None]] = []
        pos = 0
        for m in rx.finditer(text):
            literal = text[pos : m.start()]
            parts.append(("text", _literal(dialect, literal), None))
            if m.groupdict().get("date") is not None:
                parts.append(("text", _joda(m.group("date")), None))
            else:
                path = m.group("field").strip()
                if not path:
                    raise TemplateError(f"index {text!r}: an empty field reference")
                if path.split(".")[0] in per_line:
                    raise TemplateError(
                        f"index {text!r}: {path!r} differs line by line; route by pod fields only"
                    )
                parts.append(("field", path, m.groupdict().get("default")))
            pos = m.end()
        tail = text[pos:]
        parts.append(("text", _literal(dialect, tail), None))
        for kind, value, _ in parts:
            if kind == "text" and ("{{" in value or "}}" in value or "%{" in value):
                raise TemplateError(f"index {text!r}: a reference that is not closed or not understood")
        return cls(dialect, tuple(p for p in parts if p[1] or p[0] == "field"))

    @classmethod
    def checked(
        cls, dialect: Literal["filebeat", "vector"], text: str, *, per_line: frozenset[str]
    ) -> IndexTemplate:
        """``parse``, then what can be known before any pod: the date directives the core
        supports, and — for a name without fields — that Elasticsearch accepts it."""
        template = cls.parse(dialect, text, per_line=per_line)
        dates = "".join(value for kind, value, _ in template.parts if kind == "text")
        try:
            sample = vnbridge_core.strftime(dates, 0)
        except ValueError as exc:
            raise TemplateError(f"index {text!r}: {exc}") from None
        if not template.dynamic and (why := vnbridge_core.index_name_error(sample)) is not None:
            raise TemplateError(why)
        return template

    def resolve(self, doc: Mapping[str, object]) -> bytes:
        """The strftime pattern for ``doc`` (a pod's document fields), or ``UNRESOLVED`` +
        why. Field values are literal text (``%`` escaped); Filebeat lower-cases the
        whole name (its index selector does)."""
        out: list[str] = []
        for kind, value, default in self.parts:
            if kind == "text":
                out.append(value)
                continue
            found = _get(doc, value)
            if found is None:
                if default is None:
                    return UNRESOLVED + f"index field {value!r} is missing".encode()
                found = default
            value = found.lower() if self.dialect == "filebeat" else found
            out.append(value.replace("%", "%%"))  # a value is text, never a directive
        return "".join(out).encode()


def _literal(dialect: str, text: str) -> str:
    """Text as it appears in the strftime pattern: ``%`` escaped where it is not a
    directive (Filebeat's literals, every field value), lower-cased for Filebeat (its
    index selector lower-cases the whole name; date digits are not letters)."""
    return text.lower().replace("%", "%%") if dialect == "filebeat" else text


def _get(doc: Mapping[str, object], path: str) -> str | None:
    value: object = doc
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None  # maps, lists, null: not a name
