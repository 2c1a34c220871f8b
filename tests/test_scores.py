"""Scores: each one by hand on a small example and against a reference library (utilsforecast for the
point scores, scoringrules for pinball loss and CRPS); the zero-denominator rules; bad input; and the
streamed `evaluate` equal to the scores of all predictions at once."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scoringrules
import torch
import utilsforecast.losses as ufl
from scipy.stats import norm

from samovar.data import prepare_data
from samovar.data.frequency import seasonal_period
from samovar.training import evaluate, predict_windows, scores
from samovar.training.metrics import mase_scale

# y, f and e = y - f = (-1, 0, -1, 2)
Y = np.array([1.0, 2.0, 0.0, 4.0])
F = np.array([2.0, 2.0, 1.0, 2.0])


def test_point_scores_by_hand() -> None:
    assert scores.mse(Y, F) == 1.5
    assert scores.mae(Y, F) == 1.0
    assert scores.rmse(Y, F) == math.sqrt(1.5)
    assert scores.mape(Y, F) == pytest.approx((1 + 0 + 0.5) / 3)  # the y = 0 term is left out
    assert scores.smape(Y, F) == pytest.approx((2 / 3 + 0 + 2 + 2 / 3) / 4)
    assert scores.wape(Y, F) == pytest.approx(4 / 7)


def test_zero_denominator_rules() -> None:
    zeros = np.zeros(3)
    assert math.isnan(scores.mape(zeros, np.ones(3)))  # every y is 0
    assert math.isnan(scores.wape(zeros, np.ones(3)))
    assert scores.smape([0.0, 1.0], [0.0, 1.0]) == 0.0  # y = f = 0 is a perfect forecast
    assert scores.smape([0.0], [3.0]) == 2.0  # the largest sMAPE
    constant = np.ones((5, 2))
    assert math.isnan(scores.mase(np.ones((2, 2)), np.zeros((2, 2)), constant, period=1))  # scale 0


def test_mase_by_hand() -> None:
    train = np.array([[1.0, 10.0], [2.0, 10.0], [4.0, 13.0], [7.0, 13.0]])
    y = np.array([[3.0, 12.0], [5.0, 12.0]])
    f = np.array([[1.0, 12.0], [5.0, 10.0]])  # MAE per channel: 1 and 1
    np.testing.assert_allclose(scores.seasonal_naive_scale(train, None), [2.0, 1.0])  # lag 1: (1,2,3), (0,3,0)
    assert scores.mase(y, f, train) == pytest.approx((1 / 2 + 1 / 1) / 2)
    np.testing.assert_allclose(scores.seasonal_naive_scale(train, 2), [4.0, 3.0])  # lag 2: (3,5), (3,3)
    assert scores.mase(y, f, train, period=2) == pytest.approx((1 / 4 + 1 / 3) / 2)
    # windows x horizon x channels: channels stay on the last axis
    assert scores.mase(np.stack([y, y]), np.stack([f, f]), train) == pytest.approx(0.75)


def _long(y: np.ndarray, f: np.ndarray, start: int = 0) -> pd.DataFrame:
    """(T, C) arrays as utilsforecast's long frame: one series (unique_id) per channel."""
    t, c = y.shape
    return pd.DataFrame({"unique_id": np.repeat([f"c{i}" for i in range(c)], t),
                         "ds": np.tile(np.arange(start, start + t), c),
                         "y": y.T.ravel(), "model": f.T.ravel()})


def test_point_scores_equal_utilsforecast() -> None:
    rng = np.random.default_rng(0)
    train = 5 + rng.standard_normal((200, 3)).cumsum(axis=0)
    y = 5 + rng.standard_normal((48, 3))
    f = y + rng.standard_normal((48, 3))
    y[3, 1] = 0.0  # MAPE leaves this term out, as utilsforecast does
    frame = _long(y, f, start=200)

    def ref(fn, *args) -> np.ndarray:
        return fn(frame, ["model"], *args)["model"].to_numpy()  # one value per channel

    for c in range(3):  # per series
        assert scores.mse(y[:, c], f[:, c]) == pytest.approx(ref(ufl.mse)[c], rel=1e-12)
        assert scores.mae(y[:, c], f[:, c]) == pytest.approx(ref(ufl.mae)[c], rel=1e-12)
        assert scores.rmse(y[:, c], f[:, c]) == pytest.approx(ref(ufl.rmse)[c], rel=1e-12)
        assert scores.mape(y[:, c], f[:, c]) == pytest.approx(ref(ufl.mape)[c], rel=1e-12)
        assert scores.smape(y[:, c], f[:, c]) == pytest.approx(2 * ref(ufl.smape)[c], rel=1e-12)  # theirs: no factor 2
        assert scores.wape(y[:, c], f[:, c]) == pytest.approx(ref(ufl.wape)[c], rel=1e-12)
    for period in (1, 24):  # MASE: mean over channels of utilsforecast's per-series MASE
        expected = ufl.mase(frame, ["model"], period, _long(train, train))["model"].mean()
        assert scores.mase(y, f, train, period=period) == pytest.approx(expected, rel=1e-12)


