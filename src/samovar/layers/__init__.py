"""Sequence-mixer layers (nn.Modules) around the kernels in ``samovar.ops``.

Every mixer has one interface:
``forward(x: (batch, length, dim)) -> (batch, length, dim)``, and for recurrent use
``init_state(batch) -> state`` and ``step(x_t: (batch, dim), state) -> (y_t: (batch, dim), state)``.

``available()`` lists the registered names; ``get("gla", dim=..., heads=...)`` builds one.
"""

from __future__ import annotations

from ..registry import Registry
from .base import Mixer

_mixers: Registry[type[Mixer]] = Registry("mixer", __name__)
register = _mixers.register
mixer_class = _mixers.cls


def available() -> list[str]:
    """Names of all registered mixers, sorted."""
    return _mixers.names()


def get(name: str, **config) -> Mixer:
    """Build mixer `name`, e.g. ``get("gla", dim=128, heads=4)``."""
    return _mixers.cls(name)(**config)


__all__ = ["Mixer", "available", "get", "mixer_class", "register"]
