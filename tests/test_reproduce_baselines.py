"""benchmarks/reproduce_baselines.py: paper recipes through the common trainer, resumable cells."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from samovar import models
from samovar.training import rundir as rd
from samovar.training.recipes import resolve_recipe

from conftest import load_benchmark, require_file


def test_every_cell_trains_with_exactly_its_paper_recipe():
    """Each cell's TrainConfig holds every training field of paper_training_config(ETTh1, H, **script),
    its model kwargs are the recipe's plus the variant, and nothing of the recipe is dropped."""
    bench = load_benchmark("reproduce_baselines")
    keep = ("optimizer", "lr", "betas", "weight_decay", "batch_size", "epochs", "patience", "schedule",
            "pre_schedule_lr_div", "onecycle_pct_start", "onecycle_anneal", "onecycle_div_factor",
            "onecycle_momentum", "schedule_extra_epochs", "grad_clip")
    for name in bench.MODELS:
        for horizon in (96, 720):
            for _, script, overrides in bench.variants(name):
                paper = models.model_class(name).paper_training_config("ETTh1", horizon, **script)
                config, hyper, rec = bench.cell_training(name, horizon, script, overrides, seed=2021)
                for key in keep:
                    if key in paper:
                        got = getattr(config, key)
                        assert (list(got) if isinstance(got, tuple) else got) == (
                            list(paper[key]) if isinstance(paper[key], tuple) else paper[key]), (name, key)
                assert config.drop_last and config.accumulate == 1 and config.seed == 2021
                assert hyper == {**paper["model"], **overrides}
                assert rec.lookback == paper["lookback"] and rec.published == paper
                unused = set(paper) - set(keep) - {"source", "lookback", "model", "dropout", "search"}
                assert not unused, (name, unused)


def test_recipe_options_choose_the_authors_script():
    fin = resolve_recipe("fits", "ETTh1", 96, "paper", {"script": "fin"})
    best = resolve_recipe("fits", "ETTh1", 96, "paper")
    assert (fin.train["batch_size"], fin.train["patience"], fin.lookback) == (256, 3, 720)
    assert (best.train["batch_size"], best.train["patience"], best.lookback) == (128, 20, 360)
    assert fin.to_dict()["options"] == {"script": "fin"} and "options" not in best.to_dict()
    assert resolve_recipe("cats_xattn", "ETTh1", 96, "paper", {"script": "96"}).train["batch_size"] == 256
    with pytest.raises(ValueError, match="no option"):
        resolve_recipe("itransformer", "ETTh1", 96, "paper", {"script": "fin"})
    with pytest.raises(ValueError, match="script must be one of"):  # not a silent fall-back to ltsf
        resolve_recipe("fits", "ETTh1", 96, "auto", {"script": "nope"})


TINY = {  # iTransformer's recipe fields at toy size: 3 short epochs, dropout on (the RNG must resume too)
    "source": "test recipe", "lookback": 96, "optimizer": "adam", "lr": 1e-3, "batch_size": 512, "epochs": 3,
    "patience": 3, "schedule": "type1", "pre_schedule_lr_div": 25.0, "dropout": 0.1,
    "model": {"layers": 1, "heads": 2, "d_model": 8, "d_ff": 8, "dropout": 0.1},
}


class Killed(Exception):
    pass


def test_killed_cell_resumes_and_ends_as_an_uninterrupted_one(tmp_path, monkeypatch, shared_data_dir):
    require_file("ETTh1.csv.gz")
    bench = load_benchmark("reproduce_baselines")
    monkeypatch.setattr(models.model_class("itransformer"), "paper_training_config",
                        classmethod(lambda cls, dataset, horizon=None: json.loads(json.dumps(TINY))))
    monkeypatch.setattr(bench, "TABLE", tmp_path / "table.md")
    args = ["--models", "itransformer", "--horizons", "24", "--data-dir", str(shared_data_dir), "--threads", "1"]

    def grid(name: str, extra=()):
        monkeypatch.setattr(bench, "RESULTS", tmp_path / name / "results")
        bench.main(args + ["--runs-root", str(tmp_path / name / "runs"), *extra])
        return tmp_path / name / "results" / "itransformer_h24_paper.json", tmp_path / name / "runs" / "itransformer_h24_paper"

    whole, _ = grid("whole")
    plain = bench.run_cell

    def killed_after_epoch_1(*a, on_epoch_end=None, **k):
        def kill(row):
            if row["epoch"] == 1:
                raise Killed

        return plain(*a, **k, on_epoch_end=kill)

    monkeypatch.setattr(bench, "run_cell", killed_after_epoch_1)
    with pytest.raises(Killed):
        grid("killed")
    record_path = tmp_path / "killed" / "results" / "itransformer_h24_paper.json"
    run_dir = tmp_path / "killed" / "runs" / "itransformer_h24_paper"
    assert not record_path.exists()
    assert rd.load_checkpoint(run_dir / rd.CHECKPOINT)["epoch"] == 1

    monkeypatch.setattr(bench, "run_cell", plain)
    resumed_path, _ = grid("killed")
    a, b = json.loads(whole.read_text()), json.loads(resumed_path.read_text())
    assert (a["resumed_from_epoch"], b["resumed_from_epoch"]) == (0, 1)
    assert b["test"] == a["test"] and b["val_mse"] == a["val_mse"]
    assert (b["best_epoch"], b["epochs_run"]) == (a["best_epoch"], a["epochs_run"]) and a["epochs_run"] == 3
    assert [r["val_mse"] for r in b["history"]] == [r["val_mse"] for r in a["history"]]
    assert [r["lr"] for r in a["history"]] == pytest.approx([1e-3 / 25, 1e-3, 5e-4], rel=1e-12)  # lr/25 until type1 sets it
    assert b["run_dir"] == run_dir.name and b["trainer"] == "samovar.training.train"  # outside the checkout: its name
    assert b["recipe"] == TINY and b["train_config"]["batch_size"] == 512

    before = resumed_path.read_text()
    grid("killed")  # a finished cell is skipped
    assert resumed_path.read_text() == before


