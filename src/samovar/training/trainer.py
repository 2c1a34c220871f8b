"""One trainer for every forecasting model.

``train(model, data, config, run_dir)`` minimises ``model.training_loss(x, y)`` on the train
windows, validates on the plain forecast MSE over every validation window, stops early
when the validation MSE has not improved for ``patience`` epochs, restores the best epoch's
weights and measures the test metrics over every test window.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .. import __version__
from ..models.base import ForecastModel
from ..utils import keep_freed_memory, resolve_device, write_json_atomic
from . import rundir as rd
from .config import TrainConfig, beta1, learning_rate
from .metrics import evaluate
from .state import cpu_state as _cpu_state, rng_state as _rng_state, set_rng_state as _set_rng_state


@dataclass
class TrainResult:
    """What `train` returns; `model` holds the best epoch's weights."""

    model: ForecastModel
    best_val_mse: float
    best_epoch: int  # 1-based
    epochs_run: int
    stopped_early: bool
    seconds: float  # wall time of this call (a resumed run counts only its own part)
    history: list[dict[str, Any]]
    test_metrics: dict[str, float] | None  # mse, mae, mse_raw, mae_raw, windows
    run_dir: Path | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    best_val_mae: float | None = None  # validation MAE of the best epoch (None: a run resumed from before it was recorded)


# ----------------------------------------------------------------------------- helpers


def _batch_plan(n: int, config: TrainConfig) -> tuple[int, int]:
    """(micro-batches, optimizer steps) per epoch for n training windows."""
    if n < 1:
        raise ValueError("the training split has no windows: shorten lookback/horizon or give more data")
    full, rest = divmod(n, config.batch_size)
    micro = full if (config.drop_last and full > 0) else full + (rest > 0)
    return micro, math.ceil(micro / config.accumulate)


def _make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)


def _usable_device(name: str) -> torch.device:
    """resolve_device, with a clear error for a device this machine does not have."""
    device = resolve_device(name)
    mps = getattr(torch.backends, "mps", None)
    if (device.type == "cuda" and not torch.cuda.is_available()) or (
            device.type == "mps" and not (mps is not None and mps.is_available())):
        raise ValueError(f"device {name!r} is not available on this machine; use device='auto' or 'cpu'")
    return device


