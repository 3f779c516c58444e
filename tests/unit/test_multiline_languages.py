"""Stack-trace grouping for Python and Go (Fluent Bit's built-in ``python`` / ``go``
multiline parsers): a trace is one document, the lines around it stay their own."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from logbridge.converting import convert_lines, iter_inputs
from logbridge.profiles import build
from logbridge.transforming import Output

PYTHON = [
    "starting worker",
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 10, in <module>',
    "    main()",
    '  File "/app/main.py", line 6, in main',
    '    raise ValueError("bad input")',
    "ValueError: bad input",
    "worker exited",
]
GO = [
    "listening on :8080",
    "panic: runtime error: index out of range [3] with length 3",
    "",
    "goroutine 1 [running]:",
    "main.handler(0xc000012345)",
    "\t/app/main.go:8 +0x1d",
    "created by net/http.(*Server).Serve in goroutine 6",
    "\t/usr/local/go/src/net/http/server.go:3285 +0x4b4",
    "exit status 2",
    "restarting",
]


def messages(tmp_path: Path, lines: list[str], lang: str) -> list[str]:
    path = tmp_path / f"app-7d4b9c6f5-x2x2x_default_app-{'a' * 64}.log"
    cri = (f"2024-01-01T00:00:{i:02}.000000000Z stderr F {line}\n" for i, line in enumerate(lines))
    path.write_text("".join(cri))
    profile = build("fluent-bit", {"multiline.parser": "cri", "Output": "plain"})
    inputs = iter_inputs([path], io.BytesIO())
    out = list(convert_lines(inputs, profile=profile, lookup=None, multiline_namespaces={"*": lang}))
    assert all(isinstance(o, Output) for o in out), out
    return [o.doc["log"] for o in out if isinstance(o, Output)]


def test_a_python_traceback_is_one_document(tmp_path: Path) -> None:
    assert messages(tmp_path, PYTHON, "python") == [PYTHON[0], "\n".join(PYTHON[1:7]), PYTHON[7]]


def test_a_go_panic_with_its_goroutines_is_one_document(tmp_path: Path) -> None:
    assert messages(tmp_path, GO, "go") == [GO[0], "\n".join(GO[1:9]), GO[9]]


@pytest.mark.parametrize(("lines", "lang"), [(PYTHON, "go"), (GO, "python")])
def test_another_languages_parser_leaves_the_lines_alone(tmp_path: Path, lines: list[str], lang: str) -> None:
    assert messages(tmp_path, lines, lang) == lines
