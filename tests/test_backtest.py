"""Rolling-origin cross-validation: `Forecaster.cross_validation` and `samovar backtest`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import samovar
from samovar.cli import app
from samovar.data import make_synthetic

L, H = 24, 6
OPTIONS = dict(lr=5e-3, epochs=1, batch_size=64, quiet=True)
COLUMNS = ["ch0", "ch1"]
runner = CliRunner()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_synthetic(length=300, channels=2, seed=7)


def forecaster(**kwargs) -> samovar.Forecaster:
    return samovar.Forecaster("dlinear", lookback=L, horizon=H, **{**OPTIONS, **kwargs})


def test_cutoffs_sit_at_the_end_step_rows_apart(frame, fits) -> None:
    forecasts, per_cutoff, overall = forecaster().cross_validation(frame, n_windows=3, step=5)
    cutoffs = [300 - H - 10, 300 - H - 5, 300 - H]  # the last leaves exactly one horizon
    expected = list(frame["date"].iloc[cutoffs])
    assert list(per_cutoff["cutoff"]) == expected and list(forecasts["cutoff"].unique()) == expected
    assert len(forecasts) == 3 * H and list(forecasts["step_ahead"]) == list(range(1, H + 1)) * 3
    first = forecasts[forecasts["step_ahead"] == 1]
    assert list(first["date"]) == expected  # a cut-off is the first row forecast
    assert forecasts["date"].iloc[-1] == frame["date"].iloc[-1]
    np.testing.assert_allclose(forecasts["ch1_actual"].to_numpy()[-H:], frame["ch1"].to_numpy()[-H:], rtol=1e-6)
    assert overall["windows"] == 3 and overall["fits"] == 1 and len(fits) == 1
    _, default_step, _ = forecaster().cross_validation(frame, n_windows=2)  # step defaults to the horizon
    assert list(default_step["cutoff"]) == list(frame["date"].iloc[[300 - 2 * H, 300 - H]])


def test_a_refit_never_trains_on_rows_after_its_cutoff(frame, fits) -> None:
    poisoned = frame.copy()
    last = 300 - H
    poisoned.loc[last:, COLUMNS] = 1e9  # rows from the last cut-off on: no fit may read them
    _, per_cutoff, overall = forecaster().cross_validation(poisoned, n_windows=4, refit=True)
    cutoffs = [last - 3 * H, last - 2 * H, last - H, last]
    assert len(fits) == 4 and list(per_cutoff["fitted"]) == [True] * 4
    for (source, data), cut in zip(fits, cutoffs):
        assert source.index[-1] == cut - 1 and len(source) == cut  # exactly the rows before the cut-off
        np.testing.assert_array_equal(source[COLUMNS].to_numpy(), frame[COLUMNS].to_numpy()[:cut].astype(np.float32))
        assert len(data.test) == 0 and data.split_rows["val"][1] == cut  # train + validation, no test split
        assert np.abs(data.values).max() < 1e3 and (data.scaler.std < 1e3).all()
    assert list(per_cutoff["fit_rows"]) == cutoffs
    assert per_cutoff["mse_raw"].iloc[-1] > 1e15 and (per_cutoff["mse_raw"].iloc[:-1] < 1e3).all()


@pytest.mark.parametrize("refit,fitted", [
    (False, [True, False, False, False, False]),
    (2, [True, False, True, False, True]),
    (5, [True, False, False, False, False]),
])
def test_refit_every_k_cutoffs(frame, fits, refit, fitted) -> None:
    _, per_cutoff, overall = forecaster().cross_validation(frame, n_windows=5, step=3, refit=refit)
    assert list(per_cutoff["fitted"]) == fitted and overall["fits"] == sum(fitted) == len(fits)
    fit_cutoffs = [int(c) for c, f in zip(300 - H - 3 * np.arange(4, -1, -1), fitted) if f]
    assert [len(source) for source, _ in fits] == fit_cutoffs
    # each cut-off is forecast by the latest fit at or before it
    latest = [max(c for c in fit_cutoffs if c <= cut) for cut in 300 - H - 3 * np.arange(4, -1, -1)]
    assert list(per_cutoff["fit_rows"]) == latest


def test_metrics_per_cutoff_and_overall_by_hand(frame, fits) -> None:
    forecasts, per_cutoff, overall = forecaster().cross_validation(frame, n_windows=3, refit=1)
    stds = [data.scaler.std for _, data in fits]
    for (cutoff, part), row, std in zip(forecasts.groupby("cutoff", sort=False), per_cutoff.to_dict("records"), stds):
        assert cutoff == row["cutoff"]
        err = part[COLUMNS].to_numpy() - part[[f"{c}_actual" for c in COLUMNS]].to_numpy()
        assert row["mse_raw"] == pytest.approx(np.mean(err**2)) and row["mae_raw"] == pytest.approx(np.mean(np.abs(err)))
        assert row["mse"] == pytest.approx(np.mean((err / std) ** 2))  # the scaler of the model that forecast
        assert row["mae"] == pytest.approx(np.mean(np.abs(err / std)))
    for key in ("mse", "mae", "mse_raw", "mae_raw"):  # every cut-off has as many values: overall = their mean
        assert overall[key] == pytest.approx(per_cutoff[key].mean())


def test_a_fitted_model_is_reused_only_when_its_data_ended_before_the_cutoffs(frame, fits) -> None:
    fc = forecaster().fit(frame.iloc[:200])  # fit_mode "refit": the final model saw every row, 0..199
    assert fc.run.config["data"]["last_seen"] == str(frame["date"].iloc[199])
    holdout = forecaster().fit(frame.iloc[:200], fit_mode="holdout")  # 70/10/20 of 200 rows: it saw rows 0..159
    assert holdout.run.config["data"]["last_seen"] == str(frame["date"].iloc[159])
    fits.clear()
    forecasts, per_cutoff, overall = fc.cross_validation(frame, n_windows=4, reuse_fitted=True)
    assert not fits and overall["fits"] == 0 and not per_cutoff["fitted"].any() and per_cutoff["fit_rows"].isna().all()
    first = forecasts[forecasts["cutoff"] == per_cutoff["cutoff"].iloc[0]]
    np.testing.assert_allclose(first["ch0"].to_numpy(), fc.predict(frame.iloc[:300 - 4 * H])["ch0"].to_numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match=rf"up to {frame['date'].iloc[199]}, which reaches past the first cut-off.*refit=1"):
        fc.cross_validation(frame, n_windows=30, reuse_fitted=True)
    dateless = forecaster().fit(frame.drop(columns="date").iloc[:200])
    with pytest.raises(ValueError, match="unknown where this model's training data ended"):
        dateless.cross_validation(frame.drop(columns="date"), n_windows=2, reuse_fitted=True)
    with pytest.raises(ValueError, match="reuse_fitted=True .* refit=0"):
        fc.cross_validation(frame, n_windows=2, refit=1, reuse_fitted=True)


@pytest.mark.parametrize("kwargs,message", [
    (dict(n_windows=0), r"n_windows \(--windows\) must be an integer >= 1, got 0"),
    (dict(n_windows=2, step=0), r"step \(--step\) must be an integer >= 1"),
    (dict(n_windows=2, refit=-1), r"refit \(--refit\) must be an integer >= 0, got -1"),
    (dict(n_windows=47), r"first cut-off at row 18, but a forecast needs the 24 rows.*fewer windows \(n_windows, --windows\)"),
    (dict(n_windows=45), r"leave only 30 rows to train on.*train split has 26 rows.*fewer windows \(n_windows, --windows\), a smaller step \(step, --step\)"),
])
def test_errors_name_the_problem_and_the_fix(frame, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        forecaster().cross_validation(frame, **kwargs)


# ---------------------------------------------------------------------- command line


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def csv_input(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "data.csv"
    make_synthetic(length=300, channels=2, seed=7).to_csv(path, index=False)
    return path


SMALL = ["--lookback", L, "--horizon", H, "--epochs", 1, "--lr", 0.005, "--batch-size", 64]


def test_cli_cross_validates_a_model_on_a_csv(csv_input: Path, tmp_path: Path) -> None:
    out, png = tmp_path / "cv.csv", tmp_path / "cv.png"
    result = invoke("backtest", "--model", "dlinear", "--dataset", csv_input, *SMALL, "--windows", 3, "--refit", 2,
                    "-o", out, "--plot", png)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, parse_dates=["cutoff", "date"])
    assert list(table.columns) == ["cutoff", "date", "step_ahead", "ch0", "ch0_actual", "ch1", "ch1_actual"]
    assert table["cutoff"].nunique() == 3 and len(table) == 3 * H
    lines = [line for line in result.output.splitlines() if line.startswith("cut-off ")]
    assert len(lines) == 3 and "fitted on 282 rows" in lines[0] and "reused" in lines[1] and "fitted on 294" in lines[2]
    assert "overall" in result.output and "2 fit(s)" in result.output and "MSE raw" in result.output
    assert png.stat().st_size > 5000
    quiet = invoke("backtest", "--model", "dlinear", "--dataset", csv_input, *SMALL, "--windows", 2, "-o", out, "-q")
    assert quiet.exit_code == 0 and "fitted on" not in quiet.output and "overall" in quiet.output


def test_cli_uses_a_runs_model_only_on_rows_it_never_saw(csv_input: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    train = invoke("train", "--model", "dlinear", "--dataset", csv_input, *SMALL, "--split", "0.6,0.2,0.2", "-q",
                   "--runs-dir", runs)
    assert train.exit_code == 0, train.output
    (run,) = list(runs.iterdir())  # it trained and validated on rows 0..239 of 300
    out = tmp_path / "cv.csv"
    result = invoke("backtest", run, "--input", csv_input, "--windows", 4, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output.count("run's model") == 4 + 4 and "0 fit(s)" in result.output  # progress lines, table rows
    refused = invoke("backtest", run, "--input", csv_input, "--windows", 12, "-o", out)  # first cut-off: row 228
    assert refused.exit_code == 2 and "reaches past the first cut-off" in refused.output and "--refit 1" in refused.output
    refit = invoke("backtest", run, "--input", csv_input, "--windows", 12, "--refit", 12, "-o", out, "-q")
    assert refit.exit_code == 0 and "1 fit(s)" in refit.output  # trained once, from the run's settings


@pytest.mark.parametrize("args,message", [
    (["--windows", 0], "--windows) must be an integer >= 1"),
    (["--step", 0], "--step) must be an integer >= 1"),
    (["--refit", -2], "--refit) must be an integer >= 0"),
    (["--windows", 45], "use fewer windows (n_windows, --windows)"),
    (["--input", "x.csv"], "--input is for a run's data"),
])
def test_cli_errors_are_one_clear_line(csv_input: Path, tmp_path: Path, args, message) -> None:
    result = invoke("backtest", "--model", "dlinear", "--dataset", csv_input, *SMALL, *args, "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
