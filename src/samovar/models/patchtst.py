"""PatchTST (Nie et al., ICLR 2023, "A Time Series is Worth 64 Words"; code yuqinie98/PatchTST).

Channel independence: every channel is forecast on its own by the same network.
Each channel's lookback is standardised (RevIN; its learnable affine is off, as in the
authors' ``run_longExp.py`` default ``--affine 0``),
extended at the end by ``stride`` copies of its last value, cut into overlapping patches
(``patch_len`` 16, ``stride`` 8), each patch is embedded by one linear map, a learnable
positional embedding is added, and a post-norm Transformer encoder with BatchNorm (not
LayerNorm) and "residual attention" (each layer adds the previous layer's pre-softmax
scores to its own, as in the authors' code) mixes the patches. A flatten head maps all
patch embeddings of a channel to its horizon. The forecast is de-standardised.

Defaults are those of the authors' ETTh1 script (``scripts/PatchTST/etth1.sh``, the
"PatchTST/42" row of their Table 3): lookback 336, 3 layers, 4 heads, d_model 16,
d_ff 128, dropout 0.3, head dropout 0. (The paper's text and the larger-data scripts use
16 heads, d_model 128, d_ff 256; pass those for ETTm/Weather/ECL-size data.)
"""

from __future__ import annotations

import torch
from torch import nn

from . import register
from ._common import (
    Dropout,
    InstanceNorm,
    MultiheadAttention,
    check_dropout,
    check_input,
    check_patching,
    check_positive_int,
    num_patches,
    patchify,
    recipe_at_horizon,
    training_recipe,
)
from .base import ForecastModel


