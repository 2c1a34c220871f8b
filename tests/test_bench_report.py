"""The report on a hand-made database: lookback chosen on validation, seed mean ± std, bold/underline,
AvgRank and #Top1 by hand, N/A cells, published columns kept out of the ranking, files written."""

from __future__ import annotations

import json

import pytest

from samovar.bench.db import ResultsDB
from samovar.bench.report import Report, task_table

# (model, dataset, horizon, lookback, seed) -> (val_mse, test_mse, test_mae)
RESULTS = {
    ("a", "D1", 96, 336, 1): (0.3, 0.40, 0.50),
    ("a", "D1", 96, 336, 2): (0.3, 0.42, 0.52),
    ("b", "D1", 96, 336, 1): (0.3, 0.45, 0.48),
    ("c", "D1", 96, 336, 1): (0.3, 0.41, 0.55),
    ("a", "D1", 192, 336, 1): (0.3, 0.50, 0.60),
    ("a", "D1", 192, 336, 2): (0.3, 0.50, 0.60),
    ("b", "D1", 192, 336, 1): (0.3, 0.52, 0.58),
    ("c", "D1", 192, 336, 1): (0.3, 0.60, 0.70),
    ("a", "D2", 96, 336, 1): (0.3, 1.00, 0.80),
    ("b", "D2", 96, 336, 1): (0.2, 0.90, 0.70),  # better test, worse validation: must not be chosen
    ("b", "D2", 96, 512, 1): (0.1, 0.95, 0.75),
    ("a", "D2", 192, 336, 1): (0.3, 1.20, 0.90),
    ("b", "D2", 192, 336, 1): (0.3, 1.10, 0.85),
    ("c", "D2", 192, 336, 1): (0.3, 1.00, 0.80),
}


def make_db(path, profile="quick"):
    db = ResultsDB(path)
    for (model, dataset, horizon, lookback, seed), (val, mse, mae) in RESULTS.items():
        key = dict(model=model, dataset=dataset, horizon=horizon, lookback=lookback, seed=seed, code_version="t", config_hash="h")
        db.claim(key, profile=profile, config={"max_steps_per_epoch": 5, "train": {"epochs": 2}})
        sample = {"channel": "OT", "history": [0.0, 1.0, 2.0], "truth": [1.0] * 4, "pred": [mse] * 4}
        db.finish(key, "done", val_mse=val, test_mse=mse, test_mae=mae, train_seconds=10.0 * (1 + "abc".index(model)),
                  params=1000 * (1 + "abc".index(model)), peak_mem_mb=100.0, forecast_json=json.dumps(sample))
    na = dict(model="c", dataset="D2", horizon=96, lookback=336, seed=1, code_version="t", config_hash="h")
    db.record_na(na, "D2: the test split has 10 rows, but one window needs lookback 336 + horizon 96",
                 profile=profile, config={})
    return db


def test_ranks_by_hand(tmp_path):
    rep = Report(make_db(tmp_path / "r.db"))
    s = rep.summary
    # a: ranks 1,2 | 1,2 | 2,2 | 3,3 ; b: 3,1 | 2,1 | 1,1 | 2,2 ; c: 1,3 | 3,3 | -,- | 1,1  (ties share rank 1)
    assert s.loc["a", "avg_rank"] == pytest.approx(16 / 8) and s.loc["a", "top1"] == 2 and s.loc["a", "cells"] == 8
    assert s.loc["b", "avg_rank"] == pytest.approx(13 / 8) and s.loc["b", "top1"] == 4
    assert s.loc["c", "avg_rank"] == pytest.approx(12 / 6) and s.loc["c", "top1"] == 3 and s.loc["c", "cells"] == 6


def test_markdown_bold_underline_dagger_na_and_seeds(tmp_path):
    rep = Report(make_db(tmp_path / "r.db"), reference={"D1": {"samovar": 0.3}}, reference_label="paper table")
    md = rep.markdown()
    assert "quick" in md and "NOT the papers' settings" in md and "at most 2 epoch(s) and 5 optimizer steps" in md
    d1 = next(line for line in md.splitlines() if line.startswith("| D1 |"))
    assert d1.split(" | ")[1:4] == ["**0.455**", "<u>0.485</u>", "0.505"]
    assert d1.rstrip(" |").endswith("0.300")  # the published column, shown as is
    d2 = next(line for line in md.splitlines() if line.startswith("| D2 |"))
    # c has D2 only at H192: dagger, and not eligible for bold; b's H96 value is its validation-chosen lookback 512
    assert d2.split(" | ")[1:4] == ["<u>1.100</u>", "**1.025**", "1.000†"]
    assert "samovar (published)" in md and "samovar" not in rep.summary.index
    assert "0.410 ± 0.014" in md  # a, D1, H96: two seeds
    assert "N/A*" in md and "c / D2 / H96: D2: the test split has 10 rows" in md
    assert "Counting rule" in md


def test_csv_html_and_plots(tmp_path):
    rep = Report(make_db(tmp_path / "r.db"))
    paths = rep.write(tmp_path / "out")
    for name in ("report.md", "results.csv", "report.html", "mse_vs_horizon.png", "mse_vs_horizon.svg",
                 "accuracy_vs_cost.png", "forecasts.png", "forecasts.svg"):
        assert paths[name].exists() and paths[name].stat().st_size > 0, name
    csv = paths["results.csv"].read_text().splitlines()
    assert csv[0].startswith("profile,model,dataset,horizon,mse,mse_std,mae")
    assert any(line.startswith("quick,c,D2,96,") and ",na," in line for line in csv)
    page = paths["report.html"].read_text()
    assert "<b>0.455</b>" in page and "<u>0.485</u>" in page and "data:image/png;base64," in page


def test_profiles_are_never_mixed(tmp_path):
    db = make_db(tmp_path / "r.db")
    key = dict(model="a", dataset="D1", horizon=96, lookback=336, seed=1, code_version="t", config_hash="other")
    db.claim(key, profile="paper", config={})
    db.finish(key, "done", val_mse=0.1, test_mse=0.1, test_mae=0.1)
    with pytest.raises(ValueError, match="several profiles"):
        Report(db)
    assert Report(db, profile="paper").agg["mse"].tolist() == [0.1]


def test_task_table(tmp_path):
    db = ResultsDB(tmp_path / "t.db")
    db.record_task(task="listops", mixer="gla", metric="accuracy", value=0.30, budget="quick", seed=0)
    db.record_task(task="listops", mixer="gla", metric="accuracy", value=0.40, budget="quick", seed=1)
    db.record_task(task="listops", mixer="mamba", metric="accuracy", value=0.25, budget="quick", seed=0)
    text = task_table(db, "listops")
    assert "| listops | accuracy | quick | 0.3500 ± 0.0707 | 0.2500 |" in text