def test_a_record_names_its_run_directory_without_the_machines_paths(tmp_path):
    """Inside the checkout: relative to it; outside (a --runs-root elsewhere): by its name alone."""
    bench = load_benchmark("reproduce_baselines")
    assert bench.recorded_run_dir(bench.RUNS / "cats_h96_input96") == "benchmarks/runs/baselines/cats_h96_input96"
    assert bench.recorded_run_dir(tmp_path / "2022" / "cats_h720_input512") == "cats_h720_input512"


def test_table_reports_the_variant_with_the_lowest_validation_mse(tmp_path, monkeypatch):
    """write_table over FITS fin variants (records in the committed format) picks the lowest val MSE."""
    bench = load_benchmark("reproduce_baselines")
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    monkeypatch.setattr(bench, "TABLE", tmp_path / "table.md")
    for order, val, test in ((4, 0.40, 0.30), (5, 0.35, 0.50), (6, 0.45, 0.20)):
        record = {"model": "fits", "setting": "fin", "horizon": 96, "lookback": 720, "val_mse": val,
                  "best_epoch": 2, "epochs_run": 5, "test": {"mse": test, "mae": 0.4}, "seconds": 60.0,
                  "overrides": {"harmonic_order": order}}
        bench.cell_path("fits", 96, "fin", {"harmonic_order": order}).write_text(json.dumps(record))
    row = next(line for line in bench.write_table(["fits"], [96]).splitlines() if line.startswith("| fits (fin) | 96"))
    assert "harmonic_order=5 (best val of 3/4 variants)" in row and "| 0.5000 |" in row


def test_committed_results_still_render(tmp_path, monkeypatch):
    bench = load_benchmark("reproduce_baselines")
    if not any(bench.RESULTS.glob("*.json")):
        pytest.skip("no committed baseline results")
    monkeypatch.setattr(bench, "TABLE", tmp_path / "table.md")
    text = bench.write_table(bench.MODELS, bench.HORIZONS)
    for path in bench.RESULTS.glob("*.json"):  # every committed cell has its row
        record = json.loads(path.read_text())
        # <model>_h<H>_<setting>[_<variant>] (old files lack the field); model names may hold "_" (cats_xattn)
        setting = re.fullmatch(r"[a-z0-9_]+?_h\d+_([a-z0-9]+)(_.*)?", path.stem).group(1)
        label = record["model"] if setting == "paper" else f"{record['model']} ({setting})"
        assert f"| {label} | {record['horizon']} |" in text, path.name


def test_paper_numbers_are_looked_up_per_setting_where_a_paper_gives_several():
    script = load_benchmark("reproduce_baselines")
    # CATS reports ETTh1 separately for input 96 (Table 11) and input 512 (Table 14)
    assert script.paper_numbers("cats_xattn", "input96", 720) == (0.474, 0.461)
    assert script.paper_numbers("cats_xattn", "input512", 720) == (0.435, 0.446)
    # one-setting models: the same numbers whatever the label
    assert script.paper_numbers("itransformer", "paper", 96) == (0.386, 0.405)
    assert script.paper_numbers("fits", "fin", 720) == (0.427, None)
    assert script.paper_numbers("transformer", "paper", 96) == (None, None)


