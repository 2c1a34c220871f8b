"""A registered model's class and its own hyper-parameters, looked up by name (unknown names are a ValueError)."""

from __future__ import annotations

import inspect
from typing import Any

from .. import models
from ..models.base import ForecastModel


def model_class(name: str) -> type[ForecastModel]:
    """The class of registered model `name`; an unknown name is a ValueError listing the registered ones."""
    try:
        return models.model_class(name)
    except KeyError:
        if name.lower() in models.RETIRED:
            raise ValueError(models.RETIRED[name.lower()]) from None
        raise ValueError(f"unknown model {name!r}; available: {', '.join(models.available())}") from None


def model_options(name: str) -> dict[str, Any]:
    """The model's own keyword hyper-parameters and their defaults (lookback/horizon/channels excluded)."""
    params = inspect.signature(model_class(name).__init__).parameters
    return {k: p.default for k, p in params.items()
            if k not in ("self", "lookback", "horizon", "channels") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


__all__ = ["model_class", "model_options"]
