"""Covariates: calendar features, future-known and past-only covariates, model capabilities,
run directories that rebuild the same inputs, and the command line's errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from samovar import Forecaster, models
from samovar.cli import app
from samovar.data import DataError, prepare_data
from samovar.data.covariates import CALENDAR, calendar_features, calendar_names, resolve_inputs
from samovar.training.metrics import window_forecast
from samovar.training.runs import build_model

FUTURE_MODELS = [n for n in models.available() if "future" in models.model_class(n).covariates]
OTHER_MODELS = [n for n in models.available() if "future" not in models.model_class(n).covariates]
SMALL = {"samovar": {"d_model": 32}, "fixedvar": {"d_model": 32}, "lintrans": {"d_model": 32},
         "itransformer": {"d_model": 16, "d_ff": 16}}
L, H = 48, 12


# ------------------------------------------------------------------ calendar features

PANDAS = {"minute_of_hour": lambda d: d.minute, "hour_of_day": lambda d: d.hour, "day_of_week": lambda d: d.day_of_week,
          "day_of_month": lambda d: d.day, "day_of_year": lambda d: d.day_of_year,
          "week_of_year": lambda d: d.isocalendar().week.to_numpy(), "month_of_year": lambda d: d.month}


SUB_HOURLY = ["minute_of_hour", "hour_of_day", "day_of_week", "day_of_month", "day_of_year"]
WEEKLY = ["day_of_month", "week_of_year", "month_of_year"]
CALENDAR_CASES = {  # every frequency of a registered dataset (checked below), and a few more
    "h": ["hour_of_day", "day_of_week", "day_of_month", "day_of_year"], "D": ["day_of_week", "day_of_month", "day_of_year"],
    "15min": SUB_HOURLY, "10min": SUB_HOURLY, "5min": SUB_HOURLY, "W-TUE": WEEKLY, "W-SUN": WEEKLY,
    "B": ["day_of_week", "day_of_month", "day_of_year"], "MS": ["month_of_year"], "QS": ["month_of_year"],
}


def test_every_registered_frequency_has_its_calendar_case():
    from samovar.data import DATASETS

    assert {spec.freq for spec in DATASETS.values()} <= set(CALENDAR_CASES)


@pytest.mark.parametrize("freq, names", CALENDAR_CASES.items())
def test_calendar_features_match_pandas(freq, names):
    """Each feature, unscaled, is pandas' own accessor on the dates (over two years, so every value occurs)."""
    from samovar.data.frequency import mean_step

    periods = int(pd.Timedelta(days=2 * 366) / mean_step(freq)) + 3
    dates = pd.date_range("2019-12-28 00:00", periods=periods, freq=freq)
    assert calendar_names(freq) == names
    features = calendar_features(dates, names)
    assert features.dtype == np.float32 and features.shape == (len(dates), len(names))
    assert features.min() >= -0.5 and features.max() <= 0.5
    for k, name in enumerate(names):
        _, first, count = CALENDAR[name]
        unscaled = np.rint((features[:, k].astype(np.float64) + 0.5) * (count - 1) + first)
        assert np.array_equal(unscaled, np.asarray(PANDAS[name](dates), dtype=np.float64)), name


def test_calendar_needs_dates():
    with pytest.raises(DataError, match="calendar features need dates"):
        calendar_names(None)
    with pytest.raises(DataError, match="no calendar season"):
        calendar_names("YS")


def test_column_roles_are_checked():
    cols = ["a", "b", "c"]
    assert resolve_inputs(cols).series == cols
    roles = resolve_inputs(cols, target="c", future=["a"])
    assert roles.targets == ("c",) and roles.past == ("b",) and roles.future == ("a",)
    assert resolve_inputs(cols, target="c", past=[]).series == ["c"]
    with pytest.raises(DataError, match=r"\['x'\] are not in the data"):
        resolve_inputs(cols, target="x")
    with pytest.raises(DataError, match="both target and future"):
        resolve_inputs(cols, target="a", future="a")


# ------------------------------------------------------------------ future-known and past-only covariates

def frame(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"date": pd.date_range("2022-03-01", periods=n, freq="h"),
                         "y": np.sin(t / 4) + 0.1 * rng.standard_normal(n),
                         "past": rng.standard_normal(n), "known": np.cos(t / 4) + 0.1 * rng.standard_normal(n)})


def forecasts(name: str, df: pd.DataFrame, window: int) -> torch.Tensor:
    """The forecast of test window `window` of a freshly seeded model on `df` (target y, past-only
    column past, future-known column known, calendar features)."""
    data = prepare_data(df, lookback=L, horizon=H, split=(0.6, 0.2, 0.2), target="y", past=["past"], future=["known"],
                        calendar=True)
    model = build_model(name, L, H, data.channels, SMALL.get(name), seed=0, targets=data.target_channels,
                        future_channels=data.future_channels).eval()
    with torch.no_grad():
        return window_forecast(model, data.test, torch.tensor([window]), "cpu")[0][0, :, 0]


