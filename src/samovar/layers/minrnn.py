"""minGRU and minLSTM mixers (Feng et al. 2024, "Were RNNs All We Needed?").

Gates depend on the current input only, so training uses the parallel log-space scan
(``samovar.ops.minrnn``) and inference the one-step recurrence. The hidden size is
``expand * dim``; an output linear maps it back to ``dim`` when ``expand != 1``.
The states are positive (``g`` is a positive activation), as in the paper's log-space version.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops.minrnn import minlstm_parallel, minlstm_step, mingru_parallel, mingru_step
from . import register
from .base import Mixer


class _MinRNN(Mixer):
    n_gates = 1  # gate pre-activations besides the candidate state

    def __init__(self, dim: int, heads: int | None = None, expand: float = 1.0, chunk_size: int = 64) -> None:
        super().__init__(dim)
        hidden = int(round(expand * dim))
        if hidden < 1:
            raise ValueError(f"expand * dim must be at least 1, got expand={expand}, dim={dim}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self.heads = heads
        self.hidden = hidden
        self.chunk_size = chunk_size
        self.in_proj = nn.Linear(dim, (self.n_gates + 1) * hidden, bias=False)
        self.out_proj = nn.Linear(hidden, dim, bias=False) if hidden != dim else nn.Identity()

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected x: (batch, length, {self.dim}), got {tuple(x.shape)}")

    def init_state(self, batch: int, device=None, dtype=None):
        """Hidden state ``(B, hidden)``, zeros."""
        weight = self.in_proj.weight
        return torch.zeros(batch, self.hidden, device=device or weight.device, dtype=dtype or weight.dtype)


@register("mingru")
class MinGRU(_MinRNN):
    """``h_t = (1 - z_t) h_{t-1} + z_t g(Linear_h x_t)``, ``z_t = sigmoid(Linear_z x_t)``.

    ``forward(x: (B, L, dim)) -> (B, L, dim)``; ``heads`` is accepted and unused.
    """

    n_gates = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        k, hpre = self.in_proj(x).chunk(2, dim=-1)
        return self.out_proj(mingru_parallel(k, hpre, chunk_size=self.chunk_size))

    def step(self, x_t: torch.Tensor, state):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``; O(dim * hidden)."""
        k, hpre = self.in_proj(x_t).chunk(2, dim=-1)
        h = mingru_step(k, hpre, state)
        return self.out_proj(h), h


@register("minlstm")
class MinLSTM(_MinRNN):
    """``h_t = f'_t h_{t-1} + i'_t g(Linear_h x_t)`` with ``f' = f / (f + i)``, ``i' = i / (f + i)``,
    ``f = sigmoid(Linear_f x_t)``, ``i = sigmoid(Linear_i x_t)``.

    ``forward(x: (B, L, dim)) -> (B, L, dim)``; ``heads`` is accepted and unused.
    """

    n_gates = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        kf, ki, hpre = self.in_proj(x).chunk(3, dim=-1)
        return self.out_proj(minlstm_parallel(kf, ki, hpre, chunk_size=self.chunk_size))

    def step(self, x_t: torch.Tensor, state):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``; O(dim * hidden)."""
        kf, ki, hpre = self.in_proj(x_t).chunk(3, dim=-1)
        h = minlstm_step(kf, ki, hpre, state)
        return self.out_proj(h), h
