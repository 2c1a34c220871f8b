"""benchmarks/samovar_experiments.py: docs/samovar.md's --gradscaler-clip result comes from its committed record."""

from __future__ import annotations

import json
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import samovar_experiments  # noqa: E402


def test_the_doc_cell_is_the_cell_of_the_records():
    cell = samovar_experiments.gradscaler_cell()
    assert cell in (REPO / "docs" / "samovar.md").read_text()
    assert "test **0.4287** (vs 0.4524)" in cell and "test **0.6224** (vs 0.6485)" in cell and "by ~0.025" in cell


def test_the_record_says_where_it_was_transcribed_from():
    record = json.loads((samovar_experiments.RECORDS / "gradscaler_clip.json").read_text())
    assert "95609bd5570150be69145270d9f41f137f205575" in record["provenance"]
    assert {(r["lookback"], r["horizon"]) for r in record["runs"]} == {(2048, 192), (4096, 720)}


def test_a_run_that_does_worse_changes_the_verdict(tmp_path):
    record = json.loads((samovar_experiments.RECORDS / "gradscaler_clip.json").read_text())
    record["runs"][1]["test_mse"] = 0.70
    (tmp_path / "gradscaler_clip.json").write_text(json.dumps(record))
    cell = samovar_experiments.gradscaler_cell(records=tmp_path)
    assert "It does not help everywhere" in cell and "test **0.7000** (vs 0.6485)" in cell


def test_the_script_rewrites_only_its_cell(tmp_path):
    doc = tmp_path / "samovar.md"
    doc.write_text(f"| a | {samovar_experiments.GRADSCALER_BEGIN}old{samovar_experiments.GRADSCALER_END} |\n")
    samovar_experiments.main(["--doc", str(doc)])
    assert doc.read_text() == f"| a | {samovar_experiments.gradscaler_cell()} |\n"
