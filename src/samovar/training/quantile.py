"""Quantile forecasts for every registered model: one wrapper, no per-model code.

``QuantileForecaster(base, quantiles)`` keeps the base model as its point path: ``forward(x)``
is ``base(x)``, (B, H, C), so metrics, predict and conformal calibration see the point forecast.
``forward_quantiles(x)`` is (B, H, C, Q): the point forecast plus offsets from a small head, a
linear map (shared by the channels) from the instance-normalized lookback to, per horizon step,
a centre offset and one spread increment per quantile other than 0.5. The increments are made
non-negative with softplus and accumulated outward from the centre (upward for q > 0.5,
downward for q < 0.5), so quantiles can never cross; everything is scaled by the window's std.
The head starts as the Gaussian quantiles of the window's std (zero weights, biases set so) and
is trained at its own peak learning rate HEAD_LR following the run's schedule (its spreads must
travel far from that start whatever the base model's recipe, e.g. the LTSF lr of 1e-4).

``training_loss`` = the base model's own ``training_loss`` (e.g. SAMoVAR's next-segment
objective) + the mean pinball loss of the quantiles. The point forecast enters the quantile
path detached: the pinball loss trains only the head, and the point forecast is trained exactly
as without quantiles.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..models.base import ForecastModel, batch_loss, forecast

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
HEAD_LR = 1e-2  # peak learning rate of the quantile head
_EPS = 1e-5


def check_quantiles(quantiles: Iterable[Any]) -> tuple[float, ...]:
    """Quantile levels as a sorted tuple of floats in (0, 1), distinct; ValueError naming the bad one."""
    out: list[float] = []
    for q in quantiles:
        if isinstance(q, bool) or not isinstance(q, (int, float)):
            raise ValueError(f"quantile {q!r} is not a number; give levels in (0, 1), e.g. 0.1,0.5,0.9")
        if not 0 < q < 1:
            raise ValueError(f"quantile {q:g} is outside (0, 1); give levels in (0, 1), e.g. 0.1,0.5,0.9")
        if float(q) in out:
            raise ValueError(f"quantile {q:g} is given twice")
        out.append(float(q))
    if not out:
        raise ValueError("no quantiles given; give levels in (0, 1), e.g. 0.1,0.5,0.9")
    return tuple(sorted(out))


def quantile_name(q: float) -> str:
    """Column suffix of quantile q: 0.1 -> "q10", 0.5 -> "q50", 0.025 -> "q2.5"."""
    return f"q{q * 100:g}"


def pinball_loss(pred: torch.Tensor, y: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss; pred (..., Q), y (...), quantiles (Q,): max(q·d, (q-1)·d) with d = y - pred."""
    diff = y.unsqueeze(-1) - pred
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


class QuantileHead(nn.Module):
    """Instance-normalized lookback -> monotone quantile offsets (B, H, C, Q) in units of the data."""

    def __init__(self, lookback: int, horizon: int, quantiles: tuple[float, ...]) -> None:
        super().__init__()
        self.horizon = horizon
        self.below = sum(q < 0.5 for q in quantiles)
        self.above = sum(q > 0.5 for q in quantiles)
        self.median = 0.5 in quantiles
        self.proj = nn.Linear(lookback, horizon * (1 + self.below + self.above))
        # start as Gaussian quantiles of the window's std: increments between neighbouring levels outward from 0.5
        z = [NormalDist().inv_cdf(q) for q in quantiles if q != 0.5]
        lower, upper = z[:self.below], z[self.below:]
        steps = [b - a for a, b in zip(lower, lower[1:] + [0.0])] + [b - a for a, b in zip([0.0] + upper, upper)]
        start = torch.tensor([0.0] + steps).clamp_min(1e-3)
        start[0] = 0.0  # centre offset
        bias = torch.cat([start[:1], torch.log(torch.expm1(start[1:]))])  # inverse softplus
        with torch.no_grad():
            self.proj.weight.zero_()
            self.proj.bias.copy_(bias.repeat(horizon))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        std = x.std(dim=1, keepdim=True, unbiased=False) + _EPS  # (B, 1, C)
        z = ((x - mean) / std).transpose(1, 2)  # (B, C, L)
        out = self.proj(z).unflatten(-1, (self.horizon, -1)).transpose(1, 2)  # (B, H, C, 1 + increments)
        centre = out[..., :1]
        inc = F.softplus(out[..., 1:])
        down = centre - inc[..., :self.below].flip(-1).cumsum(-1).flip(-1)  # q < 0.5, ascending
        up = centre + inc[..., self.below:].cumsum(-1)  # q > 0.5, ascending
        parts = [down, centre, up] if self.median else [down, up]
        return torch.cat(parts, dim=-1) * std.unsqueeze(-1)


class QuantileForecaster(ForecastModel):
    """`base` as the point forecast plus a `QuantileHead`; see the module docstring."""

    def __init__(self, base: ForecastModel, quantiles: Iterable[float] = DEFAULT_QUANTILES) -> None:
        super().__init__(base.lookback, base.horizon, base.channels)
        self.base = base
        self.name = base.name
        self.covariates = base.covariates
        self.future_channels = getattr(base, "future_channels", 0)
        self.use_targets(base.target_channels)
        self.quantiles = check_quantiles(quantiles)
        self.register_buffer("levels", torch.tensor(self.quantiles), persistent=False)
        self.head = QuantileHead(base.lookback, base.horizon, self.quantiles)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        return forecast(self.base, x, future)

    def parameter_groups(self) -> list[dict]:
        return [*self.base.parameter_groups(), {"params": list(self.head.parameters()), "peak_lr": HEAD_LR}]

    def forward_quantiles(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """(B, lookback, C) -> (B, horizon, C, Q), non-decreasing along Q."""
        return forecast(self.base, x, future).unsqueeze(-1) + self.head(x)

    def use_targets(self, targets: int) -> "QuantileForecaster":
        super().use_targets(targets)
        if hasattr(self, "base"):
            self.base.use_targets(targets)
        return self

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        point_loss = batch_loss(self.base, x, y, future)
        with torch.no_grad():
            point = forecast(self.base, x, future)
        quantiles = self.target_part(point.unsqueeze(-1) + self.head(x), dim=2)
        return point_loss + pinball_loss(quantiles, self.target_part(y), self.levels.to(x.dtype))


__all__ = ["DEFAULT_QUANTILES", "HEAD_LR", "QuantileForecaster", "QuantileHead", "check_quantiles", "pinball_loss", "quantile_name"]
