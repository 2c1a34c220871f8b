"""SAMoVAR and FixedVAR (Lu & Yang 2025, "Linear Transformers as VAR Models", arXiv 2502.07244).

A lookback window is instance-normalized per channel, cut into segments of length
s = horizon, and each segment becomes two tokens per channel (ARX tokenization): a
context token that sees all channels of the segment and a main token that sees its own
channel. Channels are then independent sequences of 2N tokens ctx_1, main_1, ..., ctx_N, main_N.

The main token at segment n predicts segment n+1 (next-segment prediction), so a single
model is trained at every position of the lookback and the last position gives the forecast.

SAMoVAR's sequence model is a stack of MLP blocks followed by the VAR-aligned linear
attention: a chain of layers whose keys are the previous layer's output (layer 1: x0,
the normalized trunk output), whose queries and values are projections of x0, with no
softmax, feature map or denominator:  o_t = q_t · Σ_{s≤t} k_s v_sᵀ. The chain's outputs at
main positions are summed, mixed per head by an invertible structural matrix S = L U and
added to x0. FixedVAR replaces the data-dependent queries and values by learned vectors
per channel and position (a fixed VAR whose coefficients do not depend on the data).

``ARXForecaster`` holds what SAMoVAR, FixedVAR and LinTrans (``models/lintrans.py``)
share: normalization, segmentation, tokenization, the head, the loss and the streaming
forecast loop; subclasses provide the token embeddings and the sequence model.

Future-known covariates (``future_channels`` F > 0; not in the paper): the context token of
segment n, which every channel's main token n reads before it predicts segment n+1, also gets
``Linear(s·F -> D)`` of the covariates of segment n+1 (so the last context token carries the
covariates of the horizon), shared by the channels. Without covariates the layer does not exist.

Shapes: B batch, L lookback, C channels, s = horizon (segment length), N = ceil(L / s)
segments, T = 2N tokens, D model width, H heads, d = D / H head width.
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_positive_int
from ..layers.arx import MLP, NORM_EPS, ARXTokenizer, RMSNorm, StructuralMatrix, head_rms_norm, segment_series
from ..ops.linear_attention import (
    linear_attention_chunked,
    linear_attention_materialized,
    linear_attention_naive,
    linear_attention_step,
)
from . import register
from ._common import check_input
from .base import ForecastModel, check_future

ATTENTION_KERNELS = ("chunked", "naive", "materialized")

# Lookback per horizon in the authors' scripts (samovar.sh).
PAPER_LOOKBACK = {96: 1024, 192: 2048, 336: 2048, 720: 4096}

# Batch size and gradient accumulation per dataset in the authors' scripts.
PAPER_BATCH = {
    "etth1": (32, 1), "etth2": (32, 1), "ettm1": (32, 1), "ettm2": (32, 1), "weather": (32, 1),
    "ecl": (8, 4), "electricity": (8, 4), "traffic": (8, 4), "solar": (8, 4),
    "pems03": (8, 4), "pems04": (8, 4), "pems07": (8, 4), "pems08": (8, 4),
}  # fmt: skip


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel: str, chunk_size: int) -> torch.Tensor:
    """Causal linear attention without normalization; q, k: (B, H, T, d), v: (B, H, T, d) -> (B, H, T, d).

    Always computed in at least float32 with autocast off: the VAR chain has no normalizing
    denominator, so it is kept out of bfloat16 even when the rest of the model is autocast.
    """
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), torch.promote_types(v.dtype, torch.float32))
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    with torch.autocast(q.device.type, enabled=False):
        if kernel == "chunked":
            return linear_attention_chunked(q, k, v, chunk_size=chunk_size)
        if kernel == "naive":
            return linear_attention_naive(q, k, v)
        return linear_attention_materialized(q, k, v)


class ARXForecaster(ForecastModel, metaclass=ABCMeta):
    """Shared skeleton of the ARX-tokenized next-segment forecasters.

    Subclasses implement ``build()`` (their parameters, made at the end of ``__init__``),
    ``token_embedding() -> (C, N, 2, D)``, ``encode(tokens: (B·C, T, D)) -> (B·C, N, D)`` (the
    representation at each main position), and the streaming pair
    ``init_state(batch)`` / ``step(token: (B·C, D), position, state) -> (h: (B·C, D), state)``.
    Hyper-parameters common to all: d_model, heads, layers, dropout, attention_kernel,
    chunk_size, bf16 (see ``SAMoVAR``), and future_channels (the module text).
    """

    covariates = ("past", "future")

    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        *,
        d_model: int | None = None,
        heads: int = 8,
        layers: int = 3,
        dropout: float = 0.1,
        attention_kernel: str = "chunked",
        chunk_size: int = 64,
        bf16: bool = False,
        future_channels: int = 0,
    ) -> None:
        super().__init__(lookback, horizon, channels)
        if self.lookback < 2:
            raise ValueError(f"{type(self).__name__} needs lookback >= 2 (the instance normalization divides by the std), got {lookback}")
        if d_model is None or d_model == 0:  # the authors' default: floor(sqrt(C)) * 32
            d_model = math.isqrt(self.channels) * 32
        check_positive_int(type(self).__name__, d_model=d_model, heads=heads, layers=layers, chunk_size=chunk_size)
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads}); change one of them")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if attention_kernel not in ATTENTION_KERNELS:
            raise ValueError(f"attention_kernel must be one of {ATTENTION_KERNELS}, got {attention_kernel!r}")
        self.dim, self.heads, self.head_dim, self.layers = int(d_model), int(heads), int(d_model) // int(heads), int(layers)
        self.attention_kernel, self.chunk_size, self.dropout_p = attention_kernel, int(chunk_size), float(dropout)
        self.bf16 = bool(bf16)
        self.num_segments = -(-self.lookback // self.horizon)
        self.num_tokens = 2 * self.num_segments

        self.tokenizer = ARXTokenizer(self.horizon, self.channels, self.dim)
        self.token_dropout = nn.Dropout(dropout)
        self.pre_norm = RMSNorm(self.dim, eps=NORM_EPS)
        self.final_norm = RMSNorm(self.dim, eps=NORM_EPS)
        self.head = nn.Linear(self.dim, self.horizon)
        self.future_channels = int(future_channels)
        if self.future_channels:  # covariates of the next segment -> the context token
            self.future_embed = nn.Linear(self.horizon * self.future_channels, self.dim)
        self.build()
        self._init_weights()

    @classmethod
    def default_lookback(cls, horizon: int) -> int | None:
        """The authors' lookback: 96 -> 1024, 192 -> 2048, 336 -> 2048, 720 -> 4096 (else None)."""
        return PAPER_LOOKBACK.get(int(horizon))

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict[str, Any]:
        """Lookbacks up to the authors' longest (336 .. 4096), lr around their 6e-4, dropout, weight
        decay, and the width and depth (the authors' d_model is floor(sqrt(C)) * 32, 3 layers)."""
        return {
            **super().search_space(dataset, horizon),
            "lookback": [336, 720, 1024, 2048, 4096],
            "train.lr": {"low": 1e-4, "high": 3e-3, "log": True},
            "train.weight_decay": [0.0, 0.01, 0.1],
            "model.dropout": {"low": 0.0, "high": 0.3},
            "model.d_model": [64, 128, 256],
            "model.layers": [1, 2, 3, 4],
        }

    @classmethod
    def paper_training_config(cls, dataset: str | None = None) -> dict[str, Any]:
        """The authors' training recipe as keyword arguments of ``samovar.training.TrainConfig``.

        From samovar.sh / exp_main.py: AdamW (lr 6e-4, betas (0.9, 0.95), weight decay 0.1 on every
        parameter), torch's OneCycleLR stepped per batch over 100 + 1 epochs (5% warm-up, div_factor
        10, linear annealing, and its default cycle_momentum, which cycles beta1 between 0.95 and
        0.85 in place of the 0.9), gradient clipping at norm 1, early stopping with patience 12 on
        validation MSE, seed 2024, every training window used (partial last batch), batch 32 (ETT,
        Weather) or 8 with 4 accumulation steps (ECL, Traffic, Solar, PEMS). Unknown dataset names
        get batch 32. Not reproduced with accumulation: the authors step the schedule once per
        micro-batch, the trainer once per optimizer step.
        """
        batch, accumulate = PAPER_BATCH.get((dataset or "").lower(), (32, 1))
        return dict(
            epochs=100, batch_size=batch, accumulate=accumulate, lr=6e-4, optimizer="adamw", betas=(0.9, 0.95),
            weight_decay=0.1, schedule="onecycle", onecycle_pct_start=0.05, onecycle_anneal="linear",
            onecycle_div_factor=10.0, onecycle_momentum=(0.85, 0.95), schedule_extra_epochs=1, patience=12,
            grad_clip=1.0, seed=2024, drop_last=False,
        )  # fmt: skip

    def _init_weights(self) -> None:
        """The authors' initialization: Linear weights N(0, 0.02), zero biases, output
        projections of residual branches N(0, 0.02 / sqrt(2 * layers))."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for name, param in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(param, std=0.02 / math.sqrt(2 * self.layers))

    # ------------------------------------------------------------------ subclass interface

    @abstractmethod
    def build(self) -> None:
        """Create the subclass's embeddings and sequence model (called at the end of ``__init__``,
        before ``_init_weights``)."""

    @abstractmethod
    def token_embedding(self) -> torch.Tensor:
        """(C, N, 2, D): learned embeddings added to the tokens."""

    @abstractmethod
    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B·C, T, D) -> (B·C, N, D), the representation at each main position."""

    @abstractmethod
    def init_state(self, batch: int, dtype: torch.dtype, device: torch.device) -> Any:
        """Streaming state for `batch` = B·C independent sequences."""

    @abstractmethod
    def step(self, token: torch.Tensor, position: int, state: Any) -> tuple[torch.Tensor, Any]:
        """token: (B·C, D) at token `position` -> (h: (B·C, D), state)."""

    # ------------------------------------------------------------------ shared pipeline

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, L, C) -> (z, mean, std): mean of the last `horizon` points, (unbiased) std of all L."""
        mean = x[:, -self.horizon :].mean(dim=1, keepdim=True)
        # Two-pass std (x.std's single-pass kernel is ~3x slower here): ||x - mean_all|| / sqrt(L - 1).
        std = torch.linalg.vector_norm(x - x.mean(dim=1, keepdim=True), dim=1, keepdim=True) / math.sqrt(x.shape[1] - 1) + 1e-8
        return (x - mean) / std, mean, std

    def embed(self, segments: torch.Tensor, start: int = 0, future: torch.Tensor | None = None) -> torch.Tensor:
        """segments: (B, C, n, s) at segment positions start..start+n-1 -> tokens (B·C, 2n, D);
        future: (B, n, s·F) the covariates of segments start+1..start+n (``future_segments``)."""
        batch, channels, n, _ = segments.shape
        tokens = self.tokenizer(segments)  # (B, C, n, 2, D)
        if future is not None:  # added to the context tokens, shared by the channels
            context = self.future_embed(future.to(tokens.dtype))  # (B, n, D)
            tokens = tokens + torch.stack([context, torch.zeros_like(context)], dim=2)[:, None]
        tokens = self.token_dropout(tokens) + self.token_embedding()[:, start : start + n]
        return self.pre_norm(tokens).reshape(batch * channels, 2 * n, self.dim)

    def future_segments(self, future: torch.Tensor | None) -> torch.Tensor | None:
        """future: (B, L + H, F) -> (B, N, s·F): row n holds the covariates of segment n+1 (the
        lookback zero-padded at the start as ``segment_series`` pads it; row N-1 is the horizon)."""
        if future is None:
            return None
        batch, _, channels = future.shape
        pad = (-self.lookback) % self.horizon
        padded = F.pad(future, (0, 0, pad, 0))  # (B, (N + 1)·s, F)
        return padded[:, self.horizon :].reshape(batch, self.num_segments, self.horizon * channels)

    def _autocast(self, like: torch.Tensor):
        """bfloat16 autocast for the matmuls when built with ``bf16=True`` (the authors trained with
        bf16 autocast); the linear attention itself always runs in float32 (see ``attend``)."""
        return torch.autocast(like.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def predict_segments(self, segments: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """Next-segment predictions on the normalized scale; causal across segments.

        segments: (B, C, N, s) -> pred (B, C, N, s), pred[:, :, n] forecasts segment n+1 and
        depends only on segments 0..n (of all channels) and the covariates of segments 1..n+1
        (future: ``future_segments``' output).
        """
        with self._autocast(segments):
            hidden = self.encode(self.embed(segments, future=future))  # (B·C, N, D)
            pred = self.head(self.final_norm(hidden))
        return pred.to(segments.dtype).view(segments.shape)

    def segment_forecasts(self, x: torch.Tensor, future: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, L, C) -> (pred, segments, mean, std), pred and segments (B, C, N, s) normalized,
        pred[:, :, -1] the forecast of the horizon; future: (B, L + H, F) or None."""
        check_input(self, x)
        check_future(self, future, x.shape[0])
        z, mean, std = self.normalize(x)
        segments = segment_series(z, self.horizon)
        return self.predict_segments(segments, self.future_segments(future)), segments, mean, std

    def denormalize(self, pred: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """pred: (B, C, s) normalized -> (B, s, C) on the input's scale."""
        return pred.transpose(1, 2) * std + mean

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, lookback, C) -> forecast (B, horizon, C) from the last main position."""
        pred, _, mean, std = self.segment_forecasts(x, future)
        return self.denormalize(pred[:, :, -1], mean, std)

    def next_segment_loss(
        self, pred: torch.Tensor, segments: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """The authors' objective from the outputs of ``segment_forecasts``:
        MSE(forecast, y) on the data's scale (the last position predicts the horizon y) plus
        the MSE of the predictions inside the lookback (position n predicts segment n+1, on the
        instance-normalized scale). Segment 0 holds the zero padding; it is only ever an input,
        never a target, so the padding is never a target. Both terms count the target channels only."""
        loss = F.mse_loss(self.target_part(self.denormalize(pred[:, :, -1], mean, std)), self.target_part(y))
        if pred.shape[2] > 1:
            loss = loss + F.mse_loss(self.target_part(pred[:, :, :-1], dim=1), self.target_part(segments[:, :, 1:], dim=1))
        return loss

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """Next-segment loss at every main position (see ``next_segment_loss``); x: (B, L, C), y: (B, horizon, C)."""
        if y.shape != (x.shape[0], self.horizon, self.channels):
            raise ValueError(f"y must be (batch, horizon={self.horizon}, channels={self.channels}), got {tuple(y.shape)}")
        return self.next_segment_loss(*self.segment_forecasts(x, future), y)

    def forecast_recurrent(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """The same forecast as ``forward``, one token at a time with a carried state.

        Each segment is tokenized when it is reached and its two tokens are fed through
        ``step`` (linear_attention_step inside), so the cost per token does not grow with the
        position. The normalization statistics come from the whole window, as in ``forward``.
        Use in eval mode (dropout masks differ between the two paths in training mode).
        x: (B, lookback, C) -> (B, horizon, C).
        """
        check_input(self, x)
        check_future(self, future, x.shape[0])
        z, mean, std = self.normalize(x)
        segments = segment_series(z, self.horizon)
        covariates = self.future_segments(future)
        batch, channels, n_seg, _ = segments.shape
        state = self.init_state(batch * channels, z.dtype, z.device)
        hidden = None
        with self._autocast(segments):
            for n in range(n_seg):
                step_future = None if covariates is None else covariates[:, n : n + 1]
                tokens = self.embed(segments[:, :, n : n + 1], start=n, future=step_future)  # (B·C, 2, D)
                _, state = self.step(tokens[:, 0], 2 * n, state)  # context token
                hidden, state = self.step(tokens[:, 1], 2 * n + 1, state)  # main token
            pred = self.head(self.final_norm(hidden))
        pred = pred.to(segments.dtype).view(batch, channels, self.horizon)
        return self.denormalize(pred, mean, std)


@register("samovar")
class SAMoVAR(ARXForecaster):
    """Structural Aligned Mixture of VAR; x: (B, lookback, C) -> (B, horizon, C).

    Hyper-parameters (the authors' defaults): d_model = floor(sqrt(C))·32, heads 8,
    layers 3 (MLP blocks and VAR attention layers), dropout 0.1; attention_kernel
    "chunked" (default), "naive" or "materialized" (same numbers), chunk_size 64;
    bf16=True runs the matmuls under bfloat16 autocast (the authors' --use_amp; about 20%
    faster on a CPU with AVX512-BF16), the attention chain staying float32.
    """

    data_dependent_qv = True  # FixedVAR: False

    def build(self) -> None:
        D, N, C, H, d, n_layers = self.dim, self.num_segments, self.channels, self.heads, self.head_dim, self.layers
        # Learned embeddings: per pair position, per channel and token position, per token type
        # (context/main), per channel and token type.
        self.pair_emb = nn.Parameter(0.02 * torch.randn(N, 1, D))
        self.channel_pos_emb = nn.Parameter(0.02 * torch.randn(C, N, 2, D))
        self.type_emb = nn.Parameter(0.02 * torch.randn(2, D))
        self.channel_type_emb = nn.Parameter(0.02 * torch.randn(C, 1, 2, D))
        # Trunk: pre-norm residual MLP blocks.
        self.trunk_norms = nn.ModuleList([RMSNorm(D, eps=NORM_EPS) for _ in range(n_layers)])
        self.trunk = nn.ModuleList([MLP(D, self.dropout_p) for _ in range(n_layers)])
        self.var_norm = RMSNorm(D, eps=NORM_EPS)
        if self.data_dependent_qv:
            # Per layer: query and value projections of x0, each followed by a per-head RMSNorm.
            # (Separate projections, not one fused one: their gradients then flow into x0
            # without gathering a (layers·2·D)-wide gradient tensor.)
            self.q_linears = nn.ModuleList([nn.Linear(D, D) for _ in range(n_layers)])
            self.v_linears = nn.ModuleList([nn.Linear(D, D) for _ in range(n_layers)])
            self.q_norm_weight = nn.Parameter(torch.ones(n_layers, H, d))
            self.v_norm_weight = nn.Parameter(torch.ones(n_layers, H, d))
        else:
            # FixedVAR: one learned query and value per (layer, channel, head, token position).
            self.fixed_q = nn.Parameter(0.02 * torch.randn(n_layers, C, H, self.num_tokens, d))
            self.fixed_v = nn.Parameter(0.02 * torch.randn(n_layers, C, H, self.num_tokens, d))
        self.attn_dropout = nn.Dropout(self.dropout_p)
        self.structure = StructuralMatrix(H, d)

    def token_embedding(self) -> torch.Tensor:
        """(C, N, 2, D): the sum of the four learned embeddings."""
        return self.pair_emb + self.channel_pos_emb + self.type_emb + self.channel_type_emb

    def queries_values(self, x0: torch.Tensor, start: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """x0: (B·C, T, D) at token positions start..start+T-1 -> per layer (q, v), each (B·C, H, T, d)."""
        bc, t, _ = x0.shape
        H, d = self.heads, self.head_dim
        if self.data_dependent_qv:

            def project(linear: nn.Linear, weight: torch.Tensor) -> torch.Tensor:
                return head_rms_norm(linear(x0).view(bc, t, H, d), weight).transpose(1, 2)

            return [
                (project(q_lin, self.q_norm_weight[i]), project(v_lin, self.v_norm_weight[i]))
                for i, (q_lin, v_lin) in enumerate(zip(self.q_linears, self.v_linears))
            ]

        def fixed(param: torch.Tensor) -> torch.Tensor:  # (C, H, T_all, d) -> (B·C, H, t, d)
            part = param[:, :, start : start + t]
            return part.unsqueeze(0).expand(bc // self.channels, *part.shape).reshape(bc, H, t, d)

        return [(fixed(q), fixed(v)) for q, v in zip(self.fixed_q, self.fixed_v)]

    def trunk_output(self, x: torch.Tensor) -> torch.Tensor:
        """The MLP trunk and the norm that gives x0: (..., D) -> (..., D)."""
        for norm, mlp in zip(self.trunk_norms, self.trunk):
            x = x + mlp(norm(x))
        return self.var_norm(x)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B·C, T, D) -> (B·C, N, D): x0 + (Σ_layers attention output) S at main positions."""
        bc, t, D = tokens.shape
        x0 = self.trunk_output(tokens)
        keys = x0.view(bc, t, self.heads, self.head_dim).transpose(1, 2)  # layer 1: x0 itself
        total = 0
        for q, v in self.queries_values(x0, 0):
            keys = self.attn_dropout(attend(q, keys, v, self.attention_kernel, self.chunk_size))
            total = total + keys[:, :, 1::2]  # main positions: (B·C, H, N, d)
        mixed = (total @ self.structure()).transpose(1, 2).reshape(bc, t // 2, D)
        return x0[:, 1::2] + mixed

    def init_state(self, batch: int, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        """One (B·C, H, d, d) state per VAR layer."""
        return [torch.zeros(batch, self.heads, self.head_dim, self.head_dim, dtype=dtype, device=device) for _ in range(self.layers)]

    def step(self, token: torch.Tensor, position: int, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """token: (B·C, D) at token `position` -> (x0 + (Σ outputs) S: (B·C, D), new state)."""
        bc = token.shape[0]
        x0 = self.trunk_output(token)
        keys = x0.view(bc, self.heads, self.head_dim)
        total, new_state = 0, []
        for (q, v), layer_state in zip(self.queries_values(x0.unsqueeze(1), position), state):
            out, s = linear_attention_step(q[:, :, 0], keys, v[:, :, 0], layer_state)
            keys = self.attn_dropout(out)
            total = total + keys
            new_state.append(s)
        mixed = (total.unsqueeze(-2) @ self.structure()).squeeze(-2).reshape(bc, self.dim)
        return x0 + mixed, new_state


@register("fixedvar")
class FixedVAR(SAMoVAR):
    """SAMoVAR with learned (data-independent) queries and values per channel and position."""

    data_dependent_qv = False
