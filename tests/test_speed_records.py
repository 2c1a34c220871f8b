"""benchmarks/samovar_speed.py and benchmarks/bench_quick_timing.py: the docs' speed and cost tables are
generated from committed records (--record), and --table rewrites only their blocks."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_quick_timing  # noqa: E402
import samovar_speed  # noqa: E402

SPEED = sorted((REPO / "benchmarks" / "results" / "samovar_speed").glob("*.json"))
QUICK = sorted((REPO / "benchmarks" / "results" / "bench_quick_timing").glob("*.json"))


def _source(path):
    return path.relative_to(REPO).as_posix()


@pytest.mark.parametrize("module, records, doc", [(samovar_speed, SPEED, "samovar.md"), (bench_quick_timing, QUICK, "bench.md")])
def test_the_doc_block_is_the_table_of_the_newest_record(module, records, doc):
    assert records, "no committed record"
    path = records[-1]
    block = module.table(json.loads(path.read_text()), _source(path))
    assert block in (REPO / "docs" / doc).read_text()
    assert "the machine was loaded" in block  # measured beside two training jobs


def test_the_speed_record_keeps_every_timed_step():
    record = json.loads(SPEED[-1].read_text())
    assert {"torch", "threads", "load_average_start", "load_average_end", "started_utc"} <= set(record["conditions"])
    assert record["commit"] and len(record["rows"]) == 8
    for row in record["rows"]:
        steps = row["train_cpu_s"]
        assert len(steps) == row["steps"] and sorted(steps)[len(steps) // 2] * 1000 == pytest.approx(row["train_cpu_ms_per_step"])


def test_the_quick_record_keeps_every_measurement_and_cell():
    record = json.loads(QUICK[-1].read_text())
    assert record["commit"] and record["overhead_s"] > 0
    assert all(len(m["step_cpu_s"]) == record["conditions"]["steps"] for m in record["measured"])
    assert len(record["cells"]) == record["grid"]["cells"] - record["grid"]["na"]


@pytest.mark.parametrize("module, records", [(samovar_speed, SPEED), (bench_quick_timing, QUICK)])
def test_table_rewrites_only_the_block(module, records, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{module.BEGIN}\nold\n{module.END}\nafter\n")
    module.main(["--table", str(records[-1]), "--doc", str(doc)])
    assert doc.read_text() == f"before\n{module.table(json.loads(records[-1].read_text()), _source(records[-1]))}\nafter\n"
