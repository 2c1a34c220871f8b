"""Comparing a fast kernel with its reference in values and gradients."""

from __future__ import annotations

import torch


def assert_same(fast: torch.Tensor, ref: torch.Tensor, inputs, atol: float) -> None:
    """fast == ref (on any device), and so are their gradients w.r.t. `inputs` under one random output weighting."""
    torch.testing.assert_close(fast, ref, atol=atol, rtol=atol)
    weight = torch.randn(fast.shape, generator=torch.Generator().manual_seed(1), dtype=fast.dtype).to(fast.device)
    g_fast = torch.autograd.grad((fast * weight).sum(), inputs)
    g_ref = torch.autograd.grad((ref * weight).sum(), inputs)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, atol=atol, rtol=atol)
