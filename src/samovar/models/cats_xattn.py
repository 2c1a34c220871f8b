"""CATS of Kim, Park, Lee and Kim (NeurIPS 2024, "Are Self-Attentions Effective for Time Series
Forecasting?", Cross-Attention-only Time Series transformer; code dongbeank/CATS), registered as
``cats_xattn`` (cross-attention).

Not Lu et al.'s auxiliary-time-series CATS (ICML 2024, the SAMoVAR paper's table; registered as
``cats_ats``). Neither is registered under the bare name ``cats``, which is ambiguous (see
``samovar.models.RETIRED``).

No self-attention: the forecast is produced by learnable, horizon-dependent queries that
cross-attend to the patched lookback.

- Each channel is standardised over time and handled on its own (channel independence);
  its lookback is end-padded by ``stride`` copies of the last value and cut into patches
  (``patch_len`` = ``stride`` = 24 by default), embedded by one linear map plus a learnable
  positional embedding. These patch embeddings are the keys/values of every layer and are
  not updated between layers.
- The queries are ``ceil(horizon / patch_len)`` learnable "dummy patches" per channel (one
  set shared by all channels with ``query_independence=True``), embedded by the same patch
  map. The same queries, layers and output projection serve every horizon position
  ("parameter sharing across horizons").
- Each of ``layers`` decoder layers: cross-attention (pre-softmax scores carried from layer
  to layer as in the authors' code) + residual + LayerNorm, then a GEGLU feed-forward +
  residual + LayerNorm (post-norm).
- Query-adaptive masking (QAM): during training each query's attention and feed-forward
  outputs are dropped (zeroed, not rescaled) with a probability rising linearly from
  ``qam_start`` (first query) to ``qam_end`` (last query). As in the authors' code one
  Bernoulli draw per query position is shared by the whole batch.
- One shared ``Linear(d_model -> patch_len)`` turns each query into a patch of forecast;
  the patches are concatenated, cut to ``horizon`` and de-standardised.

Defaults are the authors' ETTh1 input-512 script (``scripts/ETTh1_512_input.sh`` +
``run.py`` defaults): 3 layers, d_model 256, d_ff 256, 16 heads, dropout 0.2,
patch 24 / stride 24 with end padding, QAM from 0.1 to 0.2 (0.3 / 0.5 / 0.7 for horizons
192 / 336 / 720), queries per channel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
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


class GEGLU(nn.Module):
    """(..., 2k) -> (..., k): first half times GELU of the second half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = x.chunk(2, dim=-1)
        return value * F.gelu(gate)


class QueryAdaptiveMask(nn.Module):
    """Training-time masking of whole query outputs, probability linear in the query index.

    x: (N, queries, d); each query position is kept with probability 1 - p_i,
    p_i = linspace(start, end, queries)[i], one draw per position shared across N and d.
    Identity in eval mode.
    """

    def __init__(self, start: float, end: float) -> None:
        super().__init__()
        self.start, self.end = start, end

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        drop = torch.linspace(self.start, self.end, x.shape[1], device=x.device, dtype=x.dtype)
        keep = torch.bernoulli(1.0 - drop).view(1, -1, 1)
        return x * keep


