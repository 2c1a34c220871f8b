"""One trainer for every forecasting model.

``train(model, data, config, run_dir)`` minimises ``model.training_loss(x, y)`` on the train
windows, validates on the plain forecast MSE over every validation window, stops early
when the validation MSE has not improved for ``patience`` epochs, restores the best epoch's
weights, measures every point score over every test window and calibrates split-conformal
prediction intervals on the validation windows (``samovar.training.intervals``). A model with
nothing to learn (``trainable = False``: the naive baselines) is validated, tested and calibrated
as it is, with no optimiser and no epochs; its run directory holds an empty weights file.
``validate=False`` trains exactly ``config.epochs`` epochs on the train windows with no validation
(no early stopping, the last epoch's weights, no intervals): the fits on every row of
``fit_run(fit_mode="epochs" | "refit")``.
Opt-in diagnostics (``benchmarks/reproduce_samovar.py`` uses them): ``test_each_epoch`` adds each
epoch's test MSE to its metrics row, ``grad_clip_before_unscale`` clips as a loop that clips
GradScaler-scaled gradients does (``config.clip_norm``), ``reseed=False`` lets dropout draw on from
the caller's seeded model init.

Targets and covariates (``samovar.data.covariates``): the model reads every series channel (targets,
then past-only covariates) and the future-known covariates of each window; its loss and every score
count the target channels only (``ForecastModel.target_channels``, set from the data).

Batches are gathered by index from the data's one scaled tensor (``WindowSet.batch``);
the shuffle order comes from a seeded ``torch.Generator``, so a run is repeatable bit for
bit on the CPU, and a killed run resumed from its checkpoint ends exactly like an
uninterrupted one (the checkpoint holds model, optimizer, grad-scaler, early-stopping,
history and every RNG state after the last finished epoch).
"""

from __future__ import annotations

import math
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import torch

from .._version import __version__
from ..models.base import ForecastModel, batch_loss
from ..utils import keep_freed_memory, usable_device, write_json_atomic
from . import rundir as rd
from .config import TrainConfig, beta1, clip_norm, learning_rate
from .intervals import Calibration, calibrate
from .metrics import evaluate, mase_scale
from .quantile import QuantileForecaster
from .state import cpu_state as _cpu_state, rng_state as _rng_state, set_rng_state as _set_rng_state


@dataclass
class TrainResult:
    """What `train` returns; `model` holds the best epoch's weights."""

    model: ForecastModel
    best_val_mse: float
    best_epoch: int  # 1-based; 0 for a model that is not trained (trainable = False)
    epochs_run: int
    stopped_early: bool
    seconds: float  # wall time of the run; a resumed run adds its earlier calls' time up to the checkpoint
    history: list[dict[str, Any]]
    test_metrics: dict[str, float] | None  # metrics.evaluate's keys (mse, mae, rmse, *_raw, mase, windows) + best_epoch
    run_dir: Path | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    best_val_mae: float | None = None  # validation MAE of the best epoch (None: a run resumed from before it was recorded)
    calibration: Calibration | None = None  # conformal interval radii of the best weights on the validation windows
    fit: dict[str, Any] | None = None  # how the rows were used (fit_run's record, config.json's "fit")
    # CPU time of the run (this process's, every thread), earlier calls included as for `seconds`; None when a
    # resumed checkpoint predates its recording
    cpu_seconds: float | None = None
    resumed_seconds: float = 0.0  # the part of `seconds` spent by earlier calls (0 for a run not resumed)
    resumed_cpu_seconds: float | None = 0.0  # the same for `cpu_seconds` (None: not recorded)


# ----------------------------------------------------------------------------- helpers


def _batch_plan(n: int, config: TrainConfig) -> tuple[int, int]:
    """(micro-batches, optimizer steps) per epoch for n training windows."""
    if n < 1:
        raise ValueError("the training split has no windows: shorten lookback/horizon or give more data")
    full, rest = divmod(n, config.batch_size)
    micro = full if (config.drop_last and full > 0) else full + (rest > 0)
    return micro, math.ceil(micro / config.accumulate)


def unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a wrapper that trains it (its ``module``, as DistributedDataParallel and
    ``samovar.bench.ddp.DistributedModel`` have), else `model`: where the trainer looks for what the
    wrapper does not show, a quantile head and the parameter groups."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, torch.nn.Module) else model


