"""Exact forecast metrics over every window of a split.

Errors are summed in float64 over all windows (no drop_last, no mean of batch means), on the
standardized scale (the published LTSF convention) and on the original scale (predictions
inverse-transformed with the train scaler, compared with the raw data; for a long-format panel
each window with its own series' scaler, and MASE is the mean over series of each one's MASE). Only running sums are
kept, never the predictions. The scores and their zero-denominator rules are those of
``samovar.training.scores``. Every score counts the model's target channels only
(``ForecastModel.target_channels``: past-only covariate channels are read, never scored); a
window set with future-known covariates passes them to the model (``WindowSet.future_batch``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..models.base import ForecastModel, forecast
from . import scores


def _first_target_row(windows: Any) -> int:
    """Row of window 0's first target; windows are stride 1, so window i's is this + i."""
    first = windows.target_rows(0).start
    last = windows.target_rows(len(windows) - 1).start
    if last - first != len(windows) - 1:
        raise RuntimeError("window set is not stride 1: cannot map windows to raw rows")
    return first


def window_forecast(model: ForecastModel, windows: Any, idx: torch.Tensor, device: torch.device | str,
                    quantiles: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(forecast, y) of windows `idx`: the model's forecast of every channel (its quantiles
    (B, H, C, Q) with `quantiles`) on `device`, and y (B, H, C) on the CPU."""
    x, y = windows.batch(idx)
    future = windows.future_batch(idx) if hasattr(windows, "future_batch") else None
    future = None if future is None else future.to(device)
    if quantiles:
        args = (x.to(device),) if future is None else (x.to(device), future)
        return model.forward_quantiles(*args), y
    return forecast(model, x.to(device), future), y


def targets_of(model: Any) -> int | None:
    """The model's number of target channels (None: every channel, a module without the attribute)."""
    return getattr(model, "target_channels", None)


@torch.no_grad()
def predict_windows(model: ForecastModel, windows: Any, batch_size: int, device: torch.device) -> torch.Tensor:
    """Forecasts for every window, in order: (N, horizon, C) float32 on the CPU (scaled), every channel."""
    model.eval()
    out = []
    for start in range(0, len(windows), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(windows)))
        out.append(window_forecast(model, windows, idx, device)[0].float().cpu())
    return torch.cat(out)


def mase_scale(data: Any) -> np.ndarray:
    """MASE's per-channel scale for a ``ForecastData``: the in-sample seasonal-naive MAE of its raw
    training rows, lag = ``seasonal_period(data.freq)`` (1 when the frequency has no season); the
    target channels only."""
    from ..data.frequency import seasonal_period

    if hasattr(data, "mase_scale"):  # a long-format panel: one scale per series (``PanelData.mase_scale``)
        return data.mase_scale(seasonal_period(data.freq))
    start, end = data.split_rows["train"]
    targets = getattr(data, "target_channels", data.channels)
    return scores.seasonal_naive_scale(data.values[start:end, :targets], seasonal_period(data.freq))


def target_rows(windows: Any, idx: torch.Tensor, first: int | None, horizon: int) -> np.ndarray:
    """(B, horizon) rows of the raw values the targets of windows `idx` are: row `first` + i + step for a
    stride-1 `WindowSet` (first = `_first_target_row`), the set's own index for a panel's windows."""
    if hasattr(windows, "target_row_index"):
        return windows.target_row_index(idx)
    return (first + idx.numpy())[:, None] + np.arange(horizon)[None, :]


