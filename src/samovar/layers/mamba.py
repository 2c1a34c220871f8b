"""Mamba mixer (Gu & Dao 2023): gated selective state-space block.

    x, z  = split(in_proj(x))                     # (B, L, d_inner) each
    x     = silu(causal depthwise conv1d(x))       # kernel d_conv
    dt, B, C = split(x_proj(x));  delta = softplus(dt_proj(dt))   # dt_proj has the bias
    y     = selective_scan(x, delta, A = -exp(A_log), B, C, D)
    out   = out_proj(y * silu(z))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.ssm import s4d_real_init, selective_scan_chunked, selective_scan_step
from . import register
from .base import Mixer


@register("mamba")
class Mamba(Mixer):
    """``forward(x: (B, L, dim)) -> (B, L, dim)``; ``step`` gives the same outputs one position at a time.

    ``heads`` is accepted for the common mixer interface and unused (every one of the
    ``d_inner = expand * dim`` channels has its own ``d_state`` diagonal SSM).
    ``dt_rank`` defaults to ``ceil(dim / 16)``; Δ's bias is initialised so that
    ``softplus(bias)`` is log-uniform in ``[dt_min, dt_max]``; ``A`` uses the S4D-real init.
    ``chunk_size=None`` lets the scan pick a cache-sized chunk (``samovar.ops.ssm.auto_chunk_size``).
    """

    def __init__(self, dim: int, heads: int | None = None, d_state: int = 16, expand: int = 2,
                 d_conv: int = 4, dt_rank: int | None = None, dt_min: float = 1e-3,
                 dt_max: float = 1e-1, dt_init_floor: float = 1e-4, chunk_size: int | None = None) -> None:
        super().__init__(dim)
        for key, val in (("d_state", d_state), ("expand", expand), ("d_conv", d_conv), ("chunk_size", chunk_size or 1)):
            if val < 1:
                raise ValueError(f"{key} must be positive, got {val}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        self.heads = heads
        self.d_state = d_state
        self.d_inner = expand * dim
        self.d_conv = d_conv
        self.dt_rank = dt_rank or math.ceil(dim / 16)
        self.chunk_size = chunk_size

        self.in_proj = nn.Linear(dim, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(s4d_real_init(self.d_inner, d_state))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, dim, bias=False)

        with torch.no_grad():
            bound = self.dt_rank**-0.5
            self.dt_proj.weight.uniform_(-bound, bound)
            dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
            dt = dt.clamp(min=dt_init_floor)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^{-1}(dt)

    def _ssm_inputs(self, x: torch.Tensor):
        """``x: (..., d_inner)`` after the conv -> (delta, B, C)."""
        dt, Bm, Cm = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.softplus(self.dt_proj(dt)), Bm, Cm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected x: (batch, length, {self.dim}), got {tuple(x.shape)}")
        length = x.shape[1]
        xs, z = self.in_proj(x).chunk(2, dim=-1)
        xs = F.silu(self.conv1d(xs.transpose(1, 2))[..., :length].transpose(1, 2))
        delta, Bm, Cm = self._ssm_inputs(xs)
        A = -torch.exp(self.A_log)
        y = selective_scan_chunked(xs, delta, A, Bm, Cm, self.D, chunk_size=self.chunk_size)
        return self.out_proj(y * F.silu(z))

    def init_state(self, batch: int, device=None, dtype=None):
        """``(conv_state: (B, d_inner, d_conv - 1), ssm_state: (B, d_inner, d_state))``, zeros."""
        device = device or self.A_log.device
        dtype = dtype or self.A_log.dtype
        return (torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device, dtype=dtype),
                torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=dtype))

    def step(self, x_t: torch.Tensor, state):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``; cost independent of the position."""
        conv_state, h = state
        xs, z = self.in_proj(x_t).chunk(2, dim=-1)
        window = torch.cat([conv_state, xs.unsqueeze(-1)], dim=-1)  # (B, d_inner, d_conv)
        xs = F.silu(torch.einsum("bdk,dk->bd", window, self.conv1d.weight[:, 0]) + self.conv1d.bias)
        delta, Bm, Cm = self._ssm_inputs(xs)
        y, h = selective_scan_step(xs, delta, -torch.exp(self.A_log), Bm, Cm, self.D, h)
        return self.out_proj(y * F.silu(z)), (window[..., 1:], h)
