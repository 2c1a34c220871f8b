"""Rolling-origin evaluation of many series in long format: `Forecaster.cross_validation` and
`Forecaster.backtest` on a panel, `samovar backtest` and `samovar forecast --backtest-start` on a long file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import samovar
from samovar.cli import app
from samovar.data import DataError

L, H = 24, 6
OPTIONS = dict(lr=5e-3, epochs=1, batch_size=64, quiet=True)
METRICS = ["mse", "mae", "mse_raw", "mae_raw"]


def make(lengths=(130, 110, 150), *, ends_together: bool = False, seed: int = 0) -> pd.DataFrame:
    """Hourly series in long format (unique_id, ds, y, x, p): y = level + a daily sine + x + noise, with x
    white noise (a future-known covariate) and p unrelated white noise (a past-only one). Each series
    starts 5 hours after the previous one (ends_together: all end at the same hour)."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, n in enumerate(lengths):
        start = pd.Timestamp("2022-03-01") + pd.Timedelta(hours=(max(lengths) - n) if ends_together else 5 * k)
        t = np.arange(n)
        x, p = rng.standard_normal(n), rng.standard_normal(n)
        y = rng.normal(0, 5) + rng.uniform(1, 3) * np.sin(2 * np.pi * t / 24) + x + 0.1 * rng.standard_normal(n)
        frames.append(pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range(start, periods=n, freq="h"),
                                    "y": y, "x": x, "p": p}))
    return pd.concat(frames, ignore_index=True)


def forecaster(**kwargs) -> samovar.Forecaster:
    return samovar.Forecaster("dlinear", lookback=L, horizon=H, **{**OPTIONS, **kwargs})


def before_cutoffs(df: pd.DataFrame, n_windows: int, step: int = H) -> dict[str, np.ndarray]:
    """Per series: its rows before each cut-off, oldest first (the docstring's n - H - step * (K - 1 - k))."""
    lengths = df.groupby("unique_id", sort=False).size()
    return {sid: n - H - step * np.arange(n_windows - 1, -1, -1) for sid, n in lengths.items()}


def test_one_series_panel_gives_the_numbers_of_the_wide_frame() -> None:
    df = make((160,))
    wide = df[["ds", "y"]].rename(columns={"ds": "date"})
    f_wide, per_wide, all_wide = forecaster().cross_validation(wide, n_windows=3, refit=2)
    f_long, per_long, all_long = forecaster().cross_validation(df[["unique_id", "ds", "y"]], n_windows=3, refit=2)
    assert list(f_long.columns) == ["unique_id", "cutoff", "ds", "step_ahead", "dlinear", "y"]
    assert list(f_long["cutoff"]) == list(f_wide["cutoff"]) and list(f_long["ds"]) == list(f_wide["date"])
    np.testing.assert_array_equal(f_long["dlinear"].to_numpy(), f_wide["y"].to_numpy())
    np.testing.assert_array_equal(f_long["y"].to_numpy(), f_wide["y_actual"].to_numpy())
    shared = ["cutoff", "fitted", "fit_rows", *METRICS]
    pd.testing.assert_frame_equal(per_long[shared], per_wide[shared])
    assert list(per_long["series"]) == [1, 1, 1]
    assert {k: all_long[k] for k in all_wide} == all_wide and all_long["series"] == 1 and all_wide["fits"] == 2


