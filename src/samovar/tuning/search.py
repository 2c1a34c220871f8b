"""``samovar tune``: hyper-parameter search on Optuna, selection on validation, a sealed test split.

    result = tune("dlinear", "ETTh1", 96, trials=20)            # samovar.tune(...)
    result.best_params, result.final["test_mse"], result.final["test_mse_std"]

How a tune runs:
1. ``plan_tune`` resolves the published recipe (``recipe_training``, as ``samovar train``) and the
   model's ``search_space``; the published value of every key is put inside the space and
   lookbacks that leave a split without a window are dropped (both named in ``plan.notes``).
2. The study lives in Optuna's storage (default: ``optuna.db`` beside the results database; any
   SQLAlchemy URL to share it across machines). The published recipe is enqueued as trial 0;
   ``--sampler grid`` enqueues every grid point after it instead of sampling.
3. ``work`` (in this process, or in each of ``workers`` spawned processes) runs trials until the
   study holds ``trials`` of them (grid: until the queue is empty): each trial is ``fit_run`` on
   train and validation windows only (``evaluate_test=False``), reports every epoch's validation
   MSE to the pruner and is recorded in the results database's ``tune_trials`` table.
4. ``final_evaluation`` retrains the best configuration (on validation) with ``seeds`` seeds, each in
   its own run directory, reads the test split for the first time, records each run, and reports
   the test MSE/MAE mean and std (ddof 1) computed from the recorded rows.

A killed tune continues where it stopped when run again: finished trials are kept; a trial left
running by a dead process (same host: its pid is gone; any host: no heartbeat for GRACE_SECONDS)
is failed and its parameters enqueued again; final runs resume from their checkpoints.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import statistics
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from .._checks import positive_int
from ..bench.db import ResultsDB, _pid_alive, config_hash
from ..training import rundir as rd
from ..training.config import TrainConfig
from ..data.io import READING_DEFAULTS, READING_FLAGS, reading_options
from ..training.recipes import Recipe, recipe_dataset_name
from ..training.runs import fit_run, model_class, model_options, recipe_training, resolve_lookback
from .space import apply, check_space, grid_points, published_values, restrict, suggest, widen

SAMPLERS = ("tpe", "grid", "random")
PRUNERS = ("median", "hyperband", "none")
HEARTBEAT_SECONDS = 60  # a running trial marks itself alive this often (Optuna RDB heartbeat)
GRACE_SECONDS = 300  # a running trial silent for this long (another machine died) is failed and retried
CLAIM_SECONDS = 30.0  # a running trial whose worker has not named itself after this long died while claiming it
HOST = socket.gethostname()


@dataclass
class TunePlan:
    """Everything a worker needs (picklable: sent to spawned worker processes)."""

    model: str
    source: str
    dataset: str  # the name recipes and records use
    horizon: int
    lookback: int  # the published lookback
    train: dict[str, Any]  # the published TrainConfig (epoch cap, device, threads applied)
    model_kwargs: dict[str, Any]
    space: dict[str, Any]
    published: dict[str, Any]  # the published value of every key of `space`
    recipe: Recipe
    study: str
    storage: str
    db: str
    runs_root: str
    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "median"
    seeds: int = 3
    workers: int = 1
    timeout: float | None = None
    sampler_seed: int | None = None
    data_dir: str | None = None
    split: tuple[float, float, float] | None = None
    fill: str = "error"
    quiet: bool = False
    notes: list[str] = field(default_factory=list)
    sep: str = ","  # how a CSV file `source` is written (``samovar.data.read_table``)
    decimal: str = "."
    date_format: str | None = None  # how its text dates are read (``samovar.data.read_table``)
    dayfirst: bool = False
    source_path: str | None = None  # a user file `source`, resolved (``source_path``): recorded, not hashed

    def published_config(self) -> TrainConfig:
        return TrainConfig(**self.train)


@dataclass
class TuneResult:
    """What `tune` returns: the study, its best configuration and the final N-seed test scores."""

    study: str
    storage: str
    db: str
    states: dict[str, int]  # trials per Optuna state
    best_number: int
    best_params: dict[str, Any]
    best_val_mse: float
    published_val_mse: float | None
    final: dict[str, Any] | None  # final_summary(): test mse/mae mean and std over the seeds, runs
    notes: list[str]
    plots: list[Path] = field(default_factory=list)


class _Surplus(Exception):
    """The study already holds its trial budget (another worker started the last trial)."""


class _TrialFailed(Exception):
    """A trial's training failed (e.g. diverged); it is recorded as failed and the search goes on."""


