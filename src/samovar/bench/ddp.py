"""One large run across several processes (GPUs, machines) with DistributedDataParallel.

The ordinary trainer (``samovar.training.train``) runs unchanged in every process; two thin
wrappers make it data-parallel:

* ``RankShare`` — the train split as seen by one rank: every rank draws the same global
  shuffle (same seed), and of each global batch of B windows rank r takes windows r, r+W,
  r+2W, ... (B/W of them; the split a DistributedSampler makes of a shared permutation).
* ``DistributedModel`` — runs ``training_loss`` through ``DistributedDataParallel``, which
  averages the gradients over ranks: the mean of W rank means over B/W windows each is the
  mean over the global batch, so one optimizer step equals a single-process step with
  batch B (up to floating-point summation order). Forecasts, weights and state dicts are
  those of the plain model, so run directories are ordinary ones; the trainer finds a quantile
  head (``loss="quantile"``) and the parameter groups on the plain model (its ``module``).

Validation and test are computed on every rank over every window (identical weights give
identical numbers, and identical early-stopping decisions); rank 0 writes the run directory.
Targets and covariates (``DDPSpec.inputs``: target / past / future / calendar, docs/covariates.md)
are read as ``samovar train`` reads them: the model is built for the data's target and future
channels, and each rank's share of a batch carries its windows' future-known covariates.

Launch: ``samovar bench ddp --nproc 2 ...`` (spawns processes on this machine), or under
torchrun: ``torchrun --nproc_per_node 4 --nnodes 2 ... -m samovar bench ddp --model samovar ...``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..models.base import ForecastModel, batch_loss, forecast


@dataclass
class DDPSpec:
    """What one distributed run needs (picklable; sent to every process)."""

    model: str
    dataset: str
    horizon: int
    lookback: int | None = None
    epochs: int = 10
    batch_size: int = 32  # global batch, split evenly over the ranks
    lr: float = 1e-4
    seed: int = 2021
    max_steps_per_epoch: int | None = None
    data_dir: str | None = None
    run_dir: str | None = None
    backend: str = "auto"
    db: str | None = None
    threads: int = 1
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    train_options: dict[str, Any] = field(default_factory=dict)  # more TrainConfig options
    inputs: dict[str, Any] = field(default_factory=dict)  # prepare_data's target / past / future / calendar
    sep: str = ","  # how a CSV `dataset` is written (prepare_data's sep, decimal), recorded with the run
    decimal: str = "."
    date_format: str | None = None  # how its text dates are read (prepare_data's), recorded with the run
    dayfirst: bool = False


class RankShare:
    """Rank `rank`'s share of each global batch: idx[rank::world]; otherwise the wrapped window set."""

    def __init__(self, windows: Any, rank: int, world: int) -> None:
        self.windows, self.rank, self.world = windows, rank, world

    def __len__(self) -> int:
        return len(self.windows)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.windows.batch(torch.as_tensor(idx).reshape(-1)[self.rank::self.world])

    def future_batch(self, idx: torch.Tensor) -> torch.Tensor | None:
        return self.windows.future_batch(torch.as_tensor(idx).reshape(-1)[self.rank::self.world])

    def target_rows(self, i: int) -> range:
        return self.windows.target_rows(i)


class _LossOrForecast(nn.Module):
    """DDP calls forward(); this forward is the training loss when y is given, else the forecast
    (future: the window's future-known covariates, or None)."""

    def __init__(self, inner: ForecastModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, future: torch.Tensor | None = None) -> torch.Tensor:
        return forecast(self.inner, x, future) if y is None else batch_loss(self.inner, x, y, future)