def test_cutoffs_come_from_each_series_end_and_forecasts_are_long(fits) -> None:
    df = make()  # ragged: the series end at different hours
    forecasts, per_cutoff, overall = forecaster().cross_validation(df, n_windows=3, step=4)
    cut = before_cutoffs(df, 3, step=4)
    assert list(forecasts.columns) == ["unique_id", "cutoff", "ds", "step_ahead", "dlinear", "y"]
    assert len(forecasts) == 3 * 3 * H and list(forecasts["step_ahead"]) == list(range(1, H + 1)) * 9
    assert list(pd.unique(forecasts["unique_id"])) == ["s0", "s1", "s2"]  # series, then cut-off, then time
    for sid, part in df.groupby("unique_id", sort=False):
        mine = forecasts[forecasts["unique_id"] == sid]
        assert list(pd.unique(mine["cutoff"])) == list(part["ds"].iloc[cut[sid]])  # a cut-off: the first row forecast
        assert list(mine.loc[mine["step_ahead"] == 1, "ds"]) == list(part["ds"].iloc[cut[sid]])
        assert mine["ds"].iloc[-1] == part["ds"].iloc[-1]  # the last cut-off leaves exactly one horizon
        rows = (cut[sid][:, None] + np.arange(H)).reshape(-1)
        np.testing.assert_allclose(mine["y"].to_numpy(), part["y"].to_numpy()[rows], rtol=1e-6)
    last_ending = df.groupby("unique_id", sort=False)["ds"].max().idxmax()
    assert list(per_cutoff["cutoff"]) == list(forecasts.loc[forecasts["unique_id"] == last_ending, "cutoff"].unique())
    assert overall["windows"] == 3 and overall["fits"] == 1 and overall["series"] == 3 and len(fits) == 1
    assert list(per_cutoff["fit_rows"]) == [sum(c[0] for c in cut.values())] * 3


def test_a_fit_trains_only_on_rows_before_each_series_cutoff(fits) -> None:
    """Spy: every fit reads exactly each series' rows before that fit's cut-off. Perturbation: values at and
    after a cut-off (y, and the past-only covariate p) change no forecast made at or before that cut-off."""
    df = make()
    fc = forecaster(past=["p"])
    base, _, _ = fc.cross_validation(df, n_windows=2, refit=1)
    cut = before_cutoffs(df, 2)
    assert len(fits) == 2
    for k, (source, data) in enumerate(fits):
        assert len(data.test) == 0 and data.columns == ["y", "p"]
        for sid, part in source.groupby("unique_id", sort=False):
            original = df[df["unique_id"] == sid]
            assert len(part) == cut[sid][k] and part["ds"].max() < original["ds"].iloc[cut[sid][k]]
    position = df.groupby("unique_id", sort=False).cumcount().to_numpy()
    first_cut = df["unique_id"].map({sid: c[0] for sid, c in cut.items()}).to_numpy()
    poisoned = df.copy()
    late = position >= first_cut
    poisoned.loc[late, "y"] += 1000.0
    poisoned.loc[late, "p"] -= 1000.0
    again, _, _ = fc.cross_validation(poisoned, n_windows=2, refit=1)
    first = base["cutoff"].isin(base.groupby("unique_id")["cutoff"].min())
    np.testing.assert_array_equal(again.loc[first, "dlinear"].to_numpy(), base.loc[first, "dlinear"].to_numpy())
    np.testing.assert_allclose(again.loc[first, "y"], base.loc[first, "y"] + 1000.0, rtol=1e-6)  # actuals moved
    moved = np.abs(again.loc[~first, "dlinear"] - base.loc[~first, "dlinear"])
    assert (moved > 1.0).all()  # the second fit and forecast read the moved rows: measured 163 .. 306


@pytest.mark.parametrize("refit,fitted", [(0, [True, False, False]), (1, [True, True, True]), (2, [True, False, True])])
def test_refit_count(fits, refit, fitted) -> None:
    df = make()
    _, per_cutoff, overall = forecaster().cross_validation(df, n_windows=3, refit=refit)
    assert list(per_cutoff["fitted"]) == fitted and overall["fits"] == sum(fitted) == len(fits)
    cut = before_cutoffs(df, 3)
    rows = [sum(c[k] for c in cut.values()) for k in range(3)]
    fit_rows = [rows[k] for k, f in enumerate(fitted) if f]
    assert [len(source) for source, _ in fits] == fit_rows
    assert list(per_cutoff["fit_rows"]) == [max(r for r in fit_rows if r <= rows[k]) for k in range(3)]