# ----------------------------------------------------------------------------- planning


def lookbacks_that_fit(source: Any, lookbacks: list[int], horizon: int, data_dir: Any, split: Any,
                       fill: str, sep: str = ",", decimal: str = ".", date_format: str | None = None,
                       dayfirst: bool = False) -> tuple[list[int], list[str]]:
    """(the lookbacks whose every split holds a window, a note per dropped one)."""
    from ..data import DataError, prepare_data
    from ..data.panel import read_panel
    from ..data.prepare import load_table, source_format
    from ..data.registry import find_spec
    from ..data.splits import check_split_sizes

    spec = find_spec(source) if isinstance(source, str) else None
    if spec is None:  # a file that cannot be read is its own error, not a reason to drop every lookback
        fmt = source_format(source, None, sep)
        if fmt is None:
            load_table(source, data_dir=data_dir, fill=fill, sep=sep, decimal=decimal, date_format=date_format,
                       dayfirst=dayfirst)
        else:
            read_panel(source, fmt, fill=fill, sep=sep, decimal=decimal, date_format=date_format, dayfirst=dayfirst)
    kept, notes = [], []
    for lookback in lookbacks:
        try:
            if spec is not None:
                check_split_sizes(spec.protocol, spec.rows, lookback, horizon, spec.name)
            else:
                prepare_data(source, lookback=lookback, horizon=horizon, data_dir=data_dir, split=split, fill=fill,
                             sep=sep, decimal=decimal, date_format=date_format, dayfirst=dayfirst)
            kept.append(lookback)
        except DataError as exc:
            notes.append(f"lookback {lookback} dropped: {str(exc).split('. What')[0]}")
    return kept, notes




def read_with(dialect: dict[str, Any]) -> str:
    """A `reading_options` as the command-line options that read a file so ("--sep ';' --decimal ,"), "" for the
    defaults."""
    import shlex

    return " ".join(flag if key == "dayfirst" else f"{flag} {shlex.quote(str(dialect[key]))}"
                    for key, flag in READING_FLAGS.items() if key in dialect)


def source_path(source: Any) -> str | None:
    """The resolved absolute path of a user's file `source` (relative paths start at the current directory),
    else None: a registered dataset name or "synthetic..." (data samovar reads in its own format)."""
    from ..data.registry import find_spec
    from ..data.synthetic import parse_synthetic_source

    if not isinstance(source, (str, os.PathLike)):
        return None
    text = os.fspath(source)
    if find_spec(text) is not None or parse_synthetic_source(text) is not None:
        return None
    return str(Path(text).expanduser().resolve())


def default_storage(db_path: Path) -> str:
    """Optuna's SQLite file beside the results database."""
    return f"sqlite:///{db_path.resolve().parent / 'optuna.db'}"


