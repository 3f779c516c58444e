"""The README's fixed lists are the code's enums: they cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import vnbridge_core

from logbridge.records import Reason

README = Path(__file__).resolve().parents[2] / "README.md"


def _paragraph(title: str) -> str:
    text = README.read_text()
    start = text.index(f"**{title}**")
    end = text.find("\n\n", start)
    return text[start : end if end >= 0 else len(text)]


def test_dead_letter_reasons_in_the_readme_equal_the_enum() -> None:
    listed = re.findall(r"`([a-z_0-9]+)`", _paragraph("Dead-letter reasons"))
    assert sorted(listed) == sorted(r.value for r in Reason)
    assert len(listed) == len(set(listed))


def test_the_core_produces_exactly_the_reasons_python_knows() -> None:
    assert sorted(vnbridge_core.reasons()) == sorted(r.value for r in Reason)


def test_the_provider_table_names_every_record_knob() -> None:
    from logbridge.settings import RecordSettings

    text = README.read_text()
    table = text[text.index("### Providers") : text.index("**Dead-letter reasons**")]
    for name in RecordSettings.model_fields:
        assert f"`{name}`" in table, name
