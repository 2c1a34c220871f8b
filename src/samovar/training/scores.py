"""Forecast scores as plain float64 numpy functions.

Notation: ``y`` the observed values, ``f`` the forecast, ``e = y - f``; means run over every
element given (all windows, steps and channels), except MASE, which averages per channel.

Point scores (``y_true``, ``y_pred`` of the same shape):

    mse    mean(e^2)
    mae    mean(|e|)
    rmse   sqrt(mse)
    mape   mean(|e| / |y|)                 over the elements with y != 0 (NaN if every y is 0)
    smape  mean(2 |e| / (|y| + |f|))       a term with y = f = 0 counts as 0; range [0, 2]
    wape   sum(|e|) / sum(|y|)             NaN if every y is 0
    mase   mean over channels c of mae_c / scale_c, scale_c = mean(|y_t - y_(t-m)|) over the
           channel's *training* series, m the seasonal period (``seasonal_naive_scale``); a
           channel with scale_c = 0 (a training series equal to itself m steps back) makes MASE NaN

MAPE, sMAPE and WAPE divide by the observed values: they mean something on the original scale
only (standardized data sits around zero by construction, so its percentages explode). MSE, MAE
and RMSE are reported on both scales. MASE is scale-free (the same on either scale, as the
standardization is affine per channel). Fractions are returned as fractions (0.12, not 12 %).

Probabilistic scores:

    pinball_loss       mean over elements and levels of rho_q(y, f_q) = max(q (y - f_q), (q - 1) (y - f_q))
    crps_quantiles     (2 / |Q|) sum_q rho_q(y, f_q) per element, averaged (``scoringrules.crps_quantile``);
                       approaches the CRPS as the levels fill (0, 1) evenly
    crps_samples       E|X - y| - E|X - X'| / 2 under the samples' empirical distribution, averaged
                       (``scoringrules.crps_ensemble``)
    interval_coverage  share of y inside [lo, hi] (both ends included)
    interval_width     mean(hi - lo)
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int

# ----------------------------------------------------------------------------- input checks


def _pair(y_true, y_pred, what: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 arrays of one non-empty shape, or a ValueError naming the problem."""
    y = np.asarray(y_true, dtype=np.float64)
    f = np.asarray(y_pred, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(f"y_true has shape {y.shape} but {what} has shape {f.shape}; give arrays of one shape")
    if y.size == 0:
        raise ValueError("cannot score empty arrays: give at least one value")
    return y, f


def _levels(levels, count: int) -> np.ndarray:
    q = np.asarray(levels, dtype=np.float64)
    if q.ndim != 1 or len(q) != count:
        raise ValueError(f"give one quantile level per forecast quantile: {count} quantiles on the last axis "
                         f"but levels has shape {q.shape}")
    if not np.all((q > 0) & (q < 1)):
        raise ValueError(f"quantile levels must lie strictly between 0 and 1, got {q.tolist()}")
    return q


def _quantile_forecast(y_true, q_pred, levels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y (...), f (..., Q), levels (Q,)) for quantile forecasts whose last axis holds the levels."""
    y = np.asarray(y_true, dtype=np.float64)
    f = np.asarray(q_pred, dtype=np.float64)
    if f.shape[:-1] != y.shape or f.ndim != y.ndim + 1:
        raise ValueError(f"quantile forecasts need shape y_true.shape + (levels,) = {y.shape} + (Q,), got {f.shape}")
    if y.size == 0:
        raise ValueError("cannot score empty arrays: give at least one value")
    return y, f, _levels(levels, f.shape[-1])


# ----------------------------------------------------------------------------- point scores


def mse(y_true, y_pred) -> float:
    """Mean squared error, mean(e^2)."""
    y, f = _pair(y_true, y_pred)
    return float(np.mean(np.square(y - f)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error, mean(|e|)."""
    y, f = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y - f)))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, sqrt(mean(e^2))."""
    return float(np.sqrt(mse(y_true, y_pred)))


def percentage_errors(y_true, y_pred) -> np.ndarray:
    """Elementwise |e| / |y|, NaN where y = 0 (the terms MAPE leaves out)."""
    y, f = _pair(y_true, y_pred)
    out = np.full(y.shape, np.nan)
    np.divide(np.abs(y - f), np.abs(y), out=out, where=y != 0)
    return out


def symmetric_percentage_errors(y_true, y_pred) -> np.ndarray:
    """Elementwise 2 |e| / (|y| + |f|), 0 where y = f = 0."""
    y, f = _pair(y_true, y_pred)
    denominator = np.abs(y) + np.abs(f)
    out = np.zeros(y.shape)
    np.divide(2.0 * np.abs(y - f), denominator, out=out, where=denominator != 0)
    return out


def _nan_mean(terms: np.ndarray) -> float:
    """Mean of the non-NaN terms (NaN when there are none), without numpy's empty-slice warning."""
    kept = terms[~np.isnan(terms)]
    return float(kept.mean()) if kept.size else float("nan")


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, mean(|e| / |y|), as a fraction; original scale only.

    Zero denominator: elements with y = 0 are left out of the mean; NaN if every y is 0.
    """
    return _nan_mean(percentage_errors(y_true, y_pred))


def smape(y_true, y_pred) -> float:
    """Symmetric MAPE, mean(2 |e| / (|y| + |f|)), in [0, 2]; original scale only.

    Zero denominator: a term with y = f = 0 is a perfect forecast and counts as 0.
    """
    return float(np.mean(symmetric_percentage_errors(y_true, y_pred)))


def ratio_or_nan(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0."""
    return float(numerator) / float(denominator) if denominator != 0 else float("nan")