@pytest.mark.parametrize("name", FUTURE_MODELS)
def test_future_covariates_are_read_and_past_only_ones_are_not_read_after_the_origin(name):
    df = frame()
    data = prepare_data(df, lookback=L, horizon=H, split=(0.6, 0.2, 0.2), target="y", past=["past"], future=["known"],
                        calendar=True)
    window = 5
    origin = data.test.target_rows(window).start  # the first forecast row
    assert data.future_channels == 1 + 4 and data.columns == ["y", "past"]
    base = forecasts(name, df, window)
    # a past-only covariate's values after the origin are never read (test rows: the scaler is unchanged)
    later = df.copy()
    later.loc[origin:, "past"] += 100.0
    assert torch.equal(forecasts(name, later, window), base)
    # the future-known covariate shifted by one step changes the forecast: it is read
    shifted = df.copy()
    shifted.loc[origin - L:, "known"] = df["known"].shift(1).loc[origin - L:]
    # (by far more than float32 rounding; LinTrans's attention output starts small, ~1e-5 of the forecast)
    assert (forecasts(name, shifted, window) - base).abs().max() > 1e-6
    # ... and so does a change in its values over the horizon alone
    ahead = df.copy()
    ahead.loc[origin:origin + H - 1, "known"] += 1.0
    assert (forecasts(name, ahead, window) - base).abs().max() > 1e-6


@pytest.mark.parametrize("name", FUTURE_MODELS)
def test_without_covariates_the_model_is_unchanged(name):
    """future_channels=0 builds the same parameters from the same seed and the same forecast as before."""
    plain = build_model(name, L, H, 3, SMALL.get(name), seed=3)
    torch.manual_seed(3)
    again = models.get(name, lookback=L, horizon=H, channels=3, **SMALL.get(name, {}))
    assert plain.state_dict().keys() == again.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), again.state_dict().values()))
    x = torch.randn(2, L, 3)
    assert torch.equal(plain.eval()(x), again.eval()(x))


@pytest.mark.parametrize("name", [n for n in FUTURE_MODELS if hasattr(models.model_class(n), "forecast_recurrent")])
def test_streaming_forecast_reads_the_covariates_alike(name):
    model = build_model(name, L, H, 2, SMALL.get(name), seed=0, future_channels=3).eval()
    x, future = torch.randn(2, L, 2), torch.randn(2, L + H, 3)
    with torch.no_grad():
        torch.testing.assert_close(model.forecast_recurrent(x, future), model(x, future=future), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ capabilities

@pytest.mark.parametrize("name", OTHER_MODELS)
def test_models_without_future_covariates_refuse_them(name):
    with pytest.raises(ValueError) as err:
        build_model(name, L, H, 2, {"period": 24} if "period" in name else None, future_channels=2)
    message = str(err.value)
    assert f"model {name!r} does not take future-known covariates" in message
    assert all(m in message for m in FUTURE_MODELS) and "\n" not in message
    with pytest.raises(ValueError, match="does not take future-known covariates"):
        Forecaster(name, lookback=L, horizon=H, calendar=True)


def test_declared_capabilities():
    assert {"dlinear", "samovar", "itransformer"} <= set(FUTURE_MODELS)
    assert all("past" in models.model_class(n).covariates for n in models.available())


def test_samovar_models_shows_each_models_declared_covariates():
    result = runner.invoke(app, ["models"], catch_exceptions=False, env={"COLUMNS": "300"})
    assert result.exit_code == 0
    shown = {}
    for line in result.output.splitlines():  # the first line of each row: name, lookback, covariates, ...
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) > 3 and cells[0] in models.available():
            shown[cells[0]] = cells[2]
    assert shown == {n: ", ".join(models.model_class(n).covariates) for n in models.available()}
    assert shown["dlinear"] == "past, future" and shown["patchtst"] == "past"


@pytest.fixture
def no_past(monkeypatch):
    """A model registered for the test that declares future-known covariates only (DLinear otherwise)."""
    from samovar.models.dlinear import DLinear

    models.available()  # the registry loaded first, so the test's entry is the last and removed afterwards
    cls = type("NoPastDLinear", (DLinear,), {"covariates": ("future",)})
    monkeypatch.setitem(models._models._classes, "no_past", cls)
    monkeypatch.setattr(cls, "name", "no_past")
    return "no_past"


PAST_REFUSED = "model 'no_past' does not take past-only covariates"


