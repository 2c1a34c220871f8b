"""What a grid cell will cost before it runs: a few timed optimizer steps, extrapolated to the cell.

For each cell (model, dataset, horizon, lookback under its recipe) ``estimate_cell``

1. builds the model at the recipe's sizes on the dataset's real windows,
2. times optimizer steps (forward, backward, clipping, the optimizer update) and forward passes on
   micro-batches of 1, 2, 4, ... windows up to the recipe's batch, stopping once a step takes more
   than MAX_PROBE_SECONDS (a full batch of 32 windows at lookback 4096 would need tens of GB for an
   attention model), and extrapolates ``seconds = fixed + per_window * windows`` from the last two
   sizes (exact at the batch size when it was reached),
3. extrapolates: per epoch ``optimizer steps * step time + validation windows * eval time``; a run
   is ``epochs`` of those plus one pass over the test windows and one over the validation windows
   (the conformal intervals' calibration).

Epochs: a run stops ``patience`` epochs after its best epoch, which is not known beforehand. The
estimate assumes the best epoch is ``assume_best_epoch`` (default 10: the patience-12 runs recorded
in benchmarks/results (SAMoVAR, LinTrans, FixedVAR, EncFormer, Transformer) had their best epoch
between 1 and 14, while small linear models at lr 1e-4 can improve for all 100), so
``expected_epochs = min(epochs, assume_best_epoch + patience)``; ``max_cpu_hours`` is the bound at
every epoch run. CPU time is the process's (``time.process_time``: every thread's, unaffected by
other processes waiting for the cores); wall time is recorded beside it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .grid import Cell

MAX_PROBE_SECONDS = 1.0  # stop growing the timed micro-batch once a step takes longer than this
ASSUME_BEST_EPOCH = 10


@dataclass
class CostEstimate:
    """One cell's measured step and evaluation times and the CPU-hours extrapolated from them."""

    model: str
    dataset: str
    horizon: int
    lookback: int
    step_cpu_seconds: float  # one optimizer step of batch_size * accumulate windows (extrapolated)
    step_wall_seconds: float
    eval_cpu_seconds_per_window: float
    steps_per_epoch: int
    val_windows: int
    test_windows: int
    expected_epochs: int
    max_epochs: int
    est_cpu_hours: float  # expected_epochs
    max_cpu_hours: float  # every epoch of the recipe
    probe_windows: int  # the largest micro-batch timed (the batch size when it was reached)
    threads: int
    device: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_epochs(epochs: int, patience: int, assume_best_epoch: int = ASSUME_BEST_EPOCH) -> int:
    """Epochs a run with early stopping is expected to take: its best epoch plus `patience`, at most `epochs`
    (patience 0: never stops early, every epoch)."""
    if patience <= 0:
        return int(epochs)
    return int(min(epochs, assume_best_epoch + patience))


def steps_per_epoch(windows: int, batch_size: int, accumulate: int, drop_last: bool, cap: int | None = None) -> int:
    """Optimizer steps of one epoch over `windows` training windows (the trainer's batching)."""
    full, rest = divmod(windows, batch_size)
    micro = full if (drop_last and full > 0) else full + (rest > 0)
    steps = math.ceil(micro / accumulate)
    return min(steps, cap) if cap else steps


def _fit_line(sizes: tuple[int, ...], seconds: list[float]) -> tuple[float, float]:
    """(fixed, per_window) of the least-squares line through (size, seconds), both >= 0."""
    n = len(sizes)
    mx, my = sum(sizes) / n, sum(seconds) / n
    var = sum((x - mx) ** 2 for x in sizes)
    slope = sum((x - mx) * (y - my) for x, y in zip(sizes, seconds)) / var if var else my / mx
    slope = max(slope, 0.0)
    return max(my - slope * mx, 0.0), slope


