"""DLinear (Zeng et al., AAAI 2023, "Are Transformers Effective for Time Series Forecasting?").

The lookback window is split into a trend (a moving average, replicate-padded at both ends
so it keeps the window's length) and a seasonal remainder; one linear map over time turns
each into a forecast and the two are added. With ``individual=True`` every channel has its
own pair of maps, otherwise all channels share one pair.

As in the authors' code, both weight matrices start as a plain average (every entry
``1 / lookback``) and the biases keep ``nn.Linear``'s default initialisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from .base import ForecastModel


def moving_average(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Centred moving average over time, replicate-padded; x: (B, L, C) -> (B, L, C)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
    pad = (kernel_size - 1) // 2
    series = x.transpose(1, 2)  # (B, C, L)
    if pad:
        series = torch.cat([series[..., :1].expand(-1, -1, pad), series, series[..., -1:].expand(-1, -1, pad)], dim=-1)
    return F.avg_pool1d(series, kernel_size, stride=1).transpose(1, 2)


def decompose(x: torch.Tensor, kernel_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split x: (B, L, C) into (seasonal, trend), both (B, L, C), seasonal = x - trend."""
    trend = moving_average(x, kernel_size)
    return x - trend, trend


class TimeLinear(nn.Module):
    """A linear map over the time axis: (B, L, C) -> (B, H, C), shared or one per channel."""

    def __init__(self, lookback: int, horizon: int, channels: int, individual: bool) -> None:
        super().__init__()
        shape = (channels, horizon, lookback) if individual else (horizon, lookback)
        self.individual = individual
        self.weight = nn.Parameter(torch.full(shape, 1.0 / lookback))
        bound = 1.0 / math.sqrt(lookback)  # nn.Linear's default bias initialisation
        self.bias = nn.Parameter(torch.empty(shape[:-1]).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.individual:  # weight (C, H, L), bias (C, H)
            return torch.einsum("blc,chl->bhc", x, self.weight) + self.bias.t()
        # weight (H, L), bias (H,): the same map for every channel
        return torch.einsum("blc,hl->bhc", x, self.weight) + self.bias[:, None]


@register("dlinear")
class DLinear(ForecastModel):
    """Trend/seasonal decomposition + two linear heads; x: (B, lookback, C) -> (B, horizon, C)."""

    def __init__(self, lookback: int, horizon: int, channels: int, *, individual: bool = False, kernel_size: int = 25) -> None:
        super().__init__(lookback, horizon, channels)
        if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"DLinear kernel_size must be a positive odd integer (the paper uses 25), got {kernel_size!r}")
        self.kernel_size = int(kernel_size)
        self.individual = bool(individual)
        self.seasonal_head = TimeLinear(self.lookback, self.horizon, self.channels, self.individual)
        self.trend_head = TimeLinear(self.lookback, self.horizon, self.channels, self.individual)

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return 336

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict:
        """The default space with the paper's lr range for linear models (its ETTh1 runs use 0.005)
        and the shared or per-channel heads it compares (``individual``)."""
        return {**super().search_space(dataset, horizon), "train.lr": {"low": 1e-4, "high": 5e-2, "log": True},
                "model.individual": [False, True]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seasonal, trend = decompose(x, self.kernel_size)
        return self.seasonal_head(seasonal) + self.trend_head(trend)
