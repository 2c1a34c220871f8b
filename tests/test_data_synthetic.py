"""The built-in synthetic dataset: deterministic by seed, labelled synthetic, with real structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samovar.data import DataError, make_synthetic, prepare_data


def test_same_seed_same_numbers_other_seed_other_numbers():
    a = make_synthetic(length=600, channels=3, seed=7)
    b = make_synthetic(length=600, channels=3, seed=7)
    c = make_synthetic(length=600, channels=3, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.iloc[:, 1:].to_numpy(), c.iloc[:, 1:].to_numpy())


def test_default_shape_name_and_flag():
    data = prepare_data("synthetic", lookback=96, horizon=24)
    assert data.name == "synthetic" and data.synthetic
    assert data.values.shape == (5000, 7) and data.columns == [f"ch{c}" for c in range(7)]
    assert data.freq == "h" and data.dates[0] == pd.Timestamp("2020-01-01")
    assert np.isfinite(data.values).all()
    # the name stays "synthetic" whichever way it is built
    frame = make_synthetic(length=400, channels=2, seed=3)
    assert prepare_data(frame, lookback=24, horizon=12).synthetic
    options = prepare_data("Synthetic:seed=3,length=400,channels=2", lookback=24, horizon=12)
    assert options.name == "synthetic" and options.synthetic and options.values.shape == (400, 2)
    np.testing.assert_array_equal(options.values, frame.iloc[:, 1:].to_numpy(dtype=np.float32))


def test_daily_cycle_and_cross_channel_lag_are_present():
    values = make_synthetic(length=4000, channels=2, seed=0).iloc[:, 1:].to_numpy()
    detrended = values - pd.DataFrame(values).rolling(169, center=True, min_periods=1).mean().to_numpy()
    x = detrended[200:-200, 0]
    autocorr_24 = np.corrcoef(x[:-24], x[24:])[0, 1]
    autocorr_12 = np.corrcoef(x[:-12], x[12:])[0, 1]
    assert autocorr_24 > 0.5 and autocorr_24 > autocorr_12  # a daily (24-step) cycle
    # channel 1 = its own signal + a delayed, scaled copy of channel 0: switching the coupling off
    # removes exactly an affine image of channel 0 shifted by the recorded lag.
    coupled = make_synthetic(length=4000, channels=2, seed=0)
    plain = make_synthetic(length=4000, channels=2, seed=0, coupling=0.0)
    lag = coupled.attrs["coupling_lags"][1]
    assert 1 <= lag <= 12
    added = (coupled["ch1"] - plain["ch1"]).to_numpy()[lag:]
    np.testing.assert_allclose(coupled["ch0"], plain["ch0"])
    assert np.corrcoef(added, coupled["ch0"].to_numpy()[:-lag])[0, 1] == pytest.approx(1.0, abs=1e-9)
    assert np.std(added) > 0.1 * np.std(plain["ch1"])  # the coupling is a visible part of the signal


def test_bad_synthetic_options():
    with pytest.raises(DataError, match="synthetic channels"):
        make_synthetic(channels=0)
    with pytest.raises(DataError, match="bad synthetic option 'speed=3'"):
        prepare_data("synthetic:speed=3", lookback=4, horizon=2)