class CrossDecoderLayer(nn.Module):
    """Queries (N, Q, d) attend to patches (N, P, d); post-norm with GEGLU feed-forward."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float, qam_start: float, qam_end: float) -> None:
        super().__init__()
        self.cross_attn = MultiheadAttention(d_model, heads, proj_dropout=dropout)
        self.mask_attn = QueryAdaptiveMask(qam_start, qam_end)
        self.norm_attn = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), GEGLU(), Dropout(dropout), nn.Linear(d_ff // 2, d_model))
        self.mask_ff = QueryAdaptiveMask(qam_start, qam_end)
        self.norm_ff = nn.LayerNorm(d_model)

    def forward(
        self, queries: torch.Tensor, patches: torch.Tensor | None, prev_scores: torch.Tensor | None,
        kv: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out, scores = self.cross_attn(queries, patches, prev_scores, kv=kv)
        queries = self.norm_attn(queries + self.mask_attn(out))
        queries = self.norm_ff(queries + self.mask_ff(self.ff(queries)))
        return queries, scores


@register("cats_xattn")
class CATS(ForecastModel):
    """Kim et al.'s CATS (NeurIPS 2024): cross-attention-only Transformer with horizon queries; x: (B, L, C) -> (B, H, C)."""

    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        *,
        patch_len: int = 24,
        stride: int = 24,
        pad_end: bool = True,
        layers: int = 3,
        heads: int = 16,
        d_model: int = 256,
        d_ff: int = 256,
        dropout: float = 0.2,
        qam_start: float = 0.1,
        qam_end: float | None = None,
        query_independence: bool = False,
    ) -> None:
        super().__init__(lookback, horizon, channels)
        check_positive_int("CATS", layers=layers, heads=heads, d_model=d_model, d_ff=d_ff)
        if d_ff % 2:
            raise ValueError(f"CATS d_ff must be even (GEGLU halves it), got {d_ff}")
        check_patching("CATS", self.lookback, patch_len, stride)
        if qam_end is None:
            qam_end = default_qam_end(self.horizon)
        check_dropout("CATS", dropout=dropout, qam_start=qam_start, qam_end=qam_end)
        self.patch_len, self.stride, self.pad_end = int(patch_len), int(stride), bool(pad_end)
        self.num_patches = num_patches(self.lookback, self.patch_len, self.stride, self.pad_end)
        self.num_queries = math.ceil(self.horizon / self.patch_len)
        self.qam_start, self.qam_end = float(qam_start), float(qam_end)
        self.query_independence = bool(query_independence)
        self.norm = InstanceNorm(channels)
        self.patch_embed = nn.Linear(self.patch_len, d_model)
        self.pos_embed = nn.Parameter(torch.empty(self.num_patches, d_model).uniform_(-0.02, 0.02))
        query_shape = (self.num_queries, self.patch_len) if query_independence else (channels, self.num_queries, self.patch_len)
        self.queries = nn.Parameter(0.5 * torch.randn(query_shape))
        self.embed_dropout = Dropout(dropout)
        self.layers = nn.ModuleList(
            CrossDecoderLayer(d_model, heads, d_ff, dropout, self.qam_start, self.qam_end) for _ in range(layers)
        )
        self.project = nn.Linear(d_model, self.patch_len)
        # Compute each layer's keys/values straight from the patches when the patch embeddings are not
        # dropped out (evaluation): the same function, ~d_model/patch_len fewer FLOPs. False: two steps.
        self.fold_patch_embed = True

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return 512

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict:
        """The default space plus the depth and width the paper's ablations vary (16 heads divide both)."""
        return {**super().search_space(dataset, horizon), "train.lr": {"low": 1e-4, "high": 3e-3, "log": True},
                "model.d_model": [128, 256], "model.layers": [1, 2, 3]}

    @classmethod
    def paper_training_config(cls, dataset: str, horizon: int | None = None, script: str = "512") -> dict:
        """The authors' recipe for `dataset` from their lookback-512 (``script="512"``,
        ``scripts/<dataset>_512_input.sh``), lookback-96 (``"96"``, ``<dataset>_96_input.sh``) or,
        for ECL and Traffic, lookback-2880 (``"2880"``, ``<dataset>_2880_Large_input.sh``) script,
        with ``run.py`` defaults: Adam, lr 1e-3, 30 epochs, patience 10, 3 layers, dropout 0.2,
        patch = stride = 24, QAM from 0.1 to an end probability by horizon (0.2 / 0.3 / 0.5 / 0.7),
        CATS's own "type2" schedule (``type2_cats``: lr halved after epochs 2, 4, 6, 8, 10).
        Per script: d_model, d_ff, heads, batch, epochs (ETTh1/ETTh2: 10; Traffic: 100 with
        patience 20; Weather-512: 10 at horizon 720 only), query sharing (``query_independence``:
        ETTh2, ETTm2, Traffic), patch 48 (ETTh1/ETTh2 at lookback 96), "type1" (ETTh2-96) and the
        "TST" schedule of ECL and Traffic (torch's OneCycleLR stepped per batch, pct_start 0.4 for
        ECL-512/96, else 0.3; ECL-2880: lr 1e-2 with "type2").
        With the per-epoch schedules ``exp_main.py`` builds a OneCycleLR it never steps; building it
        sets the lr to max_lr / 25, so the epochs before the rule first sets the lr run at lr/25
        (``pre_schedule_lr_div``), and sets Adam's beta1 to its max_momentum 0.95, which nothing
        resets (``betas`` (0.95, 0.999)). The authors' scripts have no Solar or PEMS setting."""
        recipes = training_recipe("CATS", _RECIPES, dataset)
        if script not in recipes:
            raise ValueError(f"CATS script must be one of {sorted(recipes)} for {dataset}, got {script!r}")
        recipe = recipe_at_horizon(recipes[script], horizon)
        if horizon is not None:
            recipe["model"] = dict(recipe["model"], qam_end=default_qam_end(horizon))
        return recipe

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        b, length, c = x.shape
        x, stats = self.norm.normalize(x)
        series = x.transpose(1, 2).reshape(b * c, length)
        patches = patchify(series, self.patch_len, self.stride, self.pad_end)  # (B*C, P, patch_len)
        if self.fold_patch_embed and not (self.training and self.embed_dropout.p > 0):
            # keys = patch_embed(patches) + pos_embed is only ever multiplied by each layer's K and V
            # maps: compose them (patch_len x d instead of d x d per key), keys never built
            base = self.patch_embed.bias + self.pos_embed  # (P, d)
            keys, kvs = None, [layer.cross_attn.project_kv_through(patches, self.patch_embed.weight, base)
                               for layer in self.layers]
        else:
            keys = self.embed_dropout(self.patch_embed(patches) + self.pos_embed)  # (B*C, P, d)
            kvs = [None] * len(self.layers)
        queries = self.patch_embed(self.queries)  # (Q, d) or (C, Q, d)
        if self.query_independence:
            queries = queries.expand(b * c, -1, -1)
        else:
            queries = queries.unsqueeze(0).expand(b, -1, -1, -1).reshape(b * c, self.num_queries, -1)
        scores = None
        for layer, kv in zip(self.layers, kvs):
            queries, scores = layer(queries, keys, scores, kv)
        y = self.project(queries).flatten(1)[:, : self.horizon]  # (B*C, H)
        y = y.view(b, c, self.horizon).transpose(1, 2)
        return self.norm.denormalize(y, stats)


