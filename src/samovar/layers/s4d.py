"""S4D mixer (Gu, Gupta, Goel & Re 2022): one diagonal complex SSM per channel, applied as a
causal convolution by FFT during training and as a recurrence one step at a time.

    y   = K * x + D x        # K[h, l] = 2 Re(sum_n C~[h, n] exp(dt_h A[h, n] l)), S4D-Lin init
    out = out_proj(gelu(y))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.ssm import s4d_fft, s4d_init_state, s4d_lin_init, s4d_step
from . import register
from .base import Mixer


@register("s4d")
class S4D(Mixer):
    """``forward(x: (B, L, dim)) -> (B, L, dim)``; ``step`` gives the same outputs one position at a time.

    ``heads`` is accepted for the common mixer interface and unused (each of the ``dim``
    channels has its own SSM with ``d_state / 2`` complex-conjugate pairs).
    Learnable: ``log_dt`` (init log-uniform in ``[dt_min, dt_max]``), ``A`` (real part
    ``-exp(log_neg_A_real)``, imaginary part), complex ``C``, skip ``D``, output linear.
    """

    def __init__(self, dim: int, heads: int | None = None, d_state: int = 64,
                 dt_min: float = 1e-3, dt_max: float = 1e-1) -> None:
        super().__init__(dim)
        if d_state < 2 or d_state % 2:
            raise ValueError(f"d_state must be a positive even number (conjugate pairs), got {d_state}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        self.heads = heads
        self.d_state = d_state
        log_dt = torch.rand(dim) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        log_neg_A_real, A_imag = s4d_lin_init(dim, d_state)
        self.log_neg_A_real = nn.Parameter(log_neg_A_real)
        self.A_imag = nn.Parameter(A_imag)
        # Complex C ~ N(0, 1) (variance 1/2 per part), stored as (real, imag) pairs.
        self.C = nn.Parameter(torch.randn(dim, d_state // 2, 2) * math.sqrt(0.5))
        self.D = nn.Parameter(torch.randn(dim))
        self.out_proj = nn.Linear(dim, dim)

    def _ssm(self):
        """``(log_dt: (H,), A: (H, N/2) complex, C: (H, N/2) complex)``."""
        A = torch.complex(-torch.exp(self.log_neg_A_real), self.A_imag)
        return self.log_dt, A, torch.view_as_complex(self.C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected x: (batch, length, {self.dim}), got {tuple(x.shape)}")
        y = s4d_fft(x, *self._ssm(), self.D)
        return self.out_proj(F.gelu(y))

    def init_state(self, batch: int, device=None, dtype=None):
        """Complex state ``(B, dim, d_state / 2)``, zeros."""
        return s4d_init_state(batch, self.dim, self.d_state, device or self.D.device, dtype or self.D.dtype)

    def step(self, x_t: torch.Tensor, state):
        """``x_t: (B, dim)`` -> ``(y_t: (B, dim), state)``; cost O(dim * d_state)."""
        y_t, state = s4d_step(x_t, state, *self._ssm(), self.D)
        return self.out_proj(F.gelu(y_t)), state