def plan_tune(
    model: str, dataset: str, horizon: int, *, trials: int = 20, sampler: str = "tpe", space: list[str] | None = None,
    seeds: int = 3, workers: int = 1, storage: str | None = None, study: str | None = None,
    timeout: float | None = None, epochs: int | None = None, pruner: str = "median", db: str | Path | None = None,
    runs_dir: str | Path | None = None, data_dir: str | Path | None = None,
    split: tuple[float, float, float] | None = None, fill: str = "error", device: str = "auto", threads: int = 1,
    sampler_seed: int | None = None, quiet: bool = False, lookback: int | None = None, sep: str = ",",
    decimal: str = ".", date_format: str | None = None, dayfirst: bool = False,
) -> TunePlan:
    """Resolve recipe, search space, study name and storage; ValueError naming any bad option.
    lookback: trial 0's (the published recipe's) lookback; default the model's published one for the horizon.
    sep, decimal: the column separator and decimal mark of a CSV `dataset`; date_format, dayfirst: how its text
    dates are read (``samovar.data.read_table``). A registered dataset or "synthetic" refuses them. The study name
    (unless `study` is given) is model-dataset-H<horizon>-<hash of the search settings and, where they are not the
    defaults, these four>."""
    from ..data.io import csv_dialect
    from ..data.prepare import refuse_file_options

    sep, decimal = csv_dialect(sep, decimal)
    refuse_file_options(dataset, sep=sep, decimal=decimal, date_format=date_format, dayfirst=dayfirst)
    if sampler not in SAMPLERS:
        raise ValueError(f"--sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise ValueError(f"--pruner {pruner!r}: choose one of {', '.join(PRUNERS)}")
    positive_int("--trials", trials)
    positive_int("--workers", workers)
    positive_int("--seeds", seeds, minimum=0)
    positive_int("--epochs", epochs, or_none=True)
    if timeout is not None and not timeout > 0:
        raise ValueError(f"--timeout must be a positive number of seconds, got {timeout!r}")
    name = model.lower()
    cls = model_class(name)
    dataset_name = recipe_dataset_name(dataset)
    config, model_kwargs, recipe = recipe_training(name, dataset, horizon, "auto",
                                                   {"device": device, "threads": threads, "quiet": True})
    notes = list(recipe.notes)
    if epochs is not None and config.epochs > epochs:
        notes.append(f"every trial and final run trains at most {epochs} epochs (the recipe: {config.epochs})")
        config = TrainConfig(**{**config.to_dict(), "epochs": int(epochs)})
    lookback = resolve_lookback(name, lookback, horizon)
    options = model_options(name)
    full = cls.search_space(dataset_name, int(horizon))
    check_space(full, options, cls.__name__)
    chosen = restrict(full, space)
    published = published_values(chosen, lookback, config, model_kwargs, options)
    chosen, widened = widen(chosen, published)
    notes += widened
    # trial 0's lookback must fit even when it is not searched: else every trial fails alike
    kept, dropped = lookbacks_that_fit(dataset, list(chosen.get("lookback", [lookback])), horizon, data_dir, split, fill,
                                       sep, decimal, date_format, dayfirst)
    if lookback not in kept:
        raise ValueError(f"the published lookback {lookback} leaves a split of {dataset_name} without a window "
                         f"at horizon {horizon}: " + "; ".join(n for n in dropped if n.startswith(f"lookback {lookback} "))
                         + "; give a shorter one with lookback= (command line: --lookback)")
    if "lookback" in chosen:
        notes += dropped
        chosen["lookback"] = kept
    if sampler == "grid":
        grid_points(chosen, published)  # ranges: a clear error now
    results_db = ResultsDB(db)
    train = config.to_dict()
    identity = {"model": name, "source": str(dataset), "horizon": int(horizon), "split": split, "space": chosen,
                "sampler": sampler, "pruner": pruner, "lookback": lookback, "model_kwargs": model_kwargs,
                "train": {k: v for k, v in train.items() if k not in rd.RESUME_FREE_OPTIONS},
                **reading_options(sep, decimal, date_format, dayfirst)}
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in dataset_name)
    return TunePlan(
        model=name, source=str(dataset), dataset=dataset_name, horizon=int(horizon), lookback=lookback, train=train,
        model_kwargs=model_kwargs, space=chosen, published=published, recipe=recipe,
        study=study or f"{name}-{safe}-H{horizon}-{config_hash(identity)[:8]}",
        storage=storage or default_storage(results_db.path), db=str(results_db.path),
        runs_root=str(Path(runs_dir) if runs_dir is not None else results_db.path.parent / "runs" / "tune"),
        trials=int(trials), sampler=sampler, pruner=pruner, seeds=int(seeds), workers=int(workers), timeout=timeout,
        sampler_seed=sampler_seed, data_dir=str(data_dir) if data_dir is not None else None,
        split=tuple(split) if split is not None else None, fill=fill, quiet=quiet, notes=notes, sep=sep, decimal=decimal,
        date_format=date_format, dayfirst=bool(dayfirst), source_path=source_path(dataset),
    )


# ----------------------------------------------------------------------------- the study


def _retry(study: Any, trial: Any) -> None:
    """Enqueue the parameters of a trial that died with its process (heartbeat or pid)."""
    params = trial.system_attrs.get("fixed_params") or trial.params
    attrs = {k: v for k, v in trial.user_attrs.items() if k not in ("host", "pid")}
    study.enqueue_trial(dict(params), user_attrs={**attrs, "retry_of": trial.number})


def storage_for(url: str) -> Any:
    """Optuna RDB storage with heartbeats; a SQLite file gets WAL mode and waits on locks instead of failing."""
    import optuna

    engine_kwargs = {}
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=120)
        try:
            con.execute("PRAGMA journal_mode = WAL")  # persistent: readers no longer block the writer
        finally:
            con.close()
        engine_kwargs = {"connect_args": {"timeout": 120}}
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; they are what resume relies on
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_SECONDS,
                                             grace_period=GRACE_SECONDS, heartbeat_stale_trial_callback=_retry)
    if url.startswith("sqlite"):
        _serialize_sqlite(storage.engine)
    return storage


