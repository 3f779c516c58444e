"""Index templates resolved per pod into a date pattern (logbridge/routing.py): field
values are text (never directives), Filebeat lower-cases and converts Joda dates."""

from __future__ import annotations

import pytest
import vnbridge_core
from hypothesis import given
from hypothesis import strategies as st

from logbridge.routing import UNRESOLVED, IndexTemplate, TemplateError

NONE: frozenset[str] = frozenset()


@given(st.text(min_size=1, max_size=20))
def test_a_field_value_is_text_even_with_percent_signs(value: str) -> None:
    for dialect, text in (("vector", "x-{{ a.b }}-%Y"), ("filebeat", "x-%{[a.b]}-%{+yyyy}")):
        t = IndexTemplate.parse(dialect, text, per_line=NONE)  # type: ignore[arg-type]
        got = vnbridge_core.strftime(t.resolve({"a": {"b": value}}).decode(), 0)
        want = value.lower() if dialect == "filebeat" else value
        assert got == f"x-{want}-1970"


def test_defaults_missing_fields_and_refusals() -> None:
    t = IndexTemplate.parse("filebeat", "l-%{[a]:dflt}-%{[b]}", per_line=NONE)
    assert t.resolve({"b": 3}) == b"l-dflt-3"
    assert t.resolve({"a": "x"}).startswith(UNRESOLVED)
    assert t.resolve({"b": {"nested": 1}}).startswith(UNRESOLVED)  # a map is not a name
    with pytest.raises(TemplateError, match="line by line"):
        IndexTemplate.parse("vector", "{{ message }}", per_line=frozenset({"message"}))
    with pytest.raises(TemplateError, match="not supported"):
        IndexTemplate.parse("filebeat", "%{+EEE}", per_line=NONE)
    assert not IndexTemplate.parse("vector", "vector-%Y.%m.%d", per_line=NONE).dynamic