def test_a_model_without_past_covariates_is_refused_everywhere(no_past, tmp_path):
    """One reason (the model, the kind, how the options ask for it, the models that do take it) from the API,
    train, backtest, bench ddp and the grid; --past asks explicitly (refused before reading data), --target
    implies every other column (refused once the data is read); --target with --past none is the S setting."""
    from samovar.bench.ddp import DDPSpec, launch
    from samovar.bench.grid import ms_model_reason

    path = tmp_path / "load.csv"
    frame(600).to_csv(path, index=False)
    for kwargs in ({"past": "past"}, {"future": "known", "past": ["past"]}):
        with pytest.raises(ValueError, match=PAST_REFUSED) as err:
            Forecaster(no_past, lookback=L, horizon=H, target="y", **kwargs)
        assert "models that do: " in str(err.value) and "dlinear" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match=PAST_REFUSED):
        Forecaster(no_past, lookback=L, horizon=H, target="y", epochs=1, quiet=True, runs_dir=tmp_path / "r").fit(path)
    with pytest.raises(ValueError, match=PAST_REFUSED):
        launch(DDPSpec(model=no_past, dataset=str(path), horizon=H, lookback=L, inputs={"target": ["y"], "past": ["past"]}))
    assert ms_model_reason(no_past, models.model_class(no_past), "y").startswith(PAST_REFUSED)
    common = ["--model", no_past, "--dataset", path, "--lookback", L, "--horizon", H, "--epochs", 1, "--quiet"]
    train, backtest = ["train", *common, "--runs-dir", tmp_path / "runs"], ["backtest", *common, "-o", tmp_path / "b.csv"]
    for args in ([*train, "--target", "y", "--past", "past"], [*train, "--target", "y"],
                 [*backtest, "--target", "y", "--past", "past"], [*backtest, "--target", "y"]):
        result = invoke(*args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and PAST_REFUSED in lines[0], (args, result.output)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "b.csv").exists()
    fc = Forecaster(no_past, lookback=L, horizon=H, target="y", past=[], epochs=1, quiet=True, runs_dir=tmp_path / "r")
    assert fc.fit(path).run.config["data"]["channels"] == 1  # S: the target alone


