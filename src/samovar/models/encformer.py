"""EncFormer: the SAMoVAR authors' encoder-only Transformer baseline ("EncFormer" in the paper's
tables; ``models/FormerBaseline.py`` of LJC-FVNR/ARMA-Attention, run by the ``baseline.sh`` of
LJC-FVNR/Structural-Aligned-Mixture-of-VAR), written from scratch to compute the same function.

One token per time step, ``lookback + horizon`` tokens in all; x: (B, L, C) -> (B, H, C):
1. ``horizon`` learned output tokens ``(H, C)`` (initialised 0.01 * N(0, 1)) are appended to the
   window in value space: (B, L + H, C);
2. the last observed value ``x[:, L - 1]`` (LOCF) is subtracted from every position, the
   appended tokens included;
3. ``Linear(C -> d_model)`` per token, plus a learned positional embedding ``(L + H, d_model)``
   (initialised 0.01 * N(0, 1)); no dropout here;
4. ``layers`` pre-norm encoder layers with torch's ``TransformerEncoderLayer(norm_first=True)``
   computation: ``x + Drop(Attn(LN(x)))`` (bidirectional, dropout on the attention weights
   too), then ``x + Drop(W2 Drop(ReLU(W1 LN(x))))`` with hidden width ``mlp_ratio * d_model``;
   no final LayerNorm;
5. the last H tokens go through ``Linear(d_model -> C)`` and the LOCF value is added back.

Difference from ``transformer``: this one forecasts through appended output tokens with LOCF
subtraction and learned positions (the authors' design), where ``transformer`` standardises
each window and maps all lookback tokens to the horizon with a linear head over time.

Implementation notes (same function, not the same code): attention is the project's
``MultiheadAttention`` (separate q/k/v projections; fused SDPA when there is no dropout),
initialised like torch's (Xavier-uniform over the stacked q/k/v weight, zero biases); the last
layer computes only the H output positions (the other L positions are discarded anyway); the
authors' positional table has 8192 rows of which the first L + H are used, here it has L + H.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import register
from ._common import check_dropout, check_input, check_positive_int, training_recipe
from .base import ForecastModel
from .transformer import _RECIPES as _BASELINE_SH_RECIPES
from .transformer import EncoderTransformer, PreNormEncoderLayer


def torch_style_layer(d_model: int, heads: int, d_ff: int, dropout: float) -> PreNormEncoderLayer:
    """torch ``TransformerEncoderLayer(norm_first=True, activation=relu)`` as a ``PreNormEncoderLayer``
    (ReLU MLP), initialised the way torch's ``nn.MultiheadAttention`` is: Xavier-uniform over the
    (3d, d) in-projection, zero in-projection and out-projection biases (out-projection weight:
    nn.Linear's default)."""
    layer = PreNormEncoderLayer(d_model, heads, d_ff, dropout, activation=nn.ReLU)
    bound = math.sqrt(6.0 / (d_model + 3 * d_model))
    for proj in (layer.attn.q_proj, layer.attn.k_proj, layer.attn.v_proj):
        nn.init.uniform_(proj.weight, -bound, bound)
        nn.init.zeros_(proj.bias)
    nn.init.zeros_(layer.attn.out_proj.bias)
    return layer


@register("encformer")
class EncFormer(ForecastModel):
    """The authors' EncFormer (FormerBaseline); x: (B, lookback, C) -> (B, horizon, C)."""

    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        *,
        layers: int = 3,
        heads: int = 8,
        d_model: int = 128,
        mlp_ratio: int = 8,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(lookback, horizon, channels)
        check_positive_int("EncFormer", layers=layers, heads=heads, d_model=d_model, mlp_ratio=mlp_ratio)
        check_dropout("EncFormer", dropout=dropout)
        self.output_tokens = nn.Parameter(0.01 * torch.randn(self.horizon, channels))  # (H, C), value space
        self.embed = nn.Linear(channels, d_model)
        self.positions = nn.Parameter(0.01 * torch.randn(self.lookback + self.horizon, d_model))  # (L + H, d)
        self.layers = nn.ModuleList(
            torch_style_layer(d_model, heads, mlp_ratio * d_model, dropout) for _ in range(layers)
        )
        self.to_channels = nn.Linear(d_model, channels)

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return EncoderTransformer.default_lookback(horizon)

    @classmethod
    def paper_training_config(cls, dataset: str, horizon: int | None = None) -> dict:
        """The authors' ``baseline.sh`` recipe, the same one ``transformer`` records (AdamW betas
        0.9/0.95, weight decay 0.1, lr 1e-4, batch 32 (ETT, Weather) or 8 with 4 accumulation steps
        (PEMS, Solar, ECL, Traffic), up to 100 epochs, patience 12, linear
        one-cycle over epochs + 1 with 5 % warm-up, clip 1), with FormerBaseline's own
        hyper-parameters: 3 layers, 8 heads, d_model 128, mlp_ratio 8 (``run_longExp.py``'s
        default; ``baseline.sh`` does not set it), dropout 0.1."""
        recipe = training_recipe("EncFormer", _BASELINE_SH_RECIPES, dataset)
        recipe["source"] = (
            "LJC-FVNR/Structural-Aligned-Mixture-of-VAR baseline.sh, run_longExp.py, exp/exp_main.py; "
            "model: LJC-FVNR/ARMA-Attention models/FormerBaseline.py"
        )
        recipe["model"] = {"layers": 3, "heads": 8, "d_model": 128, "mlp_ratio": 8, "dropout": 0.1}
        return recipe

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        last = x[:, -1:]  # (B, 1, C): LOCF
        tokens = torch.cat([x, self.output_tokens.expand(x.shape[0], -1, -1)], dim=1) - last  # (B, L + H, C)
        h = self.embed(tokens) + self.positions  # (B, L + H, d)
        for i, layer in enumerate(self.layers):
            h = layer(h, queries=self.horizon if i == len(self.layers) - 1 else None)
        return self.to_channels(h) + last  # (B, H, C)