class DistributedModel(ForecastModel):
    """A ForecastModel whose training loss goes through DistributedDataParallel; x: (B, L, C) -> (B, H, C).

    It takes the inner model's targets and future-known covariates (``target_channels``,
    ``future_channels``, ``covariates``), so the trainer checks and scores it as the inner model."""

    def __init__(self, inner: ForecastModel, **ddp_options: Any) -> None:
        super().__init__(inner.lookback, inner.horizon, inner.channels)
        self.name = inner.name
        self.covariates = inner.covariates
        self.future_channels = getattr(inner, "future_channels", 0)
        self.use_targets(inner.target_channels)
        self.ddp = nn.parallel.DistributedDataParallel(_LossOrForecast(inner), **ddp_options)

    @property
    def inner(self) -> ForecastModel:
        return self.ddp.module.inner

    @property
    def module(self) -> ForecastModel:
        """The wrapped model, where the trainer looks for its quantile head and parameter groups
        (``samovar.training.trainer.unwrapped``)."""
        return self.inner

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        return forecast(self.inner, x, future)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        return self.ddp(x, y, future)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.inner.state_dict(*args, **kwargs)

    def load_state_dict(self, state: dict[str, Any], strict: bool = True, assign: bool = False):
        return self.inner.load_state_dict(state, strict=strict, assign=assign)

    def num_parameters(self) -> int:
        return self.inner.num_parameters()


def run_rank(rank: int, world: int, spec: DDPSpec) -> dict[str, Any]:
    """Train in this process as rank `rank` of `world` (the process group must be initialised)."""
    from ..training import TrainConfig, train
    from ..training.runs import build_model
    from .runner import EpochSubset

    if spec.batch_size % world:
        raise ValueError(f"the global batch size {spec.batch_size} must be divisible by the number of processes {world}")
    lookback, data, model_kwargs = _prepare(spec)
    spec = replace(spec, model_kwargs=model_kwargs)  # as built and recorded (run directory, database)
    config = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, seed=spec.seed, quiet=rank != 0,
                         threads=spec.threads, drop_last=True, **spec.train_options)
    if config.accumulate != 1:
        raise ValueError("DDP runs take accumulate=1: raise the global batch size (or the number of processes) instead")
    view = copy.copy(data)
    subset = None
    if spec.max_steps_per_epoch is not None and spec.max_steps_per_epoch * spec.batch_size < len(data.train):
        subset = EpochSubset(data.train, spec.max_steps_per_epoch * spec.batch_size)
    view.train = RankShare(subset if subset is not None else data.train, rank, world)
    net = build_model(spec.model, lookback, spec.horizon, data.channels, spec.model_kwargs, seed=spec.seed,
                      quantiles=config.quantiles, targets=data.target_channels, future_channels=data.future_channels)
    if dist.get_backend() == "nccl":
        # one GPU per process: this node's rank (torchrun's LOCAL_RANK; spawned processes: the rank),
        # made the current device so NCCL and any unplaced CUDA work use it rather than GPU 0
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    net.to(device)
    # a model with nothing to train (the naive baselines) has no gradients to average: every rank evaluates it
    model = DistributedModel(net, device_ids=[device.index] if device.type == "cuda" else None) if net.trainable else net
    config.device = str(device)

    def advance(row: dict[str, Any]) -> None:
        if subset is not None:
            subset.epoch += 1

    started = time.perf_counter()
    result = train(model, view, config, spec.run_dir if rank == 0 else None, model_kwargs=spec.model_kwargs,
                   data_source={"source": spec.dataset, "data_dir": spec.data_dir, "sep": spec.sep,
                                "decimal": spec.decimal, "date_format": spec.date_format, "dayfirst": spec.dayfirst,
                                "ddp_world_size": world},
                   on_epoch_end=advance)
    metrics = dict(result.test_metrics or {}, best_val_mse=result.best_val_mse, best_val_mae=result.best_val_mae,
                   epochs=result.epochs_run,
                   world_size=world, seconds=time.perf_counter() - started, lookback=lookback)
    if rank == 0 and spec.db:
        _record(spec, metrics, net, world, device)
    return metrics


def _prepare(spec: DDPSpec) -> tuple[int, Any, dict[str, Any]]:
    """(lookback, data, model_kwargs) of `spec`: its lookback resolved, its dataset read with its inputs (every
    rank reads the same), its model options with a seasonal period left at None taken from the data (as fit_run)."""
    from ..data import prepare_data
    from ..training.modelspec import check_covariates
    from ..training.runs import fill_seasonal_period, input_kinds, resolve_lookback

    lookback = resolve_lookback(spec.model, spec.lookback, spec.horizon)
    check_covariates(spec.model, input_kinds(spec.inputs))  # a model that cannot take them: fail before loading data
    data = prepare_data(spec.dataset, lookback=lookback, horizon=spec.horizon, data_dir=spec.data_dir, sep=spec.sep,
                        decimal=spec.decimal, date_format=spec.date_format, dayfirst=spec.dayfirst, **spec.inputs)
    return lookback, data, fill_seasonal_period(spec.model, spec.model_kwargs, data.freq)


