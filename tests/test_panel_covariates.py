"""Covariates of a long-format panel: past-only and future-known columns and calendar features per
series, their per-series scalers, prediction with a long future table, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from samovar import Forecaster
from samovar.cli import app
from samovar.data import DataError, Scaler, prepare_data
from samovar.data.covariates import calendar_features
from samovar.data.registry import SplitProtocol
from samovar.data.splits import own_rows
from samovar.training.metrics import window_forecast
from samovar.training.runs import build_model

L, H = 48, 12
SMALL = {"samovar": {"d_model": 32}, "fixedvar": {"d_model": 32}, "lintrans": {"d_model": 32},
         "itransformer": {"d_model": 16, "d_ff": 16}}


def make(n_series: int = 8, *, lengths=(250, 400), seed: int = 0, period: int = 24) -> pd.DataFrame:
    """Hourly series of random lengths and starts: y = level + a seasonal sine + 2 * x + small noise, where x
    (white noise, future-known) cannot be predicted from the history; p is an unrelated past-only column."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_series):
        n = int(rng.integers(*lengths))
        start = pd.Timestamp("2021-01-01") + pd.Timedelta(hours=int(rng.integers(0, 2000)))
        t = np.arange(n)
        x, p = rng.standard_normal(n), rng.standard_normal(n)
        y = (rng.normal(0, 5) + rng.uniform(1, 3) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6)) + 2 * x
             + 0.1 * rng.standard_normal(n))
        frames.append(pd.DataFrame({"unique_id": f"s{k:02d}", "ds": pd.date_range(start, periods=n, freq="h"),
                                    "y": y, "x": x, "p": p}))
    return pd.concat(frames, ignore_index=True)


