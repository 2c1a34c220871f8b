"""benchmarks/reproduce_samovar.py: a short run on ETTh1 writes its record, and its early
stopping counts an equal validation MSE as an improvement, as the authors' EarlyStopping does."""

from __future__ import annotations

import json

from conftest import load_benchmark, require_file


def test_a_validation_tie_counts_as_an_improvement(tmp_path, monkeypatch, shared_data_dir):
    """With a learning rate too small to move any weight, every epoch's validation MSE is the same:
    the last of them is the best epoch (a tie is an improvement), and the run writes its record."""
    require_file("ETTh1.csv.gz")
    bench = load_benchmark("reproduce_samovar")
    paper_recipe = bench.recipe
    monkeypatch.setattr(bench, "recipe", lambda dataset, horizon: {**paper_recipe(dataset, horizon), "lr": 1e-30})
    bench.main(["--models", "lintrans", "--datasets", "ETTh1", "--horizons", "96", "--lookback", "48",
                "--max-epochs", "2", "--no-test-each-epoch", "--threads", "1", "--data-dir", str(shared_data_dir),
                "--results-dir", str(tmp_path)])
    record = json.loads((tmp_path / "lintrans_ETTh1_h96.json").read_text())
    vals = [row["val_mse"] for row in record["history"]]
    assert len(vals) == 2 and vals[0] == vals[1] > 0
    assert record["best_epoch"] == 2 and record["val_mse"] == vals[0]
    assert record["test"]["mse"] > 0 and record["lookback"] == 48
    assert not (tmp_path / "lintrans_ETTh1_h96.ckpt.pt").exists()  # the finished cell's checkpoint is removed
