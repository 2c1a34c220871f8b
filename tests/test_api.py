"""samovar.Forecaster: fit / predict / backtest / save / load on pandas DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import samovar
from samovar.data import make_synthetic, prepare_data
from samovar.data.prepare import ALL_ROWS
from samovar.training import rundir as rd

L, H = 48, 12
OPTIONS = dict(lr=5e-3, epochs=2, batch_size=64, quiet=True)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_synthetic(length=800, channels=3, seed=5)


@pytest.fixture(scope="module")
def fitted(frame) -> samovar.Forecaster:
    return samovar.Forecaster("dlinear", lookback=L, horizon=H, **OPTIONS).fit(frame)


def test_predict_continues_the_dates_and_equals_the_model_by_hand(fitted, frame) -> None:
    out = fitted.predict(frame)
    assert list(out.columns) == ["ch0", "ch1", "ch2"] and out.index.name == "date"
    expected_dates = pd.date_range(frame["date"].iloc[-1], periods=H + 1, freq="h")[1:]
    assert out.index.equals(expected_dates)
    # by hand: scale the last L rows with the scaler of every row (fit_mode "refit" on a DataFrame), run the model, unscale
    data = prepare_data(frame, lookback=L, horizon=H, split=ALL_ROWS)
    x = torch.from_numpy(data.scaler.transform(frame[["ch0", "ch1", "ch2"]].to_numpy()[-L:].astype(np.float64)))
    with torch.no_grad():
        y = fitted.run.model(x[None].float())[0].double().numpy()
    np.testing.assert_allclose(out.to_numpy(), data.scaler.inverse_transform(y), rtol=1e-5, atol=1e-4)  # float32 model
    assert fitted.run.config["fit"]["mode"] == "refit" and fitted.test_metrics is None  # every row trained: no test split
    holdout = samovar.Forecaster("dlinear", lookback=L, horizon=H, **OPTIONS).fit(frame, fit_mode="holdout")
    assert set(holdout.test_metrics) >= {"mse", "mae", "mse_raw", "mae_raw"}


def test_dates_continue_at_the_datas_frequency_and_dateless_input_gets_steps(tmp_path) -> None:
    daily = make_synthetic(length=400, channels=2, freq="D").set_index("date")  # DatetimeIndex input
    fc = samovar.Forecaster("dlinear", lookback=30, horizon=7, **OPTIONS).fit(daily)
    out = fc.predict(daily)
    assert list(out.index) == list(pd.date_range(daily.index[-1] + pd.Timedelta(days=1), periods=7, freq="D"))
    plain = daily.reset_index(drop=True)
    steps = fc.predict(plain)
    assert steps.index.name == "step" and list(steps.index) == list(range(400, 407))
    np.testing.assert_allclose(steps.to_numpy(), out.to_numpy())


def test_save_load_round_trip(fitted, frame, tmp_path) -> None:
    path = fitted.save(tmp_path / "model")
    assert {p.name for p in path.iterdir()} == {rd.CONFIG, rd.BEST, rd.SCALER, rd.INTERVALS}
    loaded = samovar.Forecaster.load(path)
    assert (loaded.lookback, loaded.horizon, loaded.model_name) == (L, H, "dlinear")
    pd.testing.assert_frame_equal(loaded.predict(frame), fitted.predict(frame))
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        samovar.Forecaster.load(tmp_path)


def test_fit_on_a_dataset_name_with_a_run_directory(tmp_path, frame) -> None:
    fc = samovar.Forecaster("dlinear", lookback=L, horizon=H, runs_dir=tmp_path, model_kwargs={"individual": True},
                            **OPTIONS).fit("synthetic:length=800,channels=3,seed=5")
    run = fc.result.run_dir
    assert run.parent == tmp_path and run.name.startswith(f"dlinear-synthetic")
    assert (run / rd.TEST_METRICS).exists() and rd.read_json(run / rd.CONFIG)["model"]["kwargs"] == {"individual": True}
    again = samovar.Forecaster.load(run)  # a run directory loads like a saved Forecaster
    assert again.run.model.individual
    pd.testing.assert_frame_equal(again.predict(frame), fc.predict(frame))


def test_backtest_forecasts_next_to_actuals(fitted, frame) -> None:
    table, metrics = fitted.backtest(frame, start=600, end=659)
    assert metrics["forecasts"] == 5 and len(table) == 5 * H  # origins 600, 612, ..., 648
    first = table.iloc[0]
    assert first["date"] == frame["date"].iloc[600] and first["step_ahead"] == 1
    np.testing.assert_allclose(table["ch1_actual"].to_numpy(), frame["ch1"].to_numpy()[600:660], rtol=1e-6)
    # the first forecast equals predict() on the rows before it
    np.testing.assert_allclose(table["ch0"].to_numpy()[:H], fitted.predict(frame.iloc[:600])["ch0"].to_numpy(), rtol=1e-5)
    cols = ["ch0", "ch1", "ch2"]
    err = table[cols].to_numpy() - table[[f"{c}_actual" for c in cols]].to_numpy()
    assert metrics["mse_raw"] == pytest.approx(np.mean(err**2)) and metrics["mae_raw"] == pytest.approx(np.mean(np.abs(err)))
    scaled = err / fitted.run.scaler.std  # bare names: the standardized scale, as the trainer's test metrics
    assert metrics["mse"] == pytest.approx(np.mean(scaled**2)) and metrics["mae"] == pytest.approx(np.mean(np.abs(scaled)))
    by_date, _ = fitted.backtest(frame, start=str(frame["date"].iloc[600]), end=659, stride=1)
    assert by_date["origin"].nunique() == 60 - H + 1
    with pytest.raises(ValueError, match="history"):
        fitted.backtest(frame, start=10)


def test_clear_errors(fitted, frame) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        samovar.Forecaster("no-such-model")
    with pytest.raises(ValueError, match="unknown option"):
        samovar.Forecaster("dlinear", learning_rate=0.1)
    with pytest.raises(ValueError, match="lookback must be a positive integer"):
        samovar.Forecaster("dlinear", lookback=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        samovar.Forecaster("dlinear").predict(frame)
    with pytest.raises(ValueError, match=f"needs the last {L}"):
        fitted.predict(frame.iloc[: L - 1])
    with pytest.raises(ValueError, match=r"missing \['ch2'\]"):
        fitted.predict(frame.drop(columns="ch2"))
    reordered = frame[["date", "ch2", "ch0", "ch1"]]  # same columns in another order are accepted
    pd.testing.assert_frame_equal(fitted.predict(reordered), fitted.predict(frame))


def test_recipe_paper_applies_the_published_recipe_under_explicit_options(frame, tmp_path) -> None:
    fc = samovar.Forecaster("samovar", lookback=L, horizon=H, recipe="paper", epochs=1, batch_size=64, quiet=True,
                            model_kwargs={"d_model": 16, "heads": 2, "layers": 1}, runs_dir=tmp_path)
    assert fc.config.optimizer == "adam"  # before fit: the keywords over the defaults
    fc.fit(frame)
    assert fc.recipe_used.name == "paper" and fc.recipe_used.notes == []
    cfg = fc.config
    assert (cfg.optimizer, cfg.lr, cfg.betas, cfg.weight_decay, cfg.schedule, cfg.onecycle_anneal) == \
        ("adamw", 6e-4, (0.9, 0.95), 0.1, "onecycle", "linear")
    assert (cfg.epochs, cfg.batch_size, cfg.seed, cfg.schedule_epochs) == (1, 64, 2024, 2)  # explicit options win
    (run,) = list(tmp_path.iterdir())
    recorded = rd.read_json(run / rd.CONFIG)
    assert recorded["train"] == cfg.to_dict() and recorded["recipe"]["name"] == "paper"
    loaded = samovar.Forecaster.load(run)
    assert loaded.config == cfg and loaded.model_kwargs == {"d_model": 16, "heads": 2, "layers": 1}
    pd.testing.assert_frame_equal(loaded.predict(frame), fc.predict(frame))


def test_recipe_auto_falls_back_and_paper_without_one_is_an_error(frame) -> None:
    fc = samovar.Forecaster("dlinear", lookback=L, horizon=H, epochs=1, quiet=True).fit(frame)
    assert fc.recipe_used.name == "ltsf" and "no published training recipe" in fc.recipe_used.notes[0]
    assert fc.config == samovar.training.TrainConfig(epochs=1, quiet=True)
    with pytest.raises(ValueError, match="no published training recipe"):
        samovar.Forecaster("dlinear", lookback=L, horizon=H, recipe="paper", quiet=True).fit(frame)
    with pytest.raises(ValueError, match="choose one of auto, paper, ltsf"):
        samovar.Forecaster("dlinear", recipe="published")


# ---------------------------------------------------------------------- fit modes: training on every row

SMALL = dict(lookback=24, horizon=6, lr=5e-3, batch_size=32, quiet=True)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return make_synthetic(length=300, channels=2, seed=3)


def _changed_tail(frame: pd.DataFrame, rows: int = 10) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[-rows:], ["ch0", "ch1"]] += 5.0
    return out


@pytest.mark.parametrize("mode, sees_the_tail", [("refit", True), ("epochs", True), ("holdout", False)])
def test_the_last_rows_change_the_forecast_only_when_the_final_model_trains_on_them(small, mode, sees_the_tail) -> None:
    fits = [samovar.Forecaster("dlinear", epochs=2, **SMALL).fit(df, fit_mode=mode) for df in (small, _changed_tail(small))]
    first, second = (fc.predict(small) for fc in fits)  # the same input: only the training data differs
    assert (not np.allclose(first.to_numpy(), second.to_numpy())) == sees_the_tail


def test_the_final_scaler_has_seen_the_rows_it_trains_on(small) -> None:
    values = small[["ch0", "ch1"]].to_numpy(dtype=np.float64)
    refit = samovar.Forecaster("dlinear", epochs=1, **SMALL).fit(small)
    np.testing.assert_allclose(refit.run.scaler.mean, values.mean(axis=0))  # every row
    holdout = samovar.Forecaster("dlinear", epochs=1, **SMALL).fit(small, fit_mode="holdout")
    np.testing.assert_allclose(holdout.run.scaler.mean, values[:210].mean(axis=0))  # the train rows: 70% of 300


def test_refit_records_both_stages_and_keeps_the_validation_stages_intervals(small, tmp_path) -> None:
    fc = samovar.Forecaster("dlinear", epochs=3, patience=1, runs_dir=tmp_path, **SMALL).fit(small)
    run = fc.result.run_dir
    fit = rd.read_json(run / rd.CONFIG)["fit"]
    stage = fit["validation"]
    assert fit["mode"] == "refit" and fit["rows"] == {"train": [0, 300]}
    assert stage["rows"] == {"train": [0, 262], "val": [238, 300]}  # 87.5% / 12.5%: the train:val ratio of 70/10
    assert fit["epochs"] == stage["best_epoch"] == fc.result.epochs_run and stage["max_epochs"] == 3
    validation = samovar.Forecaster.load(run / stage["run"])  # the validation stage is a complete run
    assert validation.run.config["fit"] == {"mode": "refit", "stage": "validation", "rows": stage["rows"]}
    # the same conformal radii in data units, expressed on the final model's scale
    np.testing.assert_allclose(fc.run.intervals.radius(80).numpy() * fc.run.scaler.std,
                               validation.run.intervals.radius(80).numpy() * validation.run.scaler.std, rtol=1e-5)
    assert samovar.Forecaster.load(run).config.epochs == 3  # a reloaded Forecaster refits with the same budget


def test_epochs_mode_trains_exactly_n_epochs_without_validation_or_intervals(small, tmp_path) -> None:
    fc = samovar.Forecaster("dlinear", epochs=3, patience=1, runs_dir=tmp_path, **SMALL).fit(small, fit_mode="epochs")
    history = rd.read_jsonl(fc.result.run_dir / rd.METRICS)
    assert fc.result.epochs_run == 3 and [row["epoch"] for row in history] == [1, 2, 3]
    assert all(row["val_mse"] is None for row in history) and fc.result.best_epoch == 3
    assert rd.read_json(fc.result.run_dir / rd.CONFIG)["fit"] == {"mode": "epochs", "rows": {"train": [0, 300]}}
    assert fc.test_metrics is None and not (fc.result.run_dir / rd.INTERVALS).exists()
    with pytest.raises(ValueError, match="fit_mode='epochs' on every row, so no held-out windows"):
        fc.predict(small, levels=[80])


@pytest.mark.parametrize("split, mode, message", [
    ((1.0, 0.0, 0.0), None, "no validation share.*fit mode 'epochs'"),
    ((1.0, 0.0, 0.0), "holdout", "validation split has no windows.*fit mode 'refit' or 'epochs'"),
    ((0.7, 0.1, 0.2), "refit", "has a test share.*'holdout' for test metrics"),
    ((0.9, 0.1, 0.0), "epochs", "has no use: drop it"),
    (None, "everything", "choose one of refit, epochs, holdout"),
    ((0.9, 0.1), None, r"split must be three numbers \(train, val, test\)"),
])
def test_fit_mode_errors_name_the_fix(small, split, mode, message) -> None:
    with pytest.raises(ValueError, match=message):
        samovar.Forecaster("dlinear", epochs=1, split=split, **SMALL).fit(small, fit_mode=mode)


def test_benchmarks_and_an_explicit_test_share_keep_the_holdout_protocol(small) -> None:
    from samovar.training.runs import default_fit_mode

    assert default_fit_mode("ETTh1") == default_fit_mode("synthetic:length=300") == "holdout"
    assert default_fit_mode(small) == default_fit_mode("my.csv") == default_fit_mode(small, (0.9, 0.1, 0)) == "refit"
    fc = samovar.Forecaster("dlinear", epochs=1, split=(0.6, 0.2, 0.2), **SMALL).fit(small)
    assert fc.run.config["fit"]["mode"] == "holdout" and fc.test_metrics is not None
    with pytest.raises(ValueError, match="registered benchmark.*fit mode 'holdout'"):
        samovar.Forecaster("dlinear", epochs=1, **SMALL).fit("ETTh1", fit_mode="refit")


# ---------------------------------------------------------------------- dates: formats and frequency


def test_public_accessors_the_plots_use(fitted, frame) -> None:
    """fitted_run, input_table and read_options: what plot_forecast / plot_backtest read of a Forecaster."""
    with pytest.raises(RuntimeError, match="not fitted"):
        samovar.Forecaster("dlinear").fitted_run()
    assert fitted.fitted_run() is fitted.run
    reordered = frame[["date", "ch2", "ch0", "ch1"]]
    table = fitted.input_table(reordered)
    assert table.columns == ["ch0", "ch1", "ch2"] and len(table.values) == len(frame)  # the run's column order
    np.testing.assert_array_equal(table.values, frame[["ch0", "ch1", "ch2"]].to_numpy().astype(table.values.dtype))
    with pytest.raises(ValueError, match=f"needs the last {L}"):
        fitted.input_table(frame.iloc[: L - 1])
    assert samovar.Forecaster("dlinear", dayfirst=True, sep="tab").read_options == {
        "date_format": None, "dayfirst": True, "sep": "\t", "decimal": "."}


def test_an_input_at_another_frequency_is_refused_unless_allowed(fitted, frame) -> None:
    daily = frame.assign(date=pd.date_range("2020-01-01", periods=len(frame), freq="D"))
    message = r"the input: its dates are at frequency 'D' \(a step of 1 day\) but the model was trained on data at 'h' " \
              r"\(01:00:00\).*allow_freq_mismatch=True"
    with pytest.raises(ValueError, match=message):
        fitted.predict(daily)
    with pytest.raises(ValueError, match=message):
        fitted.backtest(daily, start=600)
    out = fitted.predict(daily, allow_freq_mismatch=True)
    assert out.index.equals(pd.date_range(daily["date"].iloc[-1], periods=H + 1, freq="D")[1:])
    np.testing.assert_allclose(out.to_numpy(), fitted.predict(frame).to_numpy())  # the same values, other dates
    sixty = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d %H:%M"))  # text dates of the same frequency pass
    pd.testing.assert_frame_equal(fitted.predict(sixty), fitted.predict(frame))


def test_day_first_csv_dates_are_read_as_told_and_the_option_is_kept_with_the_model(small, tmp_path) -> None:
    path = tmp_path / "dayfirst.csv"
    small.assign(date=small["date"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(path, index=False)
    with pytest.raises(ValueError, match="are day-first .* pass dayfirst=True"):
        samovar.Forecaster("dlinear", epochs=1, **SMALL).fit(path)
    fc = samovar.Forecaster("dlinear", epochs=1, dayfirst=True, **SMALL).fit(path)
    out = fc.predict(path)  # the forecast input is read day-first too
    assert out.index[0] == small["date"].iloc[-1] + pd.Timedelta(hours=1)
    loaded = samovar.Forecaster.load(fc.save(tmp_path / "saved"))
    assert loaded.dayfirst and loaded.run.config["data"]["dayfirst"] is True
    pd.testing.assert_frame_equal(loaded.predict(path), out)
    by_format = samovar.Forecaster.load(tmp_path / "saved", dayfirst=False, date_format="%d/%m/%Y %H:%M")
    pd.testing.assert_frame_equal(by_format.predict(path), out)


@pytest.mark.parametrize("header", ["", "value\n"])
def test_a_one_column_file_with_decimal_commas_is_refused_unless_read_with_its_sep_and_decimal(header, tmp_path) -> None:
    """A one-column file written like 1,5 (with or without a header) is an error read with the default separator,
    or with decimal=',' alone; sep=';', decimal=',' reads it as the one series it is."""
    values = [10 + (i * 7 % 13) / 4 for i in range(60)]
    path = tmp_path / "one.csv"
    path.write_text(header + "".join(f"{v:.2f}".replace(".", ",") + "\n" for v in values))
    default = "two whole numbers separated by commas" if not header else "one field more than its header line"
    with pytest.raises(ValueError, match=rf"{default}.*command line: --sep ';' --decimal ','\)"):
        samovar.Forecaster("naive", lookback=8, horizon=3, quiet=True).fit(path)
    with pytest.raises(ValueError, match=r"^sep and decimal are both ',': .*\(sep is ',' unless given\)"):
        samovar.Forecaster("naive", lookback=8, horizon=3, decimal=",")
    fc = samovar.Forecaster("naive", lookback=8, horizon=3, sep=";", decimal=",", quiet=True).fit(path)
    out = fc.predict(path)
    assert out.shape == (3, 1) and out.iloc[:, 0].tolist() == pytest.approx([values[-1]] * 3)  # naive: 1,5 is 1.5


def test_a_european_csv_fits_predicts_and_reloads_with_its_sep_and_decimal(frame, tmp_path) -> None:
    """sep=";", decimal=",": the file a European spreadsheet writes fits as its comma-separated twin, and the
    saved model reads later input files the same way unless told otherwise."""
    european, comma = tmp_path / "european.csv", tmp_path / "comma.csv"
    frame.to_csv(european, sep=";", decimal=",", index=False)
    frame.to_csv(comma, index=False)
    with pytest.raises(ValueError, match=r"To fix: pass sep=';', decimal=',' \(command line"):
        samovar.Forecaster("dlinear", lookback=L, horizon=H, **OPTIONS).fit(european)
    with pytest.raises(ValueError, match=r"^sep and decimal are both ','"):
        samovar.Forecaster("dlinear", lookback=L, horizon=H, decimal=",")
    fc = samovar.Forecaster("dlinear", lookback=L, horizon=H, sep=";", decimal=",", **OPTIONS).fit(european)
    twin = samovar.Forecaster("dlinear", lookback=L, horizon=H, **OPTIONS).fit(comma)
    expected = twin.predict(comma)
    pd.testing.assert_frame_equal(fc.predict(european), expected)
    assert fc.run.config["data"]["sep"] == ";" and fc.run.config["data"]["decimal"] == ","
    fc.save(tmp_path / "model")
    loaded = samovar.Forecaster.load(tmp_path / "model")
    assert loaded.read_options == {"date_format": None, "dayfirst": False, "sep": ";", "decimal": ","}
    pd.testing.assert_frame_equal(loaded.predict(european), expected)
    pd.testing.assert_frame_equal(samovar.Forecaster.load(tmp_path / "model", sep=",", decimal=".").predict(comma), expected)