def _timed(fn, repeats: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call of fn, the mean of `repeats` calls after one untimed call."""
    fn()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.process_time() - cpu) / repeats, (time.perf_counter() - wall) / repeats


def probe_sizes(batch_size: int) -> list[int]:
    """Micro-batch sizes tried in order: 1, 2, 4, ... up to the recipe's batch size (which ends the list)."""
    sizes, size = [], 1
    while size < batch_size:
        sizes.append(size)
        size *= 2
    return sizes + [int(batch_size)]


def _probe(cell: Cell, config: Any, data: Any, repeats: int, dev: torch.device,
           max_probe_seconds: float) -> tuple[dict[str, tuple[float, float]], int]:
    """Timed optimizer steps and forward passes of `cell`'s model on micro-batches of 1, 2, 4, ... windows up
    to the recipe's batch, stopping after the first size whose step takes more than `max_probe_seconds`
    (a large model at a long lookback: memory and time grow with the batch). Returns the lines through the
    last two sizes, ``{step_cpu, step_wall, eval_cpu}: (fixed, per_window)`` (the largest size measured is
    the batch itself when it was reached: then the line is exact there), and the largest size measured."""
    from ..training.runs import build_model, fill_seasonal_period

    kwargs = fill_seasonal_period(cell.model, cell.model_kwargs, data.freq)
    model = build_model(cell.model, cell.lookback, cell.horizon, data.channels, kwargs, seed=cell.seed,
                        targets=data.target_channels).to(dev)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable:
        optimizer_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        optimizer = optimizer_cls(trainable, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    sizes, step_cpu, step_wall, eval_cpu = [], [], [], []
    for size in probe_sizes(min(config.batch_size, len(data.train))):
        x, y = (t.to(dev) for t in data.train.batch(torch.arange(size)))

        def step() -> None:  # as the trainer's: gather the windows, forward, backward, clip, update
            xb, yb = (t.to(dev) for t in data.train.batch(torch.randint(len(data.train), (size,))))
            model.train()
            optimizer.zero_grad(set_to_none=True)
            model.training_loss(xb, yb).backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
            optimizer.step()

        @torch.no_grad()
        def forward() -> None:
            model.eval()
            model(x)

        sizes.append(size)
        if trainable:
            cpu, wall = _timed(step, repeats)
            step_cpu.append(cpu)
            step_wall.append(wall)
        eval_cpu.append(_timed(forward, repeats)[0])
        if (step_wall or eval_cpu)[-1] > max_probe_seconds:
            break
    last = slice(-2, None)
    lines = {"eval_cpu": _fit_line(tuple(sizes[last]), eval_cpu[last])}
    if trainable:
        lines.update(step_cpu=_fit_line(tuple(sizes[last]), step_cpu[last]),
                     step_wall=_fit_line(tuple(sizes[last]), step_wall[last]))
    return lines, sizes[-1]


def estimate_cell(cell: Cell, *, repeats: int = 2, threads: int = 1, device: str = "cpu",
                  assume_best_epoch: int = ASSUME_BEST_EPOCH, data: Any = None, cache: dict | None = None,
                  max_probe_seconds: float = MAX_PROBE_SECONDS) -> CostEstimate:
    """Time `repeats` optimizer steps (after one untimed) per probe size of `cell`'s model and extrapolate.

    cache: a dict shared between calls; cells whose model, options, lookback, horizon, channel count and
    optimizer agree (e.g. ETTh1 and ETTh2) reuse one measurement."""
    from ..data import prepare_data
    from ..utils import resolve_device
    from .db import canonical_json

    config = cell.train_config(threads=threads, device=device, quiet=True)
    dev = resolve_device(device)
    if data is None:
        data = prepare_data(cell.dataset, lookback=cell.lookback, horizon=cell.horizon, data_dir=cell.data_dir,
                            **cell.inputs())
    key = (cell.model, cell.lookback, cell.horizon, data.channels, data.target_channels,
           canonical_json(cell.model_kwargs), config.optimizer,
           config.grad_clip, config.batch_size, threads, str(dev), repeats)
    probed = None if cache is None else cache.get(key)
    if probed is None:
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            probed = _probe(cell, config, data, repeats, dev, max_probe_seconds)
        finally:
            torch.set_num_threads(previous_threads)
        if cache is not None:
            cache[key] = probed
    lines, largest = probed
    trainable = "step_cpu" in lines
    windows_per_step = config.batch_size * config.accumulate

    def per_step(line: tuple[float, float]) -> float:  # each micro-batch pays the fixed overhead once
        return config.accumulate * line[0] + line[1] * windows_per_step

    step_cpu = per_step(lines["step_cpu"]) if trainable else 0.0
    step_wall = per_step(lines["step_wall"]) if trainable else 0.0
    efixed, eper = lines["eval_cpu"]
    eval_per_window = eper + efixed / max(1, config.eval_batch_size)
    steps = steps_per_epoch(len(data.train), config.batch_size, config.accumulate, config.drop_last,
                            cell.max_steps_per_epoch) if trainable else 0
    epochs = int(config.epochs) if trainable else 0
    expected = expected_epochs(epochs, int(config.patience), assume_best_epoch) if trainable else 0
    per_epoch = steps * step_cpu + len(data.val) * eval_per_window
    test = (len(data.test) + len(data.val)) * eval_per_window  # testing, then calibrating the intervals on val
    reach = ("measured at the batch size" if largest >= config.batch_size else
             f"largest micro-batch timed {largest} window(s), extrapolated linearly to {config.batch_size}")
    note = (f"{repeats} timed step(s) per micro-batch size, {reach}, x {config.accumulate} micro-batch(es) per step; "
            f"{threads} thread(s) on {dev}; expected epochs = min({epochs}, best epoch {assume_best_epoch} + "
            f"patience {config.patience})")
    return CostEstimate(
        model=cell.model, dataset=cell.dataset, horizon=cell.horizon, lookback=cell.lookback,
        step_cpu_seconds=step_cpu, step_wall_seconds=step_wall, eval_cpu_seconds_per_window=eval_per_window,
        steps_per_epoch=steps, val_windows=len(data.val), test_windows=len(data.test), expected_epochs=expected,
        max_epochs=epochs, est_cpu_hours=(expected * per_epoch + test) / 3600.0,
        max_cpu_hours=(epochs * per_epoch + test) / 3600.0, probe_windows=largest,
        threads=threads, device=str(dev), note=note,
    )


def cell_estimate(cell: Cell, db: Any, code_version: str, *, remeasure: bool = False,
                  assume_best_epoch: int = ASSUME_BEST_EPOCH, **options: Any) -> tuple[dict[str, Any], bool]:
    """(the cell's cost estimate as a dict, measured now?): the one recorded in `db` for the cell's
    configuration and code version (its hours recomputed for `assume_best_epoch`), else measured
    (``estimate_cell(cell, **options)``) and recorded."""
    key = cell.key(code_version)
    if not remeasure:
        rows = db.cost_rows(model=cell.model, dataset=cell.dataset, horizon=cell.horizon, lookback=cell.lookback,
                            profile=cell.profile, config_hash=key["config_hash"], code_version=code_version)
        if rows:
            row = dict(rows[-1])
            patience = int(cell.train_config().patience)
            expected = expected_epochs(row["max_epochs"], patience, assume_best_epoch) if row["max_epochs"] else 0
            per_epoch = row["steps_per_epoch"] * row["step_cpu_seconds"] + row["val_windows"] * row["eval_cpu_seconds_per_window"]
            test = (row["test_windows"] + row["val_windows"]) * row["eval_cpu_seconds_per_window"]
            row.update(expected_epochs=expected, est_cpu_hours=(expected * per_epoch + test) / 3600.0)
            return row, False
    estimate = estimate_cell(cell, assume_best_epoch=assume_best_epoch, **options).to_dict()
    db.record_cost(profile=cell.profile, config_hash=key["config_hash"], code_version=code_version, **estimate)
    return estimate, True


def over_cap_reason(est_cpu_hours: float, cap: float, max_cpu_hours: float | None = None) -> str:
    """The N/A reason of a cell whose estimated cost exceeds `--max-cell-hours`."""
    bound = f" (at most {max_cpu_hours:.3g} if every epoch runs)" if max_cpu_hours is not None else ""
    return (f"estimated {est_cpu_hours:.3g} CPU-hours{bound} > --max-cell-hours {cap:g}: not run on this machine "
            f"(samovar bench cost); run the same command without --max-cell-hours (e.g. on a GPU machine) to train it")


__all__ = ["ASSUME_BEST_EPOCH", "CostEstimate", "MAX_PROBE_SECONDS", "probe_sizes", "cell_estimate", "estimate_cell", "expected_epochs",
           "over_cap_reason", "steps_per_epoch"]
