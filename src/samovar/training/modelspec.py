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


# Constructor arguments set from the data, never model options: the shape, and the number of
# future-known covariates (``future_channels``, from the run's inputs).
DATA_ARGUMENTS = ("self", "lookback", "horizon", "channels", "future_channels")


def model_options(name: str) -> dict[str, Any]:
    """The model's own keyword hyper-parameters and their defaults (DATA_ARGUMENTS excluded)."""
    params = inspect.signature(model_class(name).__init__).parameters
    return {k: p.default for k, p in params.items()
            if k not in DATA_ARGUMENTS and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def models_taking(kind: str) -> list[str]:
    """Registered models whose ``covariates`` include input kind `kind` ("past" or "future")."""
    return [name for name in models.available() if kind in models.model_class(name).covariates]


# What each input kind is, as an error names it (COVARIATE_KINDS of samovar.models.base)
_KIND_NAMES = {"future": "future-known covariates (--calendar, --future)",
               "past": "past-only covariates (--past; with --target every other column unless --past none)"}


def covariate_reason(name: str, kinds) -> str | None:
    """Why model `name` cannot take the input kinds `kinds` ("past", "future"): one line naming the first kind
    it does not declare (``ForecastModel.covariates``) and the models that do; None if it takes them all."""
    cls = model_class(name)
    for kind in kinds:
        if kind not in cls.covariates:
            return f"model {name!r} does not take {_KIND_NAMES[kind]}; models that do: {', '.join(models_taking(kind))}"
    return None


def check_covariates(name: str, kinds) -> None:
    """ValueError with ``covariate_reason`` if model `name` cannot take every input kind in `kinds`."""
    reason = covariate_reason(name, kinds)
    if reason:
        raise ValueError(reason)


__all__ = ["DATA_ARGUMENTS", "check_covariates", "covariate_reason", "model_class", "model_options", "models_taking"]
