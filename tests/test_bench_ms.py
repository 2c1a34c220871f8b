"""The MS setting in the benchmark (`samovar bench run --target COL`): every column read, one forecast and scored."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from samovar.bench.db import ResultsDB
from samovar.bench.grid import plan
from samovar.bench.runner import execute_cell, run_grid
from samovar.cli import app
from samovar.models import model_class
from samovar.training.runs import fit_run

runner = CliRunner()
TARGET = "ch6"  # the built-in synthetic series has columns ch0..ch6; MS forecasts the last, as OT in ETT


def cells(target=None, **kw):
    """DLinear on the synthetic set at lookback 48, horizon 24: a cell takes about a second."""
    args = dict(profile="quick", max_epochs=1, max_steps_per_epoch=2, lookback="48", target=target)
    args.update(kw)
    return plan(["dlinear"], ["synthetic"], [24], [3], **args)


def test_ms_cell_matches_fit_run_with_the_same_target_and_seed(tmp_path):
    # profile paper, one epoch: no step cap, so the cell trains exactly what `samovar train --target ch6` trains
    (cell,) = cells(TARGET, profile="paper", max_steps_per_epoch=None)
    assert cell.target == TARGET and cell.config()["target"] == TARGET and cell.max_steps_per_epoch is None
    db = ResultsDB(tmp_path / "r.db")
    status, message = execute_cell(cell, db, runs_root=tmp_path / "runs", code_version="t")
    assert status == "done", message
    row = db.rows()[0]
    config = json.loads((tmp_path / "runs").glob("dlinear/synthetic/*/config.json").__next__().read_text())
    assert config["data"]["inputs"]["targets"] == [TARGET] and len(config["data"]["inputs"]["past"]) == 6
    assert json.loads(row["forecast_json"])["channel"] == TARGET  # the stored sample is the target's

    inputs = {"target": [TARGET], "past": None, "future": None, "calendar": False}  # as `samovar train --target ch6`
    result, data = fit_run("dlinear", "synthetic", horizon=24, lookback=48, model_kwargs=cell.model_kwargs,
                           config=cell.train_config(threads=1, quiet=True), run_dir=tmp_path / "train", inputs=inputs)
    assert data.target_channels == 1
    assert row["test_mse"] == pytest.approx(result.test_metrics["mse"], rel=1e-6)
    assert row["test_mae"] == pytest.approx(result.test_metrics["mae"], rel=1e-6)
    assert row["val_mse"] == pytest.approx(result.best_val_mse, rel=1e-6)


def test_m_and_ms_cells_coexist_and_are_skipped_when_done(tmp_path):
    (m,) = cells()
    (ms,) = cells(TARGET)
    assert "target" not in m.config()  # an M cell's hash is the one it had before the setting existed
    assert m.key("t")["config_hash"] != ms.key("t")["config_hash"] and m.label() != ms.label()
    db = ResultsDB(tmp_path / "r.db")
    assert run_grid([m, ms], db, executor="inline", threads=1, code_version="t") == {"done": 2}
    rows = {json.loads(r["config_json"]).get("target"): r for r in db.rows()}
    assert set(rows) == {None, TARGET} and all(r["status"] == "done" for r in rows.values())
    assert rows[None]["test_mse"] != rows[TARGET]["test_mse"]  # 7 channels scored vs 1
    assert run_grid([m, ms], db, executor="inline", threads=1, code_version="t") == {"skipped": 2}
    assert len(db.rows()) == 2


def test_na_for_a_model_without_past_covariates_and_for_a_missing_column(tmp_path, monkeypatch):
    missing = cells("OT")[0]
    assert missing.na_reason.startswith("synthetic: ") and "'OT'" in missing.na_reason
    assert "ch0, ch1, ch2, ch3, ch4, ch5, ch6" in missing.na_reason
    monkeypatch.setattr(model_class("dlinear"), "covariates", ("future",))
    incapable = cells(TARGET)[0]
    assert "does not take past-only covariates" in incapable.na_reason and "--target ch6" in incapable.na_reason
    assert cells()[0].na_reason is None  # the same model in M runs
    db = ResultsDB(tmp_path / "r.db")
    assert run_grid([missing, incapable], db, executor="inline", code_version="t") == {"na": 2}
    assert {r["status"] for r in db.rows()} == {"na"} and len({r["config_hash"] for r in db.rows()}) == 2
    with pytest.raises(ValueError, match="one column name"):
        cells("ch5,ch6")


def test_interrupted_ms_cell_resumes_like_an_uninterrupted_one(tmp_path):
    (cell,) = cells(TARGET, max_epochs=2)
    db = ResultsDB(tmp_path / "r.db")

    class Interrupt(ResultsDB):
        def heartbeat(self, key):  # after the first epoch's checkpoint: as a kill would leave it
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_cell(cell, Interrupt(db.path), runs_root=tmp_path / "runs", code_version="t")
    with db.transaction() as con:  # the killed process: on another host, silent for long
        con.execute("UPDATE runs SET host = 'elsewhere', heartbeat_at = 0")
    assert execute_cell(cell, db, runs_root=tmp_path / "runs", code_version="t")[0] == "skipped"  # needs --resume
    status, _ = execute_cell(cell, db, runs_root=tmp_path / "runs", code_version="t", resume=True)
    resumed = db.rows()[0]
    assert status == "done" and "resumed from checkpoint" in resumed["notes"] and resumed["attempts"] == 2

    fresh = ResultsDB(tmp_path / "fresh.db")
    assert execute_cell(cell, fresh, runs_root=tmp_path / "fresh-runs", code_version="t")[0] == "done"
    assert fresh.rows()[0]["test_mse"] == pytest.approx(resumed["test_mse"], rel=1e-6)
    assert fresh.rows()[0]["epochs"] == resumed["epochs"] == 2


def test_cli_run_cost_status_and_report_name_the_setting(tmp_path):
    db = tmp_path / "bench.db"
    grid = ["--models", "dlinear", "--datasets", "synthetic", "--horizons", "24", "--lookback", "48", "--max-epochs", "1",
            "--max-steps", "2", "--executor", "inline", "--threads", "1", "--db", str(db)]
    for extra in ([], ["--target", TARGET]):
        out = runner.invoke(app, ["bench", "run", *grid, *extra])
        assert out.exit_code == 0, out.output
        assert "done 1" in out.output and f"setting {'MS (target ch6)' if extra else 'M'}" in out.output
    cost = runner.invoke(app, ["bench", "cost", *grid[:10], "--profile", "quick", "--db", str(db), "--target", TARGET],
                         terminal_width=200)
    assert cost.exit_code == 0, cost.output
    assert "setting MS (target ch6)" in cost.output

    status = runner.invoke(app, ["bench", "status", "--db", str(db)], terminal_width=200)
    assert "setting M: done 1" in status.output and "setting MS (target ch6): done 1" in status.output

    mixed = runner.invoke(app, ["bench", "report", "--db", str(db), "--out", str(tmp_path / "rep")])
    assert mixed.exit_code == 2 and "several settings" in mixed.output and "--target" in mixed.output
    for target, out_dir in (("ch6", "ms"), ("none", "m")):
        rep = runner.invoke(app, ["bench", "report", "--db", str(db), "--out", str(tmp_path / out_dir), "--target", target])
        assert rep.exit_code == 0, rep.output
    ms = (tmp_path / "ms" / "report.md").read_text()
    assert "setting **MS**" in ms and "only ch6 is forecast and scored" in ms and "setting MS (target ch6)" in ms
    assert "setting **M**" in (tmp_path / "m" / "report.md").read_text()
    assert "MS (target ch6)" in (tmp_path / "ms" / "results.csv").read_text().splitlines()[1]
    absent = runner.invoke(app, ["bench", "report", "--db", str(db), "--out", str(tmp_path / "x"), "--target", "OT"])
    assert absent.exit_code == 2 and "no results of setting MS (target OT)" in absent.output
