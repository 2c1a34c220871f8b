"""Running cells: one cell (claim, train, record), and the executors that run a grid.

Executors:
  local   N worker processes (spawned; one process per cell, so a crash or a leak stays in
          its cell and the peak RSS is the cell's own), each with torch threads = cores / N
  ray     one Ray task per cell (``ray.init(address=...)``; needs the ``ray`` extra)
  inline  in this process, one after another (tests, debugging)

Every cell writes its run directory under ``runs_root/<model>/<dataset>/H<h>-L<l>-s<seed>-<hash>``;
a cell interrupted mid-training is continued from its checkpoint when picked up again.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from .db import ResultsDB, code_version as current_code_version, scores_as_columns
from .grid import Cell
from ..utils import peak_memory_mb

EXECUTORS = ("local", "ray", "inline")
HISTORY_POINTS = 336  # lookback points kept in the stored forecast sample


class EpochSubset:
    """The training windows of one epoch of a capped run: `k` evenly spaced windows of `windows`,
    shifted by one window every epoch (so successive epochs see different windows).

    Looks like a WindowSet to the trainer: ``len() == k``, ``batch(idx)`` maps idx -> idx*stride + shift.
    ``epoch`` is advanced after each finished epoch (and set from the run's history on resume).
    """

    def __init__(self, windows: Any, k: int) -> None:
        if not 0 < k < len(windows):
            raise ValueError(f"EpochSubset needs 0 < k < {len(windows)}, got {k}")
        self.windows, self.k = windows, int(k)
        self.stride = len(windows) // self.k
        self.epoch = 0

    def __len__(self) -> int:
        return self.k

    def _map(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(idx, dtype=torch.long) * self.stride + (self.epoch % self.stride)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.windows.batch(self._map(idx))

    def future_batch(self, idx: torch.Tensor) -> torch.Tensor | None:
        return self.windows.future_batch(self._map(idx))

    def target_rows(self, i: int) -> range:
        return self.windows.target_rows(int(self._map(torch.tensor([i]))[0]))


def cap_training_windows(data: Any, cell: Cell) -> tuple[Any, EpochSubset | None]:
    """A shallow copy of `data` whose train split serves at most max_steps_per_epoch optimizer steps."""
    if cell.max_steps_per_epoch is None:
        return data, None
    config = cell.train_config()
    k = cell.max_steps_per_epoch * config.batch_size * config.accumulate
    if k >= len(data.train):
        return data, None
    capped = copy.copy(data)
    capped.train = EpochSubset(data.train, k)
    return capped, capped.train


def run_dir_for(runs_root: str | Path, cell: Cell, key: dict[str, Any]) -> Path:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in cell.dataset)
    return Path(runs_root) / cell.model / safe / f"H{cell.horizon}-L{cell.lookback}-s{cell.seed}-{key['config_hash']}"


@torch.no_grad()
def forecast_sample(model: torch.nn.Module, data: Any, device: torch.device) -> dict[str, Any]:
    """The first test window's forecast for the last target channel (MS: the target), on the original scale (JSON-able)."""
    model.eval()
    x, y = data.test.batch(torch.tensor([0]))
    pred = model(x.to(device)).float().cpu()
    channel = data.target_channels - 1
    unscale = data.scaler.inverse_transform
    history = unscale(x.double())[0, -HISTORY_POINTS:, channel]
    first = data.test.target_rows(0).start
    start_date = str(data.dates[first]) if data.dates is not None else None
    return {
        "channel": data.columns[channel], "target_start_row": first, "start_date": start_date,
        "history": [round(float(v), 6) for v in history],
        "truth": [round(float(v), 6) for v in unscale(y.double())[0, :, channel]],
        "pred": [round(float(v), 6) for v in unscale(pred.double())[0, :, channel]],
    }


def execute_cell(
    cell: Cell,
    db: ResultsDB,
    *,
    runs_root: str | Path,
    threads: int | None = 1,
    device: str = "auto",
    retry_failed: bool = False,
    resume: bool = False,
    code_version: str | None = None,
) -> tuple[str, str]:
    """Claim, train and record one cell; returns (status, message). Never raises for a failed run."""
    from ..data import prepare_data
    from ..training import rundir as rd
    from ..training.runs import build_model, fill_seasonal_period
    from ..training.trainer import train
    from ..utils import resolve_device

    version = code_version or current_code_version()
    key = cell.key(version)
    config_record = {**cell.config(), "notes": cell.notes, "data_dir": cell.data_dir}
    if cell.na_reason:
        db.record_na(key, cell.na_reason, profile=cell.profile, config=config_record, est_cpu_hours=cell.est_cpu_hours)
        return "na", cell.na_reason
    claimed, why = db.claim(key, profile=cell.profile, config=config_record, retry_failed=retry_failed, take_over=resume)
    if not claimed:
        return "skipped", why
    started, cpu_started = time.perf_counter(), time.process_time()
    run_dir = run_dir_for(runs_root, cell, key)
    try:
        config = cell.train_config(threads=threads, device=device, quiet=True)
        data = prepare_data(cell.dataset, lookback=cell.lookback, horizon=cell.horizon, data_dir=cell.data_dir,
                            **cell.inputs())
        train_data, subset = cap_training_windows(data, cell)
        model_kwargs = fill_seasonal_period(cell.model, cell.model_kwargs, data.freq)
        model = build_model(cell.model, cell.lookback, cell.horizon, data.channels, model_kwargs, seed=cell.seed,
                            targets=data.target_channels)
        resuming = (run_dir / rd.CHECKPOINT).exists()
        if not resuming and run_dir.exists():
            shutil.rmtree(run_dir)  # this cell's own directory, killed before its first checkpoint
        if resuming and subset is not None:  # the epochs the checkpoint holds (metrics.jsonl may be ahead of it)
            subset.epoch = int(rd.load_checkpoint(run_dir / rd.CHECKPOINT)["epoch"])

        def on_epoch_end(row: dict[str, Any]) -> None:
            if subset is not None:
                subset.epoch = int(row["epoch"])  # 1-based: the next epoch's shift
            db.heartbeat(key)

        source = {"source": cell.dataset, "data_dir": cell.data_dir, "sep": cell.sep, "decimal": cell.decimal,
                  "date_format": cell.date_format, "dayfirst": cell.dayfirst,  # as fit_run records them
                  "bench_profile": cell.profile, "max_steps_per_epoch": cell.max_steps_per_epoch}
        result = train(model, train_data, config, run_dir, resume=resuming, model_kwargs=model_kwargs,
                       data_source=source, on_epoch_end=on_epoch_end)
        dev = resolve_device(device)
        test = result.test_metrics or {}
        notes = list(cell.notes) + (["resumed from checkpoint"] if resuming else [])
        cpu_seconds = time.process_time() - cpu_started
        if result.resumed_cpu_seconds is None:  # a checkpoint written before CPU time was recorded
            notes.append("cpu_seconds counts only the resumed part (its checkpoint holds no CPU time)")
        else:
            cpu_seconds += result.resumed_cpu_seconds
        db.finish(
            key, "done",
            val_mse=result.best_val_mse, val_mae=result.best_val_mae,  # of the best epoch (the weights tested)
            **scores_as_columns(test), test_windows=test.get("windows"),
            epochs=result.epochs_run, best_epoch=result.best_epoch, train_seconds=result.seconds,
            # both count the kept work of the earlier, interrupted attempts too (the checkpoint records their time)
            wall_seconds=time.perf_counter() - started + result.resumed_seconds, cpu_seconds=cpu_seconds,
            peak_mem_mb=peak_memory_mb(dev),
            params=result.model.num_parameters(), device=str(dev), threads=threads, run_dir=str(run_dir),
            forecast_json=json.dumps(forecast_sample(result.model, data, dev)), notes=json.dumps(notes),
        )
        return "done", f"test mse {test.get('mse', float('nan')):.4f}"
    except KeyboardInterrupt:
        raise  # the row stays 'running'; `--resume` picks it up from the checkpoint
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its text
        text = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=8))
        db.finish(key, "failed", reason=text[-4000:], wall_seconds=time.perf_counter() - started,
                  run_dir=str(run_dir))
        return "failed", f"{type(exc).__name__}: {exc}"


