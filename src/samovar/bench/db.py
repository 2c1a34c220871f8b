"""The results database: one SQLite file (WAL mode) holding every benchmark cell and task result.

Tables, each keyed so that a re-run finds what is already done::

    runs          one row per (model, dataset, horizon, lookback, seed, code_version, config_hash):
                  status running | done | failed | na, val MSE/MAE, every test score, epochs, wall time,
                  peak memory, parameter count, device, the error or N/A reason, a forecast sample
    task_results  one row per (task, dataset, model, mixer, metric, budget, seed, code_version,
                  config_hash): a downstream-task metric (accuracy, bits per character, ...)
    tune_trials   one row per (study, kind, number, config_hash) of ``samovar tune``: every search trial
                  (kind 'trial', number = Optuna's trial number; validation only, never test) and every
                  final run of the best configuration (kind 'final', number = its seed; with test metrics),
                  with parameters, validation curve, CPU/wall seconds and peak memory
    cost_estimates one row per (model, dataset, horizon, lookback, profile, config_hash, code_version) of
                  ``samovar bench cost``: the measured CPU seconds of an optimizer step and of evaluating
                  a window, the cell's steps and windows, and the CPU-hours extrapolated from them

Writers from several processes (or machines sharing a file system with working locks) are
safe: every change is one short ``BEGIN IMMEDIATE`` transaction and a busy connection waits
(``busy_timeout``) instead of failing. A cell is *claimed* atomically before it runs, so two
``samovar bench run`` commands over the same grid never train the same cell twice.

Python API (also for downstream tasks)::

    from samovar.bench.db import ResultsDB
    db = ResultsDB("results.db")
    db.record_task(task="listops", mixer="gla", metric="accuracy", value=0.371,
                   budget="quick: 2000 steps", config={"layers": 4, "dim": 128}, seed=0,
                   wall_seconds=812.0, params=1_234_567, peak_mem_mb=950.0, device="cpu")
    db.task_rows(task="listops")   # list of dicts
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import sqlite3
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 5  # 2: runs.cpu_seconds; 3: runs.test_<score> for every point score; 4: model names renamed;
# 5: runs.est_cpu_hours (a cell N/A for its estimated cost) and the cost_estimates table

# Model names renamed in version 4, old -> new (`samovar.models.STORED_NAMES`): "cats" was only ever
# Kim et al.'s cross-attention CATS, now "cats_xattn" ("cats" is refused on command lines as ambiguous).
_RENAMED_MODELS = {4: {"cats": "cats_xattn"}}
STATUSES = ("running", "done", "failed", "na")
RUN_KEY = ("model", "dataset", "horizon", "lookback", "seed", "code_version", "config_hash")
TASK_KEY = ("task", "dataset", "model", "mixer", "metric", "budget", "seed", "code_version", "config_hash")

# The test scores a run records, as `samovar.training.evaluate` names them (column: test_<score>).
TEST_SCORES = ("mse", "mae", "rmse", "mse_raw", "mae_raw", "rmse_raw", "mape_raw", "smape_raw", "wape_raw", "mase")

# Result columns of `runs` that `finish` may set (besides status/reason/finished_at).
RUN_RESULT_COLUMNS = (
    "val_mse", "val_mae", *(f"test_{score}" for score in TEST_SCORES), "test_windows",
    "epochs", "best_epoch", "train_seconds", "wall_seconds", "peak_mem_mb", "params", "device",
    "threads", "run_dir", "forecast_json", "notes", "cpu_seconds",
)  # fmt: skip

# Columns of `runs` added after schema version 1, by the version that added them (all REAL).
_ADDED_COLUMNS = {2: ("cpu_seconds",), 3: ("test_rmse", "test_rmse_raw", "test_mape_raw", "test_smape_raw",
                                          "test_wape_raw", "test_mase"), 5: ("est_cpu_hours",)}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL, dataset TEXT NOT NULL, horizon INTEGER NOT NULL, lookback INTEGER NOT NULL,
    seed INTEGER NOT NULL, code_version TEXT NOT NULL, config_hash TEXT NOT NULL,
    profile TEXT NOT NULL, config_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'na')),
    reason TEXT,
    val_mse REAL, val_mae REAL, test_mse REAL, test_mae REAL, test_mse_raw REAL, test_mae_raw REAL,
    test_rmse REAL, test_rmse_raw REAL, test_mape_raw REAL, test_smape_raw REAL, test_wape_raw REAL, test_mase REAL,
    test_windows INTEGER, epochs INTEGER, best_epoch INTEGER,
    train_seconds REAL, wall_seconds REAL, peak_mem_mb REAL, params INTEGER, device TEXT, threads INTEGER,
    run_dir TEXT, forecast_json TEXT, notes TEXT, cpu_seconds REAL, est_cpu_hours REAL,
    host TEXT, pid INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL, heartbeat_at REAL, finished_at REAL,
    UNIQUE (model, dataset, horizon, lookback, seed, code_version, config_hash)
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE TABLE IF NOT EXISTS task_results (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL, dataset TEXT NOT NULL, model TEXT NOT NULL, mixer TEXT NOT NULL,
    metric TEXT NOT NULL, budget TEXT NOT NULL, seed INTEGER NOT NULL,
    code_version TEXT NOT NULL, config_hash TEXT NOT NULL, config_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'na')),
    value REAL, higher_is_better INTEGER, reason TEXT,
    wall_seconds REAL, peak_mem_mb REAL, params INTEGER, device TEXT, run_dir TEXT, extra_json TEXT,
    host TEXT, recorded_at REAL NOT NULL,
    UNIQUE (task, dataset, model, mixer, metric, budget, seed, code_version, config_hash)
);
CREATE TABLE IF NOT EXISTS tune_trials (
    id INTEGER PRIMARY KEY,
    study TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('trial', 'final')), number INTEGER NOT NULL,
    model TEXT NOT NULL, dataset TEXT NOT NULL, horizon INTEGER NOT NULL, lookback INTEGER NOT NULL,
    seed INTEGER NOT NULL, code_version TEXT NOT NULL, config_hash TEXT NOT NULL, config_json TEXT NOT NULL,
    params_json TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('complete', 'pruned', 'failed')), reason TEXT,
    val_mse REAL, val_mae REAL, best_epoch INTEGER, epochs INTEGER, curve_json TEXT,
    test_mse REAL, test_mae REAL, test_mse_raw REAL, test_mae_raw REAL, test_windows INTEGER,
    cpu_seconds REAL, wall_seconds REAL, peak_mem_mb REAL, param_count INTEGER, device TEXT, threads INTEGER,
    run_dir TEXT, host TEXT, pid INTEGER, recorded_at REAL NOT NULL,
    UNIQUE (study, kind, number, config_hash)
);
CREATE TABLE IF NOT EXISTS cost_estimates (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL, dataset TEXT NOT NULL, horizon INTEGER NOT NULL, lookback INTEGER NOT NULL,
    profile TEXT NOT NULL, config_hash TEXT NOT NULL, code_version TEXT NOT NULL,
    step_cpu_seconds REAL NOT NULL, step_wall_seconds REAL NOT NULL, eval_cpu_seconds_per_window REAL NOT NULL,
    steps_per_epoch INTEGER NOT NULL, val_windows INTEGER NOT NULL, test_windows INTEGER NOT NULL,
    expected_epochs INTEGER NOT NULL, max_epochs INTEGER NOT NULL,
    est_cpu_hours REAL NOT NULL, max_cpu_hours REAL NOT NULL, probe_windows INTEGER NOT NULL,
    threads INTEGER, device TEXT, host TEXT, note TEXT, measured_at REAL NOT NULL,
    UNIQUE (model, dataset, horizon, lookback, profile, config_hash, code_version)
);
"""


