"""Causal multi-head softmax attention: the quadratic baseline for the linear-time mixers.

    q, k, v = split(qkv_proj(x)) into heads;  o = softmax(q k^T / sqrt(d) + causal mask) v
    out = out_proj(o)

No positional encoding is added (the causal mask alone makes the layer order-aware); add
one in the model if needed.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops.softmax import KVCache, softmax_attention, softmax_attention_step
from . import register
from .base import Mixer


@register("softmax_attention")
class SoftmaxAttention(Mixer):
    """``forward(x: (B, L, dim)) -> (B, L, dim)`` via fused SDPA (``is_causal=True``).

    ``step`` keeps a key/value cache: its cost and memory grow with the position (O(t) per
    step), which is inherent to softmax attention.
    """

    def __init__(self, dim: int, heads: int = 8, bias: bool = False) -> None:
        super().__init__(dim)
        heads = 8 if heads is None else heads
        if heads < 1 or dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv_proj = nn.Linear(dim, 3 * dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected x: (batch, length, {self.dim}), got {tuple(x.shape)}")
        batch, length, _ = x.shape
        q, k, v = self.qkv_proj(x).view(batch, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        o = softmax_attention(q, k, v)  # (B, H, L, d)
        return self.out_proj(o.transpose(1, 2).reshape(batch, length, self.dim))

    def init_state(self, batch: int, device=None, dtype=None) -> KVCache:
        """An empty key/value cache."""
        weight = self.qkv_proj.weight
        return KVCache.empty(batch, self.heads, self.head_dim, self.head_dim,
                             device=device or weight.device, dtype=dtype or weight.dtype)

    def step(self, x_t: torch.Tensor, state: KVCache):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), cache)``; O(position) per step."""
        q, k, v = self.qkv_proj(x_t).view(x_t.shape[0], 3, self.heads, self.head_dim).unbind(1)
        o, state = softmax_attention_step(q, k, v, state)
        return self.out_proj(o.reshape(x_t.shape[0], self.dim)), state