def to_original(scaler: Any, windows: Any, idx: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Forecasts `a` (B, horizon, C) of windows `idx` in data units: the scaler's inverse, per series for a panel."""
    if hasattr(windows, "series_of"):
        return scaler.inverse_transform(a, series=windows.series_of(idx))
    return scaler.inverse_transform(a)


def scale_of(scaler: Any, windows: Any, idx: torch.Tensor) -> np.ndarray:
    """The std each value of windows `idx` was standardised by, broadcastable to (B, horizon, C)."""
    if hasattr(windows, "series_of"):
        return scaler.std[windows.series_of(idx)][:, None, :]  # (B, 1, C): each window's own series
    return scaler.std


class _ErrorSums:
    """Running float64 sums of one scale's errors; ``relative`` adds the sums MAPE/sMAPE/WAPE/MASE need."""

    def __init__(self, relative: bool) -> None:
        self.relative = relative
        self.count = 0
        self.sq = self.ab = 0.0
        self.ape = self.sape = self.abs_true = 0.0
        self.ape_count = 0
        self.ab_channel: np.ndarray | float = 0.0
        self.ab_group: dict[int, float] = {}  # per series of a panel: sum of |err| and count (MASE per series)
        self.n_group: dict[int, int] = {}

    def add(self, true: np.ndarray, pred: np.ndarray, series: np.ndarray | None = None) -> None:
        """true, pred: (B, horizon, C) float64; series: (B,) the series of each window (a panel) or None."""
        err = np.abs(true - pred)
        self.count += err.size
        self.sq += float(np.square(err).sum())
        self.ab += float(err.sum())
        if self.relative and series is not None:
            per_window = err.reshape(len(err), -1).sum(axis=1)
            for s in np.unique(series):
                mask = series == s
                self.ab_group[int(s)] = self.ab_group.get(int(s), 0.0) + float(per_window[mask].sum())
                self.n_group[int(s)] = self.n_group.get(int(s), 0) + int(mask.sum()) * err[0].size
        if self.relative:
            self.ab_channel = self.ab_channel + err.reshape(-1, err.shape[-1]).sum(axis=0)
            ape = scores.percentage_errors(true, pred)
            kept = ~np.isnan(ape)
            self.ape += float(ape[kept].sum())
            self.ape_count += int(kept.sum())
            self.sape += float(scores.symmetric_percentage_errors(true, pred).sum())
            self.abs_true += float(np.abs(true).sum())

    def point(self, suffix: str = "") -> dict[str, float]:
        mse = self.sq / self.count
        return {f"mse{suffix}": mse, f"mae{suffix}": self.ab / self.count, f"rmse{suffix}": math.sqrt(mse)}

    def percentages(self, suffix: str = "") -> dict[str, float]:
        return {f"mape{suffix}": scores.ratio_or_nan(self.ape, self.ape_count),
                f"smape{suffix}": self.sape / self.count,
                f"wape{suffix}": scores.ratio_or_nan(self.ab, self.abs_true)}

    def mase(self, scale: np.ndarray) -> float:
        if self.n_group:  # a panel: the mean over the scored series of each one's MAE over its scale
            keys = sorted(self.n_group)
            return scores.scaled_errors(np.array([self.ab_group[k] / self.n_group[k] for k in keys]), scale[keys])
        channels = np.asarray(self.ab_channel).size
        return scores.scaled_errors(np.asarray(self.ab_channel) / (self.count // channels), scale)


@torch.no_grad()
def evaluate(
    model: ForecastModel,
    windows: Any,
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    scaler: Any = None,
    raw_values: np.ndarray | None = None,
    mase_scale: np.ndarray | None = None,
) -> dict[str, float]:
    """Point scores of `model` over all windows of a `WindowSet`, streamed over batches.

    Always: ``mse``, ``mae``, ``rmse`` (standardized scale) and ``windows`` (the count). With
    `scaler` and `raw_values` (T, C): ``mse_raw``, ``mae_raw``, ``rmse_raw``, ``mape_raw``,
    ``smape_raw``, ``wape_raw`` (original scale; the percentage scores only exist there). With
    `mase_scale` (T,) too (``mase_scale(data)``, from the training rows): ``mase``. Only the
    model's first ``target_channels`` channels are scored.
    """
    n = len(windows)
    if n == 0:
        raise ValueError("cannot evaluate on a split with no windows")
    raw = scaler is not None and raw_values is not None
    if mase_scale is not None and not raw:
        raise ValueError("MASE is computed on the original scale: pass scaler and raw_values with mase_scale")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    first = None
    if raw:
        raw_values = np.asarray(raw_values, dtype=np.float64)
        first = None if hasattr(windows, "target_row_index") else _first_target_row(windows)
    targets = targets_of(model)
    scaled, original = _ErrorSums(relative=False), _ErrorSums(relative=True)
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        pred, y = window_forecast(model, windows, idx, device)
        pred = pred.double().cpu()
        scaled.add(y.double().numpy()[..., :targets], pred.numpy()[..., :targets])
        if raw:
            rows = target_rows(windows, idx, first, y.shape[1])  # (B, horizon)
            pred_raw = torch.as_tensor(to_original(scaler, windows, idx, pred), dtype=torch.float64).numpy()
            series = windows.series_of(idx) if hasattr(windows, "series_of") else None
            original.add(raw_values[rows][..., :targets], pred_raw[..., :targets], series)
    model.train(was_training)
    metrics: dict[str, float] = {**scaled.point(), "windows": n}
    if raw:
        metrics.update(original.point("_raw"), **original.percentages("_raw"))
    if mase_scale is not None:
        metrics["mase"] = original.mase(np.asarray(mase_scale, dtype=np.float64))
    return metrics


@torch.no_grad()
def quantile_scores(model: ForecastModel, windows: Any, *, batch_size: int = 256,
                    device: torch.device | str = "cpu") -> dict[str, Any]:
    """Scores of a quantile model's forecasts (``forward_quantiles``) over every window, standardized scale.

    ``pinball`` (mean over every value and level) and ``crps`` (from the quantiles by
    `scores.crps_quantiles`, i.e. scoringrules), ``below`` {level: share of targets under that
    quantile, nominally the level}, and ``coverage`` {central level in percent: share of targets
    inside each symmetric pair of quantiles, e.g. 0.1 and 0.9 -> 80}, plus ``windows``. Batch means are
    weighted by their element counts, so the result equals the scores of all forecasts at once.
    Target channels only.
    """
    levels = tuple(float(q) for q in model.quantiles)
    n = len(windows)
    if n == 0:
        raise ValueError("cannot score quantiles on a split with no windows")
    pairs = [(lo, hi) for lo in levels for hi in levels if lo < 0.5 and abs(lo + hi - 1) < 1e-9]
    was_training = model.training
    model.eval()
    pinball = crps = 0.0
    below = np.zeros(len(levels))
    inside = np.zeros(len(pairs))
    count = 0
    targets = targets_of(model)
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        q, y = window_forecast(model, windows, idx, device, quantiles=True)
        q = q.double().cpu().numpy()[:, :, :targets]  # (B, H, T, Q)
        target = y.double().numpy()[..., :targets]
        pinball += scores.pinball_loss(target, q, levels) * target.size
        crps += scores.crps_quantiles(target, q, levels) * target.size
        below += (target[..., None] <= q).reshape(-1, len(levels)).sum(axis=0)
        for k, (lo, hi) in enumerate(pairs):
            inside[k] += scores.interval_coverage(target, q[..., levels.index(lo)], q[..., levels.index(hi)]) * target.size
        count += target.size
    model.train(was_training)
    return {"pinball": pinball / count, "crps": crps / count,
            "below": {q: float(b) / count for q, b in zip(levels, below)},
            "coverage": {round(100 * (hi - lo)): float(c) / count for (lo, hi), c in zip(pairs, inside)},
            "windows": n}
