"""benchmarks/tuned.py: the plain-words answer (ties within the seeds' spread, cells not run) and the generated
table and README block, on synthetic records; and the search spaces the deliverable relies on."""

from __future__ import annotations

import json
import statistics

import pytest

from conftest import load_benchmark

tuned = load_benchmark("tuned")


def record(model: str, horizon: int, seeds: list[float], dataset: str = "ETTh1") -> dict:
    """A minimal exported record with these final-run test MSEs (what table and answer read)."""
    mean = statistics.fmean(seeds)
    std = statistics.stdev(seeds) if len(seeds) > 1 else None
    runs = [{"seed": 2024 + i, "test_mse": v, "test_mae": v / 2, "val_mse": 1.0, "epochs": 5, "best_epoch": 2}
            for i, v in enumerate(seeds)]
    return {
        "cell": f"{model}-{dataset}-H{horizon}", "model": model, "dataset": dataset, "horizon": horizon,
        "settings": {"trials": 12, "epoch_cap": 10, "seeds": len(seeds), "oracle_seeds": 1},
        "trials": {"count": 12, "complete": 9, "pruned": 3, "failed": 0, "best_trial": 4,
                   "best_params": {"lookback": 720, "train.lr": 0.0012345}, "best_val_mse": 0.7, "best_epoch": 2,
                   "best_curve": [], "published_trial": 0, "published_val_mse": 0.75, "published_state": "complete"},
        "final": {"lookback": 720, "runs": runs, "test_mse": mean, "test_mse_std": std, "test_mae": mean / 2,
                  "test_mae_std": None if std is None else std / 2, "test_windows": 2785},
        "oracle": {"test_mse": mean - 0.01, "lookback": 336, "by_lookback": [], "seeds_per_lookback": 1},
        "cost": {k: {"runs": 1, "cpu_seconds": 360.0, "wall_seconds": 400.0, "peak_mem_mb": 500} for k in
                 ("search", "final", "oracle")},
    }


def write(tmp_path, records: list[dict]):
    out = tmp_path / "records"
    out.mkdir()
    for r in records:
        (out / f"{r['cell']}.json").write_text(json.dumps(r))
    return out


def test_verdict_calls_a_difference_within_the_larger_spread_a_tie():
    a = {"mse": 0.400, "std": 0.002}
    assert tuned.verdict(a, {"mse": 0.4015, "std": 0.001})["word"] == "ties with"  # 0.0015 < 0.002
    assert tuned.verdict(a, {"mse": 0.4015, "std": 0.003})["word"] == "ties with"  # the larger spread counts
    assert tuned.verdict(a, {"mse": 0.405, "std": 0.001})["word"] == "beats"
    assert tuned.verdict(a, {"mse": 0.395, "std": 0.001})["word"] == "loses to"
    assert tuned.verdict(None, {"mse": 0.4, "std": 0.0})["word"] == "not run"
    one_seed = tuned.verdict({"mse": 0.400, "std": None}, {"mse": 0.401, "std": None})  # no spread: no tie
    assert one_seed["word"] == "beats" and one_seed["spread"] == 0.0


def test_answer_per_horizon_average_and_cells_not_run(tmp_path):
    recs = []
    for h in tuned.HORIZONS:
        recs.append(record("samovar", h, [0.400, 0.402, 0.404]))  # std 0.002
        recs.append(record("lintrans", h, [0.410, 0.411, 0.412]))  # +0.009: SAMoVAR beats it
        recs.append(record("fixedvar", h, [0.401, 0.403, 0.405]))  # +0.001 < 0.002: a tie
    recs.append(record("dlinear", 96, [0.390, 0.391, 0.392]))  # -0.011: SAMoVAR loses; other horizons not run
    records = tuned.load_records(write(tmp_path, recs))
    text = "\n".join(tuned.answer(records, "ETTh1"))
    assert "horizon 96: SAMoVAR beats LinTrans (0.4020 vs 0.4110, difference -0.0090" in text
    assert "ties with FixedVAR (0.4020 vs 0.4030, difference -0.0010, seed spread 0.0020)" in text
    assert "average over the four horizons: SAMoVAR beats LinTrans" in text
    assert "loses to DLinear (0.4020 vs 0.3910" in text
    assert "- horizon 96: SAMoVAR loses to DLinear (0.4020 vs 0.3910, difference +0.0110, seed spread 0.0020). " \
        "Not run yet: FITS." in text
    assert "- horizon 192: not answered yet. Not run yet: DLinear, FITS." in text
    assert "- average over the four horizons: not answered yet. Not run yet: DLinear, FITS (every horizon is needed)." in text
    assert "- In short: SAMoVAR has 5 wins, 5 ties and 0 losses in the 10 comparisons made " \
        "(per horizon and on average).\n" in text  # LinTrans, FixedVAR: every cell has a record
    assert "- In short: SAMoVAR has 0 wins, 0 ties and 1 loss in the 1 comparison made (per horizon and on average); " \
        "the other 9 wait for records: 7 of the 12 cells these comparisons need have no record yet " \
        "(DLinear at H192, H336 and H720; FITS at H96, H192, H336 and H720)." in text
    nothing = "\n".join(tuned.answer({}, "ETTh1"))
    assert "- In short: no comparison can be made yet: none of the 12 cells these comparisons need has a record yet " \
        "(SAMoVAR, LinTrans and FixedVAR at H96, H192, H336 and H720)." in nothing
    s = tuned.scores(records, "ETTh1")
    assert s["samovar"]["avg"]["mse"] == pytest.approx(0.402)
    assert s["samovar"]["avg"]["std"] == pytest.approx(0.002)  # over the seed indices' averages
    assert "avg" not in s["dlinear"]  # three horizons missing: no average is made up


