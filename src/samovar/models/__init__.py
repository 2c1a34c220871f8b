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

# Old names no model is registered under, with the message a command or API call using them gets.
# "cats" named Kim et al.'s cross-attention CATS until both CATS models were registered; it is
# ambiguous, so it is refused rather than silently meaning one of them.
RETIRED: dict[str, str] = {
    "cats": ("'cats' is ambiguous: Kim et al.'s cross-attention CATS (NeurIPS 2024) is now 'cats_xattn', "
             "Lu et al.'s auxiliary-time-series CATS (ICML 2024, the SAMoVAR paper's table) is 'cats_ats'"),
}

# What an old name in a stored record (a run directory's config.json, a bench database row, a
# committed benchmark record) written before the rename meant: only Kim et al.'s CATS was ever
# registered as "cats", so such a record is that model's.
STORED_NAMES: dict[str, str] = {"cats": "cats_xattn"}

_models: Registry[type[ForecastModel]] = Registry("model", __name__, retired=RETIRED)
register = _models.register
model_class = _models.cls


def available() -> list[str]:
    """Names of all registered forecasting models, sorted."""
    return _models.names()


def stored_model_name(name: str) -> tuple[str, str | None]:
    """The registered name of a model named `name` in a record written before a rename, and a one-line
    note when it was mapped (None when `name` is current). For records only, never for command lines."""
    new = STORED_NAMES.get(name.lower())
    if new is None:
        return name, None
    return new, (f"model {name!r} in this record was written before the rename and is Kim et al.'s cross-attention "
                 f"CATS, loaded as {new!r} (Lu et al.'s auxiliary-time-series CATS is 'cats_ats')")


def get(name: str, **config) -> ForecastModel:
    """Build model `name` with `lookback`, `horizon`, `channels` and its own hyper-parameters."""
    return _models.cls(name)(**config)


__all__ = ["RETIRED", "STORED_NAMES", "ForecastModel", "available", "get", "model_class", "register", "stored_model_name"]