def _worker(cell: Cell, db_path: str, options: dict[str, Any]) -> tuple[str, str, str]:
    """Entry point of a worker process / Ray task: returns (cell label, status, message)."""
    threads = options.get("threads")
    if threads:
        torch.set_num_threads(threads)
    status, message = execute_cell(cell, ResultsDB(db_path), **options)
    return cell.label(), status, message


# ----------------------------------------------------------------------------- executors


def default_workers(cells: int) -> int:
    return max(1, min(cells, os.cpu_count() or 1))


def run_grid(
    cells: list[Cell],
    db: ResultsDB,
    *,
    executor: str = "local",
    workers: int | None = None,
    threads: int | None = None,
    runs_root: str | Path | None = None,
    device: str = "auto",
    retry_failed: bool = False,
    resume: bool = False,
    ray_address: str | None = None,
    code_version: str | None = None,
    on_result: Callable[[str, str, str], None] | None = None,
) -> dict[str, int]:
    """Run every cell with `executor`; returns how many cells ended in each status.

    workers: processes (local) or concurrent tasks (ray; default: Ray's scheduling);
    threads: torch threads per cell (default: cores // workers, at least 1).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"--executor {executor!r}: choose one of {EXECUTORS}")
    runs_root = Path(runs_root) if runs_root is not None else db.path.parent / "runs"
    version = code_version or current_code_version()
    counts: dict[str, int] = {}

    def note(label: str, status: str, message: str) -> None:
        counts[status] = counts.get(status, 0) + 1
        if on_result is not None:
            on_result(label, status, message)

    # N/A cells need no worker: record them here.
    todo = []
    for cell in cells:
        if cell.na_reason:
            status, message = execute_cell(cell, db, runs_root=runs_root, code_version=version)
            note(cell.label(), status, message)
        else:
            todo.append(cell)
    if not todo:
        return counts
    cores = os.cpu_count() or 1
    workers = workers or default_workers(len(todo))
    threads = threads or max(1, cores // workers)
    options = {"runs_root": str(runs_root), "threads": threads, "device": device, "retry_failed": retry_failed,
               "resume": resume, "code_version": version}

    if executor == "inline":
        for cell in todo:
            note(*_worker(cell, str(db.path), options))
    elif executor == "local":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                 max_tasks_per_child=1) as pool:
            futures = [pool.submit(_worker, cell, str(db.path), options) for cell in todo]
            for future in as_completed(futures):
                try:
                    note(*future.result())
                except BrokenProcessPool:
                    raise RuntimeError(
                        "a worker process died (killed, or out of memory); its cell stays 'running'. "
                        "Run the same command with --resume to continue, perhaps with fewer --workers"
                    ) from None
    else:
        try:
            import ray
        except ImportError:
            raise RuntimeError("--executor ray needs Ray: pip install 'samovar[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=ray_address, ignore_reinit_error=True, log_to_driver=False)
        task = ray.remote(num_cpus=threads)(_worker)
        pending = [task.remote(cell, str(db.path), options) for cell in todo]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            note(*ray.get(done[0]))
    return counts