def default_qam_end(horizon: int) -> float:
    """QAM end probability of the authors' ETTh1 scripts: 0.2 / 0.3 / 0.5 / 0.7 for horizons
    up to 96 / 192 / 336 / beyond."""
    if horizon <= 96:
        return 0.2
    if horizon <= 192:
        return 0.3
    if horizon <= 336:
        return 0.5
    return 0.7


def _script(name: str, lookback: int, d_model: int, d_ff: int, heads: int, batch_size: int, epochs: int = 30,
            patience: int = 10, schedule: str = "type2_cats", lr: float = 1e-3, patch_len: int = 24,
            query_independence: bool = False, pct_start: float = 0.3, **extra) -> dict:
    """One script's setting (the rest: run.py defaults); schedule "TST": the one-cycle schedule."""
    recipe = {
        "source": f"dongbeank/CATS scripts/{name}, run.py defaults, exp/exp_main.py",
        "lookback": lookback,
        "optimizer": "adam",
        "lr": lr,
        "batch_size": batch_size,
        "epochs": epochs,
        "patience": patience,
    }
    if schedule == "TST":  # OneCycleLR(max_lr=lr, pct_start, epochs, steps_per_epoch) stepped every batch
        recipe.update({"schedule": "onecycle", "onecycle_pct_start": pct_start, "onecycle_anneal": "cos",
                       "onecycle_div_factor": 25.0, "onecycle_final_div_factor": 1e4,
                       "onecycle_momentum": (0.85, 0.95)})
    else:
        recipe.update({
            "schedule": schedule,  # type2_cats: lr * 0.5**min(5, epoch // 2) for 0-based epoch >= 2
            "pre_schedule_lr_div": 25.0,  # until the rule first sets the lr: the unused OneCycleLR's lr / 25
            "betas": (0.95, 0.999),  # the unused OneCycleLR's max_momentum, set once as Adam's beta1
        })
    model = {"layers": 3, "heads": heads, "d_model": d_model, "d_ff": d_ff, "dropout": 0.2,
             "patch_len": patch_len, "stride": patch_len, "qam_start": 0.1, "qam_end": 0.2}
    if query_independence:
        model["query_independence"] = True
    return {**recipe, "dropout": 0.2, "model": model, **extra}


