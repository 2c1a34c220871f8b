"""RetNet multi-scale retention (Sun et al. 2023), without the xPos rotation.

    q, k, v, g = projections of x;  q scaled by d^-1/2
    o_t = q_t · S_t,   S_t = γ_h S_{t-1} + k_t v_tᵀ,   γ_h = 1 − 2^(−5−h)  (one decay per head h)
    out = out_proj(swish(g) ⊙ RMSNorm_head(o))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.decay import retention_chunked, retention_step
from . import register
from .linear_attention import HeadedMixer, HeadRMSNorm


def retnet_log_decays(heads: int) -> Tensor:
    """log γ_h with γ_h = 1 − 2^(−5−h), h = 0..heads−1 (RetNet's multi-scale decays): (heads,)."""
    return torch.log1p(-torch.pow(2.0, -5.0 - torch.arange(heads, dtype=torch.float64))).float()


@register("retnet")
class RetNet(HeadedMixer):
    """``forward(x: (B, L, dim)) -> (B, L, dim)``; ``step`` gives the same outputs one position at a time.

    The per-head decays are fixed (a buffer), as in the paper.
    """

    def __init__(self, dim: int, heads: int = 4, head_dim: int | None = None, chunk_size: int | None = None) -> None:
        super().__init__(dim, heads, head_dim, chunk_size)
        self.qkvg_proj = nn.Linear(dim, 4 * self.inner, bias=False)
        self.norm = HeadRMSNorm(self.head_dim)
        self.out_proj = nn.Linear(self.inner, dim, bias=False)
        self.register_buffer("log_decay", retnet_log_decays(heads))
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def _project(self, x: Tensor):
        q, k, v, g = self.qkvg_proj(x).chunk(4, dim=-1)
        return self._heads(q * self.scale), self._heads(k), self._heads(v), g

    def _output(self, o: Tensor, g: Tensor) -> Tensor:
        o = self.norm(o.transpose(1, 2) if o.dim() == 4 else o)  # (B, L, H, d) or (B, H, d)
        return self.out_proj(F.silu(g) * o.flatten(-2))

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        q, k, v, g = self._project(x)
        o = retention_chunked(q, k, v, self.log_decay, chunk_size=self.chunk_size)
        return self._output(o, g)

    def init_state(self, batch: int, device=None, dtype=None) -> Tensor:
        """S: (B, heads, d, d) zeros."""
        return self._zero_state(batch, device, dtype)

    def step(self, x_t: Tensor, state: Tensor):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``."""
        self._check_step(x_t)
        q, k, v, g = self._project(x_t)
        o, state = retention_step(q, k, v, state, self.log_decay)
        return self._output(o, g), state
