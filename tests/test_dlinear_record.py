"""benchmarks/dlinear_etth1.py: the README's DLinear table is generated from its committed records."""

from __future__ import annotations

import statistics
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import dlinear_etth1  # noqa: E402


def test_records_hold_every_run_of_the_table():
    records = dlinear_etth1.load_records(dlinear_etth1.RECORDS)
    main = records[3]
    assert {(r["horizon"], r["seed"]) for r in main["runs"]} == {(h, s) for h in (96, 192, 336, 720) for s in (2021, 1, 2, 3, 4)}
    assert main["recipe"]["lr"] == 0.005 and main["recipe"]["batch_size"] == 32 and main["lookback"] == 336
    at96 = [r["test_mse"] for r in main["runs"] if r["horizon"] == 96]
    assert f"{statistics.mean(at96):.4f} ± {statistics.stdev(at96):.4f}" == "0.3717 ± 0.0009"
    assert {(r["horizon"], r["seed"]) for r in records[10]["runs"]} == {(h, s) for h in (192, 336, 720) for s in (2021, 1)}


def test_the_readme_block_is_the_table_of_the_records():
    block = dlinear_etth1.table(dlinear_etth1.load_records(dlinear_etth1.RECORDS))
    assert block in (REPO / "README.md").read_text()
    assert "patience3.json" in block and "patience10.json" in block and "0.375 / 0.399" in block


def test_table_rewrites_only_the_readme_block(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{dlinear_etth1.BEGIN}\nold\n{dlinear_etth1.END}\nafter\n")
    monkeypatch.setattr(sys, "argv", ["dlinear_etth1.py", "--table", "--readme", str(readme)])
    dlinear_etth1.main()
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text and "| 96 | 0.3717 ± 0.0009" in text