def tiny_bench_with_clock(tmp_path, monkeypatch, clock: list[str]):
    """The script with iTransformer's recipe shrunk to TINY, its table and records under
    `tmp_path`, the table covering horizons 24 and 48, and a UTC clock that reads the
    times of day `clock` in turn (moving to the next day whenever the time goes back),
    then stands still at the last one."""
    require_file("ETTh1.csv.gz")
    bench = load_benchmark("reproduce_baselines")
    monkeypatch.setattr(models.model_class("itransformer"), "paper_training_config",
                        classmethod(lambda cls, dataset, horizon=None: json.loads(json.dumps(TINY))))
    monkeypatch.setattr(bench, "TABLE", tmp_path / "table.md")
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(bench, "HORIZONS", [24, 48])
    moments, day = [], datetime(2026, 1, 1, tzinfo=timezone.utc)
    for hhmm in clock:
        moment = day.replace(hour=int(hhmm[:2]), minute=int(hhmm[3:]))
        if moments and moment < moments[-1]:
            day, moment = day + timedelta(days=1), moment + timedelta(days=1)
        moments.append(moment)
    times = iter(moments)
    monkeypatch.setattr(bench, "utc_now", lambda: next(times, moments[-1]))
    return bench


def test_stop_after_pauses_a_running_cell_at_an_epoch_end_and_the_table_shows_it(tmp_path, monkeypatch,
                                                                                  shared_data_dir):
    """Past --stop-after, the running cell stops after the epoch it is in (checkpoint kept, no
    record), the next cell does not start, the table says how far the cell got, and running
    again without the deadline finishes it from that checkpoint."""
    # the clock when the deadline is set, at the start check, after epoch 1, after epoch 2 (and later)
    bench = tiny_bench_with_clock(tmp_path, monkeypatch, ["09:58", "09:59", "10:00", "10:01"])
    args = ["--models", "itransformer", "--horizons", "24,48", "--data-dir", str(shared_data_dir), "--threads", "1",
            "--runs-root", str(tmp_path / "runs")]
    bench.main(args + ["--stop-after", "10:01"])
    run_dir = tmp_path / "runs" / "itransformer_h24_paper"
    assert rd.load_checkpoint(run_dir / rd.CHECKPOINT)["epoch"] == 2
    assert not (tmp_path / "results" / "itransformer_h24_paper.json").exists()
    assert not (tmp_path / "runs" / "itransformer_h48_paper").exists()  # not started past the deadline
    table = (tmp_path / "table.md").read_text()
    assert "- itransformer H=24: unfinished: 2 epochs checkpointed" in table
    assert "- itransformer H=48: not run" in table

    bench.main(args + ["--horizons", "24"])
    record = json.loads((tmp_path / "results" / "itransformer_h24_paper.json").read_text())
    assert (record["resumed_from_epoch"], record["epochs_run"]) == (2, 3)
    assert "itransformer H=24" not in (tmp_path / "table.md").read_text().split("Not finished yet")[-1]


def test_stop_after_just_past_midnight_given_before_it_is_the_coming_midnight(tmp_path, monkeypatch,
                                                                             shared_data_dir):
    """--stop-after 00:05 given at 23:50 is a quarter of an hour away, not a time already gone
    (comparing "23:55" >= "00:05" as text would stop the run before it starts)."""
    # the clock when the deadline is set, at the start check, after epoch 1, after epoch 2
    bench = tiny_bench_with_clock(tmp_path, monkeypatch, ["23:50", "23:55", "23:59", "00:06"])
    bench.main(["--models", "itransformer", "--horizons", "24", "--data-dir", str(shared_data_dir), "--threads", "1",
                "--runs-root", str(tmp_path / "runs"), "--stop-after", "00:05"])
    assert rd.load_checkpoint(tmp_path / "runs" / "itransformer_h24_paper" / rd.CHECKPOINT)["epoch"] == 2
    assert not (tmp_path / "results" / "itransformer_h24_paper.json").exists()


def test_stop_after_that_is_not_a_time_of_day_is_refused(capsys):
    bench = load_benchmark("reproduce_baselines")
    with pytest.raises(SystemExit):
        bench.main(["--models", "itransformer", "--stop-after", "2:30pm"])
    assert "give it as HH:MM on the 24-hour clock" in capsys.readouterr().err


def test_stop_after_does_not_pause_a_cell_whose_last_epoch_just_ended(tmp_path, monkeypatch, shared_data_dir):
    """A deadline passed during a cell's final epoch lets the cell finish: it is tested and its
    record written now, not left as a checkpoint for the next run; the next cell does not start."""
    # the clock when the deadline is set, at the start check and after epochs 1 and 2; past 10:00 after epoch 3 of 3
    bench = tiny_bench_with_clock(tmp_path, monkeypatch, ["09:58", "09:59", "09:59", "09:59", "10:30"])
    bench.main(["--models", "itransformer", "--horizons", "24,48", "--data-dir", str(shared_data_dir), "--threads", "1",
                "--runs-root", str(tmp_path / "runs"), "--stop-after", "10:00"])
    record = json.loads((tmp_path / "results" / "itransformer_h24_paper.json").read_text())
    assert record["epochs_run"] == 3 and record["test"]["mse"] > 0
    assert not (tmp_path / "runs" / "itransformer_h48_paper").exists()