def _data_info(data: Any) -> dict[str, Any]:
    return {
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
               recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved configuration written to config.json (with "recipe": name, label, notes when given)."""
    return {
        "model": {"name": model.name, "kwargs": model_kwargs, "parameters": model.num_parameters()},
        "data": {**_data_info(data), **(data_source or {})},
        "train": config.to_dict(),
        **({"recipe": recipe} if recipe is not None else {}),
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
            epoch=start_epoch + 1, epochs=epochs, loss="-", val="-",
        )

    def step(self, epoch: int, loss: float | None = None) -> None:
        if self.bar is not None:
            fields = {"epoch": epoch + 1}
            if loss is not None:
                fields["loss"] = f"{loss:.4f}"
            self.bar.update(self.task, advance=1, **fields)

    def epoch_end(self, row: dict[str, Any]) -> None:
        if self.bar is not None:
            star = " *" if row["best"] else ""
            self.bar.update(self.task, val=f"{row['val_mse']:.4f}{star}", loss=f"{row['train_loss']:.4f}")
            self.bar.console.print(
                f"epoch {row['epoch']:>3}  train {row['train_loss']:.5f}  val mse {row['val_mse']:.5f}{star}"
                f"  lr {row['lr']:.3g}  {row['seconds']:.1f}s"
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


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
    evaluate_test: bool = True,
) -> TrainResult:
    """Train `model` on `data` (a `samovar.data.ForecastData`) and evaluate it on the test split.

    run_dir: where to write config/metrics/weights/checkpoint (None: write nothing).
    resume: continue the run in `run_dir` from its checkpoint (must use the same config).
    model_kwargs / data_source: recorded in config.json so the run can be rebuilt
    (`samovar.training.load_run`); data_source holds e.g. ``{"source": "ETTh1", "data_dir": ...}``;
    recipe (``Recipe.to_dict()``) too.
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
    if len(data.val) == 0:
        raise ValueError("the validation split has no windows (needed for early stopping): "
                         "shorten lookback/horizon or give the validation split more rows")
    run_dir = Path(run_dir) if run_dir is not None else None
    old_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _train(model, data, config, run_dir, resume, model_kwargs, data_source, on_epoch_end, recipe,
                      evaluate_test=evaluate_test)
    finally:
        torch.set_num_threads(old_threads)


def _train(model, data, config, run_dir, resume, model_kwargs, data_source, on_epoch_end, recipe, *,
           evaluate_test: bool = True) -> TrainResult:
    started = time.perf_counter()
    device = _usable_device(config.device)
    if device.type == "cpu":
        keep_freed_memory()  # large activations reuse mapped memory instead of page-faulting it in again
    model.to(device)
    use_amp = config.amp and device.type == "cuda"
    grad_scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.float16)) if use_amp else nullcontext
    optimizer = _make_optimizer(model, config)
    n_train = len(data.train)
    micro_per_epoch, steps_per_epoch = _batch_plan(n_train, config)
    generator = torch.Generator()

    history: list[dict[str, Any]] = []
    best_val, best_epoch, bad_epochs, stopped = math.inf, 0, 0, False
    best_state = _cpu_state(model)
    start_epoch = 0
    if resume:
        # options added since the checkpoint was written take their defaults (the behaviour it was written with)
        ckpt = rd.load_resume_checkpoint(run_dir, config.to_dict(), defaults=TrainConfig().to_dict())
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        grad_scaler.load_state_dict(ckpt["grad_scaler"])
        history = list(ckpt["history"])
        best_val, best_epoch, bad_epochs, stopped = ckpt["best_val"], ckpt["best_epoch"], ckpt["bad_epochs"], ckpt["stopped"]
        best_state = ckpt["best_state"]
        start_epoch = ckpt["epoch"]
        _set_rng_state(ckpt["rng"], generator)
        rd.write_jsonl(run_dir / rd.METRICS, history)  # drop rows of epochs after the checkpoint
        rd.save_weights(run_dir / rd.BEST, best_state)
    else:
        torch.manual_seed(config.seed)  # dropout etc.; the model's init is the caller's business
        generator.manual_seed(config.seed)
        if run_dir is not None:
            if (run_dir / rd.CHECKPOINT).exists():
                raise FileExistsError(f"{run_dir} already holds a run; resume it (resume=True / --resume) or choose a new directory")
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(run_dir / rd.CONFIG, run_config(model, data, config, device, model_kwargs, data_source, recipe))
            write_json_atomic(run_dir / rd.SCALER, data.scaler.to_dict())

    progress = _Progress(config.quiet, config.epochs, steps_per_epoch, start_epoch)
    try:
        for epoch in range(start_epoch, config.epochs):
            if stopped:
                break
            t0 = time.perf_counter()
            model.train()
            order = torch.randperm(n_train, generator=generator)[: micro_per_epoch * config.batch_size]
            micro_batches = order.split(config.batch_size)
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            lr = config.lr
            for step in range(steps_per_epoch):
                lr = learning_rate(config, epoch, step, steps_per_epoch)
                b1 = beta1(config, epoch, step, steps_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                    group["betas"] = (b1, group["betas"][1])
                optimizer.zero_grad(set_to_none=True)
                group_batches = micro_batches[step * config.accumulate:(step + 1) * config.accumulate]
                group_size = sum(len(b) for b in group_batches)
                for idx in group_batches:
                    x, y = data.train.batch(idx)
                    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                    with autocast():
                        loss = model.training_loss(x, y)
                    # weight each micro-batch mean by its share: the step equals one large batch
                    grad_scaler.scale(loss * (len(idx) / group_size)).backward()
                    loss_sum += loss.detach().double() * len(idx)
                if config.grad_clip is not None:
                    grad_scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                grad_scaler.step(optimizer)
                grad_scaler.update()
                progress.step(epoch, float(loss.detach()) if step % 20 == 0 else None)

            train_loss = float(loss_sum) / sum(len(b) for b in micro_batches)
            if not math.isfinite(train_loss):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch + 1} (train loss {train_loss}); "
                    "lower the learning rate or set grad_clip"
                )
            val = evaluate(model, data.val, batch_size=config.eval_batch_size, device=device)
            val_mse = val["mse"]
            improved = val_mse <= best_val  # as the LTSF EarlyStopping: an equal loss counts as an improvement
            if improved:
                best_val, best_epoch, bad_epochs = val_mse, epoch + 1, 0
                best_state = _cpu_state(model)
            else:
                bad_epochs += 1
            stopped = config.patience > 0 and bad_epochs >= config.patience
            row = {"epoch": epoch + 1, "train_loss": train_loss, "val_mse": val_mse, "val_mae": val["mae"], "lr": lr,
                   "seconds": time.perf_counter() - t0, "best": improved}
            history.append(row)
            if run_dir is not None:
                rd.write_jsonl(run_dir / rd.METRICS, history)
                if improved:
                    rd.save_weights(run_dir / rd.BEST, best_state)
                rd.save_checkpoint(run_dir / rd.CHECKPOINT, {
                    "epoch": epoch + 1,
                    "config": config.to_dict(),
                    "model": _cpu_state(model),
                    "optimizer": optimizer.state_dict(),
                    "grad_scaler": grad_scaler.state_dict(),
                    "history": history,
                    "best_val": best_val, "best_epoch": best_epoch, "bad_epochs": bad_epochs, "stopped": stopped,
                    "best_state": best_state,
                    "rng": _rng_state(generator),
                })
            progress.epoch_end(row)
            if on_epoch_end is not None:
                on_epoch_end({**row, "last": stopped or epoch + 1 == config.epochs})
    finally:
        progress.close()

    model.load_state_dict(best_state)
    test_metrics = None
    if evaluate_test and len(data.test) > 0:
        test_metrics = evaluate(model, data.test, batch_size=config.eval_batch_size, device=device,
                                scaler=data.scaler, raw_values=data.values)
        test_metrics["best_epoch"] = best_epoch
        if run_dir is not None:
            write_json_atomic(run_dir / rd.TEST_METRICS, test_metrics)
    return TrainResult(
        model=model,
        best_val_mse=best_val,
        best_val_mae=next((r.get("val_mae") for r in history if r["epoch"] == best_epoch), None),
        best_epoch=best_epoch,
        epochs_run=len(history),
        stopped_early=stopped,
        seconds=time.perf_counter() - started,
        history=history,
        test_metrics=test_metrics,
        run_dir=run_dir,
        config=config,
    )
