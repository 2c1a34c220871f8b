"""Causal softmax attention: the quadratic baseline the linear-time mixers are measured against.

``q, k: (batch, heads, length, d_k)``, ``v: (batch, heads, length, d_v)`` -> ``(batch, heads, length, d_v)``;
``o_t = sum_{s<=t} softmax_s(q_t . k_s / sqrt(d_k)) v_s``.

Forms: ``softmax_attention`` (PyTorch's fused ``scaled_dot_product_attention`` with
``is_causal=True``), ``softmax_attention_naive`` (the masked quadratic product written out) and
``softmax_attention_step`` (one query against a growing key/value cache -- O(position) per
step by nature: this is the quadratic baseline, not a constant-cost recurrence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _check_qkv(q, k, v) -> None:
    if q.dim() != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3] or v.dim() != 4:
        raise ValueError(
            "expected q, k: (batch, heads, length, d_k) and v: (batch, heads, length, d_v), "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )


def softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Fast causal softmax attention (fused SDPA kernel).
    FLOPs (forward): about ``2 * batch * heads * length^2 * (d_k + d_v)`` (half of it masked
    away by kernels that skip the upper triangle) plus ``batch * heads * length^2`` exponentials."""
    _check_qkv(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def softmax_attention_naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Reference: ``softmax(q k^T / sqrt(d_k) + causal mask) v`` materialising the (L, L) scores."""
    _check_qkv(q, k, v)
    length = q.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    future = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v


@dataclass
class KVCache:
    """Keys ``(batch, heads, capacity, d_k)`` and values ``(batch, heads, capacity, d_v)``;
    the first ``length`` positions are filled. Capacity doubles when full (amortised O(1) append)."""

    keys: torch.Tensor
    values: torch.Tensor
    length: int = 0

    @classmethod
    def empty(cls, batch: int, heads: int, d_k: int, d_v: int, capacity: int = 64,
              device=None, dtype=torch.float32) -> "KVCache":
        return cls(torch.zeros(batch, heads, capacity, d_k, device=device, dtype=dtype),
                   torch.zeros(batch, heads, capacity, d_v, device=device, dtype=dtype))

    def append(self, k_t: torch.Tensor, v_t: torch.Tensor) -> "KVCache":
        """Add one position (``k_t: (batch, heads, d_k)``, ``v_t: (batch, heads, d_v)``); returns
        a cache sharing or replacing the buffers (the old object must not be reused)."""
        keys, values = self.keys, self.values
        if self.length == keys.shape[2]:
            grow = max(keys.shape[2], 1)
            keys = torch.cat([keys, keys.new_zeros(*keys.shape[:2], grow, keys.shape[3])], dim=2)
            values = torch.cat([values, values.new_zeros(*values.shape[:2], grow, values.shape[3])], dim=2)
        if torch.is_grad_enabled() and (k_t.requires_grad or v_t.requires_grad):
            # Out-of-place so autograd can see through the cache.
            index = torch.tensor([self.length], device=keys.device)
            keys = keys.index_copy(2, index, k_t.unsqueeze(2))
            values = values.index_copy(2, index, v_t.unsqueeze(2))
        else:
            keys[:, :, self.length] = k_t
            values[:, :, self.length] = v_t
        return KVCache(keys, values, self.length + 1)


def softmax_attention_step(q_t: torch.Tensor, k_t: torch.Tensor, v_t: torch.Tensor,
                           cache: KVCache) -> tuple[torch.Tensor, KVCache]:
    """One position: ``q_t, k_t: (batch, heads, d_k)``, ``v_t: (batch, heads, d_v)`` -> ``(o_t, cache)``.
    Attends over all cached positions and this one: cost O(position * (d_k + d_v)), memory
    O(position) -- inherent to softmax attention (the quadratic baseline)."""
    cache = cache.append(k_t, v_t)
    keys = cache.keys[:, :, : cache.length]
    values = cache.values[:, :, : cache.length]
    scores = torch.einsum("bhd,bhsd->bhs", q_t, keys) / math.sqrt(q_t.shape[-1])
    return torch.einsum("bhs,bhsd->bhd", torch.softmax(scores, dim=-1), values), cache


__all__ = ["KVCache", "softmax_attention", "softmax_attention_naive", "softmax_attention_step"]