def future_table(df: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """x at the H hours after each series' last row (long format: unique_id, ds, x)."""
    rng = np.random.default_rng(seed)
    last = df.groupby("unique_id", sort=False)["ds"].max()
    return pd.concat([pd.DataFrame({"unique_id": sid, "ds": pd.date_range(end, periods=H + 1, freq="h")[1:],
                                    "x": rng.standard_normal(H)}) for sid, end in last.items()], ignore_index=True)


def test_a_future_covariate_that_drives_y_is_read_and_pays_off():
    """DLinear with x as a future-known covariate against the same recipe without it (x then carried, not
    read), 3 epochs. Measured: test MSE in data units 0.071 against 4.24 (the 2·x term, variance 4, is
    unpredictable without x); x + 1 over the horizon moves the forecast by 2.02 on average (1.77 .. 2.47)."""
    df = make()
    common = dict(lookback=L, horizon=H, epochs=3, lr=0.01, quiet=True)
    without = Forecaster("dlinear", **common).fit(df, fit_mode="holdout")
    with_x = Forecaster("dlinear", future=["x"], **common).fit(df, fit_mode="holdout")
    assert with_x.run.config["data"]["inputs"] == {"targets": ["y"], "past": [], "future": ["x"], "calendar": []}
    assert "inputs" not in without.run.config["data"]
    assert with_x.test_metrics["mse_raw"] < without.test_metrics["mse_raw"] / 10
    future = future_table(df)
    base = with_x.predict(df, future=future)
    moved = with_x.predict(df, future=future.assign(x=future["x"] + 1.0))
    assert list(base.columns) == ["unique_id", "ds", "dlinear"] and len(base) == 8 * H
    shift = (moved["dlinear"] - base["dlinear"]).to_numpy()
    assert 1.5 < shift.mean() < 2.5 and shift.min() > 1.0
    # the rows of the future table may come in any order, with other series and times beside them
    shuffled = pd.concat([future, future.assign(unique_id="other")]).sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(with_x.predict(df, future=shuffled), base)


@pytest.mark.parametrize("name", ["itransformer", "samovar", "fixedvar", "lintrans", "dlinear"])
def test_a_past_only_covariate_is_never_read_after_the_origin(name):
    """Each series' last test window: p over its horizon (the series' last H rows) moved by 100 changes no
    forecast; p moved within the lookback changes the forecast of a model that mixes channels."""
    def forecast(frame):
        data = prepare_data(frame, lookback=L, horizon=H, past=["p"], future=["x"], calendar=True)
        model = build_model(name, L, H, data.channels, SMALL.get(name), seed=0, targets=data.target_channels,
                            future_channels=data.future_channels).eval()
        last = torch.as_tensor(np.cumsum(data.test.counts) - 1)  # each series' last window
        with torch.no_grad():
            return window_forecast(model, data.test, last, "cpu")[0][..., 0], data

    df = make(4)
    base, data = forecast(df)
    assert data.columns == ["y", "p"] and data.channels == 2 and data.future_channels == 1 + 4
    from_end = df.groupby("unique_id").cumcount(ascending=False)
    after = df.copy()
    after.loc[from_end < H, "p"] += 100.0
    assert torch.equal(forecast(after)[0], base)
    if name != "dlinear":  # DLinear forecasts each channel from its own history only
        within = df.copy()
        within.loc[(from_end >= H) & (from_end < H + 8), "p"] += 1.0
        assert (forecast(within)[0] - base).abs().max() > 1e-5


def test_covariate_scalers_are_per_series_and_fit_on_its_training_rows():
    df = make(5)
    data = prepare_data(df, lookback=L, horizon=H, past="p", future="x")
    assert data.scaler.mean.shape == (5, 2) and data.future_scaler.mean.shape == (5, 1)
    protocol = SplitProtocol("ratio", 0.7, 0.1, 0.2)
    for s, (sid, part) in enumerate(df.groupby("unique_id", sort=False)):
        a, b = own_rows(protocol, len(part))["train"]
        by_hand = Scaler.fit(part[["y", "p"]].to_numpy()[a:b])
        np.testing.assert_allclose(data.scaler.mean[s], by_hand.mean, rtol=1e-6)
        np.testing.assert_allclose(data.scaler.std[s], by_hand.std, rtol=1e-6)
        np.testing.assert_allclose(data.future_scaler.mean[s, 0], part["x"].to_numpy()[a:b].mean(), rtol=1e-6)
    # changing a series' validation and test rows leaves every scaler as it was
    changed = df.copy()
    tail = changed.groupby("unique_id").cumcount(ascending=False) < 60
    changed.loc[tail, ["x", "p"]] *= 50.0
    again = prepare_data(changed, lookback=L, horizon=H, past="p", future="x")
    np.testing.assert_array_equal(again.scaler.mean, data.scaler.mean)
    np.testing.assert_array_equal(again.future_scaler.std, data.future_scaler.std)
    # the scaled covariates of each window are its own series' rows
    idx = torch.arange(len(data.train))
    x, _ = data.train.batch(idx)
    cov = data.train.future_batch(idx)
    rows = data.train.target_row_index(idx.numpy())[:, :1] - L + np.arange(L + H)[None, :]
    series = data.train.series_of(idx)
    want = (data.panel.covariate_values(["x"])[rows][..., 0] - data.future_scaler.mean[series, :1]) / \
        data.future_scaler.std[series, :1]
    np.testing.assert_allclose(cov[..., 0].numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x[..., 1].numpy(), ((data.values[rows[:, :L], 1] - data.scaler.mean[series, 1:])
                                                   / data.scaler.std[series, 1:]), rtol=1e-5, atol=1e-5)


def test_calendar_features_come_from_each_series_own_dates():
    df = make(3)
    data = prepare_data(df, lookback=L, horizon=H, calendar=True)
    assert data.inputs.calendar == ("hour_of_day", "day_of_week", "day_of_month", "day_of_year")
    idx = torch.arange(0, len(data.val))
    cov = data.val.future_batch(idx)
    first = data.val.target_row_index(idx.numpy())[:, 0] - L
    for i in range(len(idx)):
        dates = data.panel.times[first[i]:first[i] + L + H]
        np.testing.assert_array_equal(cov[i].numpy(), calendar_features(dates, list(data.inputs.calendar)))


def test_missing_future_rows_are_one_error_naming_the_series(tmp_path):
    df = make(4)
    fc = Forecaster("dlinear", lookback=L, horizon=H, future="x", calendar=True, epochs=1, quiet=True).fit(df)
    future = future_table(df)
    with pytest.raises(ValueError) as err:
        fc.predict(df, future=future[future["unique_id"] != "s02"])
    assert "lack rows for 1 of 4 series: 's02' (missing 12 of its 12 times" in str(err.value)
    assert "\n" not in str(err.value)
    part = future.drop(future.index[(future["unique_id"] == "s01")][-2:])
    with pytest.raises(ValueError, match=r"'s01' \(missing 2 of its 12 times"):
        fc.predict(df, future=part)
    with pytest.raises(ValueError, match=r"reads future-known covariates \['x'\]"):
        fc.predict(df)
    with pytest.raises(ValueError, match=r"lack the column\(s\) \['x'\]"):
        fc.predict(df, future=future.drop(columns="x"))
    with pytest.raises(ValueError, match=r"input lacks the covariate column\(s\) \['x'\]"):
        fc.predict(df.drop(columns="x"), future=future)


def test_roles_and_capabilities_are_checked():
    df = make(3)
    with pytest.raises(DataError, match="forecasts its value column 'y'"):
        prepare_data(df, lookback=L, horizon=H, target="x")
    with pytest.raises(DataError, match=r"past column\(s\) \['nope'\] are not in the data"):
        prepare_data(df, lookback=L, horizon=H, past="nope")
    with pytest.raises(DataError, match="both past and future"):
        prepare_data(df, lookback=L, horizon=H, past="x", future="x")
    steps = df.assign(ds=df.groupby("unique_id").cumcount())
    with pytest.raises(DataError, match="calendar features need dates"):
        prepare_data(steps, lookback=L, horizon=H, calendar=True)
    with pytest.raises(ValueError, match="model 'patchtst' does not take future-known covariates"):
        Forecaster("patchtst", lookback=L, horizon=H, future="x").fit(df)
    # without options the extra columns stay carried, as before
    plain = prepare_data(df, lookback=L, horizon=H)
    assert plain.columns == ["y"] and plain.covariates is None and any("not model inputs" in n for n in plain.notes)


def test_cli_panel_with_covariates_round_trip(tmp_path):
    df = make(4)
    data_path, future_path = tmp_path / "panel.csv", tmp_path / "next.csv"
    df.to_csv(data_path, index=False)
    future_table(df).to_csv(future_path, index=False)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})

    result = invoke("train", "--model", "dlinear", "--dataset", data_path, "--lookback", L, "--horizon", H,
                    "--epochs", 1, "--quiet", "--past", "p", "--future", "x", "--calendar", "--fit-mode", "holdout",
                    "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "targets: y; past-only covariates: p; future-known covariates: x, hour_of_day" in result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    out = tmp_path / "f.csv"
    ok = invoke("forecast", run_dir, "--input", data_path, "--future", future_path, "--output", out, "--levels", 90)
    assert ok.exit_code == 0, ok.output
    written = pd.read_csv(out)
    assert list(written.columns) == ["unique_id", "ds", "dlinear", "dlinear-lo-90", "dlinear-hi-90"]
    fc = Forecaster.load(run_dir)
    np.testing.assert_allclose(written["dlinear"].to_numpy(),
                               fc.predict(df, future=future_table(df))["dlinear"].to_numpy(), rtol=1e-6)
    future_table(df).query("unique_id != 's03'").to_csv(future_path, index=False)
    missing = invoke("forecast", run_dir, "--input", data_path, "--future", future_path, "--output", out)
    lines = [line for line in missing.output.splitlines() if line.strip()]
    assert missing.exit_code == 2 and len(lines) == 1 and "'s03'" in lines[0], missing.output
    # the run directory rebuilds the same inputs: re-scoring it gives the test metrics the run recorded
    from samovar.training import rundir as rd
    from samovar.training.runs import evaluate_run

    recorded = rd.read_json(run_dir / rd.TEST_METRICS)
    assert evaluate_run(run_dir, device="cpu")["mse"] == pytest.approx(recorded["mse"], rel=1e-6)
