"""The grid (recipes, lookback policy, N/A detection) and running cells (skip, fail, retry, kill + resume)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import typer

from samovar.bench.db import ResultsDB
from samovar.bench.grid import QUICK_EPOCHS, QUICK_EVAL_BATCH, QUICK_STEPS, Cell, cell_recipe, lookbacks_for, na_reason, plan
from samovar.bench.runner import EpochSubset, execute_cell, run_grid
from samovar.cli import app
from samovar.data import prepare_data
from samovar.models import model_class
from samovar.training.recipes import resolve_recipe

REPO = Path(__file__).resolve().parents[1]


def tiny(**kw) -> list[Cell]:
    """DLinear on the synthetic set, one epoch of two steps: a cell takes well under a second."""
    args = dict(profile="quick", max_epochs=1, max_steps_per_epoch=2, lookback="48")
    args.update(kw)
    return plan(["dlinear"], ["synthetic"], [24], [1], **args)


# ----------------------------------------------------------------------------- grid


def test_recipes_of_both_shapes_and_the_fallback():
    train, model_kwargs, label, notes = cell_recipe(resolve_recipe("dlinear", "Solar", 96, "auto"))
    assert (train, model_kwargs, label) == ({}, {}, "ltsf-default") and "LTSF default" in notes[0]
    assert "no Solar setting" in notes[0]  # the stated reason
    train, model_kwargs, label, notes = cell_recipe(resolve_recipe("dlinear", "ETTh1", 96, "auto"))
    assert label.startswith("paper (cure-lab/LTSF-Linear") and train["lr"] == 0.005 and notes == []
    train, model_kwargs, label, notes = cell_recipe(resolve_recipe("samovar", "ECL", 96, "auto"))
    assert train["batch_size"] == 8 and train["accumulate"] == 4 and train["optimizer"] == "adamw"
    assert "seed" not in train  # the grid's seeds decide
    train, model_kwargs, label, notes = cell_recipe(resolve_recipe("patchtst", "ETTh1", 96, "auto"))
    assert label.startswith("paper (") and train["batch_size"] == 128 and model_kwargs["patch_len"] == 16
    assert train["schedule"] == "type3" and train["pre_schedule_lr_div"] == 25.0 and notes == []  # all expressed
    train, _, _, notes = cell_recipe(resolve_recipe("samovar", "ETTh1", 96, "auto"))
    assert train["betas"] == (0.9, 0.95) and train["onecycle_anneal"] == "linear" and notes == []
    train, _, _, notes = cell_recipe(resolve_recipe("fits", "ETTh1", 96, "auto"))
    assert train["schedule"] == "type3_fits" and notes == []
    train, model_kwargs, label, notes = cell_recipe(resolve_recipe("patchtst", "Weather", 96, "auto"))
    assert "weather.sh" in label and model_kwargs["d_model"] == 128 and train["patience"] == 20 and notes == []
    train, _, label, notes = cell_recipe(resolve_recipe("patchtst", "PEMS08", 96, "auto"))
    assert label == "ltsf-default" and "no published recipe for PEMS08" in notes[0]


def test_lookback_policy():
    cls = model_class("samovar")
    assert lookbacks_for("paper", cls, 96) == ([1024], None)
    assert lookbacks_for("336", cls, 96) == ([336], None)
    values, note = lookbacks_for("96,336", cls, 96)
    assert values == [96, 336] and "validation" in note


def test_quick_profile_caps_and_validates():
    cells = plan(["samovar"], ["etth1"], [96], [1, 2], profile="quick")
    assert [c.dataset for c in cells] == ["ETTh1", "ETTh1"] and cells[0].train["epochs"] == QUICK_EPOCHS == 1
    assert cells[0].max_steps_per_epoch == QUICK_STEPS == 50 and cells[0].lookback == 1024
    assert cells[0].train["eval_batch_size"] == QUICK_EVAL_BATCH  # speed only: not part of the hash
    assert cells[0].key("v") == plan(["samovar"], ["etth1"], [96], [1], profile="quick",
                                     overrides={"eval_batch_size": 7})[0].key("v")
    assert plan(["samovar"], ["etth1"], [96], [1], profile="paper")[0].train.get("eval_batch_size") is None
    # an epoch cap that keeps a per-epoch schedule below the recipe's lr says so in the cell's notes
    (patchtst,) = plan(["patchtst"], ["ETTh1"], [96], [1], profile="quick")
    assert any("never leaves its starting lr 0.0001 / 25" in n for n in patchtst.notes)
    (patchtst,) = plan(["patchtst"], ["ETTh1"], [96], [1], profile="quick", max_epochs=2)
    assert not any("never leaves" in n for n in patchtst.notes)  # type3 sets the full lr after epoch 1
    # the --help of `samovar bench run` names the real caps
    options = {param.name: param.help for param in typer.main.get_command(app).commands["bench"].commands["run"].params}
    assert f"quick default: {QUICK_EPOCHS})" in options["max_epochs"]
    assert f"quick default: {QUICK_STEPS})" in options["max_steps"]
    assert cells[0].key("v")["config_hash"] == cells[1].key("v")["config_hash"]  # seed is a key column, not hashed
    with pytest.raises(ValueError, match="unknown model"):
        plan(["nope"], ["synthetic"], [24], [1])
    with pytest.raises(ValueError, match="--profile"):
        plan(["dlinear"], ["synthetic"], [24], [1], profile="fast")


def test_na_reasons(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMOVAR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    reason = na_reason("Traffic", 96, 96, data_dir=str(tmp_path))
    assert reason is not None and "not available locally" in reason and "--download" in reason
    reason = na_reason("synthetic", 4000, 720)
    assert reason is not None and "lookback" in reason
    assert na_reason("synthetic", 48, 24) is None
    cells = plan(["dlinear"], ["synthetic"], [720], [1], lookback="4000", max_steps_per_epoch=1)
    assert cells[0].na_reason


def test_epoch_subset_spreads_and_shifts():
    data = prepare_data("synthetic", lookback=48, horizon=24)
    sub = EpochSubset(data.train, 10)
    n = len(data.train)
    assert len(sub) == 10 and sub.stride == n // 10
    x0, _ = sub.batch(torch.tensor([3]))
    torch.testing.assert_close(x0, data.train.batch(torch.tensor([3 * sub.stride]))[0])
    sub.epoch = 1
    torch.testing.assert_close(sub.batch(torch.tensor([3]))[0], data.train.batch(torch.tensor([3 * sub.stride + 1]))[0])


# ----------------------------------------------------------------------------- running


def test_cells_run_skip_fail_retry_and_na(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    cells = tiny() + plan(["dlinear"], ["synthetic"], [720], [1], lookback="4000", max_steps_per_epoch=1)
    bad = Cell(**{**cells[0].to_dict(), "model_kwargs": {"kernel_size": 4}})  # even kernel: the model refuses
    counts = run_grid(cells + [bad], db, executor="inline", runs_root=tmp_path / "runs", code_version="t")
    assert counts == {"done": 1, "na": 1, "failed": 1}
    done = db.rows(status="done")[0]
    assert done["test_mse"] > 0 and done["params"] > 0 and done["epochs"] == 1 and done["peak_mem_mb"] > 0
    sample = json.loads(done["forecast_json"])
    assert len(sample["truth"]) == len(sample["pred"]) == 24 and len(sample["history"]) == 48
    assert json.loads(done["config_json"])["max_steps_per_epoch"] == 2
    # validation MSE and MAE of the best epoch (the weights tested), as in the run's metrics.jsonl
    history = [json.loads(line) for line in (Path(done["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    best = history[done["best_epoch"] - 1]
    assert (done["val_mse"], done["val_mae"]) == (best["val_mse"], best["val_mae"])
    assert 0 < done["val_mae"] != done["val_mse"]
    failed = db.rows(status="failed")[0]
    assert "kernel_size" in failed["reason"]
    assert "4000" in db.rows(status="na")[0]["reason"]
    # a second run skips everything; retry_failed runs the failed cell again (and it fails again)
    assert run_grid(cells + [bad], db, executor="inline", runs_root=tmp_path / "runs", code_version="t") == {"na": 1, "skipped": 2}
    again = run_grid([bad], db, executor="inline", runs_root=tmp_path / "runs", code_version="t", retry_failed=True)
    assert again == {"failed": 1} and db.rows(status="failed")[0]["attempts"] == 2


@pytest.mark.slow
def test_local_executor_runs_cells_in_worker_processes(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    cells = plan(["dlinear"], ["synthetic"], [24], [1, 2], profile="quick", max_epochs=1, max_steps_per_epoch=2, lookback="48")
    counts = run_grid(cells, db, executor="local", workers=2, threads=1, runs_root=tmp_path / "runs", code_version="t")
    assert counts == {"done": 2}
    rows = db.rows(status="done")
    assert {r["seed"] for r in rows} == {1, 2} and len({r["pid"] for r in rows}) == 2  # one process per cell


@pytest.mark.slow
def test_killed_run_is_resumed_from_its_checkpoint(tmp_path):
    """Kill `samovar bench run` mid-training; --resume finishes the cell exactly like an uninterrupted run."""
    args = ["--models", "dlinear", "--datasets", "synthetic", "--horizons", "24", "--seeds", "7", "--lookback", "48",
            "--profile", "quick", "--max-epochs", "6", "--max-steps", "40", "--executor", "inline", "--threads", "1"]
    code = "import sys; from samovar.bench.cli import bench_app; bench_app(sys.argv[1:])"
    env = dict(os.environ)
    db_path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-c", code, "run", *args, "--db", str(db_path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            metrics = list(tmp_path.glob("runs/dlinear/synthetic/*/metrics.jsonl"))
            if metrics and len(metrics[0].read_text().splitlines()) >= 2:
                break
            if proc.poll() is not None:
                pytest.fail("the run ended before it could be killed")
            time.sleep(0.05)
        else:
            pytest.fail("no epoch finished within 120 s")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    db = ResultsDB(db_path)
    row = db.rows()[0]
    assert row["status"] == "running"
    run = lambda extra: subprocess.run([sys.executable, "-c", code, "run", *args, "--db", str(db_path), *extra],
                                       env=env, capture_output=True, text=True, timeout=300)
    out = run([])
    assert "--resume" in out.stdout and db.rows()[0]["status"] == "running"
    out = run(["--resume"])
    assert out.returncode == 0, out.stdout + out.stderr
    resumed = db.rows()[0]
    assert resumed["status"] == "done" and "resumed from checkpoint" in resumed["notes"] and resumed["attempts"] == 2
    # the record's time covers the epochs trained before the kill as well as after it
    epochs = [json.loads(line) for line in (Path(resumed["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    assert resumed["wall_seconds"] >= sum(r["seconds"] for r in epochs) and resumed["cpu_seconds"] > 0

    # the same cell without interruption, in another database: identical test metrics
    fresh_db = ResultsDB(tmp_path / "fresh" / "fresh.db")
    cells = plan(["dlinear"], ["synthetic"], [24], [7], profile="quick", max_epochs=6, max_steps_per_epoch=40, lookback="48")
    run_grid(cells, fresh_db, executor="inline", threads=1, code_version=resumed["code_version"])
    fresh = fresh_db.rows()[0]
    assert fresh["epochs"] == resumed["epochs"]
    assert fresh["test_mse"] == pytest.approx(resumed["test_mse"], rel=1e-6)
    assert fresh["val_mse"] == pytest.approx(resumed["val_mse"], rel=1e-6)
    assert fresh["val_mae"] == pytest.approx(resumed["val_mae"], rel=1e-6)