def _record(spec: DDPSpec, metrics: dict[str, Any], net: ForecastModel, world: int, device: torch.device) -> None:
    """Store the run as a cell of profile 'ddp' in the results database."""
    from .db import ResultsDB, code_version, config_hash, scores_as_columns

    # the date options only where given: a run with the defaults hashes as before they existed
    defaults = {"date_format": None, "dayfirst": False}
    train = {k: v for k, v in asdict(spec).items()
             if k not in ("db", "run_dir", "data_dir", "threads") and not (k in defaults and v == defaults[k])}
    config = {"profile": "ddp", "train": train, "world_size": world}
    key = {"model": spec.model, "dataset": spec.dataset, "horizon": spec.horizon, "lookback": metrics["lookback"],
           "seed": spec.seed, "code_version": code_version(), "config_hash": config_hash(config)}
    db = ResultsDB(spec.db)
    claimed, why = db.claim(key, profile="ddp", config=config, retry_failed=True, take_over=True)
    if not claimed:
        print(f"not recorded in {spec.db}: {why}", file=sys.stderr)
        return
    db.finish(key, "done", val_mse=metrics["best_val_mse"], val_mae=metrics.get("best_val_mae"),
              **scores_as_columns(metrics), test_windows=metrics.get("windows"),
              epochs=metrics["epochs"], best_epoch=metrics.get("best_epoch"), train_seconds=metrics["seconds"],
              wall_seconds=metrics["seconds"], params=net.num_parameters(), device=f"{device.type} x{world}",
              run_dir=spec.run_dir, notes=json.dumps([f"DistributedDataParallel over {world} processes"]))


def _backend(name: str) -> str:
    if name == "auto":
        return "nccl" if torch.cuda.is_available() else "gloo"
    if name not in ("gloo", "nccl"):
        raise ValueError(f"--backend {name!r}: choose 'auto', 'gloo' or 'nccl'")
    if name == "nccl" and not torch.cuda.is_available():
        raise ValueError("--backend nccl needs CUDA GPUs and none is visible: use --backend gloo (or auto) on CPUs")
    return name


class RankFailed(RuntimeError):
    """A spawned rank ended without a result and without an exception the launcher can raise again."""