def test_pooled_and_per_series_metrics_by_hand(fits) -> None:
    df = make(ends_together=True)
    forecasts, per_series, overall = forecaster().cross_validation(df, n_windows=3, refit=2, per_series=True)
    _, pooled, _ = forecaster().cross_validation(df, n_windows=3, refit=2)
    assert list(per_series.columns) == ["unique_id", "cutoff", "fitted", "fit_rows", *METRICS]
    assert len(per_series) == 9 and list(per_series["unique_id"]) == ["s0"] * 3 + ["s1"] * 3 + ["s2"] * 3
    scalers = [data.scaler for _, data in fits[:2]]  # the fits of the first call: cut-offs 0 and 2
    model_of = {c: scalers[0 if k < 2 else 1] for k, c in enumerate(sorted(forecasts["cutoff"].unique()))}
    errors = forecasts["dlinear"] - forecasts["y"]
    std = np.array([model_of[c].std[model_of[c].ids.index(s), 0] for s, c in zip(forecasts["unique_id"], forecasts["cutoff"])])
    for row in per_series.to_dict("records"):
        mask = ((forecasts["unique_id"] == row["unique_id"]) & (forecasts["cutoff"] == row["cutoff"])).to_numpy()
        err, scale = errors.to_numpy()[mask], std[mask]
        assert row["mse_raw"] == pytest.approx(np.mean(err**2)) and row["mae_raw"] == pytest.approx(np.mean(np.abs(err)))
        assert row["mse"] == pytest.approx(np.mean((err / scale) ** 2))  # each series' own scale, of the model used
        assert row["mae"] == pytest.approx(np.mean(np.abs(err / scale)))
    for row in pooled.to_dict("records"):  # the series end together: one cut-off time for all
        mask = (forecasts["cutoff"] == row["cutoff"]).to_numpy()
        assert row["series"] == 3 and row["mse"] == pytest.approx(np.mean((errors.to_numpy()[mask] / std[mask]) ** 2))
        mine = per_series[per_series["cutoff"] == row["cutoff"]]
        for key in METRICS:  # one horizon per series and cut-off: pooled = the mean of the series
            assert row[key] == pytest.approx(mine[key].mean())
        assert row["fit_rows"] == mine["fit_rows"].sum()
    assert overall["mse"] == pytest.approx(np.mean((errors.to_numpy() / std) ** 2))
    assert overall["mae_raw"] == pytest.approx(np.mean(np.abs(errors.to_numpy())))
    with pytest.raises(ValueError, match="per_series=True .* long format; the input is wide"):
        forecaster().cross_validation(df[["ds", "y"]], n_windows=2, per_series=True)


def test_short_series_are_refused_by_name_or_dropped_and_reported(fits) -> None:
    df = pd.concat([make(), make((45,), seed=3).assign(unique_id="tiny")], ignore_index=True)
    with pytest.raises(DataError, match=r"1 of 4 series are too short for 2 cut-off\(s\) 6 rows apart.*at least 5\d "
                                        r"rows here\): 'tiny' \(45 rows\).*short_series='drop'") as info:
        forecaster().cross_validation(df, n_windows=2)
    assert "\n" not in str(info.value) and not fits
    forecasts, per_cutoff, overall = forecaster(short_series="drop").cross_validation(df, n_windows=2)
    assert "tiny" not in set(forecasts["unique_id"]) and overall["series"] == 3 and list(per_cutoff["series"]) == [3, 3]
    assert overall["excluded"] == [{"id": "tiny", "rows": 45}]
    assert "left out 1 of 4 series" in overall["notes"][0] and "'tiny' (45 rows)" in overall["notes"][0]
    assert "tiny" not in set(fits[0][0]["unique_id"])
    with pytest.raises(DataError, match="every series is too short"):
        forecaster(short_series="drop").cross_validation(df, n_windows=20)