def wape(y_true, y_pred) -> float:
    """Weighted absolute percentage error, sum(|e|) / sum(|y|), as a fraction; original scale only.

    Zero denominator: NaN when every y is 0.
    """
    y, f = _pair(y_true, y_pred)
    return ratio_or_nan(np.abs(y - f).sum(), np.abs(y).sum())


def season_lag(period: int | None) -> int:
    """The lag of MASE's scale: the seasonal period, or 1 (the plain naive forecast) when there is none."""
    if period is None:
        return 1
    return positive_int("the seasonal period", period, or_none=True)


def seasonal_naive_scale(y_train, period: int | None) -> np.ndarray:
    """MASE's scale per channel: mean(|y_t - y_(t-m)|) over the training series y_train (T,) or (T, C).

    m = ``period`` (``samovar.data.frequency.seasonal_period(freq)``), or 1 when None. Returns (C,)
    ((1,) for a 1-D series). The training series needs more than m rows.
    """
    y = np.asarray(y_train, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"the training series must be (time,) or (time, channels), got shape {y.shape}")
    lag = season_lag(period)
    if len(y) <= lag:
        raise ValueError(f"MASE's scale needs a training series longer than the seasonal lag {lag}, got {len(y)} rows")
    return np.abs(y[lag:] - y[:-lag]).mean(axis=0)


def scaled_errors(mae_per_channel, scale) -> float:
    """mean over channels of mae_c / scale_c: MASE from per-channel MAE and scale (NaN if any scale_c is 0)."""
    errors = np.asarray(mae_per_channel, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    if errors.shape != scale.shape:
        raise ValueError(f"{errors.size} per-channel errors but {scale.size} scales; give one scale per channel")
    if np.any(scale == 0):
        return float("nan")
    return float(np.mean(errors / scale))


def mase(y_true, y_pred, y_train, period: int | None = None) -> float:
    """Mean absolute scaled error: mean over channels c of MAE_c / scale_c (scale-free).

    y_true, y_pred: (..., C) with channels on the last axis (a 1-D array is one channel);
    y_train: (T, C) (or (T,)) the training series; scale_c = ``seasonal_naive_scale(y_train, period)``,
    the in-sample MAE of the seasonal-naive forecast with lag ``period`` (1 when None).
    Zero denominator: NaN when a channel's scale is 0.
    """
    y, f = _pair(y_true, y_pred)
    scale = seasonal_naive_scale(y_train, period)
    if y.ndim == 1:
        y, f = y[:, None], f[:, None]
    per_channel = np.abs(y - f).reshape(-1, y.shape[-1]).mean(axis=0)
    return scaled_errors(per_channel, scale)


# ----------------------------------------------------------------------------- probabilistic scores


def pinball_loss(y_true, q_pred, levels) -> float:
    """Mean pinball (quantile) loss over every element and level.

    rho_q(y, f_q) = max(q (y - f_q), (q - 1) (y - f_q)); q_pred: y_true.shape + (Q,), levels: (Q,) in (0, 1).
    """
    y, f, q = _quantile_forecast(y_true, q_pred, levels)
    diff = y[..., None] - f
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))


def crps_quantiles(y_true, q_pred, levels) -> float:
    """CRPS approximated from quantile forecasts: mean of (2 / |Q|) sum_q rho_q(y, f_q).

    Equals twice the mean pinball loss (``scoringrules.crps_quantile``); close to the CRPS when the
    levels fill (0, 1) evenly, e.g. (i - 0.5) / Q for i = 1..Q. q_pred: y_true.shape + (Q,).
    """
    import scoringrules

    y, f, q = _quantile_forecast(y_true, q_pred, levels)
    return float(np.mean(scoringrules.crps_quantile(y, f, q, backend="numpy")))


def crps_samples(y_true, samples) -> float:
    """CRPS of the samples' empirical distribution, E|X - y| - E|X - X'| / 2, averaged over elements.

    samples: y_true.shape + (M,), the M draws on the last axis (``scoringrules.crps_ensemble``).
    """
    import scoringrules

    y = np.asarray(y_true, dtype=np.float64)
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != y.ndim + 1 or x.shape[:-1] != y.shape or x.shape[-1] < 1:
        raise ValueError(f"samples need shape y_true.shape + (draws,) = {y.shape} + (M,), got {x.shape}")
    if y.size == 0:
        raise ValueError("cannot score empty arrays: give at least one value")
    return float(np.mean(scoringrules.crps_ensemble(y, x, backend="numpy")))


def _interval(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = _pair(lo, hi, what="hi")
    if np.any(lo > hi):
        raise ValueError(f"interval bounds are crossed at {int(np.sum(lo > hi))} element(s) (lo > hi); "
                         "give the lower bound first")
    return lo, hi


def interval_coverage(y_true, lo, hi) -> float:
    """Empirical coverage of [lo, hi]: the share of elements with lo <= y <= hi."""
    lo, hi = _interval(lo, hi)
    y, _ = _pair(y_true, lo, what="lo")
    return float(np.mean((y >= lo) & (y <= hi)))


def interval_width(lo, hi) -> float:
    """Mean interval width, mean(hi - lo)."""
    lo, hi = _interval(lo, hi)
    return float(np.mean(hi - lo))


__all__ = [
    "crps_quantiles",
    "crps_samples",
    "interval_coverage",
    "interval_width",
    "mae",
    "mape",
    "mase",
    "mse",
    "percentage_errors",
    "pinball_loss",
    "ratio_or_nan",
    "rmse",
    "scaled_errors",
    "season_lag",
    "seasonal_naive_scale",
    "smape",
    "symmetric_percentage_errors",
    "wape",
]
