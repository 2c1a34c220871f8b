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
    readme, doc = tmp_path / "README.md", tmp_path / "training.md"
    readme.write_text(f"before\n{dlinear_etth1.BEGIN}\nold\n{dlinear_etth1.END}\nafter\n")
    doc.write_text(f"{dlinear_etth1.TRAINING_BEGIN}\nold\n{dlinear_etth1.TRAINING_END}\n"
                   f"{dlinear_etth1.PATIENCE_BEGIN}\nold\n{dlinear_etth1.PATIENCE_END}\n")
    monkeypatch.setattr(sys, "argv", ["dlinear_etth1.py", "--table", "--readme", str(readme), "--training-doc", str(doc)])
    dlinear_etth1.main()
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text and "| 96 | 0.3717 ± 0.0009" in text


def test_the_training_doc_tables_are_those_of_the_records():
    records = dlinear_etth1.load_records(dlinear_etth1.RECORDS)
    doc = (REPO / "docs" / "training.md").read_text()
    assert dlinear_etth1.training_block(records[3]) in doc and dlinear_etth1.patience_block(records[10]) in doc
    block = dlinear_etth1.training_block(records[3])
    assert "| 192 | 0.4670 / 0.4707 (4, 1) |" in block and "total wall time of the 20 runs 1119 s" in block
    assert "  | 720 | 0.4786 / 0.4916 | 0.4934 / 0.5033 | 0.472 / 0.490 |" in dlinear_etth1.patience_block(records[10])


def test_run_lines_are_the_scripts_printed_rows():
    run = {"horizon": 96, "seed": 2021, "epochs_run": 10, "best_epoch": 7, "test_mse": 0.3728, "test_mae": 0.3942,
           "test_mse_drop_last": 0.3727, "test_windows": 2785, "wall_seconds": 48.0}
    assert dlinear_etth1.run_line(run) == "  96  2021     10    7    0.3728    0.3942        0.3727     2785     48.0"
