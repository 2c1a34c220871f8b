"""Exact forecast metrics over every window of a split.

Errors are summed in float64 over all windows (no drop_last, no mean of batch means), on the
standardized scale (the published LTSF convention) and on the original scale (predictions
inverse-transformed with the train scaler, compared with the raw data).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..models.base import ForecastModel


def _first_target_row(windows: Any) -> int:
    """Row of window 0's first target; windows are stride 1, so window i's is this + i."""
    first = windows.target_rows(0).start
    last = windows.target_rows(len(windows) - 1).start
    if last - first != len(windows) - 1:
        raise RuntimeError("window set is not stride 1: cannot map windows to raw rows")
    return first


@torch.no_grad()
def predict_windows(model: ForecastModel, windows: Any, batch_size: int, device: torch.device) -> torch.Tensor:
    """Forecasts for every window, in order: (N, horizon, C) float32 on the CPU (scaled)."""
    model.eval()
    out = []
    for start in range(0, len(windows), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(windows)))
        x, _ = windows.batch(idx)
        out.append(model(x.to(device)).float().cpu())
    return torch.cat(out)


@torch.no_grad()
def evaluate(
    model: ForecastModel,
    windows: Any,
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    scaler: Any = None,
    raw_values: np.ndarray | None = None,
) -> dict[str, float]:
    """MSE/MAE of `model` over all windows of a `WindowSet`.

    Returns ``mse``, ``mae`` (standardized scale) and, when `scaler` and `raw_values` (T, C)
    are given, ``mse_raw``, ``mae_raw`` (original scale), plus ``windows`` (the count).
    """
    n = len(windows)
    if n == 0:
        raise ValueError("cannot evaluate on a split with no windows")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    raw = None
    if scaler is not None and raw_values is not None:
        raw = torch.as_tensor(np.asarray(raw_values), dtype=torch.float64)
        first = _first_target_row(windows)
    sq = ab = sq_raw = ab_raw = 0.0
    count = 0
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        x, y = windows.batch(idx)
        pred = model(x.to(device)).double().cpu()
        diff = pred - y.double()
        sq += float(diff.square().sum())
        ab += float(diff.abs().sum())
        count += diff.numel()
        if raw is not None:
            horizon = y.shape[1]
            rows = (first + idx)[:, None] + torch.arange(horizon)[None, :]  # (B, horizon)
            diff_raw = scaler.inverse_transform(pred) - raw[rows]  # float64 throughout
            sq_raw += float(diff_raw.square().sum())
            ab_raw += float(diff_raw.abs().sum())
    model.train(was_training)
    metrics = {"mse": sq / count, "mae": ab / count, "windows": n}
    if raw is not None:
        metrics.update(mse_raw=sq_raw / count, mae_raw=ab_raw / count)
    return metrics
