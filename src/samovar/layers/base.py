"""The interface every sequence mixer implements."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Mixer(nn.Module):
    """A causal (unless stated) token mixer.

    ``forward(x: (batch, length, dim)) -> (batch, length, dim)``;
    ``init_state(batch)`` and ``step(x_t: (batch, dim), state) -> (y_t, state)`` give the
    same outputs one position at a time, at a cost independent of the position.
    """

    name: str = "mixer"
    causal: bool = True

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim

    def init_state(self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None) -> Any:
        raise TypeError(f"mixer {self.name!r} has no recurrent form")

    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise TypeError(f"mixer {self.name!r} has no recurrent form")
