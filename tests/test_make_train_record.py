"""benchmarks/make_train.py: docs/training.md's `make train` paragraph is generated from its committed record."""

from __future__ import annotations

import json
import re
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import make_train  # noqa: E402

RECORD = REPO / "benchmarks" / "results" / "make_train.json"


def test_the_doc_paragraph_is_the_paragraph_of_the_record():
    record = json.loads(RECORD.read_text())
    block = make_train.block(record, "benchmarks/results/make_train.json")
    assert block in (REPO / "docs" / "training.md").read_text()
    runs = {r["recipe"]: r for r in record["runs"]}
    # the Makefile's command, as the record ran it; --recipe auto is DLinear's published recipe (lr 0.005)
    assert runs["auto"]["command"] == "samovar " + " ".join(make_train.COMMAND)
    assert runs["auto"]["train_config"]["lr"] == 0.005 and runs["ltsf"]["train_config"]["lr"] == 1e-4
    assert "test MSE 0.3755 / MAE 0.3994" in block


def test_the_makefile_runs_the_recorded_command():
    makefile = (REPO / "Makefile").read_text()
    assert "samovar train --model $(MODEL) --dataset $(DATASET) --lookback $(LOOKBACK) --horizon $(HORIZON)" in makefile
    defaults = dict(re.findall(r"^(MODEL|DATASET|LOOKBACK|HORIZON)\s*\?=\s*(\S+)", makefile, re.M))
    assert defaults == {"MODEL": "dlinear", "DATASET": "ETTh1", "LOOKBACK": "336", "HORIZON": "96"}


def test_table_rewrites_only_the_block(tmp_path):
    doc = tmp_path / "training.md"
    doc.write_text(f"before\n{make_train.BEGIN}\nold\n{make_train.END}\nafter\n")
    make_train.main(["--table", str(RECORD), "--doc", str(doc)])
    assert doc.read_text() == f"before\n{make_train.block(json.loads(RECORD.read_text()), 'benchmarks/results/make_train.json')}\nafter\n"
