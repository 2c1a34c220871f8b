"""The report on a hand-made database: lookback chosen on validation, seed mean ± std, bold/underline,
AvgRank and #Top1 by hand, N/A cells, published columns kept out of the ranking, files written."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from samovar.bench.db import ResultsDB
from samovar.bench.reference import Published, load_reference
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
        db.finish(key, "done", val_mse=val, val_mae=val + 0.05, test_mse=mse, test_mae=mae, train_seconds=10.0 * (1 + "abc".index(model)),
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
    rep = Report(make_db(tmp_path / "r.db"), reference={"D1": {"c": 0.3}}, reference_label="paper table")
    md = rep.markdown()
    assert "quick" in md and "NOT the papers' settings" in md and "at most 2 epoch(s) of at most 5 optimizer steps" in md
    d1 = next(line for line in md.splitlines() if line.startswith("| D1 |"))
    assert d1.split(" | ")[1:5] == ["96/192", "**0.455**", "<u>0.485</u>", "0.505"]
    # the published number is an average over 96/192/336/720: not beside a 96/192 mean
    assert d1.rstrip(" |").endswith("–")
    d2 = next(line for line in md.splitlines() if line.startswith("| D2 |"))
    # c has D2 only at H192: dagger with its horizon, and not eligible for bold; b's H96 value is its
    # validation-chosen lookback 512
    assert d2.split(" | ")[1:5] == ["96/192", "<u>1.100</u>", "**1.025**", "1.000† (192)"]
    assert "c (published)" in md and "paper table" in md
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
    assert csv[0].startswith("profile,setting,budget,model,dataset,horizon,mse,mse_std,mae")
    assert all(line.startswith("quick,M,") for line in csv[1:])  # every column forecast and scored
    assert all("NOT the papers' settings: at most 2 epoch(s) of at most 5 optimizer steps" in line for line in csv[1:])
    frame = pd.read_csv(paths["results.csv"]).set_index(["model", "dataset", "horizon"])
    assert set(frame["profile"]) == {"quick"}
    row = frame.loc[("b", "D2", 96)]
    assert (row["val_mse"], row["val_mae"]) == (0.1, pytest.approx(0.15))  # the validation-chosen lookback
    md = paths["report.md"].read_text()
    assert "| val MSE | val MAE |" in md and "| b | D2 | 96 | 512 | 1 | 0.1000 | 0.1500 |" in md
    assert frame.loc[("c", "D2", 96), "status"] == "na"
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


def test_published_numbers_are_shown_but_never_ranked(tmp_path):
    db = make_db(tmp_path / "r.db")
    plain = Report(db)
    # published values better than every measured one, under the names of measured models
    per_horizon = {96: (0.01, 0.02), 192: (0.03, 0.04), 336: (0.05, 0.06), 720: (0.07, 0.08)}
    ref = {"D1": {"a": Published.from_horizons("paper X, Table 1", per_horizon), "b": Published(mse=0.001, source="paper Y"),
                  "z": Published(mse=0.2, source="paper W")},  # a model the report does not have: left out
           "D9": {"a": Published(mse=0.5, source="paper Z")}}  # a dataset the report does not have: left out
    rep = Report(db, reference=ref)
    pd.testing.assert_frame_equal(rep.summary, plain.summary)  # AvgRank, #Top1, #cells unchanged
    pd.testing.assert_frame_equal(rep.ranks, plain.ranks)
    pd.testing.assert_frame_equal(rep.agg, plain.agg)
    md = rep.markdown()
    lines = md.splitlines()
    mse_header, mae_header = [line for line in lines if line.startswith("| Dataset | Horizons | a | b | c |")][:2]
    assert mse_header.endswith("| a (published) | b (published) |") and mae_header.endswith("| c | a (published) |")
    d1_mse, d1_mae = [line for line in lines if line.startswith("| D1 |")][:2]
    # measured cells keep their marks; published ones (better than all) are unmarked, averaged like with like:
    # a's over the row's horizons 96/192 from its per-horizon numbers; b's four-horizon average is not shown
    assert d1_mse.strip("| ").split(" | ") == ["D1", "96/192", "**0.455**", "<u>0.485</u>", "0.505", "0.020", "–"]
    assert d1_mae.strip("| ").split(" | ")[-1] == "0.030"
    for name in ("AvgRank", "#Top1", "#cells ranked"):  # nothing under the horizons and published columns
        cells = [c.strip() for c in next(line for line in lines if line.startswith(f"| {name} |")).split("|")[1:-1]]
        assert cells[1] == "" and cells[5:] == ["", ""]
    # per-horizon tables carry the entries printed per horizon
    assert next(line for line in lines if line.startswith("| D1 | 96 | MSE |")).rstrip(" |").endswith("0.010")
    assert next(line for line in lines if line.startswith("| D1 | 192 | MAE |")).rstrip(" |").endswith("0.040")
    assert "paper X, Table 1" in md and "paper Y" in md and "never ranked" in md
    assert "paper Z" not in md and "paper W" not in md and "z (published)" not in md
    page = rep.html()
    assert "a (published)" in page and "paper X, Table 1" in page


def test_published_average_stands_only_beside_a_row_of_the_same_horizons(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    for horizon, mse in zip((96, 192, 336, 720), (0.1, 0.2, 0.3, 0.4)):
        key = dict(model="a", dataset="D1", horizon=horizon, lookback=336, seed=1, code_version="t", config_hash="h")
        db.claim(key, profile="quick", config={})
        db.finish(key, "done", val_mse=0.1, test_mse=mse, test_mae=mse)
    reference = {"D1": {"a": Published(mse=0.5, source="paper Y")}}
    assert Report(db, reference=reference).main_rows("mse", "md")[1][0] == ["D1", "96/192/336/720", "0.250", "0.500"]
    only_96 = Report(db, reference=reference)
    only_96.agg = only_96.agg[only_96.agg["horizon"] == 96]
    assert only_96.main_rows("mse", "md")[1][0] == ["D1", "96", "0.100", "–"]


def test_built_in_published_numbers():
    table, label = load_reference()
    assert table["ETTh1"]["samovar"].mse == 0.401 and table["ETTh2"]["fixedvar"].mse == 0.391
    dlinear = table["ETTh1"]["dlinear"]
    assert dlinear.per_horizon[96] == (0.375, 0.399) and dlinear.per_horizon[720] == (0.472, 0.490)
    assert dlinear.mse == pytest.approx((0.375 + 0.405 + 0.439 + 0.472) / 4)
    assert dlinear.mae == pytest.approx((0.399 + 0.416 + 0.443 + 0.490) / 4)
    assert all(e.source for entries in table.values() for e in entries.values())
    assert "Table 2" in label and "2502.07244" in label


def test_reference_csv(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("dataset,model,mse,mae,source\nD1,A,0.3,0.35,paper Q\nD1,b,,,\nD2,b,0.7,,\n")
    table, label = load_reference(path)
    assert table["D1"]["a"] == Published(mse=0.3, mae=0.35, source="paper Q") and "b" not in table["D1"]
    assert table["D2"]["b"].mae is None and table["D2"]["b"].source == "from ref.csv"
    assert label == "from ref.csv; paper Q"
    with pytest.raises(ValueError, match="missing column"):
        (tmp_path / "bad.csv").write_text("dataset,model\nD1,a\n")
        load_reference(tmp_path / "bad.csv")


def test_rank_on_any_recorded_score(tmp_path):
    """--metric ranks on one score alone; every recorded score is tabled; bad names are one clear error."""
    db = ResultsDB(tmp_path / "r.db")
    # (model, horizon) -> (test_mse, test_mase, test_smape_raw): MSE ranks a first, MASE ranks b first
    rows = {("a", 96): (0.40, 1.2, 0.30), ("b", 96): (0.45, 0.9, 0.20), ("c", 96): (0.50, 1.0, 0.25),
            ("a", 192): (0.50, 1.4, 0.35), ("b", 192): (0.55, 1.1, 0.30), ("c", 192): (0.60, 1.1, 0.28)}
    for (model, horizon), (mse, mase, smape) in rows.items():
        key = dict(model=model, dataset="D1", horizon=horizon, lookback=336, seed=1, code_version="t", config_hash="h")
        db.claim(key, profile="quick", config={})
        db.finish(key, "done", val_mse=0.3, test_mse=mse, test_mae=mse, test_mase=mase, test_smape_raw=smape, params=0,
                  train_seconds=0.1, peak_mem_mb=1.0)
    by_mse = Report(db).summary
    assert by_mse.loc["a", "avg_rank"] == 1 and by_mse.loc["a", "cells"] == 4  # MSE and MAE cells, as the papers
    rep = Report(db, metric="MASE")
    s = rep.summary
    assert s.loc["b", "avg_rank"] == 1 and s.loc["b", "top1"] == 2 and s.loc["b", "cells"] == 2  # MASE cells only
    assert s.loc["c", "avg_rank"] == pytest.approx(1.5) and s.loc["c", "top1"] == 1  # a tie with b at H192
    assert s.loc["a", "avg_rank"] == 3
    md = rep.markdown()
    assert md.index("## Test MASE averaged over horizons") < md.index("## Test MSE averaged over horizons")
    mase_row = next(line for line in md.splitlines() if line.startswith("| D1 |")).rstrip(" |")
    assert mase_row.split(" | ")[2:5] == ["1.300", "**1.000**", "<u>1.050</u>"]
    assert "metric in {MASE}" in md and "| D1 | H | MASE |" not in md and "| D1 | 96 | MASE |" in md
    scores_row = next(line for line in md.splitlines() if line.startswith("| D1 | b |"))
    # MSE, MAE, RMSE, MSE/MAE/RMSE/MAPE orig. (not recorded), sMAPE orig., WAPE orig. (not recorded), MASE
    assert scores_row == "| D1 | b | 0.5000 | 0.5000 | – | – | – | – | – | 0.2500 | – | 1.0000 |"
    assert "<h2>Test MASE averaged over horizons</h2>" in rep.html()
    with pytest.raises(ValueError, match="unknown metric 'crps'; the recorded test scores are: mse, mae, rmse"):
        Report(db, metric="crps")
    with pytest.raises(ValueError, match="recorded wape_raw"):
        Report(db, metric="wape_raw")