def test_pinball_and_quantile_crps_by_hand_and_against_scoringrules() -> None:
    # y = 1, quantiles (0, 1, 3) at levels (0.1, 0.5, 0.9): losses 0.1, 0, 0.2
    assert scores.pinball_loss([1.0], [[0.0, 1.0, 3.0]], [0.1, 0.5, 0.9]) == pytest.approx(0.1)
    assert scores.crps_quantiles([1.0], [[0.0, 2.0]], [0.25, 0.75]) == pytest.approx(0.5)  # 2/2 (0.25 + 0.25)
    rng = np.random.default_rng(1)
    y = rng.standard_normal((4, 5))
    levels = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    q = np.sort(rng.standard_normal((4, 5, 5)), axis=-1)
    reference = scoringrules.crps_quantile(y, q, levels, backend="numpy").mean()
    assert scores.crps_quantiles(y, q, levels) == pytest.approx(reference, rel=1e-12)
    assert scores.pinball_loss(y, q, levels) == pytest.approx(reference / 2, rel=1e-12)  # CRPS_Q = 2 x mean pinball


def test_crps_converges_to_the_closed_form_gaussian_crps() -> None:
    y = np.array([-1.5, 0.0, 0.3, 2.0])
    mu, sigma = 0.2, 1.3
    exact = scoringrules.crps_normal(y, mu, sigma, backend="numpy").mean()
    levels = (np.arange(1, 400) - 0.5) / 399
    quantiles = np.broadcast_to(norm.ppf(levels, mu, sigma), (4, 399))
    assert scores.crps_quantiles(y, quantiles, levels) == pytest.approx(exact, rel=1e-4)
    draws = np.broadcast_to(norm.ppf((np.arange(1, 2001) - 0.5) / 2000, mu, sigma), (4, 2000))
    assert scores.crps_samples(y, draws) == pytest.approx(exact, rel=1e-3)


def test_sample_crps_by_hand() -> None:
    # draws (0, 2), y = 1: E|X - y| = 1, E|X - X'| / 2 = (0 + 2 + 2 + 0) / 4 / 2 = 0.5
    assert scores.crps_samples([1.0], [[0.0, 2.0]]) == pytest.approx(0.5)
    assert scores.crps_samples([1.0], [[1.0]]) == 0.0  # one draw: the absolute error


def test_interval_coverage_and_width_by_hand_and_against_utilsforecast() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    lo = np.array([0.0, 2.0, 3.5, 0.0])
    hi = np.array([1.0, 3.0, 4.0, 3.0])
    assert scores.interval_coverage(y, lo, hi) == 0.5  # both ends count as inside
    assert scores.interval_width(lo, hi) == pytest.approx((1 + 1 + 0.5 + 3) / 4)
    frame = pd.DataFrame({"unique_id": "a", "ds": range(4), "y": y, "m-lo-80": lo, "m-hi-80": hi})
    assert scores.interval_coverage(y, lo, hi) == ufl.coverage(frame, ["m"], 80)["m"].iloc[0]


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        scores.mse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        scores.mae([], [])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        scores.pinball_loss([1.0], [[1.0, 2.0]], [0.5, 1.0])
    with pytest.raises(ValueError, match="one quantile level per"):
        scores.crps_quantiles([1.0], [[1.0, 2.0]], [0.5])
    with pytest.raises(ValueError, match="crossed"):
        scores.interval_width([2.0], [1.0])
    with pytest.raises(ValueError, match="longer than the seasonal lag"):
        scores.seasonal_naive_scale(np.ones((24, 2)), 24)
    with pytest.raises(ValueError, match="one scale per channel"):
        scores.mase(np.ones((3, 2)), np.ones((3, 2)), np.ones((10, 3)))


def test_streamed_evaluate_equals_the_scores_of_every_prediction() -> None:
    """evaluate keeps only running sums; its numbers equal the scores of all predictions at once."""
    data = prepare_data("synthetic:length=900,channels=3", lookback=48, horizon=12)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 3, 12 * 3), torch.nn.Unflatten(1, (12, 3)))
    scale = mase_scale(data)
    got = evaluate(model, data.test, batch_size=50, scaler=data.scaler, raw_values=data.values, mase_scale=scale)
    n = len(data.test)
    assert n % 50 != 0  # a partial last batch
    pred = predict_windows(model, data.test, batch_size=n, device=torch.device("cpu")).double().numpy()
    true = data.test.batch(torch.arange(n))[1].double().numpy()
    pred_raw = pred * data.scaler.std + data.scaler.mean
    true_raw = np.stack([data.values[list(data.test.target_rows(i))] for i in range(n)]).astype(np.float64)
    start, end = data.split_rows["train"]
    train_raw = data.values[start:end]
    expected = {
        "mse": scores.mse(true, pred), "mae": scores.mae(true, pred), "rmse": scores.rmse(true, pred),
        "mse_raw": scores.mse(true_raw, pred_raw), "mae_raw": scores.mae(true_raw, pred_raw),
        "rmse_raw": scores.rmse(true_raw, pred_raw), "mape_raw": scores.mape(true_raw, pred_raw),
        "smape_raw": scores.smape(true_raw, pred_raw), "wape_raw": scores.wape(true_raw, pred_raw),
        "mase": scores.mase(true_raw, pred_raw, train_raw, seasonal_period(data.freq)),
    }
    assert set(got) == set(expected) | {"windows"} and got["windows"] == n
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6), key
    np.testing.assert_allclose(scale, scores.seasonal_naive_scale(train_raw, 24))  # hourly synthetic data: a day
    # MASE is scale-free: the same from the standardized errors and scale
    scaled_train = data.scaled[start:end].double().numpy()
    assert scores.mase(true, pred, scaled_train, 24) == pytest.approx(got["mase"], rel=1e-5)
    with pytest.raises(ValueError, match="original scale"):
        evaluate(model, data.test, mase_scale=scale)
