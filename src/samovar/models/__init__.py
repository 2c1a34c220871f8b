"""Forecasting models and their registry.

Every model maps a lookback window to a forecast:
``x: (batch, lookback, channels) -> (batch, horizon, channels)``, built as
``Model(lookback=..., horizon=..., channels=..., **hyper)``. One file per model;
each registers itself with ``@register("name")``.

``available()`` lists the registered names, ``get(name, **config)`` builds one.
"""

from __future__ import annotations

from ..registry import Registry
from .base import ForecastModel

_models: Registry[type[ForecastModel]] = Registry("model", __name__)
register = _models.register
model_class = _models.cls


def available() -> list[str]:
    """Names of all registered forecasting models, sorted."""
    return _models.names()


def get(name: str, **config) -> ForecastModel:
    """Build model `name` with `lookback`, `horizon`, `channels` and its own hyper-parameters."""
    return _models.cls(name)(**config)


__all__ = ["ForecastModel", "available", "get", "model_class", "register"]