def _serialize_sqlite(engine: Any) -> None:
    """Make every transaction on `engine` take SQLite's write lock when it begins (BEGIN IMMEDIATE).

    Optuna claims a queued trial by reading it as WAITING and setting it RUNNING under SELECT ...
    FOR UPDATE, which SQLite ignores: two processes could both claim the same trial. With the
    lock taken at BEGIN, the read and the write of one claim are never interleaved with another's.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite's own BEGIN would be deferred

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listeners are dropped


def open_study(plan: TunePlan, worker: int = 0) -> Any:
    """Create or load the plan's study with its sampler and pruner."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = None if plan.sampler_seed is None else plan.sampler_seed + worker
    if plan.sampler == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=plan.workers > 1)
    else:  # grid: every trial is enqueued, nothing is sampled
        sampler = optuna.samplers.RandomSampler(seed=seed)
    epochs = plan.published_config().epochs
    # steps are 1-based epochs: the median pruner judges a trial from its second epoch on, once 3 trials finished
    pruner = {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
              "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs),
              "none": optuna.pruners.NopPruner}[plan.pruner]()
    return optuna.create_study(storage=storage_for(plan.storage), study_name=plan.study, direction="minimize",
                               sampler=sampler, pruner=pruner, load_if_exists=True)


def enqueue(plan: TunePlan, study: Any) -> None:
    """The published recipe as trial 0 (grid: then every other grid point); points already in the study are skipped."""
    points = grid_points(plan.space, plan.published)[: plan.trials] if plan.sampler == "grid" else [plan.published]
    for i, params in enumerate(points):
        study.enqueue_trial(params, user_attrs={"source": "published" if i == 0 else "grid"}, skip_if_exists=True)


def _counted(trials: list[Any]) -> list[Any]:
    """Trials that use up the budget: all but those retried after their process died and surplus ones."""
    retried = {t.user_attrs.get("retry_of") for t in trials}
    return [t for t in trials if t.number not in retried and not t.user_attrs.get("surplus")]


def _retry_dead_trials(study: Any, plan: TunePlan, db: ResultsDB) -> None:
    """Fail and re-enqueue running trials whose process is gone (a killed tune): those of this host whose
    pid is dead, and those of any host that never named their worker (killed while claiming the trial).
    Trials of other hosts that went silent are Optuna's heartbeat's business (GRACE_SECONDS).

    A trial killed after its row was recorded but before Optuna stored its value has its row
    marked failed too, so the database and the study agree on what ran to the end.
    """
    from optuna.trial import TrialState

    now = datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, pid = t.user_attrs.get("host"), t.user_attrs.get("pid")
        # a live worker names itself (host, then pid) right after it claims a trial: a trial not fully
        # named after CLAIM_SECONDS lost its process between the claim and that (a kill may land between the two)
        named = host is not None and pid is not None
        dead = (named and host == HOST and not _pid_alive(pid)) or (
            not named and t.datetime_start is not None and (now - t.datetime_start).total_seconds() > CLAIM_SECONDS)
        if dead:
            try:
                study.tell(t.number, state=TrialState.FAIL)
            except (RuntimeError, ValueError):
                continue  # another worker got there first
            _retry(study, t)
            with db.transaction() as con:
                reason = "its process died before the study stored the result; retried as a new trial"
                con.execute("UPDATE tune_trials SET state = 'failed', reason = ? WHERE study = ? AND kind = 'trial' "
                            "AND number = ?", (reason, plan.study, t.number))


def work(plan: TunePlan, worker: int = 0) -> None:
    """Run trials of the plan's study until its budget is used (grid: its queue is empty) or the timeout."""
    from optuna.trial import TrialState

    if plan.train.get("threads"):
        torch.set_num_threads(int(plan.train["threads"]))
    study = open_study(plan, worker)
    db = ResultsDB(plan.db)
    started = time.monotonic()
    while plan.timeout is None or time.monotonic() - started < plan.timeout:
        _retry_dead_trials(study, plan, db)
        trials = study.get_trials(deepcopy=False)
        queued = any(t.state == TrialState.WAITING for t in trials)
        if not queued and (plan.sampler == "grid" or len(_counted(trials)) >= plan.trials):
            break  # (a queued trial beyond the budget is turned away by the objective)
        try:
            study.optimize(lambda trial: _objective(trial, plan, study, db), n_trials=1)
        except _Surplus:
            break
        except _TrialFailed:
            continue


