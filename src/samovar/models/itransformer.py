"""iTransformer (Liu et al., ICLR 2024, "iTransformer: Inverted Transformers Are Effective
for Time Series Forecasting"; code thuml/iTransformer).

The roles of time and variates are swapped: each channel's whole (standardised) lookback
is embedded as one token by ``Linear(lookback -> d_model)``, a post-norm Transformer
encoder attends across the C variate tokens (LayerNorm, GELU feed-forward applied to each
token), a final LayerNorm follows, and ``Linear(d_model -> horizon)`` maps each token to
its channel's forecast. Inputs are standardised per window and channel and the forecast
de-standardised, as in the authors' code ("normalisation from the Non-stationary
Transformer", no learnable affine).

Defaults are the authors' ETTh1 script (``scripts/multivariate_forecasting/ETT/
iTransformer_ETTh1.sh`` + ``run.py`` defaults): lookback 96, 2 layers, 8 heads,
d_model = d_ff = 256 (horizons 96/192; 512 for 336/720), dropout 0.1, GELU.

Deviation: the authors' code always appends the calendar features (4 "timeF" series for
hourly data) of the lookback as extra variate tokens; this model sees only the series values
unless built with ``future_channels`` F > 0 (``samovar train --calendar`` / ``--future COL``):
then each future-known covariate over the lookback and the horizon (L + H steps) is embedded by
its own ``Linear(L + H -> d_model)`` into one more variate token (not normalised, as the
authors' marks), attended to with the C series tokens; only the C series tokens are projected.
"""

from __future__ import annotations

import torch
from torch import nn

from . import register
from ._common import (
    InstanceNorm,
    MultiheadAttention,
    check_dropout,
    check_input,
    check_positive_int,
    recipe_at_horizon,
    training_recipe,
)
from .base import ForecastModel, check_future


