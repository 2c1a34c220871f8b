"""DLinear (Zeng et al., AAAI 2023, "Are Transformers Effective for Time Series Forecasting?").

The lookback window is split into a trend (a moving average, replicate-padded at both ends
so it keeps the window's length) and a seasonal remainder; one linear map over time turns
each into a forecast and the two are added. With ``individual=True`` every channel has its
own pair of maps, otherwise all channels share one pair.

As in the authors' code, both weight matrices start as a plain average (every entry
``1 / lookback``) and the biases keep ``nn.Linear``'s default initialisation.

Future-known covariates (``future_channels`` F > 0; not in the paper): a third linear map over
time reads each covariate over the lookback and the horizon (L + H steps -> H steps, shared by
the covariates, as the shared heads are), and a linear mix F -> C adds the result to each
channel's forecast. Without covariates none of it exists and the model is the authors'.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from .._checks import positive_int
from ._common import check_input, recipe_at_horizon, training_recipe
from .base import ForecastModel, check_future


def odd_kernel_size(name: str, kernel_size: int) -> int:
    """`kernel_size` as an int; ValueError naming `name` unless it is a positive odd integer
    (a centred moving average needs one)."""
    try:
        size = positive_int(name, kernel_size)
    except ValueError:
        size = 0
    if size % 2 == 0:
        raise ValueError(f"{name} must be a positive odd integer (the paper uses 25), got {kernel_size!r}")
    return size


def moving_average(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Centred moving average over time, replicate-padded; x: (B, L, C) -> (B, L, C)."""
    kernel_size = odd_kernel_size("kernel_size", kernel_size)
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

    covariates = ("past", "future")

    def __init__(self, lookback: int, horizon: int, channels: int, *, individual: bool = False, kernel_size: int = 25,
                 future_channels: int = 0) -> None:
        super().__init__(lookback, horizon, channels)
        self.kernel_size = odd_kernel_size("DLinear kernel_size", kernel_size)
        self.individual = bool(individual)
        self.seasonal_head = TimeLinear(self.lookback, self.horizon, self.channels, self.individual)
        self.trend_head = TimeLinear(self.lookback, self.horizon, self.channels, self.individual)
        self.future_channels = int(future_channels)
        if self.future_channels:
            self.future_head = TimeLinear(self.lookback + self.horizon, self.horizon, self.future_channels, False)
            self.future_mix = nn.Linear(self.future_channels, self.channels)

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return 336

    @classmethod
    def paper_training_config(cls, dataset: str, horizon: int | None = None) -> dict:
        """The authors' recipe for `dataset` (``cure-lab/LTSF-Linear scripts/EXP-LongForecasting/Linear/
        <dataset>.sh`` + ``run_longExp.py`` defaults): lookback 336, Adam, 10 epochs, patience 3,
        "type1" (lr halved every epoch), shared (not individual) linear maps, moving average 25;
        the learning rate and batch size are set per dataset (ETTm2: per horizon). The authors'
        scripts cover ETTh1/2, ETTm1/2, Weather, Electricity, Traffic (and Exchange, ILI), not
        Solar or PEMS."""
        return recipe_at_horizon(training_recipe("DLinear", _RECIPES, dataset), horizon)

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict:
        """The default space with the paper's lr range for linear models (its ETTh1 runs use 0.005)
        and the shared or per-channel heads it compares (``individual``)."""
        return {**super().search_space(dataset, horizon), "train.lr": {"low": 1e-4, "high": 5e-2, "log": True},
                "model.individual": [False, True]}

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, lookback, C), future: (B, lookback + horizon, F) when built with future_channels F."""
        check_input(self, x)
        check_future(self, future, x.shape[0])
        seasonal, trend = decompose(x, self.kernel_size)
        out = self.seasonal_head(seasonal) + self.trend_head(trend)
        if future is not None:
            out = out + self.future_mix(self.future_head(future))  # (B, H, F) -> (B, H, C)
        return out


def _ltsf_linear(script: str, lr: float, batch_size: int, **extra) -> dict:
    """One dataset's DLinear setting from LTSF-Linear's script (the rest: run_longExp.py defaults)."""
    return {
        "source": f"cure-lab/LTSF-Linear scripts/EXP-LongForecasting/Linear/{script}, run_longExp.py defaults",
        "lookback": 336,
        "optimizer": "adam",
        "lr": lr,
        "batch_size": batch_size,
        "epochs": 10,
        "patience": 3,
        "schedule": "type1",  # lr * 0.5**(epoch-1)
        "dropout": 0.0,
        "model": {"individual": False, "kernel_size": 25},
        **extra,
    }


_NO_SCRIPT = ("LTSF-Linear's official scripts (scripts/EXP-LongForecasting/Linear/) have no {} setting; "
              "the DLinear paper does not evaluate it")

_RECIPES = {
    "etth1": _ltsf_linear("etth1.sh", 0.005, 32),
    "etth2": _ltsf_linear("etth2.sh", 0.05, 32),
    "ettm1": _ltsf_linear("ettm1.sh", 1e-4, 8),
    # ETTm2: lr 0.001 for horizons 96/192, 0.01 for 336/720
    "ettm2": _ltsf_linear("ettm2.sh", 0.001, 32, horizons={96: {}, 192: {}, 336: {"lr": 0.01}, 720: {"lr": 0.01}}),
    "weather": _ltsf_linear("weather.sh", 1e-4, 16),  # the script sets no lr: run_longExp.py's default
    "ecl": _ltsf_linear("electricity.sh", 0.001, 16),
    "traffic": _ltsf_linear("traffic.sh", 0.05, 16),
    "solar": _NO_SCRIPT.format("Solar"),
    "pems03": _NO_SCRIPT.format("PEMS03"),
    "pems04": _NO_SCRIPT.format("PEMS04"),
    "pems07": _NO_SCRIPT.format("PEMS07"),
    "pems08": _NO_SCRIPT.format("PEMS08"),
}
