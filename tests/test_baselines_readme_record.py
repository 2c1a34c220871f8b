"""benchmarks/reproduce_baselines.py --table-only: the README's baselines block is generated from committed records."""

from __future__ import annotations

import json
import shutil
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import reproduce_baselines as rb  # noqa: E402


def test_the_readme_block_is_the_block_of_the_records():
    block = rb.readme_block()
    assert block in (REPO / "README.md").read_text()
    # the cell that misses its paper, its seed spread and its authors'-loader score, each from its record
    assert "| 720 | 512 | 0.4623 / 0.4626 | 0.435 / 0.446 | **+0.027** | +0.018 |" in block
    assert "(mean 0.4576 ± 0.0041)" in block and "Eleven of twelve cells" in block


def test_the_authors_loader_record_agrees_with_the_cells_it_rescored():
    """The transcribed record's every-window scores are the committed cells' own (to its 4 printed decimals)."""
    record = json.loads(rb.AUTHORS_LOADER.read_text())
    assert "c1f48cd" in record["provenance"]
    best = {(c["name"], c["setting"], c["horizon"]): c["best"] for c in rb.finished_cells()}
    assert len(record["cells"]) == 6
    for cell in record["cells"]:
        test = best[(cell["model"], cell["setting"], cell["horizon"])]["test"]
        assert f"{test['mse']:.4f}" == f"{cell['every_window']['mse']:.4f}"
        assert f"{test['mae']:.4f}" == f"{cell['every_window']['mae']:.4f}"
        assert test["windows"] == cell["windows"]


def test_a_new_record_changes_the_block(tmp_path, monkeypatch):
    """A cell that comes within the target turns 'Eleven of twelve' into 'Twelve of twelve'."""
    results = tmp_path / "baselines"
    shutil.copytree(rb.RESULTS, results)
    path = results / "cats_xattn_h720_input512.json"
    record = json.loads(path.read_text())
    record["test"]["mse"] = 0.4401
    path.write_text(json.dumps(record))
    block = rb.readme_block(results=results)
    assert "Twelve of twelve cells are within +0.02 of their paper." in block and "misses" not in block
    assert "| 720 | 512 | 0.4401 / 0.4626 | 0.435 / 0.446 | +0.005 | +0.018 |" in block


def test_table_only_rewrites_only_the_readme_block(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{rb.README_BEGIN}\nold\n{rb.README_END}\nafter\n")
    monkeypatch.setattr(rb, "TABLE", tmp_path / "table.md")
    rb.main(["--table-only", "--readme", str(readme)])
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert text == f"before\n{rb.readme_block()}\nafter\n"