def test_a_run_whose_model_no_longer_takes_its_past_covariates_is_refused_by_forecast(tmp_path, monkeypatch):
    """forecast and backtest of a run directory rebuild its model with the recorded inputs: the same one line."""
    df = frame(600)
    path = tmp_path / "load.csv"
    df.to_csv(path, index=False)
    Forecaster("dlinear", lookback=L, horizon=H, target="y", epochs=1, quiet=True, runs_dir=tmp_path / "runs").fit(path)
    (run_dir,) = (tmp_path / "runs").iterdir()
    monkeypatch.setattr(models.model_class("dlinear"), "covariates", ("future",))
    for args in (["forecast", run_dir, "--input", path, "--output", tmp_path / "f.csv"],
                 ["backtest", run_dir, "--input", path, "--output", tmp_path / "b.csv"]):
        result = invoke(*args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1, (args, result.output)
        assert "model 'dlinear' does not take past-only covariates" in lines[0], (args, result.output)


# ------------------------------------------------------------------ run directories and the API

def test_run_directory_rebuilds_the_same_inputs(tmp_path):
    df = frame(600)
    path = tmp_path / "load.csv"
    df.to_csv(path, index=False)
    fc = Forecaster("dlinear", lookback=L, horizon=H, target="y", future="known", calendar=True, epochs=1, quiet=True,
                    runs_dir=tmp_path / "runs", split=(0.7, 0.1, 0.2))
    fc.fit(path)
    (run_dir,) = (tmp_path / "runs").iterdir()
    cfg = fc.run.config["data"]
    assert cfg["inputs"] == {"targets": ["y"], "past": ["past"], "future": ["known"],
                             "calendar": ["hour_of_day", "day_of_week", "day_of_month", "day_of_year"]}
    history, ahead = df.iloc[:550], df.iloc[550:550 + H][["date", "known"]]
    want = fc.predict(history, future=ahead, levels=[80])
    loaded = Forecaster.load(run_dir)
    assert loaded.run.future_scaler is not None
    pd.testing.assert_frame_equal(loaded.predict(history, future=ahead, levels=[80]), want)
    assert list(want.columns) == ["y", "y-lo-80", "y-hi-80"]
    with pytest.raises(ValueError, match=r"reads future-known covariates \['known'\]"):
        loaded.predict(history)
    with pytest.raises(ValueError, match="lack 2 of the 12 dates"):
        loaded.predict(history, future=ahead.iloc[:-2])
    with pytest.raises(ValueError, match=r"lack column\(s\) \['known'\]"):
        loaded.predict(history, future=ahead[["date"]].assign(other=1.0))
    from samovar.training.runs import evaluate_run

    assert evaluate_run(run_dir, device="cpu")["mse"] == pytest.approx(fc.test_metrics["mse"], rel=1e-6)


def test_the_plot_draws_the_targets_by_default(tmp_path, monkeypatch):
    """MS: the plot's default is the target columns only; a past-only column is not a forecast to draw."""
    import samovar.api as api

    df = frame(400)
    fc = Forecaster("dlinear", lookback=L, horizon=H, target="y", epochs=1, quiet=True).fit(df, fit_mode="epochs")
    drawn = []
    figure = api._figure
    monkeypatch.setattr(api, "_figure", lambda n: (drawn.append(n), figure(n))[1])
    forecast = fc.predict(df)
    assert api.plot_forecast(fc, df, forecast, tmp_path / "f.png") is None and drawn == [1]
    with pytest.raises(ValueError, match="no column 'past'; the columns are y"):
        api.plot_forecast(fc, df, forecast, tmp_path / "f.png", columns=["past"])
    with pytest.raises(ValueError, match="no column 'past'; the columns are y"):
        api.check_plot_columns(fc, df, ["past"])
    unfitted = Forecaster("dlinear", lookback=L, horizon=H, target="known", past=[])
    api.check_plot_columns(unfitted, df, ["known"])
    with pytest.raises(ValueError, match="no column 'y'; the columns are known"):
        api.check_plot_columns(unfitted, df, ["y"])


# ------------------------------------------------------------------ command line

runner = CliRunner()
TRAIN = ["train", "--model", "dlinear", "--dataset", "synthetic:length=600,channels=3,seed=2", "--lookback", "48",
         "--horizon", "12", "--epochs", "1", "--quiet"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.mark.parametrize("extra, needle", [
    (["--target", "nope"], "target column(s) ['nope'] are not in the data"),
    (["--model", "patchtst", "--calendar"], "model 'patchtst' does not take future-known covariates"),
    (["--target", "ch0", "--future", "ch0"], "both target and future"),
])
def test_cli_errors_exit_2_with_one_line(tmp_path, extra, needle):
    args = list(TRAIN)
    if "--model" in extra:
        args[2] = extra[1]
        extra = extra[2:]
    result = invoke(*args, "--runs-dir", tmp_path, *extra)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output


ROLES = "targets: ch0; past-only covariates: {}; future-known covariates: none"


@pytest.mark.parametrize("setting, extra, line", [
    ("M", [], None),  # every column a target: the data line's channel count says so
    ("MS", ["--target", "ch0"], ROLES.format("ch1, ch2")),
    ("S", ["--target", "ch0", "--past", "none"], ROLES.format("none")),
])
def test_cli_train_names_the_targets_in_the_ms_and_s_settings(tmp_path, setting, extra, line):
    """The S setting names its one target as MS names its target: --past none used to leave no line, so
    nothing said which column was forecast (nor that the others were dropped)."""
    result = invoke(*TRAIN, "--runs-dir", tmp_path, *extra)
    assert result.exit_code == 0, result.output
    lines = [text for text in result.output.splitlines() if text.startswith("targets:")]
    assert lines == ([line] if line else []), result.output


def test_cli_train_names_the_target_of_a_one_column_file(tmp_path):
    """A file with one series is the S setting too: its line names the column, on a fresh run and on --resume."""
    data = tmp_path / "one.csv"
    frame(300)[["date", "y"]].to_csv(data, index=False)
    result = invoke("train", "--model", "dlinear", "--dataset", data, "--lookback", L, "--horizon", H, "--epochs", 1,
                    "--quiet", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "targets: y; past-only covariates: none; future-known covariates: none" in result.output.splitlines()
    (run_dir,) = (tmp_path / "runs").iterdir()
    resumed = invoke("train", "--resume", run_dir, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert "targets: y; past-only covariates: none; future-known covariates: none" in resumed.output.splitlines()


def test_cli_train_and_forecast_with_future_covariates(tmp_path):
    df = frame(600)
    data, later = tmp_path / "data.csv", tmp_path / "future.csv"
    df.iloc[:580].to_csv(data, index=False)
    df.iloc[580:592][["date", "known"]].to_csv(later, index=False)
    result = invoke("train", "--model", "dlinear", "--dataset", data, "--lookback", L, "--horizon", H, "--epochs", 1,
                    "--quiet", "--target", "y", "--future", "known", "--calendar", "--past", "none",
                    "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "targets: y; past-only covariates: none; future-known covariates: known, hour_of_day" in result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    out = tmp_path / "forecast.csv"
    missing = invoke("forecast", run_dir, "--input", data, "--output", out)
    assert missing.exit_code == 2 and "--future FILE" in missing.output and len(missing.output.strip().splitlines()) == 1
    ok = invoke("forecast", run_dir, "--input", data, "--output", out, "--future", later)
    assert ok.exit_code == 0, ok.output
    written = pd.read_csv(out)
    assert list(written.columns) == ["date", "y"] and len(written) == H
