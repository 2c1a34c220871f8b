"""The naive baselines: forecasts by hand and as shifts of the data, the period taken from the data's
frequency and recorded, training without parameters (run directory round trip, CLI end to end), and
what seasonal naive scores on the real ETTh1 test split."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import require_file
from typer.testing import CliRunner

from samovar import models
from samovar.cli import app
from samovar.data import prepare_data
from samovar.training import TrainConfig, rundir as rd, train
from samovar.training.runs import build_model, evaluate_run, fill_seasonal_period, fit_run, load_run

NAIVE = ("naive", "seasonal_naive", "mean", "drift")
SYNTHETIC = "synthetic:length=800,channels=3"  # hourly: seasonal period 24


def test_registered_without_parameters() -> None:
    assert set(NAIVE) <= set(models.available())
    for name in NAIVE:
        cls = models.model_class(name)
        assert cls.trainable is False and cls.default_lookback(96) == 336
        net = models.get(name, lookback=48, horizon=12, channels=2, **({"period": 24} if name == "seasonal_naive" else {}))
        assert net.num_parameters() == 0 and list(net.parameters()) == []
    assert models.model_class("dlinear").trainable is True


def test_forecasts_by_hand() -> None:
    x = torch.tensor([1.0, 2.0, 4.0, 7.0, 11.0])[None, :, None]  # (1, lookback 5, 1 channel)
    out = {name: models.get(name, lookback=5, horizon=7, channels=1, **kw)(x)[0, :, 0].tolist()
           for name, kw in (("naive", {}), ("seasonal_naive", {"period": 3}), ("mean", {}), ("drift", {}))}
    assert out["naive"] == [11.0] * 7
    assert out["seasonal_naive"] == [4.0, 7.0, 11.0, 4.0, 7.0, 11.0, 4.0]  # the last season, repeated
    assert out["mean"] == pytest.approx([5.0] * 7)
    assert out["drift"] == pytest.approx([11.0 + 2.5 * h for h in range(1, 8)])  # slope (11 - 1) / 4


def test_naive_and_seasonal_naive_are_shifts_of_the_data() -> None:
    data = prepare_data(SYNTHETIC, lookback=48, horizon=12)
    idx = torch.arange(len(data.test))
    x, _ = data.test.batch(idx)
    rows = torch.stack([torch.tensor(list(data.test.target_rows(i))) for i in idx.tolist()])  # (N, horizon)
    seasonal = models.get("seasonal_naive", lookback=48, horizon=12, channels=3, period=24)(x)
    assert torch.equal(seasonal, data.scaled[rows - 24])  # horizon <= period: the value one season back
    naive = models.get("naive", lookback=48, horizon=12, channels=3)(x)
    assert torch.equal(naive, data.scaled[rows[:, :1] - 1].expand(-1, 12, -1))  # the row before the first target


def test_period_from_the_data_and_clear_errors() -> None:
    assert fill_seasonal_period("seasonal_naive", {}, "h") == {"period": 24}
    assert fill_seasonal_period("seasonal_naive", {"period": 12}, "h") == {"period": 12}  # a given period wins
    assert fill_seasonal_period("dlinear", {"individual": True}, "h") == {"individual": True}
    with pytest.raises(ValueError, match="needs a seasonal period.*no known frequency.*--set period=24"):
        fill_seasonal_period("seasonal_naive", None, None)
    with pytest.raises(ValueError, match="no calendar season"):
        fill_seasonal_period("seasonal_naive", None, "YS")
    with pytest.raises(ValueError, match="period 24 is longer than the lookback 12: give a lookback of at least 24"):
        build_model("seasonal_naive", 12, 6, 2, {"period": 24})
    with pytest.raises(ValueError, match="needs its period"):
        models.get("seasonal_naive", lookback=48, horizon=12, channels=2)
    with pytest.raises(ValueError, match="at least 2"):
        build_model("drift", 1, 6, 2)


def test_run_directory_round_trip(tmp_path) -> None:
    run_dir = tmp_path / "run"
    result, data = fit_run("seasonal_naive", SYNTHETIC, horizon=12, lookback=48, run_dir=run_dir,
                           config=TrainConfig(quiet=True))
    assert (result.epochs_run, result.best_epoch, result.history, result.stopped_early) == (0, 0, [], False)
    assert result.best_val_mse > 0 and result.best_val_mae > 0
    cfg = json.loads((run_dir / rd.CONFIG).read_text())
    assert cfg["model"]["kwargs"] == {"period": 24} and cfg["model"]["parameters"] == 0  # recorded for reload
    assert rd.load_weights(run_dir / rd.BEST) == {} and rd.read_jsonl(run_dir / rd.METRICS) == []
    assert json.loads((run_dir / rd.TEST_METRICS).read_text()) == result.test_metrics
    run = load_run(run_dir)
    assert run.model.period == 24
    x, _ = data.test.batch(torch.arange(5))
    assert torch.equal(run.model(x), result.model(x))
    again = evaluate_run(run_dir, device="cpu")
    assert again == {k: v for k, v in result.test_metrics.items() if k != "best_epoch"}
    with pytest.raises(FileExistsError, match="already holds a run"):
        train(result.model, data, TrainConfig(quiet=True), run_dir)
    with pytest.raises(ValueError, match="nothing to train"):
        train(result.model, data, TrainConfig(quiet=True), run_dir, resume=True)


def test_cli_train_evaluate_and_models_list(tmp_path, shared_data_dir) -> None:
    require_file("ETTh1.csv.gz")
    runner = CliRunner()
    out = runner.invoke(app, ["train", "--model", "naive", "--dataset", "ETTh1", "--horizon", "96", "--lookback", "336",
                              "--data-dir", str(shared_data_dir), "--runs-dir", str(tmp_path), "-q"],
                        env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "naive has nothing to train" in out.output and "no parameters" in out.output
    assert "MASE" in out.output and "sMAPE" in out.output and "2785 windows" in out.output
    (run_dir,) = tmp_path.iterdir()
    evaluated = runner.invoke(app, ["evaluate", str(run_dir), "--device", "cpu"], env={"COLUMNS": "200"})
    assert evaluated.exit_code == 0, evaluated.output
    assert "1.2944" in evaluated.output  # the test MSE of the last value repeated (standardized)
    listed = runner.invoke(app, ["models"], env={"COLUMNS": "250"})
    assert all(name in listed.output for name in NAIVE) and "period=None" in listed.output
    bad = runner.invoke(app, ["train", "--model", "seasonal_naive", "--dataset", "ETTh1", "--lookback", "12",
                              "--horizon", "24", "--data-dir", str(shared_data_dir), "--runs-dir", str(tmp_path), "-q"])
    assert bad.exit_code == 2 and "at least 24" in bad.output


def test_seasonal_naive_on_etth1(shared_data_dir) -> None:
    """Measured: ETTh1, lookback 336, horizon 96, period 24 (hourly): test MSE 0.5122, MAE 0.4333,
    MASE 1.050 (validation MSE 0.8266). The floor a learned model must beat (DLinear: ~0.375 test MSE)."""
    require_file("ETTh1.csv.gz")
    result, _ = fit_run("seasonal_naive", "ETTh1", horizon=96, lookback=336, data_dir=shared_data_dir,
                        config=TrainConfig(quiet=True))
    test = result.test_metrics
    assert test["windows"] == 2785
    assert test["mse"] == pytest.approx(0.5122, abs=1e-4) and test["mae"] == pytest.approx(0.4333, abs=1e-4)
    assert test["mase"] == pytest.approx(1.0498, abs=1e-4) and test["smape_raw"] == pytest.approx(0.3882, abs=1e-4)
    assert result.best_val_mse == pytest.approx(0.8266, abs=1e-4)


def test_forecaster_fit_save_load(tmp_path) -> None:
    from samovar import Forecaster

    fc = Forecaster("seasonal_naive", lookback=48, horizon=12, quiet=True).fit(SYNTHETIC)
    assert set(fc.test_metrics) >= {"mse", "rmse", "mape_raw", "smape_raw", "wape_raw", "mase"}
    loaded = Forecaster.load(fc.save(tmp_path / "saved"))
    assert loaded.run.model.period == 24 and loaded.model_kwargs == {"period": 24}
