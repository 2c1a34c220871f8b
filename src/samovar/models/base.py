"""The interface every forecasting model implements."""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int


# Lookbacks every model's search space offers (the model's published lookback is added).
SEARCH_LOOKBACKS = (96, 192, 336, 512, 720)

# Input kinds a model can take (``ForecastModel.covariates``; docs/covariates.md):
#   past    series observed in the lookback only: extra channels of x, forecast but never scored
#   future  future-known covariates (calendar features, user columns known ahead): a tensor
#           (batch, lookback + horizon, F) passed as ``future=``, read over the lookback and the horizon
COVARIATE_KINDS = ("past", "future")


class ForecastModel(nn.Module):
    """Base class: ``forward(x: (batch, lookback, channels)) -> (batch, horizon, channels)``.

    Subclasses take ``lookback``, ``horizon``, ``channels`` plus their own keyword
    hyper-parameters, and call ``super().__init__(lookback, horizon, channels)``.
    A model with an auxiliary objective (e.g. SAMoVAR's next-segment loss) overrides
    ``training_loss``; the trainer always optimises ``training_loss`` and validates on
    the plain forecast MSE.

    ``trainable`` (a class attribute) says whether the model has anything to learn; the trainer
    only validates and tests a model with ``trainable = False`` (the naive baselines).

    Targets (TSLib's M / MS / S settings): the first ``target_channels`` channels of x are the
    series to forecast, the rest are past-only covariates. The model forecasts every channel;
    ``training_loss`` and every score count the target channels only (``target_part``). Default:
    every channel is a target (M). ``covariates`` (a class attribute) names the input kinds the
    model takes (COVARIATE_KINDS); a model taking "future" has a ``future_channels`` constructor
    option and reads ``forward(x, future=...)``; without covariates it is the model it always was.
    """

    name: str = "model"
    trainable: bool = True
    covariates: tuple[str, ...] = ("past",)

    def __init__(self, lookback: int, horizon: int, channels: int) -> None:
        super().__init__()
        self.lookback = positive_int("lookback", lookback)
        self.horizon = positive_int("horizon", horizon)
        self.channels = positive_int("channels", channels)
        self.target_channels = self.channels

    def use_targets(self, targets: int) -> "ForecastModel":
        """Score only the first `targets` channels (the rest are past-only covariates); returns self."""
        if isinstance(targets, bool) or int(targets) != targets or not 1 <= targets <= self.channels:
            raise ValueError(f"targets must be an integer in [1, channels={self.channels}], got {targets!r}")
        self.target_channels = int(targets)
        return self

    def target_part(self, t: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """The target channels of `t` along `dim` (`t` itself when every channel is a target)."""
        return t if self.target_channels == self.channels else t.narrow(dim, 0, self.target_channels)

    @classmethod
    def default_lookback(cls, horizon: int) -> int | None:
        """The lookback the model's paper uses at this horizon (None: no published default)."""
        return None

    @classmethod
    def search_space(cls, dataset: str, horizon: int) -> dict[str, Any]:
        """The hyper-parameters `samovar tune` searches for this model, as data.

        Keys: ``"lookback"``, ``"train.<TrainConfig option>"``, ``"model.<constructor option>"``.
        Values: a list (one of these values) or ``{"low": a, "high": b}`` with optional
        ``"log": True`` (a number in [a, b]; whole numbers when a and b are ints). The tuner adds
        the published recipe's value of every key to its entry (trial 0 is the published recipe).
        Default: lookbacks 96..720 and the published one, lr log-uniform in [1e-5, 1e-2], weight
        decay in {0, 1e-4, 1e-3, 1e-2, 0.1}, and dropout in [0, 0.5] for models that have one;
        a model with nothing to train (``trainable = False``) searches its lookback only.
        """
        published = cls.default_lookback(int(horizon))
        space: dict[str, Any] = {"lookback": sorted({*SEARCH_LOOKBACKS, *([published] if published else [])})}
        if not cls.trainable:
            return space
        space.update({"train.lr": {"low": 1e-5, "high": 1e-2, "log": True},
                      "train.weight_decay": [0.0, 1e-4, 1e-3, 1e-2, 0.1]})
        if "dropout" in inspect.signature(cls.__init__).parameters:
            space["model.dropout"] = {"low": 0.0, "high": 0.5}
        return space

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """Loss to minimise on a batch; x: (B, lookback, C), y: (B, horizon, C), future: (B, lookback +
        horizon, F) or None. Default: MSE over the target channels."""
        return F.mse_loss(self.target_part(forecast(self, x, future)), self.target_part(y))

    def parameter_groups(self) -> list[dict]:
        """Optimizer parameter groups; a group may set ``peak_lr``: its learning rate is then the
        schedule's times peak_lr / TrainConfig.lr (the same shape at another height). Default: one group."""
        return [{"params": list(self.parameters())}]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def forecast(model: nn.Module, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
    """``model(x)``, with ``future=`` only when future-known covariates are given (so a model that
    takes none is called exactly as before)."""
    return model(x) if future is None else model(x, future=future)


def batch_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
    """``model.training_loss(x, y)``, with ``future=`` only when future-known covariates are given."""
    return model.training_loss(x, y) if future is None else model.training_loss(x, y, future=future)


def check_future(model: nn.Module, future: torch.Tensor | None, batch: int) -> None:
    """ValueError unless `future` is None (for a model built without future channels) or
    (batch, lookback + horizon, future_channels)."""
    want = getattr(model, "future_channels", 0)
    if future is None and want == 0:
        return
    shape = (batch, model.lookback + model.horizon, want)
    if future is None or tuple(future.shape) != shape:
        got = "none" if future is None else tuple(future.shape)
        raise ValueError(f"{type(model).__name__} was built for {want} future-known covariate(s): future must be "
                         f"(batch, lookback + horizon, {want}) = {shape}, got {got}")