_NO_SCRIPT = ("CATS's official scripts (dongbeank/CATS scripts/: ETTh1/2, ETTm1/2, Weather, Electricity, "
              "Traffic) have no {} setting")

_RECIPES = {
    "etth1": {
        "512": _script("ETTh1_512_input.sh", 512, 256, 256, 16, 128, epochs=10),
        "96": _script("ETTh1_96_input.sh", 96, 256, 512, 32, 256, epochs=10, patch_len=48),
    },
    "etth2": {
        "512": _script("ETTh2_512_input.sh", 512, 256, 512, 16, 256, epochs=10, query_independence=True),
        "96": _script("ETTh2_96_input.sh", 96, 256, 512, 32, 256, epochs=10, schedule="type1", patch_len=48,
                      query_independence=True),
    },
    "ettm1": {
        "512": _script("ETTm1_512_input.sh", 512, 128, 256, 16, 128),
        "96": _script("ETTm1_96_input.sh", 96, 256, 512, 32, 128),
    },
    "ettm2": {
        "512": _script("ETTm2_512_input.sh", 512, 256, 512, 16, 128, query_independence=True),
        "96": _script("ETTm2_96_input.sh", 96, 256, 512, 32, 128, query_independence=True),
    },
    "weather": {
        "512": _script("Weather_512_input.sh", 512, 128, 256, 16, 128,
                       horizons={96: {}, 192: {}, 336: {}, 720: {"epochs": 10}}),
        "96": _script("Weather_96_input.sh", 96, 256, 512, 32, 64),
    },
    "ecl": {
        "512": _script("Electricity_512_input.sh", 512, 128, 256, 16, 32, schedule="TST", pct_start=0.4),
        "96": _script("Electricity_96_input.sh", 96, 256, 512, 32, 32, schedule="TST", pct_start=0.4),
        "2880": _script("Electricity_2880_Large_input.sh", 2880, 128, 256, 16, 32, lr=1e-2),
    },
    "traffic": {
        "512": _script("Traffic_512_input.sh", 512, 128, 256, 16, 32, epochs=100, patience=20, schedule="TST",
                       query_independence=True),
        "96": _script("Traffic_96_input.sh", 96, 256, 512, 32, 32, epochs=100, patience=20, schedule="TST",
                      query_independence=True),
        "2880": _script("Traffic_2880_Large_input.sh", 2880, 128, 256, 16, 8, epochs=100, patience=20,
                        schedule="TST", query_independence=True),
    },
    "solar": _NO_SCRIPT.format("Solar"),
    "pems03": _NO_SCRIPT.format("PEMS03"),
    "pems04": _NO_SCRIPT.format("PEMS04"),
    "pems07": _NO_SCRIPT.format("PEMS07"),
    "pems08": _NO_SCRIPT.format("PEMS08"),
}