# ----------------------------------------------------------------------------- one trial


def record_config(plan: TunePlan, lookback: int, config: TrainConfig, model_kwargs: dict[str, Any]) -> dict[str, Any]:
    """What a trial or final run trains (seed and result-free options aside): recorded and hashed; how the file
    is read only where it is not the default (`reading_options`), so the hashes of other runs are what they were."""
    train = {k: v for k, v in config.to_dict().items() if k not in (*rd.RESUME_FREE_OPTIONS, "seed")}
    return {"model": plan.model, "dataset": plan.dataset, "source": plan.source, "horizon": plan.horizon,
            "lookback": lookback, "split": plan.split, "train": train, "model_kwargs": model_kwargs,
            **reading_options(plan.sep, plan.decimal, plan.date_format, plan.dayfirst)}


class _Cost:
    """CPU seconds, wall seconds and peak memory (CUDA: allocated; Linux: this process's peak RSS,
    reset at the start; elsewhere: the process's peak so far) of the code in a with-block."""

    def __init__(self, device: str) -> None:
        from ..utils import resolve_device

        self.device = resolve_device(device)

    def __enter__(self) -> "_Cost":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        elif Path("/proc/self/clear_refs").exists():
            try:
                Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak RSS
            except OSError:
                pass
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        from ..utils import peak_memory_mb

        self.wall_seconds = time.perf_counter() - self.wall
        self.cpu_seconds = time.process_time() - self.cpu
        self.peak_mem_mb = peak_memory_mb(self.device)
        if self.device.type != "cuda" and Path("/proc/self/status").exists():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mem_mb = int(line.split()[1]) / 1024  # kB

    def add_resumed(self, result: Any) -> None:
        """Count the time the earlier, interrupted calls of a resumed run spent up to its checkpoint
        (`TrainResult.resumed_seconds` / `resumed_cpu_seconds`; CPU unknown for an old checkpoint)."""
        self.wall_seconds += result.resumed_seconds
        if result.resumed_cpu_seconds is not None:
            self.cpu_seconds += result.resumed_cpu_seconds


def _curve_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("epoch", "train_loss", "val_mse", "val_mae", "lr", "seconds")}


def _objective(trial: Any, plan: TunePlan, study: Any, db: ResultsDB) -> float:
    import optuna

    trial.set_user_attr("host", HOST)
    trial.set_user_attr("pid", os.getpid())
    source = trial.user_attrs.get("source")  # published | grid | None: sampled
    if plan.sampler == "grid":
        surplus = source is None  # the queue emptied between the worker's look and its claim
    else:  # trials numbered before this one already use up the budget
        surplus = sum(t.number < trial.number for t in _counted(study.get_trials(deepcopy=False))) >= plan.trials
    if surplus:
        trial.set_user_attr("surplus", True)  # not counted; closed as FAIL by Optuna
        raise _Surplus()
    params = suggest(trial, plan.space)
    lookback, config, kwargs = apply(params, plan.lookback, plan.published_config(), plan.model_kwargs)
    curve: list[dict[str, Any]] = []

    def on_epoch_end(row: dict[str, Any]) -> None:
        curve.append(_curve_row(row))
        trial.report(row["val_mse"], row["epoch"])
        if trial.should_prune():
            raise optuna.TrialPruned(f"validation MSE {row['val_mse']:.4f} at epoch {row['epoch']}")

    state, reason, result = "complete", None, None
    with _Cost(config.device) as cost:
        try:
            result, _ = fit_run(plan.model, plan.source, horizon=plan.horizon, lookback=lookback, model_kwargs=kwargs,
                                config=config, data_dir=plan.data_dir, split=plan.split, fill=plan.fill,
                                sep=plan.sep, decimal=plan.decimal, date_format=plan.date_format,
                                dayfirst=plan.dayfirst, on_epoch_end=on_epoch_end, recipe=plan.recipe, evaluate_test=False)
        except optuna.TrialPruned:
            state = "pruned"
        except (ValueError, FloatingPointError, RuntimeError) as exc:
            state, reason = "failed", f"{type(exc).__name__}: {exc}"
    _record(db, plan, "trial", trial.number, lookback, config, kwargs, params, state, reason, curve, cost, result)
    if not plan.quiet:
        _progress(plan, study, db, trial.number, params, state, curve, reason, source)
    if state == "pruned":
        raise optuna.TrialPruned()
    if state == "failed":
        raise _TrialFailed(reason)
    return result.best_val_mse


