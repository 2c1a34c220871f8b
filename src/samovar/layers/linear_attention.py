"""Multi-head causal linear attention (Katharopoulos et al. 2020), and the shared plumbing of
the linear-attention family (RetNet, GLA, DeltaNet).

    q, k, v = split(qkv_proj(x)) into heads;   q, k = phi(q), phi(k)   (feature map)
    o_t = q_t · Σ_{s≤t} k_s v_sᵀ   (÷ q_t · Σ_{s≤t} k_s  with normalize=True)
    out = out_proj(o)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._checks import positive_int
from ..ops.linear_attention import (
    default_chunk_size,
    feature_map as get_feature_map,
    init_state,
    linear_attention_chunked,
    linear_attention_step,
)
from . import register
from .base import Mixer


class HeadedMixer(Mixer):
    """Base of the linear-attention layers: head bookkeeping and the (B, L, dim) checks.

    ``head_dim`` defaults to ``dim // heads``; ``chunk_size=None`` lets the op choose per head dim.
    """

    def __init__(self, dim: int, heads: int = 4, head_dim: int | None = None, chunk_size: int | None = None) -> None:
        super().__init__(dim)
        heads = positive_int("heads", heads)
        if head_dim is None:
            if dim % heads:
                raise ValueError(f"dim ({dim}) must be divisible by heads ({heads}), or pass head_dim explicitly")
            head_dim = dim // heads
        if head_dim < 1:
            raise ValueError(f"head_dim must be positive, got {head_dim}")
        chunk_size = positive_int("chunk_size", chunk_size, or_none=True)
        self.heads = heads
        self.head_dim = head_dim
        self.chunk_size = chunk_size
        self.inner = heads * head_dim

    def _check(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected x: (batch, length, {self.dim}), got {tuple(x.shape)}")

    def _check_step(self, x_t: Tensor) -> None:
        if x_t.dim() != 2 or x_t.shape[-1] != self.dim:
            raise ValueError(f"expected x_t: (batch, {self.dim}), got {tuple(x_t.shape)}")

    def _heads(self, x: Tensor) -> Tensor:
        """(B, L, heads * d) -> (B, heads, L, d); (B, heads * d) -> (B, heads, d)."""
        if x.dim() == 3:
            return x.view(x.shape[0], x.shape[1], self.heads, -1).transpose(1, 2)
        return x.view(x.shape[0], self.heads, -1)

    @staticmethod
    def _merge(o: Tensor) -> Tensor:
        """(B, heads, L, d) -> (B, L, heads * d); (B, heads, d) -> (B, heads * d)."""
        if o.dim() == 4:
            return o.transpose(1, 2).reshape(o.shape[0], o.shape[2], -1)
        return o.reshape(o.shape[0], -1)

    def _param(self) -> Tensor:
        return next(self.parameters())

    def _zero_state(self, batch: int, device=None, dtype=None) -> Tensor:
        """S: (B, heads, d, d) zeros, on the parameters' device and dtype unless given."""
        p = self._param()
        return torch.zeros(batch, self.heads, self.head_dim, self.head_dim, device=device or p.device, dtype=dtype or p.dtype)


@register("linear_attention")
class LinearAttention(HeadedMixer):
    """``forward(x: (B, L, dim)) -> (B, L, dim)``; ``step(x_t: (B, dim), state)`` is the same, one
    position at a time at constant cost. ``feature_map`` is one of ``FEATURE_MAPS`` or None
    (identity); ``normalize`` divides by q_t · Σ k_s (use with a non-negative feature map).
    """

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        head_dim: int | None = None,
        feature_map: str | None = "elu+1",
        normalize: bool = True,
        chunk_size: int | None = None,
        eps: float = 1e-6,
    ) -> None:
        super().__init__(dim, heads, head_dim, chunk_size)
        self.phi = get_feature_map(feature_map)
        self.feature_map_name = feature_map
        self.normalize = normalize
        self.eps = eps
        self.qkv_proj = nn.Linear(dim, 3 * self.inner, bias=False)
        self.out_proj = nn.Linear(self.inner, dim, bias=False)

    def _qkv(self, x: Tensor):
        q, k, v = self.qkv_proj(x).chunk(3, dim=-1)
        return self._heads(self.phi(q)), self._heads(self.phi(k)), self._heads(v)

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        q, k, v = self._qkv(x)
        chunk = self.chunk_size or default_chunk_size(self.head_dim)
        o = linear_attention_chunked(q, k, v, chunk_size=chunk, normalize=self.normalize, eps=self.eps)
        return self.out_proj(self._merge(o))

    def init_state(self, batch: int, device=None, dtype=None):
        """S: (B, heads, d, d) zeros (and z: (B, heads, d) when normalizing)."""
        p = self._param()
        like = torch.empty(batch, self.heads, 0, self.head_dim, device=device or p.device, dtype=dtype or p.dtype)
        return init_state(like, like, normalize=self.normalize)

    def step(self, x_t: Tensor, state):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``."""
        self._check_step(x_t)
        q, k, v = self._qkv(x_t)
        o, state = linear_attention_step(q, k, v, state, normalize=self.normalize, eps=self.eps)
        return self.out_proj(self._merge(o)), state


class HeadRMSNorm(nn.Module):
    """RMS normalisation over the last dim of (…, heads, d) with a weight per channel."""

    def __init__(self, head_dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(head_dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight
