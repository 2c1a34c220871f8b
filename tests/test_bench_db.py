"""The results database: WAL, schema version, claim semantics, N/A rows, task results, concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3

import pytest

from samovar.bench.db import SCHEMA_VERSION, ResultsDB, config_hash, scores_as_columns


def cell(**kw):
    base = dict(model="dlinear", dataset="ETTh1", horizon=96, lookback=336, seed=1, code_version="v1", config_hash="h")
    return {**base, **kw}


def test_wal_and_schema_version(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    assert db.schema_version() == SCHEMA_VERSION
    con = sqlite3.connect(db.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    with pytest.raises(RuntimeError, match="newer than this samovar"):
        ResultsDB(tmp_path / "r.db")


def test_directory_path_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        ResultsDB(tmp_path)


def test_claim_finish_and_skip_rules(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    c = cell()
    assert db.claim(c, profile="quick", config={}) == (True, "new")
    claimed, why = db.claim(c, profile="quick", config={})
    assert not claimed and "running in process" in why  # this process is alive
    db.finish(c, "done", test_mse=0.5, test_mae=0.4, val_mse=float("nan"))
    row = db.get(c)
    assert row["status"] == "done" and row["test_mse"] == 0.5 and row["val_mse"] is None and row["attempts"] == 1
    assert db.claim(c, profile="quick", config={}) == (False, "done")

    f = cell(seed=2)
    db.claim(f, profile="quick", config={})
    db.finish(f, "failed", reason="ValueError: boom")
    claimed, why = db.claim(f, profile="quick", config={})
    assert not claimed and "--retry-failed" in why
    assert db.claim(f, profile="quick", config={}, retry_failed=True) == (True, "retry")
    assert db.get(f)["attempts"] == 2 and db.get(f)["reason"] is None

    with pytest.raises(ValueError, match="unknown result column"):
        db.finish(f, "done", test_crps=1.0)
    with pytest.raises(RuntimeError, match="never claimed"):
        db.finish(cell(seed=99), "done")


def test_dead_running_cell_needs_resume(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    c = cell()
    db.claim(c, profile="quick", config={})
    con = sqlite3.connect(db.path)
    con.execute("UPDATE runs SET pid = ?", (2**22 + 12345,))  # a pid that is not running
    con.commit()
    con.close()
    claimed, why = db.claim(c, profile="quick", config={})
    assert not claimed and "--resume" in why
    assert db.claim(c, profile="quick", config={}, take_over=True) == (True, "resumed")


def test_na_rows_keep_reason_and_never_replace_done(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    db.record_na(cell(horizon=720), "no test window", profile="quick", config={})
    row = db.get(cell(horizon=720))
    assert row["status"] == "na" and row["reason"] == "no test window"
    # the planner re-checks N/A on every run; a cell it finds possible now is claimed
    assert db.claim(cell(horizon=720), profile="quick", config={}) == (True, "no longer N/A")
    db.claim(cell(), profile="quick", config={})
    db.finish(cell(), "done", test_mse=1.0)
    db.record_na(cell(), "late reason", profile="quick", config={})
    assert db.get(cell())["status"] == "done"
    with pytest.raises(ValueError, match="reason"):
        db.record_na(cell(seed=5), "", profile="quick", config={})


def test_task_results(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    db.record_task(task="listops", mixer="gla", metric="accuracy", value=0.37, budget="quick", config={"layers": 4},
                   higher_is_better=True, wall_seconds=12.0)
    db.record_task(task="listops", mixer="gla", metric="accuracy", value=0.38, budget="quick", config={"layers": 4},
                   higher_is_better=True)  # same key: replaced
    db.record_task(task="listops", mixer="mamba", metric="accuracy", value=None, status="failed", reason="OOM")
    rows = db.task_rows(task="listops")
    assert len(rows) == 1 and rows[0]["value"] == 0.38 and rows[0]["config_hash"] == config_hash({"layers": 4})
    assert len(db.task_rows(task="listops", status=None)) == 2
    with pytest.raises(ValueError, match="finite value"):
        db.record_task(task="t", metric="m", value=float("nan"))
    with pytest.raises(ValueError, match="reason"):
        db.record_task(task="t", metric="m", value=None, status="na")


def _writer(path: str, worker: int, cells: int, out) -> None:
    db = ResultsDB(path, timeout=60)
    won = []
    for i in range(cells):
        c = cell(seed=i)
        claimed, _ = db.claim(c, profile="quick", config={"i": i})
        if claimed:
            db.heartbeat(c)
            db.finish(c, "done", test_mse=float(i), params=worker)
            won.append(i)
        db.record_task(task="t", mixer=f"w{worker}", metric="m", value=float(i), seed=i)
    out.put((worker, won))


def test_concurrent_writers_claim_each_cell_once(tmp_path):
    path = str(tmp_path / "r.db")
    ResultsDB(path)
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, w, 25, out)) for w in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    won = sorted(i for _, cells in results for i in cells)
    assert won == list(range(25))  # every cell claimed by exactly one writer
    db = ResultsDB(path)
    rows = db.rows()
    assert len(rows) == 25 and all(r["status"] == "done" and r["test_mse"] == r["seed"] for r in rows)
    assert len(db.task_rows()) == 4 * 25
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _downgrade(db: ResultsDB, version: int, dropped: tuple[str, ...]) -> None:
    """Make `db` look like a database of an older schema version: without the columns added since."""
    con = sqlite3.connect(db.path)
    for column in dropped:
        con.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    con.commit()
    con.close()


NEW_SCORES = ("test_rmse", "test_rmse_raw", "test_mape_raw", "test_smape_raw", "test_wape_raw", "test_mase")


def test_version_1_database_is_migrated(tmp_path):
    _downgrade(ResultsDB(tmp_path / "r.db"), 1, ("cpu_seconds", *NEW_SCORES, "est_cpu_hours"))
    db = ResultsDB(tmp_path / "r.db")
    assert db.schema_version() == SCHEMA_VERSION == 5
    db.claim(cell(), profile="quick", config={})
    db.finish(cell(), "done", cpu_seconds=1.5, test_mase=0.9)
    assert db.get(cell())["cpu_seconds"] == 1.5 and db.get(cell())["test_mase"] == 0.9


def test_version_2_database_gains_the_score_columns_and_keeps_its_rows(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    db.claim(cell(), profile="quick", config={})
    db.finish(cell(), "done", test_mse=0.5, cpu_seconds=2.0)
    _downgrade(db, 2, (*NEW_SCORES, "est_cpu_hours"))
    db = ResultsDB(tmp_path / "r.db")
    assert db.schema_version() == 5
    old = db.get(cell())
    assert old["test_mse"] == 0.5 and old["cpu_seconds"] == 2.0 and all(old[c] is None for c in NEW_SCORES)
    db.claim(cell(seed=2), profile="quick", config={})
    db.finish(cell(seed=2), "done", **scores_as_columns({"mse": 0.4, "rmse": 0.2, "smape_raw": 0.3, "mase": 1.1}))
    new = db.get(cell(seed=2))
    assert (new["test_mse"], new["test_rmse"], new["test_smape_raw"], new["test_mase"]) == (0.4, 0.2, 0.3, 1.1)
    assert new["test_wape_raw"] is None  # a score the metrics do not hold stays NULL


def test_version_3_rows_of_the_old_name_cats_become_cats_xattn(tmp_path):
    """"cats" was only ever Kim et al.'s cross-attention CATS: its rows are that model's, renamed once on opening."""
    db = ResultsDB(tmp_path / "r.db")
    for model in ("cats", "dlinear"):
        db.claim(cell(model=model), profile="quick", config={})
        db.finish(cell(model=model), "done", test_mse=0.5)
    _downgrade(db, 3, ("est_cpu_hours",))
    db = ResultsDB(tmp_path / "r.db")
    assert db.schema_version() == 5
    assert sorted(r["model"] for r in db.rows()) == ["cats_xattn", "dlinear"]
    assert db.get(cell(model="cats_xattn"))["test_mse"] == 0.5 and db.get(cell(model="cats")) is None


def test_version_4_database_gains_the_cost_estimate_column_and_table(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    db.claim(cell(), profile="seed", config={})
    db.finish(cell(), "done", test_mse=0.5)
    _downgrade(db, 4, ("est_cpu_hours",))
    con = sqlite3.connect(db.path)
    con.execute("DROP TABLE cost_estimates")
    con.commit()
    con.close()
    db = ResultsDB(tmp_path / "r.db")
    assert db.schema_version() == 5 and db.get(cell())["test_mse"] == 0.5 and db.get(cell())["est_cpu_hours"] is None
    db.record_na(cell(seed=2), "estimated 12.0 CPU-hours > --max-cell-hours 1", profile="seed", config={},
                 est_cpu_hours=12.0)
    assert db.get(cell(seed=2))["est_cpu_hours"] == 12.0 and db.cost_rows() == []
