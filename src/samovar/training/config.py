"""Training options (one dataclass) and the learning-rate schedules.

Per-epoch schedules (the LTSF code bases' ``adjust_learning_rate``): the reference loops train
epoch 1 at the starting lr and call ``adjust_learning_rate(k)`` after epoch k (k = 1, 2, ...);
each call sets the lr only when its rule lists k. ``epoch_learning_rate`` replays exactly that:

  type1       lr * 0.5**(k-1) for every k (LTSF-Linear, TSLib, PatchTST, iTransformer)
  type2       the fixed table {2: 5e-5, 4: 1e-5, 6: 5e-6, 8: 1e-6, 10: 5e-7, 15: 1e-7, 20: 5e-8},
              independent of lr (TSLib, PatchTST)
  type3       lr for k < 3, then lr * 0.9**(k-3) (PatchTST)
  type2_cats  {2: lr/2, 4: lr/4, 6: lr/8, 8: lr/16, 10: lr/32} (CATS's own "type2")
  type3_fits  lr * 0.95**(k-1) for every k (FITS's own "type3")
  constant    lr

Per-step schedules, stepped once per optimizer step over ``epochs + schedule_extra_epochs``
epochs: ``cosine`` and ``onecycle`` (torch's OneCycleLR: PatchTST's "TST" is onecycle with
torch's defaults; the SAMoVAR authors' is linear, div_factor 10, over epochs + 1, beta1 cycled).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from .._checks import positive_int
from .quantile import DEFAULT_QUANTILES, check_quantiles

OPTIMIZERS = ("adam", "adamw")
EPOCH_SCHEDULES = ("type1", "type2", "type3", "type2_cats", "type3_fits", "constant")
STEP_SCHEDULES = ("cosine", "onecycle")
SCHEDULES = EPOCH_SCHEDULES + STEP_SCHEDULES
ANNEALS = ("cos", "linear")
LOSSES = ("mse", "quantile")

# TSLib / PatchTST "type2": absolute learning rates after these epochs.
TYPE2_TABLE = {2: 5e-5, 4: 1e-5, 6: 5e-6, 8: 1e-6, 10: 5e-7, 15: 1e-7, 20: 5e-8}


@dataclass
class TrainConfig:
    """Everything the trainer needs besides the model and the data.

    Defaults are the common LTSF recipe (DLinear/Autoformer code): Adam, lr 1e-4 halved every
    epoch from the third on ("type1"), batch 32, 10 epochs, early stopping with patience 3 on validation MSE.
    A model's published recipe is ``samovar.training.recipes.resolve_recipe(model, dataset, horizon)``.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4
    optimizer: str = "adam"  # "adam" | "adamw"
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)  # Adam/AdamW (beta1, beta2); torch's default
    schedule: str = "type1"  # one of SCHEDULES (module docstring)
    warmup_steps: int = 0  # linear warm-up (cosine only), in optimizer steps
    onecycle_pct_start: float = 0.3  # fraction of steps spent rising (onecycle only)
    onecycle_anneal: str = "cos"  # "cos" | "linear": OneCycleLR's anneal_strategy
    onecycle_div_factor: float = 25.0  # start lr = lr / div_factor (OneCycleLR's div_factor)
    onecycle_final_div_factor: float = 1e4  # end lr = start lr / final_div_factor
    onecycle_momentum: tuple[float, float] | None = None  # (base, max) beta1 cycled as OneCycleLR's
    # cycle_momentum (torch's default (0.85, 0.95)); None: beta1 stays betas[0]
    schedule_extra_epochs: int = 0  # per-step schedules span epochs + this (the SAMoVAR authors: 1)
    pre_schedule_lr_div: float = 1.0  # per-epoch schedules: lr / this until the rule first sets it
    # (PatchTST's and CATS's code build an unused OneCycleLR, which starts the lr at lr/25)
    patience: int = 3  # epochs without a better val MSE before stopping (0: never stop early)
    grad_clip: float | None = None  # max global gradient norm (None: no clipping)
    grad_clip_before_unscale: bool = False  # emulate a CUDA loop that clips the GradScaler-scaled gradients
    # and unscales afterwards (the SAMoVAR authors'): the true gradient is clipped at grad_clip / scale
    # (`clip_norm`); a diagnostic
    accumulate: int = 1  # micro-batches per optimizer step; the step equals one batch of accumulate*batch_size
    drop_last: bool = True  # drop the last incomplete training batch (as the LTSF code does)
    eval_batch_size: int = 256  # only speed: evaluation always uses every window
    seed: int = 2021
    reseed: bool = True  # seed torch's global RNG (dropout) with `seed` when training starts; False: draw on
    # from the state the caller left (fit_run seeds before building the model, so dropout follows its init,
    # as in the SAMoVAR authors' loop)
    test_each_epoch: bool = False  # add the test MSE of every epoch to its metrics row ("test_mse"); a
    # diagnostic, never used for early stopping or the choice of weights
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:1" | "mps"
    amp: bool = True  # mixed precision, used only when the device is CUDA
    threads: int | None = 1  # torch.set_num_threads for the run (None: leave torch's setting)
    quiet: bool = False  # no progress display
    loss: str = "mse"  # "mse": the model's own training_loss; "quantile": that plus the pinball loss of a
    # quantile head (samovar.training.quantile.QuantileForecaster)
    quantiles: tuple[float, ...] | None = None  # loss "quantile" only; default DEFAULT_QUANTILES (0.1, 0.5, 0.9)

    def __post_init__(self) -> None:
        self.betas = _pair("betas", self.betas)
        if self.loss == "quantile":
            self.quantiles = check_quantiles(DEFAULT_QUANTILES if self.quantiles is None else self.quantiles)
        if self.onecycle_momentum is not None:
            self.onecycle_momentum = _pair("onecycle_momentum", self.onecycle_momentum)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad option and the accepted values."""
        for name in ("epochs", "batch_size", "accumulate", "eval_batch_size"):
            positive_int(f"TrainConfig.{name}", getattr(self, name))
        for name in ("patience", "warmup_steps", "schedule_extra_epochs"):
            positive_int(f"TrainConfig.{name}", getattr(self, name), minimum=0)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr must be a positive number, got {self.lr!r}")
        if not (self.weight_decay >= 0):
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("betas",) + (("onecycle_momentum",) if self.onecycle_momentum is not None else ()):
            if not all(0.0 <= b < 1.0 for b in getattr(self, name)):
                raise ValueError(f"TrainConfig.{name} must be two numbers in [0, 1), got {getattr(self, name)!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"TrainConfig.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 < self.onecycle_pct_start < 1:
            raise ValueError(f"TrainConfig.onecycle_pct_start must be in (0, 1), got {self.onecycle_pct_start!r}")
        if self.onecycle_anneal not in ANNEALS:
            raise ValueError(f"TrainConfig.onecycle_anneal must be one of {ANNEALS}, got {self.onecycle_anneal!r}")
        for name in ("onecycle_div_factor", "onecycle_final_div_factor", "pre_schedule_lr_div"):
            val = getattr(self, name)
            if isinstance(val, bool) or not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"TrainConfig.{name} must be a positive number, got {val!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be positive or None, got {self.grad_clip!r}")
        if self.grad_clip_before_unscale and self.grad_clip is None:
            raise ValueError("TrainConfig.grad_clip_before_unscale needs grad_clip (the bound it scales)")
        positive_int("TrainConfig.threads", self.threads, or_none=True)
        positive_int("TrainConfig.seed", self.seed, minimum=0)
        if self.loss not in LOSSES:
            raise ValueError(f"TrainConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        if self.loss != "quantile" and self.quantiles is not None:
            raise ValueError(f"TrainConfig.quantiles {self.quantiles!r} need loss='quantile' (--loss quantile)")

    @property
    def schedule_epochs(self) -> int:
        """Epochs the per-step schedules (cosine, onecycle) span."""
        return self.epochs + self.schedule_extra_epochs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready options (pairs as lists), equal after a round trip through config.json."""
        d = asdict(self)
        for name in ("betas", "onecycle_momentum", "quantiles"):
            if d[name] is not None:
                d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Build from a dict; unknown keys are an error naming them; missing keys take their defaults."""
        return options_from_dict(cls, d)


def options_from_dict(cls: type, d: dict[str, Any]) -> Any:
    """``cls(**d)`` for a dataclass of training options; unknown keys are an error naming them and the known ones."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
    return cls(**d)


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        a, b = value
        return float(a), float(b)
    except (TypeError, ValueError):
        raise ValueError(f"TrainConfig.{name} must be a pair of numbers, e.g. (0.9, 0.95), got {value!r}") from None