class VariateEncoderLayer(nn.Module):
    """Post-norm encoder layer over variate tokens: (B, C, d) -> (B, C, d)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.attn = MultiheadAttention(d_model, heads, attn_dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.attn(x, x)[0]))
        return self.norm2(x + self.dropout(self.ff(x)))


@register("itransformer")
class ITransformer(ForecastModel):
    """Attention across variates, one token per channel; x: (B, lookback, C) -> (B, horizon, C)."""

    covariates = ("past", "future")

    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        *,
        layers: int = 2,
        heads: int = 8,
        d_model: int = 256,
        d_ff: int = 256,
        dropout: float = 0.1,
        use_norm: bool = True,
        future_channels: int = 0,
    ) -> None:
        super().__init__(lookback, horizon, channels)
        check_positive_int("iTransformer", layers=layers, heads=heads, d_model=d_model, d_ff=d_ff)
        check_dropout("iTransformer", dropout=dropout)
        self.norm = InstanceNorm(channels) if use_norm else None
        self.embed = nn.Linear(self.lookback, d_model)
        self.embed_dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(VariateEncoderLayer(d_model, heads, d_ff, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d_model)
        self.project = nn.Linear(d_model, self.horizon)
        self.future_channels = int(future_channels)
        if self.future_channels:
            self.future_embed = nn.Linear(self.lookback + self.horizon, d_model)

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return 96

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict:
        """The default space plus the widths and depths the paper's sensitivity study varies."""
        return {**super().search_space(dataset, horizon), "train.lr": {"low": 1e-5, "high": 1e-3, "log": True},
                "model.d_model": [128, 256, 512], "model.layers": [1, 2, 3, 4]}

    @classmethod
    def paper_training_config(cls, dataset: str, horizon: int | None = None) -> dict:
        """The authors' recipe for `dataset` (``scripts/multivariate_forecasting/<dataset>/...sh`` +
        ``run.py`` defaults): lookback 96, Adam, 10 epochs, patience 3, "type1" (lr halved every
        epoch), 8 heads, dropout 0.1, d_ff = d_model; layers, d_model, lr, batch size (and for PEMS
        the series normalisation ``use_norm``) per dataset, and per horizon where the script
        changes them (ETTh1: d_model 256 for horizons 96/192, 512 for 336/720; PEMS08). The PEMS
        scripts run horizons 12/24/48/96 only: a longer horizon gets the horizon-96 setting, with a note."""
        return recipe_at_horizon(training_recipe("iTransformer", _RECIPES, dataset), horizon)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, lookback, C), future: (B, lookback + horizon, F) when built with future_channels F."""
        check_input(self, x)
        check_future(self, future, x.shape[0])
        stats = None
        if self.norm is not None:
            x, stats = self.norm.normalize(x)
        tokens = self.embed(x.transpose(1, 2))  # (B, C, d): one token per variate
        if future is not None:  # (B, C + F, d): one more token per covariate
            tokens = torch.cat([tokens, self.future_embed(future.transpose(1, 2).to(tokens.dtype))], dim=1)
        tokens = self.embed_dropout(tokens)
        for layer in self.layers:
            tokens = layer(tokens)
        y = self.project(self.final_norm(tokens[:, : self.channels])).transpose(1, 2)  # (B, H, C)
        if stats is not None:
            y = self.norm.denormalize(y, stats)
        return y


def _script(path: str, layers: int, d_model: int, lr: float = 1e-4, batch_size: int = 32, **extra) -> dict:
    """One dataset's setting from the authors' script (the rest: run.py defaults)."""
    return {
        "source": f"thuml/iTransformer scripts/multivariate_forecasting/{path}, run.py defaults",
        "lookback": 96,
        "optimizer": "adam",
        "lr": lr,
        "batch_size": batch_size,
        "epochs": 10,
        "patience": 3,
        "schedule": "type1",  # lr * 0.5**(epoch-1)
        "dropout": 0.1,
        "model": {"layers": layers, "heads": 8, "d_model": d_model, "d_ff": d_model, "dropout": 0.1},
        **extra,
    }


_LARGE = {"model": {"d_model": 512, "d_ff": 512}}
_PEMS_DEEP = {"lr": 1e-3, "batch_size": 16, "model": {"layers": 4, "use_norm": False}}

_RECIPES = {
    "etth1": _script("ETT/iTransformer_ETTh1.sh", 2, 256, horizons={96: {}, 192: {}, 336: _LARGE, 720: _LARGE}),
    "etth2": _script("ETT/iTransformer_ETTh2.sh", 2, 128),
    "ettm1": _script("ETT/iTransformer_ETTm1.sh", 2, 128),
    "ettm2": _script("ETT/iTransformer_ETTm2.sh", 2, 128),
    "weather": _script("Weather/iTransformer.sh", 3, 512),
    "ecl": _script("ECL/iTransformer.sh", 3, 512, lr=5e-4, batch_size=16),
    "traffic": _script("Traffic/iTransformer.sh", 4, 512, lr=1e-3, batch_size=16),
    "solar": _script("SolarEnergy/iTransformer.sh", 2, 512, lr=5e-4),
    "pems03": _script("PEMS/iTransformer_03.sh", 4, 512, lr=1e-3, horizons={12: {}, 24: {}, 48: {}, 96: {}}),
    "pems04": {**_script("PEMS/iTransformer_04.sh", 4, 1024, lr=5e-4, horizons={12: {}, 24: {}, 48: {}, 96: {}}),
               "model": {"layers": 4, "heads": 8, "d_model": 1024, "d_ff": 1024, "dropout": 0.1, "use_norm": False}},
    "pems07": {**_script("PEMS/iTransformer_07.sh", 2, 512, lr=1e-3,
                         horizons={12: {}, 24: {}, 48: _PEMS_DEEP, 96: _PEMS_DEEP}),
               "model": {"layers": 2, "heads": 8, "d_model": 512, "d_ff": 512, "dropout": 0.1, "use_norm": False}},
    "pems08": _script("PEMS/iTransformer_08.sh", 2, 512, horizons={12: {}, 24: {}, 48: _PEMS_DEEP, 96: _PEMS_DEEP}),
}