def _record(db: ResultsDB, plan: TunePlan, kind: str, number: int, lookback: int, config: TrainConfig,
            kwargs: dict[str, Any], params: dict[str, Any], state: str, reason: str | None,
            curve: list[dict[str, Any]], cost: _Cost, result: Any, run_dir: Path | None = None) -> None:
    """One `tune_trials` row: the configuration, its validation curve, test metrics (final runs only) and cost."""
    best = min(curve, key=lambda r: r["val_mse"]) if curve else {}
    test = (result.test_metrics if result is not None else None) or {}
    db.record_tune(
        study=plan.study, kind=kind, number=number, model=plan.model, dataset=plan.dataset, horizon=plan.horizon,
        lookback=lookback, seed=config.seed, config=record_config(plan, lookback, config, kwargs), params=params,
        state=state, reason=reason, val_mse=best.get("val_mse"), val_mae=best.get("val_mae"),
        best_epoch=best.get("epoch"), epochs=len(curve), curve=curve, test_mse=test.get("mse"),
        test_mae=test.get("mae"), test_mse_raw=test.get("mse_raw"), test_mae_raw=test.get("mae_raw"),
        test_windows=test.get("windows"), cpu_seconds=cost.cpu_seconds, wall_seconds=cost.wall_seconds,
        peak_mem_mb=cost.peak_mem_mb, param_count=result.model.num_parameters() if result is not None else None,
        device=str(cost.device), threads=config.threads, run_dir=str(run_dir) if run_dir is not None else None,
        pid=os.getpid(), unhashed={"source_path": plan.source_path} if plan.source_path else None,
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def format_params(params: dict[str, Any]) -> str:
    """``key=value`` pairs, floats to 3 significant digits."""
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _progress(plan: TunePlan, study: Any, db: ResultsDB, number: int, params: dict[str, Any], state: str,
              curve: list[dict[str, Any]], reason: str | None, source: str | None) -> None:
    """One line per trial: number, parameters, validation MSE, pruned or failed, cost and ETA."""
    from ..console import console

    rows = db.tune_rows(study=plan.study, kind="trial")
    total = (min(plan.trials, len(grid_points(plan.space, plan.published))) if plan.sampler == "grid"
             else plan.trials)
    mean = statistics.fmean(r["wall_seconds"] for r in rows) if rows else 0.0
    left = max(0, total - len(rows))
    best = min((r["val_mse"] for r in curve), default=math.nan)
    outcome = {"complete": f"val mse {best:.5f}", "pruned": f"pruned at epoch {len(curve)} (val mse {best:.5f})",
               "failed": f"failed: {reason}"}[state]
    tag = " (published recipe)" if source == "published" else ""
    console.print(f"trial {number:>3}{tag}  {format_params(params)}  {outcome}  "
                  f"{rows[-1]['wall_seconds']:.1f}s  [{len(rows)}/{total}, "
                  f"ETA {_duration(mean * left / plan.workers)}]",
                  highlight=False, soft_wrap=True)


# ----------------------------------------------------------------------------- workers


def run_workers(plan: TunePlan) -> None:
    """`work` in this process (one worker) or in `plan.workers` spawned processes sharing the study."""
    if plan.workers == 1:
        work(plan)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=work, args=(plan, i), name=f"samovar-tune-{i}") for i in range(plan.workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except BaseException:
        for p in procs:
            p.terminate()
        raise
    died = [p.exitcode for p in procs if p.exitcode != 0]
    if died:
        raise RuntimeError(f"{len(died)} of {plan.workers} worker processes died (exit codes {died}); run the same "
                           "command again to continue: their unfinished trials are retried")


# ----------------------------------------------------------------------------- final evaluation


def final_summary(db: ResultsDB, study: str, config_hash_: str, seeds: list[int]) -> dict[str, Any]:
    """Test MSE/MAE mean and std (ddof 1; NaN for one run) over the recorded final runs of one configuration."""
    rows = [r for r in db.tune_rows(study=study, kind="final", state="complete", config_hash=config_hash_)
            if r["number"] in seeds]
    if not rows:
        raise ValueError(f"study {study} has no recorded final run of configuration {config_hash_}")
    out: dict[str, Any] = {"config_hash": config_hash_, "seeds": [r["number"] for r in rows], "runs": len(rows),
                           "test_windows": rows[0]["test_windows"], "run_dirs": [r["run_dir"] for r in rows]}
    for col in ("test_mse", "test_mae", "test_mse_raw", "test_mae_raw", "val_mse"):
        values = [r[col] for r in rows]
        out[col] = statistics.fmean(values)
        out[f"{col}_std"] = statistics.stdev(values) if len(values) > 1 else math.nan
    return out


def final_evaluation(plan: TunePlan, study: Any = None, trial: Any = None, seeds: int | None = None) -> dict[str, Any]:
    """Retrain the best trial's configuration with `plan.seeds` seeds (recipe seed, +1, ...), each scored on
    every test window and recorded; runs already recorded are kept, interrupted ones resume.

    trial: another completed trial of the study to evaluate the same way (after the search is over, e.g.
    each lookback's best for an oracle that chooses on test); seeds: their number instead of `plan.seeds`.
    """
    from ..console import console

    study = study if study is not None else open_study(plan)
    try:
        best = trial if trial is not None else study.best_trial
    except ValueError:
        raise ValueError(f"study {plan.study} has no completed trial, so there is nothing to evaluate; "
                         "run it with more --trials (or a longer --timeout)") from None
    lookback, config, kwargs = apply(best.params, plan.lookback, plan.published_config(), plan.model_kwargs)
    db = ResultsDB(plan.db)
    chash = config_hash(record_config(plan, lookback, config, kwargs))
    seeds = [config.seed + i for i in range(plan.seeds if seeds is None else int(seeds))]
    done = {r["number"] for r in db.tune_rows(study=plan.study, kind="final", state="complete", config_hash=chash)}
    for seed in seeds:
        if seed in done:
            continue
        seeded = TrainConfig(**{**config.to_dict(), "seed": seed})
        run_dir = Path(plan.runs_root) / plan.study / f"final-{chash[:8]}-seed{seed}"
        with _Cost(seeded.device) as cost:
            result, _ = fit_run(plan.model, plan.source, horizon=plan.horizon, lookback=lookback, model_kwargs=kwargs,
                                config=seeded, data_dir=plan.data_dir, split=plan.split, fill=plan.fill,
                                sep=plan.sep, decimal=plan.decimal, date_format=plan.date_format,
                                dayfirst=plan.dayfirst, run_dir=run_dir, recipe=plan.recipe, resume=(run_dir / rd.CHECKPOINT).exists())
        cost.add_resumed(result)  # a final run killed and resumed: its whole time
        curve = [_curve_row(r) for r in result.history]
        _record(db, plan, "final", seed, lookback, seeded, kwargs, best.params, "complete", None, curve, cost, result,
                run_dir)
        if not plan.quiet:
            console.print(f"final seed {seed}: test mse {result.test_metrics['mse']:.5f}  mae "
                          f"{result.test_metrics['mae']:.5f}  ({cost.wall_seconds:.1f}s, {run_dir})", highlight=False,
                          soft_wrap=True)
    return final_summary(db, plan.study, chash, seeds)


# ----------------------------------------------------------------------------- the winner as a recipe


def _tuned_trials(db: ResultsDB, model: str, dataset: str, horizon: int, sep: str, decimal: str,
                  date_format: str | None, dayfirst: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(completed search trials of `model` on `dataset` at `horizon`, those of other data of the same name).

    A registered dataset or "synthetic": every trial recorded under its name (the second list is empty). A user
    file: only the trials of the same file (its resolved path: recorded as "source_path"; a row recorded before
    that resolves its "source" from the current directory) read the same way (sep, decimal, date_format,
    dayfirst); the trials of another file with the same name stem, or of this file read another way, are the
    second list."""
    from ..data.io import csv_dialect

    rows = db.tune_rows(kind="trial", state="complete", model=model.lower(), dataset=recipe_dataset_name(dataset),
                        horizon=int(horizon))
    path = source_path(dataset)
    if path is None:
        return rows, []
    sep, decimal = csv_dialect(sep, decimal)
    dialect = reading_options(sep, decimal, date_format, dayfirst)
    mine: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for row in rows:
        config = json.loads(row["config_json"])
        same = ((config.get("source_path") or source_path(config.get("source"))) == path
                and {k: config[k] for k in READING_DEFAULTS if k in config} == dialect)
        (mine if same else others).append(row)
    return mine, others


def tuned_recipe(db: ResultsDB, model: str, dataset: str, horizon: int, *, sep: str = ",", decimal: str = ".",
                 date_format: str | None = None, dayfirst: bool = False) -> dict[str, Any] | None:
    """The best search trial (lowest validation MSE) recorded in `db` for (model, dataset, horizon), over
    every study, as a recipe: lookback, TrainConfig options (seed and result-free options aside), model
    options and a label naming the study and trial; None when no trial completed.

    dataset: a registered name or "synthetic" (every trial recorded under that name), or a user's file path
    with how it is read (sep, decimal, date_format, dayfirst, as given to `samovar tune`): only the trials of
    that very file (same resolved path) read the same way, never those of another file with the same name
    stem (``tuned_elsewhere`` names them)."""
    rows, _ = _tuned_trials(db, model, dataset, horizon, sep, decimal, date_format, dayfirst)
    if not rows:
        return None
    best = min(rows, key=lambda r: r["val_mse"])
    config = json.loads(best["config_json"])
    return {"lookback": int(best["lookback"]), "train": dict(config["train"]),
            "model_kwargs": dict(config["model_kwargs"]),
            "label": f"tuned (study {best['study']}, trial {best['number']}, val mse {best['val_mse']:.4f})"}


def tuned_elsewhere(db: ResultsDB, model: str, dataset: str, horizon: int, *, sep: str = ",", decimal: str = ".",
                    date_format: str | None = None, dayfirst: bool = False) -> list[str]:
    """What else `db` holds completed search trials of, for (model, horizon) and a user file `dataset`'s name:
    other files with the same name stem and this file read another way, one text each ("/data/a/sales.csv",
    "/data/b/sales.csv (read with --sep ';')"); empty for a registered dataset or "synthetic" (`tuned_recipe`
    takes every trial of those)."""
    _, others = _tuned_trials(db, model, dataset, horizon, sep, decimal, date_format, dayfirst)
    found: list[str] = []
    for row in others:
        config = json.loads(row["config_json"])
        where = config.get("source_path") or source_path(config.get("source")) or str(config.get("source"))
        options = read_with({k: config[k] for k in READING_DEFAULTS if k in config})
        text = f"{where} (read with {options})" if options else where
        if text not in found:
            found.append(text)
    return sorted(found)


# ----------------------------------------------------------------------------- entry point


def run_plan(plan: TunePlan, plots: str | Path | None = None) -> TuneResult:
    """Enqueue the published recipe (and grid), run the workers, evaluate the best configuration, plot."""
    from optuna.trial import TrialState

    study = open_study(plan)
    enqueue(plan, study)
    run_workers(plan)
    final = final_evaluation(plan, study) if plan.seeds else None
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    try:
        best = study.best_trial
    except ValueError:
        raise ValueError(f"study {plan.study} has no completed trial; run it with more --trials") from None
    published = [t.value for t in trials
                 if t.user_attrs.get("source") == "published" and t.state == TrialState.COMPLETE]
    result = TuneResult(study=plan.study, storage=plan.storage, db=plan.db, states=states, best_number=best.number,
                        best_params=dict(best.params), best_val_mse=float(best.value),
                        published_val_mse=published[0] if published else None, final=final, notes=list(plan.notes))
    if plots is not None:
        from .plots import write_plots

        result.plots = write_plots(ResultsDB(plan.db), plots, study=plan.study)
    return result


def tune(model: str, dataset: str, horizon: int = 96, *, plots: str | Path | None = None, **options: Any) -> TuneResult:
    """Search `model`'s hyper-parameters on `dataset` (a registered name, "synthetic" or a CSV path) at
    `horizon`, then retrain the best configuration with several seeds and score it on the test split.

    options (``plan_tune``): trials (20), sampler ("tpe" | "grid" | "random"), space (keys to search,
    e.g. ["lookback"]; default: the model's whole ``search_space``), seeds (3), workers (1),
    storage (an SQLAlchemy URL; default: optuna.db beside the results database), study (name),
    timeout (seconds), epochs (cap), pruner ("median" | "hyperband" | "none"), db (results
    database), runs_dir, data_dir, split, fill, device ("auto"), threads (1), sampler_seed, quiet,
    lookback (trial 0's; default the model's published one), sep and decimal (how a CSV file is written),
    date_format and dayfirst (how its text dates are read).
    plots: a directory for the lookback curve and the optimisation history.
    """
    return run_plan(plan_tune(model, dataset, horizon, **options), plots)
