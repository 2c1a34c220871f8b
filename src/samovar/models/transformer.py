"""A plain encoder-only Transformer forecaster, our own design with the hyper-parameters of the
SAMoVAR paper's "EncFormer" baseline (the authors' model itself is ``encformer``).

One token per time step:
1. the window is standardised per channel over time (as every other baseline here does;
   undone on the forecast),
2. ``Linear(channels -> d_model)`` embeds each time step and a fixed sinusoidal positional
   encoding is added (then dropout),
3. ``layers`` pre-norm encoder layers (LayerNorm -> bidirectional multi-head
   self-attention -> residual; LayerNorm -> GELU MLP of width ``d_ff`` -> residual), a final
   LayerNorm,
4. the head: ``Linear(d_model -> channels)`` per time step gives (B, lookback, C), then
   ``Linear(lookback -> horizon)`` over time gives (B, horizon, C).

The hyper-parameters follow the SAMoVAR authors' ``baseline.sh`` (3 layers, 8 heads, d_model
128, dropout 0.1; AdamW lr 1e-4, betas (0.9, 0.95), weight decay 0.1, one-cycle schedule with
5 % warm-up, gradient clipping 1, patience 12, lookbacks 512-4096). This model was written
before the authors' ``FormerBaseline`` code was found (``models/FormerBaseline.py`` of
LJC-FVNR/ARMA-Attention); the instance normalisation, sinusoidal positions, GELU MLP of width
4 * d_model, final LayerNorm and the head above are our choices and differ from it. The
authors' model (appended output tokens, last-value subtraction, learned positions, ReLU MLP
of width 8 * d_model) is ``encformer`` (``encformer.py``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import register
from ._common import Dropout, InstanceNorm, MultiheadAttention, check_dropout, check_input, check_positive_int, training_recipe
from .base import ForecastModel


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """The fixed sin/cos positional encoding of Vaswani et al.: (length, d_model)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq[: d_model // 2])
    return pe


class PreNormEncoderLayer(nn.Module):
    """x + Attn(LN(x)), then x + MLP(LN(x)); (B, L, d) -> (B, L, d).

    ``activation``: the MLP's nonlinearity (GELU here; EncFormer uses ReLU, as torch's layer).
    ``forward(x, queries=n)`` computes only the last n positions (keys and values still come from
    all L positions), giving (B, n, d)."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float,
                 activation: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(d_model)
        self.attn = MultiheadAttention(d_model, heads, attn_dropout=dropout, proj_dropout=dropout)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, d_ff), activation(), Dropout(dropout), nn.Linear(d_ff, d_model), Dropout(dropout)
        )

    def forward(self, x: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        h = self.norm_attn(x)
        q = h
        if queries is not None:
            x, q = x[:, -queries:], h[:, -queries:]
        x = x + self.attn(q, h, need_scores=False)[0]
        return x + self.ff(self.norm_ff(x))


@register("transformer")
class EncoderTransformer(ForecastModel):
    """Encoder-only Transformer over time-step tokens; x: (B, lookback, C) -> (B, horizon, C)."""

    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        *,
        layers: int = 3,
        heads: int = 8,
        d_model: int = 128,
        d_ff: int | None = None,
        dropout: float = 0.1,
        instance_norm: bool = True,
    ) -> None:
        super().__init__(lookback, horizon, channels)
        d_ff = 4 * d_model if d_ff is None else d_ff
        check_positive_int("Transformer", layers=layers, heads=heads, d_model=d_model, d_ff=d_ff)
        check_dropout("Transformer", dropout=dropout)
        if d_model % 2:
            raise ValueError(f"Transformer d_model must be even (sin/cos positional encoding), got {d_model}")
        self.norm = InstanceNorm(channels) if instance_norm else None
        self.embed = nn.Linear(channels, d_model)
        self.register_buffer("positions", sinusoidal_positions(self.lookback, d_model), persistent=False)
        self.embed_dropout = Dropout(dropout)
        self.layers = nn.ModuleList(PreNormEncoderLayer(d_model, heads, d_ff, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d_model)
        self.to_channels = nn.Linear(d_model, channels)
        self.to_horizon = nn.Linear(self.lookback, self.horizon)

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return 512

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict:
        """The default space plus width and depth (8 heads divide every width)."""
        return {**super().search_space(dataset, horizon), "model.d_model": [64, 128, 256], "model.layers": [2, 3, 4]}

    @classmethod
    def paper_training_config(cls, dataset: str, horizon: int | None = None) -> dict:
        """The SAMoVAR authors' baseline recipe (``baseline.sh`` + ``exp/exp_main.py``), which covers
        all twelve of their datasets: AdamW (betas 0.9/0.95, weight decay 0.1), lr 1e-4, up to 100
        epochs, patience 12, torch's OneCycleLR per batch over epochs + 1 (linear, 5 % warm-up, start
        lr/10, beta1 cycled 0.95 -> 0.85 -> 0.95 by its default cycle_momentum), gradient-norm clip 1;
        batch 32 (ETT, Weather) or 8 with 4 accumulation steps (PEMS, Solar, ECL, Traffic; the authors
        step the schedule once per micro-batch, the trainer once per optimizer step: noted). The script
        loops over lookbacks 4096/2048/1024/512; the recipe records 512."""
        return training_recipe("Transformer", _RECIPES, dataset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        stats = None
        if self.norm is not None:
            x, stats = self.norm.normalize(x)
        h = self.embed_dropout(self.embed(x) + self.positions)  # (B, L, d)
        for layer in self.layers:
            h = layer(h)
        per_step = self.to_channels(self.final_norm(h))  # (B, L, C)
        y = self.to_horizon(per_step.transpose(1, 2)).transpose(1, 2)  # (B, H, C)
        if stats is not None:
            y = self.norm.denormalize(y, stats)
        return y


def _baseline_sh(batch_size: int, accumulate: int) -> dict:
    """baseline.sh's setting for one dataset (its batch_sizes / grad_accums entry)."""
    recipe = {
        "source": "LJC-FVNR/Structural-Aligned-Mixture-of-VAR baseline.sh (FormerBaseline), exp/exp_main.py",
        "lookback": 512,
        "optimizer": "adamw",
        "betas": (0.9, 0.95),
        "weight_decay": 0.1,
        "lr": 1e-4,
        "batch_size": batch_size,
        "epochs": 100,
        "patience": 12,
        "schedule": "onecycle",  # OneCycleLR(pct_start=0.05, div_factor=10, anneal_strategy="linear", epochs + 1)
        "onecycle_pct_start": 0.05,
        "onecycle_anneal": "linear",
        "onecycle_div_factor": 10.0,
        "onecycle_momentum": (0.85, 0.95),
        "schedule_extra_epochs": 1,
        "grad_clip": 1.0,
        "dropout": 0.1,
        "model": {"layers": 3, "heads": 8, "d_model": 128, "dropout": 0.1},
    }
    if accumulate > 1:
        recipe["accumulate"] = accumulate
        recipe["notes"] = [f"baseline.sh steps the one-cycle schedule once per micro-batch of {batch_size}, "
                           f"the trainer once per optimizer step ({accumulate} micro-batches)"]
    return recipe


_RECIPES = {
    **{name: _baseline_sh(32, 1) for name in ("etth1", "etth2", "ettm1", "ettm2", "weather")},
    **{name: _baseline_sh(8, 4) for name in ("pems03", "pems04", "pems07", "pems08", "solar", "ecl", "traffic")},
}
