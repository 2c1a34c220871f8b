"""benchmarks/encformer_short.py: docs/baselines.md's EncFormer short-run table and the README's sentence
are generated from the committed record."""

from __future__ import annotations

import json
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import encformer_short  # noqa: E402

RECORD = REPO / "benchmarks" / "results" / "encformer_short.json"
SOURCE = "benchmarks/results/encformer_short.json"


def test_the_blocks_are_those_of_the_record():
    record = json.loads(RECORD.read_text())
    assert encformer_short.doc_block(record, SOURCE) in (REPO / "docs" / "baselines.md").read_text()
    assert encformer_short.readme_block(record) in (REPO / "README.md").read_text()


def test_the_record_holds_every_run_with_its_epochs():
    record = json.loads(RECORD.read_text())
    assert [r["name"] for r in record["runs"]] == [name for name, *_ in encformer_short.RUNS]
    for run in record["runs"]:
        assert len(run["val_mse"]) == run["epochs"] and run["best_val_mse"] == min(run["val_mse"])
    # the setting of tests/test_encformer.py's slow test: its floor and its run
    assert record["lookback"] == 96 and record["horizon"] == 24 and record["val_windows"] == 2857
    best = next(r for r in record["runs"] if r["name"] == "lr0.003_3ep_seed0")["best_val_mse"]
    assert best < record["floors_val_mse"]["seasonal_naive"] < record["untrained_val_mse"]


def test_table_rewrites_only_the_blocks(tmp_path):
    doc, readme = tmp_path / "baselines.md", tmp_path / "README.md"
    doc.write_text(f"a\n{encformer_short.BEGIN}\nold\n{encformer_short.END}\nb\n")
    readme.write_text(f"c\n{encformer_short.README_BEGIN}\nold\n{encformer_short.README_END}\nd\n")
    encformer_short.main(["--table", str(RECORD), "--doc", str(doc), "--readme", str(readme)])
    record = json.loads(RECORD.read_text())
    assert doc.read_text() == f"a\n{encformer_short.doc_block(record, SOURCE)}\nb\n"
    assert readme.read_text() == f"c\n{encformer_short.readme_block(record)}\nd\n"
