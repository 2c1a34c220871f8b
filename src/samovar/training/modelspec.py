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


def check_covariates(name: str, kinds) -> None:
    """ValueError naming the model, the input kind and the models that take it, for the first kind in
    `kinds` that model `name` does not declare (``ForecastModel.covariates``)."""
    cls = model_class(name)
    for kind in kinds:
        if kind not in cls.covariates:
            what = {"future": "future-known covariates (--calendar, --future)", "past": "past-only covariates"}[kind]
            raise ValueError(f"model {name!r} does not take {what}; models that do: {', '.join(models_taking(kind))}")


__all__ = ["DATA_ARGUMENTS", "check_covariates", "model_class", "model_options", "models_taking"]
