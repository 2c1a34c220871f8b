"""benchmarks/baselines_seeds.py: a baseline cell retrained with other seeds, kept apart from the table."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch

from samovar import models
from samovar.data import prepare_data

from conftest import load_benchmark, require_file

TINY_CATS = {  # CATS's recipe fields at toy size: 2 short epochs, dropout and its query masks on
    "source": "test recipe", "lookback": 96, "optimizer": "adam", "lr": 1e-3, "batch_size": 512, "epochs": 2,
    "patience": 2, "schedule": "type2_cats", "pre_schedule_lr_div": 25.0, "dropout": 0.1,
    "model": {"layers": 1, "heads": 2, "d_model": 8, "d_ff": 8, "dropout": 0.1, "patch_len": 24, "stride": 24,
              "qam_start": 0.1, "qam_end": 0.2},
}


def test_spread_is_the_mean_and_the_sample_standard_deviation():
    seeds = load_benchmark("baselines_seeds")
    values = [0.4565, 0.4412, 0.4498, 0.4620]
    mean, sd = seeds.spread(values)
    assert mean == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert sd == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert seeds.spread([0.5]) == (0.5, None)


def test_only_single_variant_cells_of_known_settings_are_accepted():
    seeds = load_benchmark("baselines_seeds")
    assert seeds.cell_variant("cats_xattn", "input512") == ({"script": "512"}, {})
    assert seeds.cell_variant("patchtst", "paper") == ({}, {})
    with pytest.raises(ValueError, match="searches 4 variants"):  # FITS fin searches the harmonic order
        seeds.cell_variant("fits", "fin")
    with pytest.raises(ValueError, match="no setting 'input336'"):
        seeds.cell_variant("cats_xattn", "input336")


def test_the_headline_script_refuses_other_seeds(capsys):
    bench = load_benchmark("reproduce_baselines")
    with pytest.raises(SystemExit):
        bench.main(["--models", "cats_xattn", "--seed", "2022"])
    assert "baselines_seeds.py" in capsys.readouterr().err


def test_table_reports_every_seed_the_spread_and_the_gap_to_the_paper(tmp_path):
    seeds = load_benchmark("baselines_seeds")
    results = tmp_path / "results"
    results.mkdir()
    for seed, val, mse, kept in ((2021, 1.49, 0.4565, 0.4462), (2022, 1.45, 0.4405, 0.4330), (2023, 1.47, 0.4505, 0.4401)):
        record = {"model": "cats_xattn", "setting": "input512", "horizon": 720, "lookback": 512, "seed": seed,
                  "best_epoch": 8, "epochs_run": 10, "val_mse": val, "test": {"mse": mse, "mae": 0.46},
                  "seconds": 1800.0, "authors_loader": {"mse": kept, "mae": 0.45}}
        (results / f"cats_xattn_h720_input512_seed{seed}.json").write_text(json.dumps(record))
    text = seeds.write_table(results, tmp_path / "table.md")
    assert (tmp_path / "table.md").read_text() == text
    assert "## cats_xattn (input512), horizon 720, lookback 512" in text
    assert "| 2022 | 8/10 | 1.4500 | 0.4405 | 0.4600 | 0.4330 / 0.4500 | 30 |" in text
    mean, sd = statistics.fmean([0.4565, 0.4405, 0.4505]), statistics.stdev([0.4565, 0.4405, 0.4505])
    assert f"| {mean:.4f} ± {sd:.4f} |" in text and "mean ± sd (3 seeds)" in text
    # the paper (Kim et al., Table 14) reports 0.435 for this cell
    assert f"Mean test MSE − paper: {mean - 0.435:+.3f}; per seed +0.006 to +0.022" in text
    assert f"Under the authors' loader: mean {statistics.fmean([0.4462, 0.4330, 0.4401]) - 0.435:+.3f}" in text


def test_seeds_of_a_cell_train_apart_and_the_headline_seed_is_copied(tmp_path, monkeypatch, shared_data_dir):
    """Seed 2021 is the headline record (not retrained); another seed trains the same recipe in
    its own run directory to a different result; both get the authors'-loader score; a finished
    seed is skipped on a second call."""
    require_file("ETTh1.csv.gz")
    seeds = load_benchmark("baselines_seeds")
    rb = seeds.rb
    monkeypatch.setattr(models.model_class("cats_xattn"), "paper_training_config",
                        classmethod(lambda cls, dataset, horizon=None, script="512": json.loads(json.dumps(TINY_CATS))))
    monkeypatch.setattr(rb, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(rb, "TABLE", tmp_path / "baselines.md")
    monkeypatch.setattr(seeds, "SEED_RESULTS", tmp_path / "seed_results")
    monkeypatch.setattr(seeds, "TABLE", tmp_path / "seeds.md")
    common = ["--data-dir", str(shared_data_dir), "--threads", "1"]
    with pytest.raises(SystemExit, match="train the headline cell"):
        seeds.main(["--model", "cats_xattn", "--setting", "input512", "--horizon", "24", "--seeds", "2021", *common])
    rb.main(["--models", "cats_xattn", "--settings", "input512", "--horizons", "24", "--runs-root", str(tmp_path / "runs"),
             *common])
    args = ["--model", "cats_xattn", "--setting", "input512", "--horizon", "24", "--seeds", "2021,2022",
            "--runs-root", str(tmp_path / "seed_runs"), "--headline-runs-root", str(tmp_path / "runs"), *common]
    seeds.main(args)

    headline = json.loads((tmp_path / "results" / "cats_xattn_h24_input512.json").read_text())
    first = json.loads((tmp_path / "seed_results" / "cats_xattn_h24_input512_seed2021.json").read_text())
    second = json.loads((tmp_path / "seed_results" / "cats_xattn_h24_input512_seed2022.json").read_text())
    assert {k: v for k, v in first.items() if k not in ("copied_from", "authors_loader")} == headline
    assert second["seed"] == 2022 and second["train_config"]["seed"] == 2022
    # a run directory outside the repository is recorded by its name alone (records hold no machine paths)
    assert second["run_dir"] == "cats_xattn_h24_input512"
    assert second["recipe"] == first["recipe"] == TINY_CATS and second["test"]["mse"] != first["test"]["mse"]

    n = len(prepare_data("ETTh1", lookback=96, horizon=24, data_dir=str(shared_data_dir)).test)
    for record in (first, second):
        loader = record["authors_loader"]
        assert (loader["batch"], loader["windows"], loader["kept_windows"]) == (512, n, n // 512 * 512)
        assert loader["mse"] != record["test"]["mse"] and torch.isfinite(torch.tensor(loader["mse"]))
    table = (tmp_path / "seeds.md").read_text()
    assert "mean ± sd (2 seeds)" in table and f"| 2022 | {second['best_epoch']}/2 |" in table

    before = (tmp_path / "seed_results" / "cats_xattn_h24_input512_seed2022.json").read_text()
    seeds.main(args)
    assert (tmp_path / "seed_results" / "cats_xattn_h24_input512_seed2022.json").read_text() == before
