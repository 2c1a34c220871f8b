"""The package and the benchmark scripts pass pyflakes: no unused import or local, no undefined name,
no redefinition (what review kept finding by hand)."""

from __future__ import annotations

from pathlib import Path

from pyflakes.api import checkPath
from pyflakes.reporter import Reporter

REPO = Path(__file__).resolve().parents[1]


class _Collect(Reporter):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def unexpectedError(self, filename, msg):  # noqa: N802 (pyflakes' interface)
        self.messages.append(f"{filename}: {msg}")

    def syntaxError(self, filename, msg, lineno, offset, text):  # noqa: N802
        self.messages.append(f"{filename}:{lineno}: {msg}")

    def flake(self, message):
        self.messages.append(str(message))


def test_source_and_benchmarks_have_no_pyflakes_findings():
    reporter = _Collect()
    for path in sorted([*(REPO / "src").rglob("*.py"), *(REPO / "benchmarks").glob("*.py")]):
        checkPath(str(path), reporter)
    assert reporter.messages == []
