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


# Records that name other people's models, not registered ones: the SAMoVAR authors' own code (its class name)
# and published numbers of other architectures beside the downstream-task table.
FOREIGN_MODELS = ("benchmarks/results/authors_reference/", "benchmarks/results/tasks/published.json")
# Generated snapshots (reports, tables, plots as text): they print model names and nothing else names them.
SNAPSHOTS = ("docs/results/",)


def record_models(name: str, text: str) -> set[str]:
    """The model names a committed record holds: JSON "model" values (a name, or {"name": ...}), CSV "model" columns."""
    import csv
    import io
    import json

    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "model" and isinstance(value, str):
                    found.add(value)
                elif key == "model" and isinstance(value, dict) and isinstance(value.get("name"), str):
                    found.add(value["name"])
                    walk({k: v for k, v in value.items() if k != "name"})
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if name.endswith(".csv"):
        rows = csv.DictReader(io.StringIO(text))
        if rows.fieldnames and "model" in rows.fieldnames:
            found.update(row["model"] for row in rows)
    elif name.endswith(".jsonl"):
        for line in text.splitlines():
            if line.strip():
                walk(json.loads(line))
    elif name.endswith(".json"):
        walk(json.loads(text))
    return found


def test_record_models_reads_json_and_csv():
    assert record_models("r.json", '{"model": "dlinear", "runs": [{"model": {"name": "cats", "kwargs": {}}}]}') == {
        "dlinear", "cats"}
    assert record_models("r.csv", "profile,model,mse\nquick,cats,0.5\nquick,fits,0.6\n") == {"cats", "fits"}
    assert record_models("r.csv", "dataset,mse\nETTh1,0.4\n") == set()


def test_committed_records_and_snapshots_name_only_registered_models():
    """No committed record names a model the registry does not know (or refuses: a retired name such as
    `cats`), and no generated snapshot under docs/results/ prints a retired name; prose docs may explain one."""
    from samovar import models

    known, retired = set(models.available()), set(models.RETIRED)
    listed = subprocess.run(["git", "ls-files", "-z", "--", "*.json", "*.jsonl", "*.csv", "*.md", "*.html", "*.svg"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    word = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(retired))) + r")(?![\w-])")
    unknown, printed = [], []
    for name in filter(None, listed):
        path = REPO / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if not name.startswith(FOREIGN_MODELS):
            unknown += [f"{name}: {model!r}" for model in sorted(record_models(name, text) - known)]
        if name.startswith(SNAPSHOTS):
            printed += [f"{name}:{number}: {line.strip()[:100]}" for number, line in enumerate(text.splitlines(), 1)
                        if word.search(line)]
    assert not unknown, "records naming models the registry does not know:\n" + "\n".join(unknown)
    assert not printed, "snapshots printing a retired model name (regenerate them):\n" + "\n".join(printed)