def test_table_shows_missing_cells_as_not_run_and_rewrites_the_readme_block(tmp_path):
    recs = [record("samovar", 96, [0.400, 0.402, 0.404]), record("dlinear", 96, [0.390, 0.391, 0.392])]
    results = write(tmp_path, recs)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Measured results\n\nAll numbers below.\n\n### DLinear on ETTh1\n\n| a |\n")
    out = tmp_path / "tuned.md"
    text = tuned.write_table(results, out, readme, costs_path=tmp_path / "no-costs.json")
    assert out.read_text() == text
    row = next(line for line in text.splitlines() if line.startswith("| SAMoVAR | 0.4020 ± 0.0020"))
    assert row.count("not run") == 3 and "| – |" in row  # H192..H720 not run, no average
    assert "| FITS | not run | not run | not run | not run | – |" in text  # no costs.json: no estimate either
    assert "0.401 (published)" in text  # the paper's average, labelled
    first = readme.read_text()
    assert first.index(tuned.README_START) < first.index("### DLinear on ETTh1")
    assert "| SAMoVAR | 0.4020 ± 0.0020" in first
    recs.append(record("lintrans", 96, [0.5, 0.5, 0.5]))
    (results / "lintrans-ETTh1-H96.json").write_text(json.dumps(recs[-1]))
    tuned.write_table(results, out, readme, costs_path=tmp_path / "no-costs.json")
    second = readme.read_text()
    assert second.count(tuned.README_START) == 1 and "| LinTrans | 0.5000" in second
    assert second.endswith("### DLinear on ETTh1\n\n| a |\n")


@pytest.mark.parametrize("model", tuned.FAMILY)
def test_family_space_has_the_issues_lookbacks_lr_and_dropout_on_etth1(model):
    from samovar.training.runs import model_class

    space = model_class(model).search_space("ETTh1", 720)
    assert all(k in space for k in tuned.FAMILY_SPACE)
    for horizon in tuned.HORIZONS:  # ETTh1's train split (8640 rows) holds every one of them, 4096 + 720 included
        assert tuned.search_lookbacks(model, "ETTh1", horizon) == [336, 720, 1024, 2048, 4096]


def test_linear_baselines_search_their_own_spaces():
    from samovar.training.runs import model_class

    assert tuned.search_lookbacks("fits", "ETTh1", 96) == [90, 180, 360, 720]
    assert tuned.search_lookbacks("dlinear", "ETTh1", 96) == [96, 192, 336, 512, 720]
    assert {"model.harmonic_order", "model.individual", "train.lr"} <= set(model_class("fits").search_space("ETTh1", 96))
    assert {"model.individual", "train.lr"} <= set(model_class("dlinear").search_space("ETTh1", 96))


def test_windows_follow_the_published_protocol():
    n = tuned.windows("ETTh1", 4096, 720)
    assert n == {"train": 8640 - 4096 - 720 + 1, "val": 2880 - 720 + 1, "test": 2880 - 720 + 1}


def test_a_record_equal_but_for_its_exporter_is_not_rewritten():
    old = record("dlinear", 96, [0.37, 0.38]) | {"exported_by": "aaaaaaa"}
    assert tuned._same_result(old, old | {"exported_by": "bbbbbbb"})  # re-export at a later commit: no churn
    changed = json.loads(json.dumps(old))
    changed["final"]["test_mse"] += 1e-6
    assert not tuned._same_result(old, changed | {"exported_by": "bbbbbbb"})


def test_figures_are_drawn_from_the_records_history_and_linked_from_the_table(tmp_path):
    recs = [record("samovar", 96, [0.400, 0.402, 0.404]), record("dlinear", 192, [0.390, 0.391, 0.392])]
    for r, lookbacks in zip(recs, ((720, 1024, 2048), (96, 336))):
        r["trials"]["history"] = [{"number": i, "state": "pruned" if i == 1 else "complete", "lookback": lb,
                                   "val_mse": 0.7 + 0.01 * i} for i, lb in enumerate(lookbacks)]
    recs.append(record("fits", 96, [0.41, 0.42]))  # an older record without the history: drawn nowhere
    results = write(tmp_path, recs)
    out = tmp_path / "docs" / "tuned.md"
    out.parent.mkdir()
    text = tuned.write_table(results, out, None, costs_path=tmp_path / "no-costs.json")
    for name in ("lookback_curve_ETTh1.png", "history_ETTh1.png"):
        assert f"](tuned/{name})" in text
        png = out.parent / "tuned" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    rows = tuned._trial_rows(recs[0])
    assert [(r["model"], r["horizon"], r["lookback"], r["state"]) for r in rows] == [
        ("SAMoVAR", 96, 720, "complete"), ("SAMoVAR", 96, 1024, "pruned"), ("SAMoVAR", 96, 2048, "complete")]
    assert tuned.plots({k: v for k, v in tuned.load_records(results).items() if k[0] == "fits"}, "ETTh1",
                       tmp_path / "none") == []  # no history recorded: no figure
