"""Naive forecasts: the floor every learned model has to beat. None has parameters (``trainable = False``).

    naive            every step repeats the last lookback value:  f_(T+h) = y_T
    seasonal_naive   every step repeats the value one season back: f_(T+h) = y_(T+h-m*ceil(h/m)), m = period
    mean             every step is the mean of the lookback window
    drift            the line through the first and the last lookback value, extrapolated:
                     f_(T+h) = y_T + h (y_T - y_(T-L+1)) / (L - 1)

Each channel is forecast on its own. ``seasonal_naive``'s ``period`` left at None is taken from the
data's frequency when trained through ``fit_run`` / ``samovar train`` (and recorded in the run).
"""

from __future__ import annotations

from abc import abstractmethod

import torch

from . import register
from ._common import check_input, check_positive_int
from .base import ForecastModel

LTSF_LOOKBACK = 336  # the common LTSF lookback (DLinear, PatchTST): the floor is measured on the same windows


class NaiveForecast(ForecastModel):
    """A forecast computed from the lookback window alone: nothing to train."""

    trainable = False

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return LTSF_LOOKBACK

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        return self.forecast(x)

    @abstractmethod
    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, lookback, C) -> (B, horizon, C): each subclass's rule."""


@register("naive")
class Naive(NaiveForecast):
    """Naive forecast: the last lookback value, repeated over the horizon."""

    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1:, :].expand(-1, self.horizon, -1)


@register("seasonal_naive")
class SeasonalNaive(NaiveForecast):
    """Seasonal naive forecast: the last season of the lookback, repeated (period: steps per season)."""

    def __init__(self, lookback: int, horizon: int, channels: int, *, period: int | None = None) -> None:
        super().__init__(lookback, horizon, channels)
        if period is None:
            raise ValueError("seasonal_naive needs its period (steps per season): pass period=..., or train it with "
                             "`samovar train` / fit_run, which take it from the data's frequency")
        check_positive_int("seasonal_naive", period=period)
        if period > self.lookback:
            raise ValueError(f"seasonal_naive period {period} is longer than the lookback {self.lookback}: "
                             f"give a lookback of at least {period} (one season)")
        self.period = int(period)

    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(self.horizon, device=x.device) % self.period
        return x[:, self.lookback - self.period:, :][:, steps, :]


@register("mean")
class Mean(NaiveForecast):
    """Mean forecast: the mean of the lookback window, repeated over the horizon."""

    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True).expand(-1, self.horizon, -1)


@register("drift")
class Drift(NaiveForecast):
    """Drift forecast: the line from the first to the last lookback value, extrapolated."""

    def __init__(self, lookback: int, horizon: int, channels: int) -> None:
        super().__init__(lookback, horizon, channels)
        if self.lookback < 2:
            raise ValueError(f"drift draws a line through the first and last lookback values: it needs a lookback "
                             f"of at least 2, got {self.lookback}")

    def forecast(self, x: torch.Tensor) -> torch.Tensor:
        slope = (x[:, -1:, :] - x[:, :1, :]) / (self.lookback - 1)  # (B, 1, C)
        steps = torch.arange(1, self.horizon + 1, dtype=x.dtype, device=x.device)[None, :, None]
        return x[:, -1:, :] + steps * slope