def _make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam/AdamW over the model's parameter groups (``ForecastModel.parameter_groups``)."""
    model = unwrapped(model)
    groups = model.parameter_groups() if isinstance(model, ForecastModel) else [{"params": list(model.parameters())}]
    groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in groups]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("the model has no trainable parameters")
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)


def _data_info(data: Any) -> dict[str, Any]:
    if hasattr(data, "run_record"):  # a long-format panel describes itself (``PanelData.run_record``)
        return data.run_record()
    inputs = getattr(data, "inputs", None)
    return {
        # the role of each column (targets, covariates), recorded when not every column is a target alone
        **({"inputs": inputs.to_dict()} if inputs is not None and not inputs.is_default(data.columns) else {}),
        "name": data.name,
        "lookback": int(data.lookback),
        "horizon": int(data.horizon),
        "channels": int(data.channels),
        "columns": list(data.columns),
        "freq": data.freq,
        "split_rows": {k: list(v) for k, v in data.split_rows.items()},
        "windows": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        # the date of the last row training or early stopping read (None without dates): a model is
        # only scored honestly on rows after it (`Forecaster.cross_validation(reuse_fitted=True)`)
        "last_seen": None if data.dates is None else str(data.dates[data.split_rows["val"][1] - 1]),
    }


def run_config(model: ForecastModel, data: Any, config: TrainConfig, device: torch.device,
               model_kwargs: dict[str, Any] | None, data_source: dict[str, Any] | None,
               recipe: dict[str, Any] | None = None, fit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved configuration written to config.json (with "recipe": name, label, notes and
    "fit": the fit mode and the rows each stage trained on, when given)."""
    return {
        "model": {"name": model.name, "kwargs": model_kwargs, "parameters": model.num_parameters()},
        "data": {**_data_info(data), **(data_source or {})},
        "train": config.to_dict(),
        **({"recipe": recipe} if recipe is not None else {}),
        **({"fit": fit} if fit is not None else {}),
        "seed": config.seed,
        "device": str(device),
        "versions": {"samovar": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }


class _Progress:
    """rich progress bar over all steps of the run (or nothing when quiet)."""

    def __init__(self, quiet: bool, epochs: int, steps_per_epoch: int, start_epoch: int) -> None:
        self.bar = None
        self.epochs = epochs
        if quiet:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  val {task.fields[val]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar.start()
        self.task = self.bar.add_task(
            "train", total=epochs * steps_per_epoch, completed=start_epoch * steps_per_epoch,
            epoch=min(start_epoch + 1, epochs), epochs=epochs, loss="-", val="-",  # a finished run resumed: 10/10, not 11/10
        )

    def step(self, epoch: int, loss: float | None = None) -> None:
        if self.bar is not None:
            fields = {"epoch": epoch + 1}
            if loss is not None:
                fields["loss"] = f"{loss:.4f}"
            self.bar.update(self.task, advance=1, **fields)

    def epoch_end(self, row: dict[str, Any]) -> None:
        if self.bar is not None:
            star = " *" if row["best"] and row["val_mse"] is not None else ""
            val = "-" if row["val_mse"] is None else f"{row['val_mse']:.4f}{star}"
            self.bar.update(self.task, val=val, loss=f"{row['train_loss']:.4f}")
            self.bar.console.print(
                f"epoch {row['epoch']:>3}  train {row['train_loss']:.5f}  val mse {val}"
                f"  lr {row['lr']:.3g}  {row['seconds']:.1f}s"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@dataclass
class _Job:
    """What `train` was asked for (its arguments, checked), handed whole to `_train`."""

    model: ForecastModel
    data: Any
    config: TrainConfig
    run_dir: Path | None
    resume: bool
    model_kwargs: dict[str, Any] | None
    data_source: dict[str, Any] | None
    on_epoch_end: Callable[[dict[str, Any]], None] | None
    recipe: dict[str, Any] | None
    validate: bool
    fit: dict[str, Any] | None
    evaluate_test: bool


@dataclass
class _Stepping:
    """What a trainable run steps with, built once by `_train`."""

    device: torch.device
    optimizer: torch.optim.Optimizer
    grad_scaler: torch.amp.GradScaler
    autocast: Callable[[], Any]
    generator: torch.Generator  # the shuffle order
    micro_per_epoch: int
    steps_per_epoch: int


@dataclass
class _Standing:
    """Where training stands after `epoch` finished epochs. Its fields are the checkpoint's keys
    besides "config", "model", "optimizer", "grad_scaler" and "rng" (`_checkpoint`, `_resume`)."""

    best_state: dict[str, torch.Tensor]  # the best epoch's weights (CPU)
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl's rows
    best_val: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    stopped: bool = False
    # wall and CPU time of the run's calls up to this checkpoint: a resumed run counts its earlier calls'
    # kept work (an epoch cut off by the kill is lost with its time); None: written before CPU was recorded
    spent_seconds: float = 0.0
    spent_cpu_seconds: float | None = 0.0

    def record(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _start_run_dir(job: _Job, device: torch.device) -> None:
    """Create a new run directory with its config.json and scaler.json (refuses one holding a run)."""
    run_dir, data = job.run_dir, job.data
    if (run_dir / rd.CHECKPOINT).exists() or (run_dir / rd.TEST_METRICS).exists():
        raise FileExistsError(f"{run_dir} already holds a run; resume it (resume=True / --resume) or choose a new directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / rd.CONFIG, run_config(job.model, data, job.config, device, job.model_kwargs,
                                                      job.data_source, job.recipe, job.fit))
    write_json_atomic(run_dir / rd.SCALER, rd.scaler_record(data.scaler, getattr(data, "future_scaler", None)))


def _test_metrics(model: ForecastModel, data: Any, config: TrainConfig, device: torch.device, run_dir: Path | None,
                  best_epoch: int) -> dict[str, float] | None:
    """Every point score over every test window (None without test windows), written to the run directory."""
    if len(data.test) == 0:
        return None
    metrics = evaluate(model, data.test, batch_size=config.eval_batch_size, device=device,
                       scaler=data.scaler, raw_values=data.values, mase_scale=mase_scale(data))
    metrics["best_epoch"] = best_epoch
    if run_dir is not None:
        write_json_atomic(run_dir / rd.TEST_METRICS, metrics)
    return metrics


def _calibrate(model: ForecastModel, data: Any, config: TrainConfig, device: torch.device,
               run_dir: Path | None) -> Calibration:
    """Split-conformal radii of the final weights on the validation windows, written to the run directory."""
    calibration = calibrate(model, data.val, split="val", batch_size=config.eval_batch_size, device=device)
    if run_dir is not None:
        calibration.save(run_dir / rd.INTERVALS)
    return calibration


def _without_training(job: _Job, device: torch.device, started: float, cpu_started: float) -> TrainResult:
    """A model with nothing to learn: validate and test it as it is (no optimiser, no epochs)."""
    model, data, config, run_dir, validate = job.model, job.data, job.config, job.run_dir, job.validate
    if run_dir is not None:
        _start_run_dir(job, device)
        rd.write_jsonl(run_dir / rd.METRICS, [])  # no epochs
        rd.save_weights(run_dir / rd.BEST, model)  # no parameters: an empty file, so load_run reads it like any run
    val = evaluate(model, data.val, batch_size=config.eval_batch_size, device=device) if validate else None
    test_metrics = _test_metrics(model, data, config, device, run_dir, best_epoch=0) if job.evaluate_test else None
    calibration = _calibrate(model, data, config, device, run_dir) if validate else None
    return TrainResult(
        model=model.eval(),
        best_val_mse=val["mse"] if validate else math.nan,
        best_val_mae=val["mae"] if validate else None,
        best_epoch=0,
        epochs_run=0,
        stopped_early=False,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        history=[],
        test_metrics=test_metrics,
        run_dir=run_dir,
        config=config,
        calibration=calibration,
        fit=job.fit,
    )


# ----------------------------------------------------------------------------- train


def train(
    model: ForecastModel,
    data: Any,
    config: TrainConfig | None = None,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    model_kwargs: dict[str, Any] | None = None,
    data_source: dict[str, Any] | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    recipe: dict[str, Any] | None = None,
    validate: bool = True,
    fit: dict[str, Any] | None = None,
    evaluate_test: bool = True,
) -> TrainResult:
    """Train `model` on `data` (a `samovar.data.ForecastData`) and evaluate it on the test split.

    run_dir: where to write config/metrics/weights/checkpoint (None: write nothing).
    resume: continue the run in `run_dir` from its checkpoint (must use the same config).
    model_kwargs / data_source: recorded in config.json so the run can be rebuilt
    (`samovar.training.load_run`); data_source holds e.g. ``{"source": "ETTh1", "data_dir": ...}``;
    recipe (``Recipe.to_dict()``) and fit (how the rows are used, ``fit_run``'s record) too.
    validate: False trains exactly ``config.epochs`` epochs with no validation (no early stopping,
    the last epoch's weights; ``val_mse`` None in metrics.jsonl, no intervals).
    on_epoch_end: called after each epoch, once its checkpoint is written, with the epoch's metrics
    row plus ``"last"``: True when no epoch follows (early stopping or the epoch budget). An exception
    it raises (e.g. ``optuna.TrialPruned``) ends training there; the run directory keeps that epoch's checkpoint.
    evaluate_test: False leaves the test split unread (``test_metrics`` None), as during a
    hyper-parameter search, where only the final runs may see the test windows.
    """
    config = config or TrainConfig()
    config.validate()
    if resume and run_dir is None:
        raise ValueError("resume=True needs the run_dir of the run to resume")
    if (data.lookback, data.horizon, data.channels) != (model.lookback, model.horizon, model.channels):
        raise ValueError(
            f"model expects lookback={model.lookback}, horizon={model.horizon}, channels={model.channels} "
            f"but the data has lookback={data.lookback}, horizon={data.horizon}, channels={data.channels}"
        )
    targets, futures = getattr(data, "target_channels", data.channels), getattr(data, "future_channels", 0)
    if (model.target_channels, getattr(model, "future_channels", 0)) != (targets, futures):
        raise ValueError(f"model is built for {model.target_channels} target channel(s) and "
                         f"{getattr(model, 'future_channels', 0)} future covariate(s), the data has {targets} and "
                         f"{futures}; build it with build_model(..., targets=, future_channels=) from the data")
    core = unwrapped(model)  # a quantile model inside a wrapper (DDP) is one too
    quantiles = core.quantiles if isinstance(core, QuantileForecaster) else None
    if quantiles != config.quantiles:  # config.json must say how to rebuild the model (load_run)
        raise ValueError(f"the model's quantiles {quantiles} differ from TrainConfig.quantiles {config.quantiles} "
                         f"(loss {config.loss!r}); build it with build_model(..., quantiles=config.quantiles)")
    if validate and len(data.val) == 0:
        raise ValueError("the validation split has no windows (needed for early stopping): shorten lookback/horizon "
                         "or give the validation split more rows; to train on every row use fit mode 'refit' or 'epochs' "
                         "(fit_mode= / --fit-mode)")
    if config.test_each_epoch and len(data.test) == 0:
        raise ValueError("TrainConfig.test_each_epoch needs test windows; the test split has none")
    run_dir = Path(run_dir) if run_dir is not None else None
    old_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _train(_Job(model, data, config, run_dir, resume, model_kwargs, data_source, on_epoch_end, recipe,
                           validate, fit, evaluate_test))
    finally:
        torch.set_num_threads(old_threads)


def _train(job: _Job) -> TrainResult:
    started, cpu_started = time.perf_counter(), time.process_time()
    model, data, config = job.model, job.data, job.config
    device = usable_device(config.device)
    if device.type == "cpu":
        keep_freed_memory()  # large activations reuse mapped memory instead of page-faulting it in again
    model.to(device)
    if not model.trainable:
        if job.resume:
            raise ValueError(f"model {model.name!r} has nothing to train, so its run has no checkpoint to resume; "
                             "run it again or evaluate its run directory")
        return _without_training(job, device, started, cpu_started)
    use_amp = config.amp and device.type == "cuda"
    optimizer = _make_optimizer(model, config)
    micro_per_epoch, steps_per_epoch = _batch_plan(len(data.train), config)
    kit = _Stepping(
        device=device, optimizer=optimizer, grad_scaler=torch.amp.GradScaler("cuda", enabled=use_amp),
        autocast=(lambda: torch.autocast("cuda", dtype=torch.float16)) if use_amp else nullcontext,
        generator=torch.Generator(), micro_per_epoch=micro_per_epoch, steps_per_epoch=steps_per_epoch,
    )
    standing = _resume(job, kit) if job.resume else _start(job, kit)
    earlier, earlier_cpu = standing.spent_seconds, standing.spent_cpu_seconds

    progress = _Progress(config.quiet, config.epochs, steps_per_epoch, standing.epoch)
    try:
        for epoch in range(standing.epoch, config.epochs):
            if standing.stopped:
                break
            t0 = time.perf_counter()
            train_loss, lr = _train_epoch(job, kit, epoch, progress)
            train_seconds = time.perf_counter() - t0
            val = evaluate(model, data.val, batch_size=config.eval_batch_size, device=device) if job.validate else None
            val_mse = val["mse"] if job.validate else None
            # as the LTSF EarlyStopping: an equal loss counts as an improvement; without validation the last epoch is kept
            improved = not job.validate or val_mse <= standing.best_val
            if improved:
                standing.best_val = val_mse if job.validate else math.nan
                standing.best_epoch, standing.bad_epochs = epoch + 1, 0
                standing.best_state = _cpu_state(model)
            else:
                standing.bad_epochs += 1
            standing.stopped = job.validate and config.patience > 0 and standing.bad_epochs >= config.patience
            standing.epoch = epoch + 1
            row = {"epoch": epoch + 1, "train_loss": train_loss, "val_mse": val_mse,
                   "val_mae": val["mae"] if job.validate else None, "lr": lr,
                   "train_seconds": train_seconds, "seconds": time.perf_counter() - t0, "best": improved}
            if config.test_each_epoch:  # a diagnostic: read by nothing that selects or stops
                row["test_mse"] = evaluate(model, data.test, batch_size=config.eval_batch_size, device=device)["mse"]
            standing.history.append(row)
            standing.spent_seconds = earlier + time.perf_counter() - started
            standing.spent_cpu_seconds = None if earlier_cpu is None else earlier_cpu + time.process_time() - cpu_started
            if job.run_dir is not None:
                rd.write_jsonl(job.run_dir / rd.METRICS, standing.history)
                if improved:
                    rd.save_weights(job.run_dir / rd.BEST, standing.best_state)
                rd.save_checkpoint(job.run_dir / rd.CHECKPOINT, _checkpoint(job, kit, standing))
            progress.epoch_end(row)
            if job.on_epoch_end is not None:
                job.on_epoch_end({**row, "last": standing.stopped or epoch + 1 == config.epochs})
    finally:
        progress.close()

    model.load_state_dict(standing.best_state)
    test_metrics = _test_metrics(model, data, config, device, job.run_dir, standing.best_epoch) if job.evaluate_test else None
    calibration = _calibrate(model, data, config, device, job.run_dir) if job.validate else None
    return TrainResult(
        model=model,
        best_val_mse=standing.best_val,
        best_val_mae=next((r.get("val_mae") for r in standing.history if r["epoch"] == standing.best_epoch), None),
        best_epoch=standing.best_epoch,
        epochs_run=len(standing.history),
        stopped_early=standing.stopped and standing.epoch < config.epochs,  # patience out at the last epoch: ran them all
        seconds=earlier + time.perf_counter() - started,
        cpu_seconds=None if earlier_cpu is None else earlier_cpu + time.process_time() - cpu_started,
        resumed_seconds=earlier,
        resumed_cpu_seconds=earlier_cpu,
        history=standing.history,
        test_metrics=test_metrics,
        run_dir=job.run_dir,
        config=config,
        calibration=calibration,
        fit=job.fit,
    )


def _start(job: _Job, kit: _Stepping) -> _Standing:
    """A new run: seed, create its run directory; nothing trained yet."""
    standing = _Standing(best_state=_cpu_state(job.model))
    if job.config.reseed:
        torch.manual_seed(job.config.seed)  # dropout etc.; the model's init is the caller's business
    kit.generator.manual_seed(job.config.seed)
    if job.run_dir is not None:
        _start_run_dir(job, kit.device)
    return standing


def _checkpoint(job: _Job, kit: _Stepping, standing: _Standing) -> dict[str, Any]:
    """What `_resume` needs to continue after the last finished epoch exactly as if never stopped."""
    return {
        "config": job.config.to_dict(),
        "model": _cpu_state(job.model),
        "optimizer": kit.optimizer.state_dict(),
        "grad_scaler": kit.grad_scaler.state_dict(),
        "rng": _rng_state(kit.generator),
        **standing.record(),
    }


def _resume(job: _Job, kit: _Stepping) -> _Standing:
    """Restore the run in job.run_dir from its checkpoint (written by `_checkpoint`)."""
    run_dir = job.run_dir
    # options added since the checkpoint was written take their defaults (the behaviour it was written with)
    ckpt = rd.load_resume_checkpoint(run_dir, job.config.to_dict(), defaults=TrainConfig().to_dict())
    job.model.load_state_dict(ckpt["model"])
    kit.optimizer.load_state_dict(ckpt["optimizer"])
    if ckpt["grad_scaler"]:  # empty when written without float16 (CPU, MPS, amp off): a CUDA resume starts a fresh scale
        kit.grad_scaler.load_state_dict(ckpt["grad_scaler"])
    _set_rng_state(ckpt["rng"], kit.generator)
    # a checkpoint written before the run's time was recorded: its epochs' own time, CPU time unknown
    before = {"spent_seconds": sum(row.get("seconds", 0.0) for row in ckpt["history"]), "spent_cpu_seconds": None}
    standing = _Standing(**{f.name: ckpt[f.name] if f.name in ckpt else before[f.name] for f in fields(_Standing)})
    standing.history = list(standing.history)
    rd.write_jsonl(run_dir / rd.METRICS, standing.history)  # drop rows of epochs after the checkpoint
    rd.save_weights(run_dir / rd.BEST, standing.best_state)
    return standing


def _train_epoch(job: _Job, kit: _Stepping, epoch: int, progress: _Progress) -> tuple[float, float]:
    """One epoch over the shuffled train windows: (mean train loss per window, the last step's lr)."""
    model, data, config, device = job.model, job.data, job.config, kit.device
    model.train()
    order = torch.randperm(len(data.train), generator=kit.generator)[: kit.micro_per_epoch * config.batch_size]
    micro_batches = order.split(config.batch_size)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    lr = config.lr
    for step in range(kit.steps_per_epoch):
        lr = learning_rate(config, epoch, step, kit.steps_per_epoch)
        b1 = beta1(config, epoch, step, kit.steps_per_epoch)
        for group in kit.optimizer.param_groups:  # a group with its own peak_lr follows the schedule's shape
            group["lr"] = lr * group["peak_lr"] / config.lr if "peak_lr" in group else lr
            group["betas"] = (b1, group["betas"][1])
        kit.optimizer.zero_grad(set_to_none=True)
        group_batches = micro_batches[step * config.accumulate:(step + 1) * config.accumulate]
        group_size = sum(len(b) for b in group_batches)
        for idx in group_batches:
            x, y = data.train.batch(idx)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            # a window set without future_batch (a wrapper that serves a subset) has no covariates
            future = data.train.future_batch(idx) if hasattr(data.train, "future_batch") else None
            future = None if future is None else future.to(device, non_blocking=True)
            with kit.autocast():
                loss = batch_loss(model, x, y, future)
            # weight each micro-batch mean by its share: the step equals one large batch
            kit.grad_scaler.scale(loss * (len(idx) / group_size)).backward()
            loss_sum += loss.detach().double() * len(idx)
        clip = clip_norm(config, epoch * kit.steps_per_epoch + step)
        if clip is not None:
            kit.grad_scaler.unscale_(kit.optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        kit.grad_scaler.step(kit.optimizer)
        kit.grad_scaler.update()
        progress.step(epoch, float(loss.detach()) if step % 20 == 0 else None)
    train_loss = float(loss_sum) / sum(len(b) for b in micro_batches)
    if not math.isfinite(train_loss):
        raise FloatingPointError(
            f"training diverged at epoch {epoch + 1} (train loss {train_loss}); "
            "lower the learning rate or set grad_clip"
        )
    return train_loss, lr
