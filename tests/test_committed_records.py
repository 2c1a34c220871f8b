"""Committed records and docs name files relative to the repository or by an environment variable
(``$SAMOVAR_DATA_DIR``, ``~/.cache/...``), never by an absolute path of the machine they ran on."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import REPO

RECORDS = ("*.json", "*.jsonl", "*.csv", "*.md")
# The start of an absolute path on a Linux or macOS machine; not inside a URL or after `~` or `.`.
ABSOLUTE = re.compile(r"(?<![\w.~:/-])/(?:root|work|home|tmp|Users)/")


def committed_records() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the committed files cannot be listed")
    listed = subprocess.run(["git", "ls-files", "-z", "--", *RECORDS], cwd=REPO, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_the_pattern_finds_absolute_paths_only():
    assert ABSOLUTE.search('"run_dir": "/work/main/benchmarks/runs/baselines/x"')
    assert ABSOLUTE.search("--db /tmp/bench_smoke/bench.db") and ABSOLUTE.search("(/home/me/data)")
    for fine in ("benchmarks/runs/baselines/x", "--runs-root ~/.cache/samovar/runs", "https://example.org/home/x",
                 "SAMOVAR_DATA_DIR=../shared/data", "runs/tmp/x"):
        assert not ABSOLUTE.search(fine), fine


def test_committed_records_and_docs_hold_no_absolute_paths():
    records = committed_records()
    assert any(name.startswith("benchmarks/results/") for name in records)  # the listing did find the records
    found = []
    for name in records:
        path = REPO / name
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if ABSOLUTE.search(line):
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not found, "absolute paths in committed files:\n" + "\n".join(found)