class BatchNormTokens(nn.Module):
    """BatchNorm1d over the feature axis of tokens: (N, L, d) -> (N, L, d)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class PatchEncoderLayer(nn.Module):
    """Post-norm encoder layer with BatchNorm and residual attention scores."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float, attn_dropout: float) -> None:
        super().__init__()
        self.attn = MultiheadAttention(d_model, heads, attn_dropout=attn_dropout, proj_dropout=dropout)
        self.drop_attn = Dropout(dropout)
        self.norm_attn = BatchNormTokens(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), Dropout(dropout), nn.Linear(d_ff, d_model))
        self.drop_ff = Dropout(dropout)
        self.norm_ff = BatchNormTokens(d_model)

    def forward(self, x: torch.Tensor, prev_scores: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        out, scores = self.attn(x, x, prev_scores)
        x = self.norm_attn(x + self.drop_attn(out))
        x = self.norm_ff(x + self.drop_ff(self.ff(x)))
        return x, scores


@register("patchtst")
class PatchTST(ForecastModel):
    """Channel-independent patch Transformer; x: (B, lookback, C) -> (B, horizon, C)."""

    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        *,
        patch_len: int = 16,
        stride: int = 8,
        pad_end: bool = True,
        layers: int = 3,
        heads: int = 4,
        d_model: int = 16,
        d_ff: int = 128,
        dropout: float = 0.3,
        attn_dropout: float = 0.0,
        head_dropout: float = 0.0,
        revin: bool = True,
        revin_affine: bool = False,
    ) -> None:
        super().__init__(lookback, horizon, channels)
        check_positive_int("PatchTST", layers=layers, heads=heads, d_model=d_model, d_ff=d_ff)
        check_dropout("PatchTST", dropout=dropout, attn_dropout=attn_dropout, head_dropout=head_dropout)
        check_patching("PatchTST", self.lookback, patch_len, stride)
        self.patch_len, self.stride, self.pad_end = int(patch_len), int(stride), bool(pad_end)
        self.num_patches = num_patches(self.lookback, self.patch_len, self.stride, self.pad_end)
        self.norm = InstanceNorm(channels, affine=revin_affine) if revin else None
        self.patch_embed = nn.Linear(self.patch_len, d_model)
        # learnable positional embedding, initialised U(-0.02, 0.02) as in the authors' code
        self.pos_embed = nn.Parameter(torch.empty(self.num_patches, d_model).uniform_(-0.02, 0.02))
        self.embed_dropout = Dropout(dropout)
        self.layers = nn.ModuleList(
            PatchEncoderLayer(d_model, heads, d_ff, dropout, attn_dropout) for _ in range(layers)
        )
        self.head_dropout = Dropout(head_dropout)
        self.head = nn.Linear(self.num_patches * d_model, self.horizon)

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return 336

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict:
        """The default space plus the widths and depths of the paper's small and large configurations
        (d_model 16 on ETT, 128 on the larger sets; 3 layers)."""
        return {**super().search_space(dataset, horizon), "train.lr": {"low": 1e-5, "high": 1e-3, "log": True},
                "model.d_model": [16, 64, 128], "model.layers": [2, 3, 4]}

    @classmethod
    def paper_training_config(cls, dataset: str, horizon: int | None = None) -> dict:
        """The authors' recipe for `dataset` (``PatchTST_supervised/scripts/PatchTST/<dataset>.sh`` +
        ``run_longExp.py`` defaults; the same for every horizon): optimiser, schedule, model hyper-parameters.

        All: lookback 336, patch 16 / stride 8, 3 layers, Adam, lr 1e-4, 100 epochs.
        ETTh1/ETTh2: 4 heads, d_model 16, d_ff 128, dropout 0.3, batch 128, patience 100 (i.e. none
        in practice), "type3" schedule (lr for epochs 2-4, then x0.9 per epoch). Epoch 1 runs at lr/25
        (``pre_schedule_lr_div``): ``exp_main.py`` builds a OneCycleLR it never steps for "type3",
        and building it sets the lr to max_lr / 25 and Adam's beta1 to its max_momentum 0.95,
        which nothing resets (``betas`` (0.95, 0.999)).
        Weather: the same schedule with 16 heads, d_model 128, d_ff 256, dropout 0.2, patience 20.
        ETTm1/ETTm2 (pct_start 0.4, patience 20), ECL (batch 32) and Traffic (batch 24; both pct_start
        0.2, patience 10): the larger model and the "TST" schedule, torch's OneCycleLR stepped per
        batch over the 100 epochs with its defaults (cosine, div_factor 25, beta1 cycled 0.85-0.95).
        The authors' scripts have no Solar or PEMS setting.
        """
        return recipe_at_horizon(training_recipe("PatchTST", _RECIPES, dataset), horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        b, length, c = x.shape
        stats = None
        if self.norm is not None:
            x, stats = self.norm.normalize(x)
        series = x.transpose(1, 2).reshape(b * c, length)  # each channel is its own sequence
        patches = patchify(series, self.patch_len, self.stride, self.pad_end)  # (B*C, N, P)
        tokens = self.embed_dropout(self.patch_embed(patches) + self.pos_embed)
        scores = None
        for layer in self.layers:
            tokens, scores = layer(tokens, scores)
        y = self.head(self.head_dropout(tokens.flatten(1)))  # (B*C, H)
        y = y.view(b, c, self.horizon).transpose(1, 2)
        if stats is not None:
            y = self.norm.denormalize(y, stats)
        return y


_SMALL = {"layers": 3, "heads": 4, "d_model": 16, "d_ff": 128, "dropout": 0.3, "head_dropout": 0.0,
          "patch_len": 16, "stride": 8}  # ETTh1/ETTh2 scripts
_LARGE = {"layers": 3, "heads": 16, "d_model": 128, "d_ff": 256, "dropout": 0.2, "head_dropout": 0.0,
          "patch_len": 16, "stride": 8}  # ETTm1/ETTm2, Weather, Electricity, Traffic scripts


def _script(name: str, model: dict, batch_size: int, patience: int, pct_start: float | None = None) -> dict:
    """One dataset's setting from the authors' script; pct_start given: the "TST" (one-cycle) schedule."""
    recipe = {
        "source": f"yuqinie98/PatchTST PatchTST_supervised/scripts/PatchTST/{name}, run_longExp.py defaults",
        "lookback": 336,
        "optimizer": "adam",
        "lr": 1e-4,
        "batch_size": batch_size,
        "epochs": 100,
        "patience": patience,
    }
    if pct_start is None:
        recipe.update({
            "schedule": "type3",  # lr for epochs 2-4, then lr * 0.9**(epoch-4) (1-based epochs)
            "pre_schedule_lr_div": 25.0,  # epoch 1: the unused OneCycleLR's starting lr, lr / 25
            "betas": (0.95, 0.999),  # the unused OneCycleLR's max_momentum, set once as Adam's beta1
        })
    else:  # lradj "TST": OneCycleLR(max_lr=lr, pct_start, epochs, steps_per_epoch) stepped every batch
        recipe.update({
            "schedule": "onecycle",
            "onecycle_pct_start": pct_start,
            "onecycle_anneal": "cos",
            "onecycle_div_factor": 25.0,
            "onecycle_final_div_factor": 1e4,
            "onecycle_momentum": (0.85, 0.95),  # torch's cycle_momentum default: beta1 cycled
        })
    return {**recipe, "dropout": model["dropout"], "model": dict(model)}


_NO_SCRIPT = ("PatchTST's official scripts (PatchTST_supervised/scripts/PatchTST/) have no {} setting; "
              "the PatchTST paper does not evaluate it")

_RECIPES = {
    "etth1": _script("etth1.sh", _SMALL, 128, 100),
    "etth2": _script("etth2.sh", _SMALL, 128, 100),
    "ettm1": _script("ettm1.sh", _LARGE, 128, 20, pct_start=0.4),
    "ettm2": _script("ettm2.sh", _LARGE, 128, 20, pct_start=0.4),
    "weather": _script("weather.sh", _LARGE, 128, 20),
    "ecl": _script("electricity.sh", _LARGE, 32, 10, pct_start=0.2),
    "traffic": _script("traffic.sh", _LARGE, 24, 10, pct_start=0.2),
    "solar": _NO_SCRIPT.format("Solar"),
    "pems03": _NO_SCRIPT.format("PEMS03"),
    "pems04": _NO_SCRIPT.format("PEMS04"),
    "pems07": _NO_SCRIPT.format("PEMS07"),
    "pems08": _NO_SCRIPT.format("PEMS08"),
}
