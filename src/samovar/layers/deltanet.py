"""DeltaNet (Schlag et al. 2021; Yang et al. 2024): linear attention with the delta rule.

    q, k = L2-normalised silu(projections), v = projection, β_t = sigmoid(w_β · x_t) per head
    S_t = S_{t-1} + β_t k_t (v_t − k_tᵀ S_{t-1}),   o_t = q_t · S_t
    out = out_proj(RMSNorm_head(o))
(The short causal convolutions of the paper's full block are left to the model.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.delta import deltanet_chunked, deltanet_step, default_delta_chunk_size
from . import register
from .linear_attention import HeadedMixer, HeadRMSNorm


@register("deltanet")
class DeltaNet(HeadedMixer):
    """``forward(x: (B, L, dim)) -> (B, L, dim)``; ``step`` gives the same outputs one position at a time."""

    def __init__(self, dim: int, heads: int = 4, head_dim: int | None = None, chunk_size: int | None = None) -> None:
        super().__init__(dim, heads, head_dim, chunk_size)
        self.qkv_proj = nn.Linear(dim, 3 * self.inner, bias=False)
        self.beta_proj = nn.Linear(dim, heads, bias=True)
        self.norm = HeadRMSNorm(self.head_dim)
        self.out_proj = nn.Linear(self.inner, dim, bias=False)

    def _project(self, x: Tensor):
        q, k, v = self.qkv_proj(x).chunk(3, dim=-1)
        q = F.normalize(F.silu(self._heads(q)), dim=-1)
        k = F.normalize(F.silu(self._heads(k)), dim=-1)
        beta = torch.sigmoid(self.beta_proj(x))  # (B, L, H) or (B, H)
        return q, k, self._heads(v), beta.transpose(1, 2) if beta.dim() == 3 else beta

    def _output(self, o: Tensor) -> Tensor:
        o = self.norm(o.transpose(1, 2) if o.dim() == 4 else o)
        return self.out_proj(o.flatten(-2))

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        q, k, v, beta = self._project(x)
        chunk = self.chunk_size or default_delta_chunk_size(self.head_dim)
        return self._output(deltanet_chunked(q, k, v, beta, chunk_size=chunk))

    def init_state(self, batch: int, device=None, dtype=None) -> Tensor:
        """S: (B, heads, d, d) zeros."""
        return self._zero_state(batch, device, dtype)

    def step(self, x_t: Tensor, state: Tensor):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``."""
        self._check_step(x_t)
        q, k, v, beta = self._project(x_t)
        o, state = deltanet_step(q, k, v, beta, state)
        return self._output(o), state