# ----------------------------------------------------------------------------- helpers


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal configs give equal text (and hash)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(config: dict[str, Any]) -> str:
    """First 16 hex digits of the sha256 of the canonical JSON of `config`."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


_CODE_VERSION: str | None = None


def code_version() -> str:
    """``samovar.__version__``, plus ``+g<commit>`` when the package runs from a git checkout."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        from .._version import __version__

        version = __version__
        try:
            sha = subprocess.run(
                ["git", "rev-parse", "--short=10", "HEAD"], cwd=Path(__file__).resolve().parent,
                capture_output=True, text=True, timeout=10,
            )
            if sha.returncode == 0 and sha.stdout.strip():
                version = f"{version}+g{sha.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            pass
        _CODE_VERSION = version
    return _CODE_VERSION


def default_db_path() -> Path:
    """$SAMOVAR_BENCH_DB, else ``<user data dir>/samovar/bench.db``."""
    env = os.environ.get("SAMOVAR_BENCH_DB")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("samovar")) / "bench.db"


def scores_as_columns(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The test_<score> result columns from `evaluate`'s metrics (None for a score it did not compute)."""
    return {f"test_{score}": (metrics or {}).get(score) for score in TEST_SCORES}


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _clean_number(value: Any) -> Any:
    """NaN/inf cannot round-trip through SQLite REAL meaningfully: store them as NULL."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ----------------------------------------------------------------------------- database


class ResultsDB:
    """A handle on one results file; cheap to create, safe to use from several processes.

    Each method opens its own short transaction; a connection is opened per call so a
    handle can be pickled into worker processes (only the path is stored).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 120.0) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if self.path.exists() and self.path.is_dir():
            raise ValueError(f"results database path {self.path} is a directory; give a file name, e.g. {self.path / 'bench.db'}")
        self.timeout = float(timeout)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    def __repr__(self) -> str:
        return f"ResultsDB({str(self.path)!r})"

    # -- connection and schema

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` write transaction: committed on success, rolled back on error."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    def _migrate(self) -> None:
        con = self._connect()
        try:
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); put the database on a local file system")
        finally:
            con.close()
        with self.transaction() as con:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                con.execute(statement)
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                return
            version = int(row["value"])
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}, newer than this samovar's {SCHEMA_VERSION}; "
                    "upgrade samovar or use another --db file"
                )
            have = {r["name"] for r in con.execute("PRAGMA table_info(runs)")}
            for added_in, columns in _ADDED_COLUMNS.items():
                for column in columns:
                    if version < added_in and column not in have:
                        con.execute(f"ALTER TABLE runs ADD COLUMN {column} REAL")
            for renamed_in, names in _RENAMED_MODELS.items():
                if version < renamed_in:
                    for old, new in names.items():
                        for table in ("runs", "tune_trials"):
                            con.execute(f"UPDATE {table} SET model = ? WHERE model = ?", (new, old))
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def schema_version(self) -> int:
        con = self._connect()
        try:
            return int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()["value"])
        finally:
            con.close()

    # -- forecasting cells

    @staticmethod
    def _key(cell: dict[str, Any]) -> tuple:
        missing = [k for k in RUN_KEY if cell.get(k) is None]
        if missing:
            raise ValueError(f"a run key needs {RUN_KEY}; missing {missing}")
        return tuple(cell[k] for k in RUN_KEY)

    def get(self, cell: dict[str, Any]) -> dict[str, Any] | None:
        """The stored row of `cell` (a dict holding the RUN_KEY fields), or None."""
        con = self._connect()
        try:
            where = " AND ".join(f"{k} = ?" for k in RUN_KEY)
            row = con.execute(f"SELECT * FROM runs WHERE {where}", self._key(cell)).fetchone()
            return dict(row) if row else None
        finally:
            con.close()

    def claim(self, cell: dict[str, Any], *, profile: str, config: dict[str, Any], retry_failed: bool = False,
              take_over: bool = False, stale_seconds: float = 3600.0) -> tuple[bool, str]:
        """Atomically mark `cell` running for this process if it should run; returns (claimed, why).

        Not claimed: done cells; failed cells unless `retry_failed`; cells running in a live
        process. An N/A row is claimed: the caller re-checked the cell (a dataset that was
        missing may have appeared) and found it can run. A 'running' row whose process is gone (same host, dead pid) or whose
        heartbeat is older than `stale_seconds` is taken over only with `take_over` (--resume).
        """
        key = self._key(cell)
        now, host, pid = time.time(), socket.gethostname(), os.getpid()
        with self.transaction() as con:
            where = " AND ".join(f"{k} = ?" for k in RUN_KEY)
            row = con.execute(f"SELECT status, host, pid, heartbeat_at, reason FROM runs WHERE {where}", key).fetchone()
            if row is not None:
                status = row["status"]
                if status == "done":
                    return False, "done"
                if status == "failed" and not retry_failed:
                    return False, "failed before (pass --retry-failed to run it again)"
                if status == "running":
                    dead = (row["host"] == host and not _pid_alive(row["pid"])) or (now - (row["heartbeat_at"] or 0)) > stale_seconds
                    if not dead:
                        return False, f"running in process {row['pid']} on {row['host']}"
                    if not take_over:
                        return False, "interrupted earlier (pass --resume to pick it up)"
                con.execute(
                    f"UPDATE runs SET status = 'running', reason = NULL, host = ?, pid = ?, attempts = attempts + 1, "
                    f"started_at = ?, heartbeat_at = ?, finished_at = NULL, profile = ?, config_json = ? WHERE {where}",
                    (host, pid, now, now, profile, canonical_json(config), *key),
                )
                return True, {"running": "resumed", "na": "no longer N/A"}.get(status, "retry")
            con.execute(
                f"INSERT INTO runs ({', '.join(RUN_KEY)}, profile, config_json, status, host, pid, attempts, started_at, heartbeat_at) "
                f"VALUES ({', '.join('?' * len(RUN_KEY))}, ?, ?, 'running', ?, ?, 1, ?, ?)",
                (*key, profile, canonical_json(config), host, pid, now, now),
            )
            return True, "new"

    def heartbeat(self, cell: dict[str, Any]) -> None:
        """Mark a running cell alive (called after each epoch)."""
        with self.transaction() as con:
            where = " AND ".join(f"{k} = ?" for k in RUN_KEY)
            con.execute(f"UPDATE runs SET heartbeat_at = ? WHERE {where} AND status = 'running'", (time.time(), *self._key(cell)))

    def finish(self, cell: dict[str, Any], status: str, *, reason: str | None = None, **results: Any) -> None:
        """Store the outcome of a claimed cell: status 'done' (with results) or 'failed' (with reason)."""
        if status not in ("done", "failed"):
            raise ValueError(f"finish() takes status 'done' or 'failed', got {status!r}")
        unknown = sorted(set(results) - set(RUN_RESULT_COLUMNS))
        if unknown:
            raise ValueError(f"unknown result column(s) {unknown}; known: {RUN_RESULT_COLUMNS}")
        sets = ["status = ?", "reason = ?", "finished_at = ?"] + [f"{k} = ?" for k in results]
        values = [status, reason, time.time()] + [_clean_number(v) for v in results.values()]
        with self.transaction() as con:
            where = " AND ".join(f"{k} = ?" for k in RUN_KEY)
            cur = con.execute(f"UPDATE runs SET {', '.join(sets)} WHERE {where}", (*values, *self._key(cell)))
            if cur.rowcount != 1:
                raise RuntimeError(f"cannot finish cell {self._key(cell)}: it was never claimed")

    def record_na(self, cell: dict[str, Any], reason: str, *, profile: str, config: dict[str, Any],
                  est_cpu_hours: float | None = None) -> None:
        """Record a cell that cannot exist (no test window, dataset absent) or is not run (its estimated
        cost `est_cpu_hours` exceeds the run's cap) with its reason.

        A finished ('done') row is never overwritten; anything else becomes N/A.
        """
        if not reason:
            raise ValueError("an N/A cell needs its reason")
        key = self._key(cell)
        now = time.time()
        with self.transaction() as con:
            con.execute(
                f"INSERT INTO runs ({', '.join(RUN_KEY)}, profile, config_json, status, reason, est_cpu_hours, host, "
                f"finished_at) VALUES ({', '.join('?' * len(RUN_KEY))}, ?, ?, 'na', ?, ?, ?, ?) "
                f"ON CONFLICT ({', '.join(RUN_KEY)}) DO UPDATE SET status = 'na', reason = excluded.reason, "
                f"est_cpu_hours = excluded.est_cpu_hours, finished_at = excluded.finished_at WHERE runs.status != 'done'",
                (*key, profile, canonical_json(config), reason, _clean_number(est_cpu_hours), socket.gethostname(), now),
            )

    # -- cost estimates (samovar bench cost)

    def record_cost(self, **row: Any) -> None:
        """Insert or replace one `cost_estimates` row (host and time filled in)."""
        row.update(host=socket.gethostname(), measured_at=time.time())
        cols = ", ".join(row)
        with self.transaction() as con:
            con.execute(f"INSERT OR REPLACE INTO cost_estimates ({cols}) VALUES ({', '.join('?' * len(row))})",
                        tuple(_clean_number(v) for v in row.values()))

    def cost_rows(self, **equal: Any) -> list[dict[str, Any]]:
        """Rows of `cost_estimates`, optionally equal on model, dataset, horizon, lookback, profile, config_hash."""
        unknown = sorted(set(equal) - {"model", "dataset", "horizon", "lookback", "profile", "config_hash", "code_version"})
        if unknown:
            raise ValueError(f"cannot filter cost_estimates on {unknown}")
        return self._select("cost_estimates", equal)

    def rows(self, *, status: str | None = None, profile: str | None = None, **equal: Any) -> list[dict[str, Any]]:
        """Rows of `runs` as dicts, optionally filtered by status, profile and equality on columns."""
        filters = {"status": status, "profile": profile, **equal}
        for col, val in filters.items():
            if val is not None and col not in ("status", "profile", *RUN_KEY, *RUN_RESULT_COLUMNS):
                raise ValueError(f"cannot filter runs on {col!r}")
        return self._select("runs", filters)

    def _select(self, table: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """All rows of `table` (a fixed name) whose columns equal the non-None `filters`, by id."""
        used = {col: val for col, val in filters.items() if val is not None}
        where = " AND ".join(f"{col} = ?" for col in used)
        sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if used else "") + " ORDER BY id"
        con = self._connect()
        try:
            return [dict(r) for r in con.execute(sql, list(used.values()))]
        finally:
            con.close()

    def counts(self) -> dict[str, int]:
        """How many cells are in each status."""
        con = self._connect()
        try:
            return {r["status"]: r["n"] for r in con.execute("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")}
        finally:
            con.close()

    # -- downstream tasks (issue 7)

    def record_task(
        self,
        *,
        task: str,
        metric: str,
        value: float | None,
        mixer: str = "",
        model: str = "",
        dataset: str = "",
        budget: str = "",
        seed: int = 0,
        config: dict[str, Any] | None = None,
        higher_is_better: bool | None = None,
        status: str = "done",
        reason: str | None = None,
        wall_seconds: float | None = None,
        peak_mem_mb: float | None = None,
        params: int | None = None,
        device: str | None = None,
        run_dir: str | os.PathLike | None = None,
        extra: dict[str, Any] | None = None,
        code_version_: str | None = None,
    ) -> None:
        """Insert or replace one downstream-task result.

        task: "listops", "shakespeare", ...; metric: "accuracy", "val_loss", "bpc", "ppl", ...;
        budget: a label of the training budget ("quick: 2000 steps, context 64"); config: every
        option that changes the result (hashed into the key). A failed or N/A result needs `reason`.
        """
        if status not in ("done", "failed", "na"):
            raise ValueError(f"record_task status must be 'done', 'failed' or 'na', got {status!r}")
        if status == "done" and (value is None or not math.isfinite(float(value))):
            raise ValueError(f"a 'done' task result needs a finite value, got {value!r}")
        if status != "done" and not reason:
            raise ValueError(f"a {status!r} task result needs its reason")
        config = dict(config or {})
        row = {
            "task": task, "dataset": dataset or task, "model": model, "mixer": mixer, "metric": metric,
            "budget": budget, "seed": int(seed), "code_version": code_version_ or code_version(),
            "config_hash": config_hash(config), "config_json": canonical_json(config), "status": status,
            "value": None if value is None else float(value),
            "higher_is_better": None if higher_is_better is None else int(bool(higher_is_better)),
            "reason": reason, "wall_seconds": wall_seconds, "peak_mem_mb": peak_mem_mb, "params": params,
            "device": device, "run_dir": str(run_dir) if run_dir is not None else None,
            "extra_json": canonical_json(extra) if extra else None, "host": socket.gethostname(),
            "recorded_at": time.time(),
        }
        cols = ", ".join(row)
        with self.transaction() as con:
            con.execute(f"INSERT OR REPLACE INTO task_results ({cols}) VALUES ({', '.join('?' * len(row))})",
                        tuple(_clean_number(v) for v in row.values()))

    def task_rows(self, *, task: str | None = None, status: str | None = "done") -> list[dict[str, Any]]:
        """Task results as dicts (default: only 'done'), optionally for one task."""
        return self._select("task_results", {"task": task, "status": status})

    # -- hyper-parameter search (samovar tune)

    def record_tune(self, **row: Any) -> None:
        """Insert or replace one `tune_trials` row: a search trial or a final run (see the module docstring).

        `config` (a dict) is stored as JSON with its hash; `unhashed` (a dict, optional) is stored in the same
        JSON but not hashed (facts about the run that are not its configuration: a user file's resolved path);
        `params` (the searched values) and `curve` (one dict per epoch) as JSON;
        code_version, host and the time are filled in.
        """
        config = row.pop("config")
        unhashed = row.pop("unhashed", None) or {}
        row.update(config_json=canonical_json({**config, **unhashed}), config_hash=config_hash(config),
                   params_json=canonical_json(row.pop("params", {})), curve_json=canonical_json(row.pop("curve", [])),
                   code_version=row.pop("code_version", None) or code_version(), host=socket.gethostname(),
                   recorded_at=time.time())
        cols = ", ".join(row)
        with self.transaction() as con:
            con.execute(f"INSERT OR REPLACE INTO tune_trials ({cols}) VALUES ({', '.join('?' * len(row))})",
                        tuple(_clean_number(v) for v in row.values()))

    def tune_rows(self, *, study: str | None = None, kind: str | None = None, state: str | None = None,
                  config_hash: str | None = None, **equal: Any) -> list[dict[str, Any]]:
        """Rows of `tune_trials` as dicts, optionally of one study, kind ('trial' | 'final'), state, configuration,
        and equal on model, dataset or horizon."""
        unknown = sorted(set(equal) - {"model", "dataset", "horizon"})
        if unknown:
            raise ValueError(f"cannot filter tune_trials on {unknown}")
        return self._select("tune_trials", {"study": study, "kind": kind, "state": state, "config_hash": config_hash,
                                            **equal})