def _epoch_rule(schedule: str, k: int, base: float) -> float | None:
    """The lr that the reference ``adjust_learning_rate(k)`` sets after epoch k (1-based), or None."""
    if schedule == "type1":
        return base * 0.5 ** ((k - 1) // 1)
    if schedule == "type2":
        return TYPE2_TABLE.get(k)
    if schedule == "type3":
        return base if k < 3 else base * 0.9 ** ((k - 3) // 1)
    if schedule == "type2_cats":
        return {2: base * 0.5**1, 4: base * 0.5**2, 6: base * 0.5**3, 8: base * 0.5**4, 10: base * 0.5**5}.get(k)
    if schedule == "type3_fits":
        return base * 0.95 ** ((k - 1) // 1)
    if schedule == "constant":
        return base
    raise ValueError(f"{schedule!r} is not a per-epoch schedule; per-epoch schedules: {EPOCH_SCHEDULES}")


def epoch_learning_rate(schedule: str, base: float, epoch: int, pre_schedule_div: float = 1.0) -> float:
    """The lr of 0-based `epoch` under a per-epoch schedule: the value set by the last
    ``adjust_learning_rate(k)`` with k <= epoch whose rule lists k, else ``base / pre_schedule_div``
    (to the last bit as torch's OneCycleLR computes it; exactly `base` when pre_schedule_div is 1)."""
    for k in range(epoch, 0, -1):
        lr = _epoch_rule(schedule, k, base)
        if lr is not None:
            return lr
    # computed as the unused OneCycleLR(max_lr=base, div_factor=pre_schedule_div) of the reference sets it
    return _anneal_cos(base / pre_schedule_div, base, 0.0)


def _anneal_cos(start: float, end: float, pct: float) -> float:
    """torch OneCycleLR's cosine annealing from start (pct 0) to end (pct 1)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    """torch OneCycleLR's linear annealing from start (pct 0) to end (pct 1)."""
    return (end - start) * pct + start


def _onecycle(config: TrainConfig, t: int, total: int) -> tuple[float, float | None]:
    """(lr, beta1 or None) at global step t of `total`, computed as torch's OneCycleLR (three_phase=False)."""
    base = config.lr
    initial = base / config.onecycle_div_factor
    final = initial / config.onecycle_final_div_factor
    anneal = _anneal_linear if config.onecycle_anneal == "linear" else _anneal_cos
    rise_end = float(config.onecycle_pct_start * total) - 1
    last = total - 1
    mom = config.onecycle_momentum  # (base, max)
    if t <= rise_end:
        pct = t / rise_end if rise_end > 0 else 1.0
        return anneal(initial, base, pct), (anneal(mom[1], mom[0], pct) if mom else None)
    pct = min(1.0, (t - rise_end) / (last - rise_end)) if last > rise_end else 1.0
    return anneal(base, final, pct), (anneal(mom[0], mom[1], pct) if mom else None)


def learning_rate(config: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """The learning rate for optimizer step `step` (0-based, within the epoch) of `epoch` (0-based).

    Per-epoch schedules (type1, type2, type3, type2_cats, type3_fits, constant): see
    `epoch_learning_rate`; constant within an epoch. type1 gives lr, lr, lr/2, lr/4, ...
    cosine: optional linear warm-up over `warmup_steps`, then cosine decay from lr to 0
    over the remaining steps of ``config.schedule_epochs`` epochs.
    onecycle: torch's OneCycleLR over ``config.schedule_epochs * steps_per_epoch`` steps: rise
    from lr/div_factor to lr over `onecycle_pct_start` of them, then down to
    lr/div_factor/final_div_factor, cosine or linear (`onecycle_anneal`).
    """
    if config.schedule in EPOCH_SCHEDULES:
        return epoch_learning_rate(config.schedule, config.lr, epoch, config.pre_schedule_lr_div)
    base = config.lr
    total = max(1, config.schedule_epochs * steps_per_epoch)
    t = epoch * steps_per_epoch + step  # global step, 0-based
    if config.schedule == "cosine":
        warm = config.warmup_steps
        if t < warm:
            return base * (t + 1) / warm
        span = max(1, total - warm)
        return 0.5 * base * (1.0 + math.cos(math.pi * min(t - warm, span) / span))
    return _onecycle(config, t, total)[0]


# torch.amp.GradScaler's defaults: the scale starts at init_scale and doubles after growth_interval
# steps without an overflow
GRADSCALER_INIT_SCALE = 65536.0
GRADSCALER_GROWTH_INTERVAL = 2000


def clip_norm(config: TrainConfig, step: int) -> float | None:
    """The gradient-norm bound of global optimizer step `step` (0-based), or None (no clipping).

    ``grad_clip``; with ``grad_clip_before_unscale``, ``grad_clip / scale`` with the scale a default
    GradScaler reaches when no step overflows (65536, doubled every 2000 steps): a loop that calls
    ``clip_grad_norm_`` on ``scaler.scale(loss)``'s gradients and unscales afterwards (the SAMoVAR
    authors' GPU loop) bounds the true gradient norm by that. On a CPU their GradScaler is disabled,
    so a CPU run of their code clips at ``grad_clip``.
    """
    if config.grad_clip is None or not config.grad_clip_before_unscale:
        return config.grad_clip
    return config.grad_clip / (GRADSCALER_INIT_SCALE * 2.0 ** (step // GRADSCALER_GROWTH_INTERVAL))


def beta1(config: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Adam's beta1 for optimizer step `step` of `epoch`: cycled by onecycle with
    `onecycle_momentum` (as OneCycleLR's cycle_momentum), else ``betas[0]``."""
    if config.schedule != "onecycle" or config.onecycle_momentum is None:
        return config.betas[0]
    total = max(1, config.schedule_epochs * steps_per_epoch)
    return _onecycle(config, epoch * steps_per_epoch + step, total)[1]