def test_covariates_are_passed_through(fits) -> None:
    """past=, future=, calendar= reach every fit; the future-known x is read over each horizon (its actual
    values in the input), the past-only p never after the cut-off."""
    df = make()
    fc = forecaster(past=["p"], future=["x"], calendar=True, lr=0.02, epochs=2)
    base, _, _ = fc.cross_validation(df, n_windows=2)
    inputs = fits[0][1].inputs
    assert inputs.past == ("p",) and inputs.future == ("x",) and inputs.calendar
    last = base.groupby("unique_id")["cutoff"].transform("max") == base["cutoff"]
    position = df.groupby("unique_id", sort=False).cumcount()
    tail = (position >= df.groupby("unique_id")["y"].transform("size") - H).to_numpy()  # the last horizon
    moved_p, _, _ = fc.cross_validation(df.assign(p=np.where(tail, df["p"] + 100.0, df["p"])), n_windows=2)
    np.testing.assert_array_equal(moved_p["dlinear"].to_numpy(), base["dlinear"].to_numpy())
    moved_x, _, _ = fc.cross_validation(df.assign(x=np.where(tail, df["x"] + 1.0, df["x"])), n_windows=2)
    np.testing.assert_array_equal(moved_x.loc[~last, "dlinear"].to_numpy(), base.loc[~last, "dlinear"].to_numpy())
    shift = (moved_x.loc[last, "dlinear"] - base.loc[last, "dlinear"]).to_numpy()
    assert np.abs(shift).min() > 1e-3  # x over the horizon is read: measured |shift| 0.017 .. 0.054 (2 epochs)


# ---------------------------------------------------------------------- a fitted model: backtest, reuse


def test_backtest_of_a_panel_model_between_two_dates() -> None:
    df = make()
    head = df.groupby("unique_id", sort=False).head(80)
    fc = forecaster().fit(head, fit_mode="holdout")
    start, end = "2022-03-05 00:00", "2022-03-06 12:00"
    table, metrics = fc.backtest(df, start=start, end=end, stride=4, levels=[80])
    assert list(table.columns) == ["unique_id", "origin", "ds", "step_ahead", "dlinear", "dlinear-lo-80",
                                   "dlinear-hi-80", "y"]
    assert table["origin"].min() >= pd.Timestamp(start) and table["ds"].max() <= pd.Timestamp(end)
    for sid, part in df.groupby("unique_id", sort=False):
        origins = table.loc[table["unique_id"] == sid, "origin"].unique()
        first = max(L, int(part["ds"].searchsorted(pd.Timestamp(start))))
        assert origins[0] == part["ds"].iloc[first] and (np.diff(origins) == pd.Timedelta(hours=4)).all()
        # each forecast is what predict gives from the rows before its origin
        one = table[(table["unique_id"] == sid) & (table["origin"] == origins[1])]
        alone = fc.predict(part[part["ds"] < origins[1]])
        np.testing.assert_allclose(one["dlinear"].to_numpy(), alone["dlinear"].to_numpy(), rtol=1e-5, atol=1e-6)
    err = (table["dlinear"] - table["y"]).to_numpy()
    assert metrics["mae_raw"] == pytest.approx(np.mean(np.abs(err))) and metrics["series"] == 3
    assert metrics["forecasts"] == table.groupby(["unique_id", "origin"]).ngroups
    inside = (table["dlinear-lo-80"] <= table["y"]) & (table["y"] <= table["dlinear-hi-80"])
    assert metrics["coverage-80"] == pytest.approx(inside.mean())
    assert metrics["forecasts_on_seen_rows"] == 0  # validated up to row 63 of each series (2022-03-04 01:00 at the latest)
    early, seen = fc.backtest(df, end=end)
    assert seen["forecasts_on_seen_rows"] > 0 and seen["last_seen"] == str(head["ds"].max() - pd.Timedelta(hours=16))
    with pytest.raises(ValueError, match="looks like a row number.*give a date of the time column 'ds'"):
        fc.backtest(df, start=100)
    with pytest.raises(DataError, match=r"3 of 3 series are too short for a forecast of 6 steps.*every series"):
        fc.backtest(df, start="2022-03-07 12:00")  # s2, the last to end, ends at 15:00
    # cross-validation with this fitted model: only where its data ended before every first cut-off
    _, per_cutoff, overall = fc.cross_validation(df, n_windows=3, reuse_fitted=True)
    assert overall["fits"] == 0 and per_cutoff["fit_rows"].isna().all()
    with pytest.raises(ValueError, match="reaches past the first cut-off"):
        fc.cross_validation(df, n_windows=12, reuse_fitted=True)


# ---------------------------------------------------------------------- command line


runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("panel") / "stores.csv"
    short = make((45,), seed=3).assign(unique_id="tiny")
    (pd.concat([make(), short], ignore_index=True).drop(columns=["x", "p"])
     .rename(columns={"unique_id": "store", "ds": "week", "y": "sales"}).to_csv(path, index=False))
    return path


NAMES = ["--id-col", "store", "--time-col", "week", "--target-col", "sales"]
SMALL = ["--lookback", L, "--horizon", H, "--epochs", 1, "--lr", 0.005, "--batch-size", 64]


def test_cli_cross_validates_a_long_file(stores: Path, tmp_path: Path) -> None:
    out, png = tmp_path / "cv.csv", tmp_path / "cv.png"
    base = ["backtest", "--model", "dlinear", "--dataset", stores, *SMALL, "--windows", 2, "-o", out]
    result = invoke(*base, *NAMES, "--short-series", "drop", "--plot", png, "--columns", "s2,s0")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, parse_dates=["cutoff", "week"])
    assert list(table.columns) == ["store", "cutoff", "week", "step_ahead", "dlinear", "sales"]
    assert list(pd.unique(table["store"])) == ["s0", "s1", "s2"] and len(table) == 3 * 2 * H
    text = " ".join(result.output.split())
    assert "2 cut-offs from the end of each of 3 series, 1 fit(s)" in text and "rows of 3 series" in text
    assert "note: left out 1 of 4 series" in text and "'tiny' (45 rows)" in text and "overall" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    refused = invoke(*base, *NAMES)  # short series: one line naming it and the option that drops it
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert "'tiny' (45 rows)" in refused.output and "--short-series drop" in refused.output
    bad = invoke(*base, *NAMES, "--short-series", "sometimes")
    assert bad.exit_code == 2 and "--short-series 'sometimes': choose one of error, drop" in bad.output


def test_cli_run_dir_backtest_and_cross_validation_on_a_long_file(stores: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    train = invoke("train", "--model", "dlinear", "--dataset", stores, *SMALL, *NAMES, "--short-series", "drop",
                   "--quiet", "--runs-dir", runs)
    assert train.exit_code == 0, train.output
    (run,) = list(runs.iterdir())
    out = tmp_path / "bt.csv"
    result = invoke("forecast", run, "-i", stores, "-o", out, "--backtest-start", "2022-03-05 00:00",
                    "--short-series", "drop")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "forecasts of 3 series written" in text and "left out 1 of 4 series" in text
    assert "warning:" in text and "the last time the model trained or validated on" in text  # refit: every row seen
    table = pd.read_csv(out, parse_dates=["origin", "week"])
    assert list(table.columns) == ["store", "origin", "week", "step_ahead", "dlinear", "sales"]
    assert table["origin"].min() == pd.Timestamp("2022-03-05 00:00")
    row_number = invoke("forecast", run, "-i", stores, "-o", out, "--backtest-start", "100")
    assert row_number.exit_code == 2 and "looks like a row number" in row_number.output
    assert len(row_number.output.strip().splitlines()) == 1
    cv = tmp_path / "cv.csv"
    refit = invoke("backtest", run, "--input", stores, "--windows", 2, "--refit", 2, "-o", cv, "-q")
    assert refit.exit_code == 0 and "1 fit(s)" in refit.output, refit.output
    assert set(pd.read_csv(cv)["store"]) == {"s0", "s1", "s2"}  # the run's --short-series drop
    reused = invoke("backtest", run, "--input", stores, "--windows", 2, "-o", cv)
    assert reused.exit_code == 2 and "reaches past the first cut-off" in reused.output
    named = invoke("backtest", run, "--input", stores, "--id-col", "store", "-o", cv)
    assert named.exit_code == 2 and "drop --id-col" in named.output


def test_a_value_column_named_like_the_model_is_refused_with_the_fix() -> None:
    df = make((130, 110)).rename(columns={"y": "dlinear"})[["unique_id", "ds", "dlinear"]]
    with pytest.raises(ValueError, match=r"the model's name 'dlinear' is also a column .* rename the column 'dlinear'"):
        forecaster(target_col="dlinear").cross_validation(df, n_windows=1)
