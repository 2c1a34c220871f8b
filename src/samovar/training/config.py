"""Training options (one dataclass) and the learning-rate schedules."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("type1", "constant", "cosine", "onecycle")


@dataclass
class TrainConfig:
    """Everything the trainer needs besides the model and the data.

    Defaults are the common LTSF recipe (DLinear/Autoformer code): Adam, lr 1e-4 halved every
    epoch from the third on ("type1"), batch 32, 10 epochs, early stopping with patience 3 on validation MSE.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4
    optimizer: str = "adam"  # "adam" | "adamw"
    weight_decay: float = 0.0
    schedule: str = "type1"  # "type1" (halve each epoch after the 2nd) | "constant" | "cosine" | "onecycle"
    warmup_steps: int = 0  # linear warm-up (cosine only), in optimizer steps
    onecycle_pct_start: float = 0.3  # fraction of steps spent rising (onecycle only)
    patience: int = 3  # epochs without a better val MSE before stopping (0: never stop early)
    grad_clip: float | None = None  # max global gradient norm (None: no clipping)
    accumulate: int = 1  # micro-batches per optimizer step; the step equals one batch of accumulate*batch_size
    drop_last: bool = True  # drop the last incomplete training batch (as the LTSF code does)
    eval_batch_size: int = 256  # only speed: evaluation always uses every window
    seed: int = 2021
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:1" | "mps"
    amp: bool = True  # mixed precision, used only when the device is CUDA
    threads: int | None = 1  # torch.set_num_threads for the run (None: leave torch's setting)
    quiet: bool = False  # no progress display

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad option and the accepted values."""
        positive_ints = ("epochs", "batch_size", "accumulate", "eval_batch_size")
        for name in positive_ints:
            val = getattr(self, name)
            if isinstance(val, bool) or int(val) != val or val < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {val!r}")
        for name in ("patience", "warmup_steps"):
            val = getattr(self, name)
            if isinstance(val, bool) or int(val) != val or val < 0:
                raise ValueError(f"TrainConfig.{name} must be a non-negative integer, got {val!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr must be a positive number, got {self.lr!r}")
        if not (self.weight_decay >= 0):
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"TrainConfig.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 < self.onecycle_pct_start < 1:
            raise ValueError(f"TrainConfig.onecycle_pct_start must be in (0, 1), got {self.onecycle_pct_start!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be positive or None, got {self.grad_clip!r}")
        if self.threads is not None and (int(self.threads) != self.threads or self.threads < 1):
            raise ValueError(f"TrainConfig.threads must be a positive integer or None, got {self.threads!r}")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative integer, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Build from a dict; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


def learning_rate(config: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """The learning rate for optimizer step `step` (0-based, within the epoch) of `epoch` (0-based).

    type1: the LTSF code's "type1": lr for the first two epochs, then halved every epoch
    (lr * 0.5**max(0, epoch - 1)), constant within an epoch.
    cosine: optional linear warm-up over `warmup_steps`, then cosine decay from lr to 0
    over the remaining steps of all epochs.
    onecycle: cosine rise from lr/25 to lr over `onecycle_pct_start` of all steps, then
    cosine decay to lr/(25*1e4) (torch's OneCycleLR with its default factors).
    """
    base = config.lr
    if config.schedule == "constant":
        return base
    if config.schedule == "type1":
        # The LTSF code calls adjust_learning_rate(epoch + 1) after each epoch with
        # lr * 0.5**((epoch + 1) - 1): the first call keeps lr, so epochs 1 and 2 both use lr.
        return base * 0.5 ** max(0, epoch - 1)
    total = max(1, config.epochs * steps_per_epoch)
    t = epoch * steps_per_epoch + step  # global step, 0-based
    if config.schedule == "cosine":
        warm = config.warmup_steps
        if t < warm:
            return base * (t + 1) / warm
        span = max(1, total - warm)
        return 0.5 * base * (1.0 + math.cos(math.pi * min(t - warm, span) / span))
    # onecycle, same phase boundaries as torch.optim.lr_scheduler.OneCycleLR (three_phase=False)
    initial, final = base / 25.0, base / 25.0 / 1e4
    rise_end = float(config.onecycle_pct_start * total) - 1
    last = total - 1

    def cos_anneal(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    if t <= rise_end:
        return cos_anneal(initial, base, t / rise_end if rise_end > 0 else 1.0)
    return cos_anneal(base, final, min(1.0, (t - rise_end) / (last - rise_end)) if last > rise_end else 1.0)
