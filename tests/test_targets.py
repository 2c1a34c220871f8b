"""Targets (TSLib's M / MS / S settings): every model reads all series channels, and its loss,
scores, intervals and quantile scores count the target channels only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samovar import models
from samovar.data import prepare_data
from samovar.training.intervals import calibrate
from samovar.training.metrics import evaluate, quantile_scores
from samovar.training.quantile import QuantileForecaster
from samovar.training.runs import build_model, fill_seasonal_period

L, H, C = 96, 24, 3
SMALL = {"samovar": {"d_model": 32}, "fixedvar": {"d_model": 32}, "lintrans": {"d_model": 32},
         "itransformer": {"d_model": 16, "d_ff": 16}, "patchtst": {"d_model": 16, "d_ff": 16},
         "transformer": {"d_model": 16, "d_ff": 16}, "encformer": {"d_model": 16},
         "cats_xattn": {"d_model": 16, "d_ff": 16}}
SOURCE = "synthetic:length=900,channels=3,seed=4"


def small_model(name: str, targets: int = 1, future_channels: int = 0) -> models.ForecastModel:
    kwargs = fill_seasonal_period(name, SMALL.get(name), "h")
    return build_model(name, L, H, C, kwargs, seed=0, targets=targets, future_channels=future_channels)


TRAINABLE = [n for n in models.available() if models.model_class(n).trainable]
# models whose loss is the default MSE of forward (the others have their own objective, checked through y)
FORWARD_LOSS = [n for n in TRAINABLE if models.model_class(n).training_loss is models.ForecastModel.training_loss]


@pytest.mark.parametrize("name", TRAINABLE)
def test_loss_has_no_gradient_through_non_target_channels(name):
    """MS: the loss does not depend on the non-target channels of y, and no gradient reaches the
    non-target outputs of the forecast (captured by a hook on every submodule's output would be
    model-specific, so the forecast is checked through y: d loss / d y is -2 (pred - y) / n on
    the targets and exactly 0 elsewhere)."""
    model = small_model(name).train()
    if hasattr(model, "random_drop_training"):  # CATS-ATS may drop the target channel from x and y at random
        model.random_drop_training = False
    torch.manual_seed(1)
    x = torch.randn(4, L, C)
    y = torch.randn(4, H, C, requires_grad=True)
    torch.manual_seed(2)
    model.training_loss(x, y).backward()
    assert torch.all(y.grad[..., 1:] == 0)
    assert y.grad[..., :1].abs().sum() > 0
    changed = y.detach().clone()
    changed[..., 1:] += 100.0
    torch.manual_seed(2)
    again = model.training_loss(x, changed)
    torch.manual_seed(2)
    assert torch.equal(again, model.training_loss(x, y.detach()))


@pytest.mark.parametrize("name", FORWARD_LOSS)
def test_forecast_outputs_of_non_targets_get_no_gradient(name):
    """The forecast's non-target channels get zero gradient: the loss is a function of the target
    part of the forecast only (checked on the model's own forward output through a hook)."""
    model = small_model(name).train()
    captured = {}

    def keep(module, args, out):
        out.retain_grad()
        captured["out"] = out

    model.register_forward_hook(keep)
    x, y = torch.randn(4, L, C), torch.randn(4, H, C)
    torch.manual_seed(0)
    model.training_loss(x, y).backward()
    assert torch.all(captured["out"].grad[..., 1:] == 0)
    assert captured["out"].grad[..., :1].abs().sum() > 0


@pytest.mark.parametrize("name", ["samovar", "fixedvar", "lintrans"])
def test_next_segment_loss_counts_target_segments_only(name):
    """The ARX models' objective (forecast + predictions inside the lookback) ignores non-target channels."""
    model = small_model(name)
    pred, segments, mean, std = model.segment_forecasts(torch.randn(2, L, C))
    pred = pred.detach().requires_grad_(True)
    model.next_segment_loss(pred, segments, mean, std, torch.randn(2, H, C)).backward()
    assert torch.all(pred.grad[:, 1:] == 0) and pred.grad[:, :1].abs().sum() > 0


def test_default_is_every_column_a_target():
    data = prepare_data(SOURCE, lookback=L, horizon=H)
    assert data.target_channels == C and data.inputs.is_default(data.columns)
    model = small_model("dlinear", targets=C)
    assert model.target_part(torch.ones(1, H, C)).shape[-1] == C


def test_ms_scores_equal_the_s_scores_of_the_target():
    """Naive (last value) forecasts each channel alone, so its MS scores of target ch2 equal its S
    scores (ch2 in, ch2 out): point scores, intervals and quantile scores count the target only."""
    ms = prepare_data(SOURCE, lookback=L, horizon=H, target="ch2")
    s = prepare_data(SOURCE, lookback=L, horizon=H, target="ch2", past=[])
    assert ms.columns == ["ch2", "ch0", "ch1"] and ms.inputs.past == ("ch0", "ch1") and s.columns == ["ch2"]
    naive_ms = build_model("naive", L, H, 3, targets=1)
    naive_s = build_model("naive", L, H, 1)
    from samovar.training.metrics import mase_scale

    got = evaluate(naive_ms, ms.test, scaler=ms.scaler, raw_values=ms.values, mase_scale=mase_scale(ms))
    want = evaluate(naive_s, s.test, scaler=s.scaler, raw_values=s.values, mase_scale=mase_scale(s))
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12), key
    cal_ms, cal_s = calibrate(naive_ms, ms.val), calibrate(naive_s, s.val)
    assert cal_ms.radii.shape == cal_s.radii.shape == (99, H, 1)
    assert torch.equal(cal_ms.radii, cal_s.radii)
    torch.manual_seed(0)
    q_ms = QuantileForecaster(build_model("naive", L, H, 3, targets=1), (0.1, 0.5, 0.9))
    torch.manual_seed(0)
    q_s = QuantileForecaster(build_model("naive", L, H, 1), (0.1, 0.5, 0.9))
    got, want = quantile_scores(q_ms, ms.test), quantile_scores(q_s, s.test)
    assert got["pinball"] == pytest.approx(want["pinball"], rel=1e-12)
    assert got["coverage"] == pytest.approx(want["coverage"], rel=1e-12)


def test_ms_training_matches_when_non_targets_change_after_the_origin():
    """Training in MS reads non-target channels only as inputs: the fitted forecast of the target
    does not move when a past-only column's values change in the test rows (never trained on)."""
    import pandas as pd

    from samovar import Forecaster

    rng = np.random.default_rng(0)
    n = 700
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="h"),
                       "y": np.sin(np.arange(n) / 5) + 0.1 * rng.standard_normal(n), "x": rng.standard_normal(n)})
    fc = Forecaster("dlinear", lookback=48, horizon=12, target="y", epochs=1, quiet=True, lr=0.01)
    fc.fit(df.iloc[:600], fit_mode="epochs")
    assert fc.targets == ["y"]
    out = fc.predict(df.iloc[:650])
    assert list(out.columns) == ["y"]
    later = df.copy()
    later.loc[650:, "x"] += 50.0  # after the origin: never read
    assert np.array_equal(fc.predict(later.iloc[:650]).to_numpy(), out.to_numpy())
