"""Gated linear attention (Yang et al. 2024, "Gated Linear Attention Transformers with
Hardware-Efficient Training"): a data-dependent decay per key dimension.

    q, k, v = projections of x (q scaled by d^-1/2)
    log α_t = logsigmoid(W₂ W₁ x_t + b) / τ          (low-rank gate, τ = 16 as in the paper's code)
    S_t = diag(α_t) S_{t-1} + k_t v_tᵀ,   o_t = q_t · S_t
    out = out_proj(swish(g_proj x) ⊙ RMSNorm_head(o))
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.decay import gla_chunked, gla_step
from . import register
from .linear_attention import HeadedMixer, HeadRMSNorm


@register("gla")
class GLA(HeadedMixer):
    """``forward(x: (B, L, dim)) -> (B, L, dim)``; ``step`` gives the same outputs one position at a time.

    ``gate_rank`` is the rank of the decay projection (default 16); ``gate_temperature`` τ
    divides the log-sigmoid so decays start close to 1.
    """

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        head_dim: int | None = None,
        chunk_size: int | None = None,
        gate_rank: int = 16,
        gate_temperature: float = 16.0,
    ) -> None:
        super().__init__(dim, heads, head_dim, chunk_size)
        if gate_rank < 1 or gate_temperature <= 0:
            raise ValueError(f"need gate_rank ≥ 1 and gate_temperature > 0, got {gate_rank}, {gate_temperature}")
        self.gate_temperature = gate_temperature
        self.qkvg_proj = nn.Linear(dim, 4 * self.inner, bias=False)
        self.decay_proj = nn.Sequential(nn.Linear(dim, gate_rank, bias=False), nn.Linear(gate_rank, self.inner, bias=True))
        self.norm = HeadRMSNorm(self.head_dim)
        self.out_proj = nn.Linear(self.inner, dim, bias=False)
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def _project(self, x: Tensor):
        q, k, v, g = self.qkvg_proj(x).chunk(4, dim=-1)
        log_decay = F.logsigmoid(self.decay_proj(x)) / self.gate_temperature
        return self._heads(q * self.scale), self._heads(k), self._heads(v), self._heads(log_decay), g

    def _output(self, o: Tensor, g: Tensor) -> Tensor:
        o = self.norm(o.transpose(1, 2) if o.dim() == 4 else o)
        return self.out_proj(F.silu(g) * o.flatten(-2))

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        q, k, v, log_decay, g = self._project(x)
        o = gla_chunked(q, k, v, log_decay, chunk_size=self.chunk_size)
        return self._output(o, g)

    def init_state(self, batch: int, device=None, dtype=None) -> Tensor:
        """S: (B, heads, d, d) zeros."""
        return self._zero_state(batch, device, dtype)

    def step(self, x_t: Tensor, state: Tensor):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``."""
        self._check_step(x_t)
        q, k, v, log_decay, g = self._project(x_t)
        o, state = gla_step(q, k, v, log_decay, state)
        return self._output(o, g), state
