"""LinTrans: the baseline of Lu & Yang 2025 ("Linear Transformers as VAR Models", arXiv 2502.07244).

The same ARX tokenization, next-segment objective and head as SAMoVAR
(``models/samovar.py``), with a standard pre-norm linear-attention Transformer as the
sequence model: each block is x + Attn(RMSNorm(x)) then x + MLP(RMSNorm(x)), where Attn has
query, key, value and output projections and computes o_t = q_t · Σ_{s≤t} k_s v_sᵀ (no
feature map, no denominator), as in the authors' code. As there, dropout is applied to the
input of the key projection and to the block's attention output.

Shapes: B batch, C channels, T = 2N tokens, D width, H heads, d = D / H.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.arx import MLP, NORM_EPS, RMSNorm
from ..ops.linear_attention import linear_attention_step
from . import register
from .samovar import ARXForecaster, attend


class LinearAttentionBlock(nn.Module):
    """Pre-norm block: x + Attn(RMSNorm(x)), then x + MLP(RMSNorm(x)); x: (B·C, T, D)."""

    def __init__(self, dim: int, heads: int, dropout: float, kernel: str, chunk_size: int) -> None:
        super().__init__()
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.kernel, self.chunk_size = kernel, chunk_size
        self.attn_norm = RMSNorm(dim, eps=NORM_EPS)
        self.qv_linear = nn.Linear(dim, 2 * dim)  # queries and values in one projection
        self.k_linear = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.mlp_norm = RMSNorm(dim, eps=NORM_EPS)
        self.mlp = MLP(dim, dropout)

    def _qkv(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """h: (..., D) -> q, k, v: (..., H, d)."""
        q, v = self.qv_linear(h).unflatten(-1, (2, self.heads, self.head_dim)).unbind(-3)
        k = self.k_linear(self.dropout(h)).unflatten(-1, (self.heads, self.head_dim))
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bc, t, _ = x.shape
        q, k, v = (a.transpose(1, 2) for a in self._qkv(self.attn_norm(x)))  # (B·C, H, T, d)
        out = attend(q, k, v, self.kernel, self.chunk_size).transpose(1, 2).reshape(bc, t, self.dim)
        x = x + self.dropout(self.out_proj(out))
        return x + self.mlp(self.mlp_norm(x))

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B·C, D), state: (B·C, H, d, d) -> (B·C, D), new state."""
        q, k, v = self._qkv(self.attn_norm(x))  # (B·C, H, d)
        out, state = linear_attention_step(q, k, v, state)
        x = x + self.dropout(self.out_proj(out.reshape(x.shape)))
        return x + self.mlp(self.mlp_norm(x)), state


@register("lintrans")
class LinTrans(ARXForecaster):
    """Linear Transformer on ARX tokens; x: (B, lookback, C) -> (B, horizon, C).

    Hyper-parameters as SAMoVAR: d_model = floor(sqrt(C))·32, heads 8, layers 3 (blocks),
    dropout 0.1, attention_kernel "chunked" | "naive" | "materialized", chunk_size 64, bf16.
    """

    def build(self) -> None:
        T, C, D = self.num_tokens, self.channels, self.dim
        # Learned embeddings per token position and per (channel, token position).
        self.pos_emb = nn.Parameter(0.02 * torch.randn(T, D))
        self.channel_pos_emb = nn.Parameter(0.02 * torch.randn(C, T, D))
        self.blocks = nn.ModuleList(
            [LinearAttentionBlock(D, self.heads, self.dropout_p, self.attention_kernel, self.chunk_size) for _ in range(self.layers)]
        )

    def token_embedding(self) -> torch.Tensor:
        """(C, N, 2, D)."""
        return (self.pos_emb + self.channel_pos_emb).view(self.channels, self.num_segments, 2, self.dim)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B·C, T, D) -> (B·C, N, D) at the main positions."""
        x = tokens
        for block in self.blocks:
            x = block(x)
        return x[:, 1::2]

    def init_state(self, batch: int, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        """One (B·C, H, d, d) state per block."""
        return [torch.zeros(batch, self.heads, self.head_dim, self.head_dim, dtype=dtype, device=device) for _ in self.blocks]

    def step(self, token: torch.Tensor, position: int, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """token: (B·C, D) -> (B·C, D), new state (the position is carried by the embeddings)."""
        x, new_state = token, []
        for block, s in zip(self.blocks, state):
            x, s = block.step(x, s)
            new_state.append(s)
        return x, new_state