def _spawned(rank: int, world: int, spec: DDPSpec, port: int, out_path: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        dist.init_process_group(_backend(spec.backend), rank=rank, world_size=world)
        try:
            metrics = run_rank(rank, world, spec)
        finally:
            dist.destroy_process_group()
        if rank == 0:
            Path(out_path).write_text(json.dumps(metrics))
    except Exception as exc:
        # for the launcher: the exception itself (torch.multiprocessing keeps only its traceback text),
        # with the time it happened, so the first failure is reported rather than a peer's lost connection
        Path(out_path).with_name(f"error-{rank}.pkl").write_bytes(pickle.dumps((time.time(), _portable(exc, rank))))
        raise


def _portable(exc: Exception, rank: int) -> Exception:
    """`exc` marked with the rank that raised it (``failed_rank``), or, if it does not pickle, a RankFailed
    with its type and first line."""
    exc.ddp_rank = rank  # type: ignore[attr-defined]  # an exception pickles its attributes with it
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        portable = RankFailed(f"{type(exc).__name__}: {first_line(exc)}")
        portable.ddp_rank = rank  # type: ignore[attr-defined]
        return portable


def failed_rank(exc: BaseException) -> int | None:
    """The rank that raised `exc` first in a DDP run (launch raises that rank's exception), else None."""
    return getattr(exc, "ddp_rank", None)


def first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


_FAILURE_KEY, _READ_KEY = "samovar/ddp-first-failure", "samovar/ddp-failure-read"


def _launched(spec: DDPSpec) -> dict[str, Any] | None:
    """This process's rank of a run whose launcher (torchrun) set RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT.

    When a rank fails, every rank that fails after it (mostly as its consequence: a peer's closed connection
    in a collective) raises that first failure instead of its own, marked with its rank (``failed_rank``): each
    rank's one line names the same rank and error. The ranks agree through the process group's key-value store:
    the first to write its failure there wins."""
    dist.init_process_group(_backend(spec.backend))
    rank, world = dist.get_rank(), dist.get_world_size()
    store = _default_store()  # held here: without torchrun's agent rank 0 serves it, also after destroy below
    try:
        metrics = run_rank(rank, world, spec)
    except Exception as exc:
        first = _first_failure(store, _portable(exc, rank))
        dist.destroy_process_group()  # peers waiting in a collective for this rank now fail, and read `first`
        if rank == 0 and store is not None and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
            _wait_for_readers(store, world - 1)  # (torchrun's agent serves the store itself: no need)
        if first is exc:
            raise
        raise first from None
    dist.destroy_process_group()
    return metrics if rank == 0 else None


def _default_store() -> Any:
    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:  # not there (another torch): every rank reports its own failure
        return None


def _first_failure(store: Any, exc: Exception) -> Exception:
    """The failure the store holds (written there by the first rank to fail), writing `exc` if it holds none."""
    if store is None:
        return exc
    try:
        held = store.compare_set(_FAILURE_KEY, "", pickle.dumps(exc))
        first = pickle.loads(held)
        if failed_rank(exc) != 0:
            store.add(_READ_KEY, 1)
        return first if failed_rank(first) != failed_rank(exc) else exc
    except Exception:  # the store is gone (rank 0 ended): this rank's own failure
        return exc


def _wait_for_readers(store: Any, readers: int, seconds: float = 300.0) -> None:
    """Rank 0 failed: keep the store it serves until the other ranks have read the first failure from it
    (each fails at its next collective, which sees this rank's group closed: a slow rank may first finish
    reading data or evaluating), or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    try:
        while store.add(_READ_KEY, 0) < readers and time.monotonic() < deadline:
            time.sleep(0.05)
    except Exception:
        pass


def _rank_error(tmp: str, failure: Exception) -> Exception:
    """The exception to raise for a failed spawn: the earliest one a rank recorded (the others are mostly
    its consequences, e.g. a peer's closed connection), else RankFailed naming the rank that ended."""
    recorded = []
    for path in Path(tmp).glob("error-*.pkl"):
        try:
            recorded.append(pickle.loads(path.read_bytes()))
        except Exception:
            continue
    if recorded:
        return min(recorded, key=lambda pair: pair[0])[1]
    error = RankFailed(f"{first_line(failure)}, without an error message (killed, e.g. out of memory?)")
    ended = getattr(failure, "error_index", None)  # torch's ProcessException: the rank that ended
    if ended is not None:
        error.ddp_rank = ended  # type: ignore[attr-defined]
    return error


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(spec: DDPSpec, nproc: int = 2) -> dict[str, Any] | None:
    """Run `spec` data-parallel: under torchrun (RANK/WORLD_SIZE set) as this process's rank, else by
    spawning `nproc` local processes. Returns the test metrics (None on ranks other than 0)."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return _launched(spec)
    if nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {nproc}")
    if spec.batch_size % nproc:
        raise ValueError(f"the global batch size {spec.batch_size} must be divisible by the number of processes {nproc}")
    _backend(spec.backend)
    _prepare(spec)  # bad options or data: one ValueError here, not a traceback from every spawned process
    from ..training import TrainConfig

    TrainConfig(**spec.train_options)  # a bad loss or quantile level, likewise
    import torch.multiprocessing as mp
    from torch.multiprocessing.spawn import ProcessException

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "metrics.json")
        # when a rank fails, torch ends the others (a rank waiting for the failed one in a collective
        # would otherwise wait for ever) and logs each one it ends: that is ours to report, in one line
        spawn_log = logging.getLogger("torch.multiprocessing.spawn")
        level = spawn_log.level
        spawn_log.setLevel(logging.ERROR)
        try:
            mp.spawn(_spawned, args=(nproc, spec, _free_port(), out), nprocs=nproc, join=True)
        except ProcessException as failure:
            raise _rank_error(tmp, failure) from None
        finally:
            spawn_log.setLevel(level)
        return json.loads(Path(out).read_text())

