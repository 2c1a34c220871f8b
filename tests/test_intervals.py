"""Split-conformal prediction intervals: the rank rule, coverage, files, the API and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import samovar
from samovar.cli import app
from samovar.data import make_synthetic, prepare_data
from samovar.models.base import ForecastModel
from samovar.training import rundir as rd
from samovar.training.intervals import (LEVELS, Calibration, calibrate, check_levels, conformal_rank,
                                        coverage_scores, radii_from_errors)
from samovar.training.runs import interval_scores

runner = CliRunner()
PERIOD = 24


class LookbackSine(ForecastModel):
    """Fits a sinusoid of known period to the lookback by least squares and continues it (no noise)."""

    name = "lookback_sine"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.arange(self.lookback + self.horizon, dtype=torch.float64)
        basis = torch.stack([torch.sin(2 * math.pi * t / PERIOD), torch.cos(2 * math.pi * t / PERIOD),
                             torch.ones_like(t)], dim=1)  # (L + H, 3)
        coef = torch.linalg.pinv(basis[:self.lookback]) @ x.double()  # (B, 3, C)
        return (basis[self.lookback:] @ coef).to(x.dtype)


def test_the_rank_rule_on_a_hand_example() -> None:
    errors = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0]).reshape(5, 1, 1)  # n = 5
    radii = radii_from_errors(errors, (10, 50, 80, 83, 84, 90))
    # ranks ceil(6 p): 1, 3, 5, 5, 6 > 5, 6 > 5
    assert radii.flatten().tolist() == [1.0, 3.0, 5.0, 5.0, math.inf, math.inf]
    assert conformal_rank(9, 70) == 7  # exact: (9 + 1) * 0.7 is 7.000000000000001 in floats
    assert conformal_rank(99, 1) == 1 and conformal_rank(99, 99) == 99 and conformal_rank(98, 99) == 99


def test_infinite_radius_when_n_is_too_small() -> None:
    cal = Calibration(radii=radii_from_errors(torch.rand(5, 3, 2)), levels=LEVELS, windows=5, split="val")
    assert cal.max_finite_level == 83  # ceil(6 p) <= 5 <=> p <= 5/6
    assert torch.isfinite(cal.radius(83)).all() and torch.isinf(cal.radius(84)).all()
    assert cal.infinite_levels([50, 84, 99]) == [84, 99]


@pytest.mark.parametrize("levels, message", [
    ([80, 80], "given twice"), ([0], "outside (0, 100)"), ([100], "outside (0, 100)"), ([-5], "outside"),
    ([95.5], "not calibrated; calibrated levels: the integer percents 1..99"), (["80"], "not a number"), ([], "no interval"),
])
def test_bad_levels_are_named(levels, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_levels(levels)
    assert check_levels([95, 80.0]) == (95, 80)


def test_coverage_is_nominal_on_a_sine_with_gaussian_noise(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(20000)
    frame = pd.DataFrame({"a": np.sin(2 * np.pi * t / PERIOD) + 0.3 * rng.standard_normal(t.size),
                          "b": 2 * np.cos(2 * np.pi * t / PERIOD) + 0.5 * rng.standard_normal(t.size)})
    data = prepare_data(frame, lookback=96, horizon=24, split=(0.6, 0.2, 0.2))
    model = LookbackSine(96, 24, 2)
    cal = calibrate(model, data.val)
    assert cal.windows == len(data.val) > 3800 and cal.radii.shape == (99, 24, 2)
    rows = coverage_scores(model, data.test, cal, (50, 80, 90, 95), scaler=data.scaler, raw_values=data.values)
    # the calibration's sampling sd of the coverage is sqrt(p (1 - p) / n) <= 0.008 here
    for row in rows:
        assert abs(row["coverage"] - row["level"] / 100) < 0.025, row
        assert abs(row["coverage_raw"] - row["coverage"]) < 1e-3
    # noise sd 0.3 / 0.5 in data units: the 90% radius is about 1.645 sd (plus the sine fit's error)
    radius_raw = cal.radius(90).double().mean(0) * torch.as_tensor(data.scaler.std)
    assert torch.allclose(radius_raw, torch.tensor([1.645 * 0.3, 1.645 * 0.5], dtype=torch.float64), rtol=0.1)
    cal.save(tmp_path / rd.INTERVALS)
    back = Calibration.load(tmp_path / rd.INTERVALS)
    assert (back.levels, back.windows, back.split) == (LEVELS, cal.windows, "val")
    assert torch.equal(back.radii, cal.radii)


# ----------------------------------------------------------------------------- API and CLI on a trained run

SOURCE = "synthetic:length=1200,channels=3,seed=2"
TRAIN = ["train", "--model", "dlinear", "--dataset", SOURCE, "--lookback", "48", "--horizon", "12",
         "--epochs", "2", "--lr", "0.005", "--batch-size", "64", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, [*TRAIN, "--runs-dir", str(runs)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "prediction intervals calibrated on" in result.output
    (run,) = list(runs.iterdir())
    return run


@pytest.fixture(scope="module")
def csv_input(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "data.csv"
    make_synthetic(length=1200, channels=3, seed=2).to_csv(path, index=False)
    return path


def test_predict_adds_ordered_interval_columns(trained: Path, csv_input: Path) -> None:
    fc = samovar.Forecaster.load(trained)
    out = fc.predict(pd.read_csv(csv_input), levels=[80, 95])
    assert list(out.columns[:5]) == ["ch0", "ch0-lo-95", "ch0-lo-80", "ch0-hi-80", "ch0-hi-95"]
    assert len(out.columns) == 15
    point = fc.predict(pd.read_csv(csv_input))
    for name in ("ch0", "ch1", "ch2"):
        block = out[[name + s for s in ("-lo-95", "-lo-80", "", "-hi-80", "-hi-95")]].to_numpy()
        assert (np.diff(block, axis=1) >= 0).all()
        np.testing.assert_array_equal(out[name].to_numpy(), point[name].to_numpy())
    # the 80% radius in data units is the standardized radius times the channel's std
    radius = fc.run.intervals.radius(80).double().numpy() * fc.run.scaler.std
    np.testing.assert_allclose((out["ch1-hi-80"] - out["ch1"]).to_numpy(), radius[:, 1], rtol=1e-9)
    with pytest.raises(ValueError, match="not calibrated"):
        fc.predict(pd.read_csv(csv_input), levels=[80.5])


def test_backtest_with_levels_reports_coverage(trained: Path, csv_input: Path) -> None:
    fc = samovar.Forecaster.load(trained)
    frame, metrics = fc.backtest(pd.read_csv(csv_input), start=800, levels=[90])
    assert {"ch0-lo-90", "ch0-hi-90"} <= set(frame.columns) and 0.5 < metrics["coverage-90"] <= 1
    inside = [((frame[f"{c}-lo-90"] <= frame[f"{c}_actual"]) & (frame[f"{c}_actual"] <= frame[f"{c}-hi-90"])).mean()
              for c in ("ch0", "ch1", "ch2")]
    assert metrics["coverage-90"] == pytest.approx(np.mean(inside), abs=1e-3)


def test_calibrate_command_and_interval_scores(trained: Path, tmp_path: Path) -> None:
    before = Calibration.load(trained / rd.INTERVALS)
    result = runner.invoke(app, ["calibrate", str(trained), "--split", "test"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "written to" in result.output, result.output
    after = Calibration.load(trained / rd.INTERVALS)
    assert (after.split, before.split) == ("test", "val") and after.windows != before.windows
    rows = interval_scores(trained, split="test", levels=(80, 95), device="cpu")
    assert [r["level"] for r in rows] == [80, 95]
    assert set(rows[0]) == {"level", "coverage", "coverage_raw", "width", "width_raw", "windows", "split",
                            "calibration_split", "calibration_windows"}
    # calibrated on the test windows themselves: coverage at least the level (the conformal guarantee in-sample)
    assert all(r["coverage"] >= r["level"] / 100 for r in rows)
    # every window counts in the data-unit width: the mean of 2 * radius * std over horizon steps and channels
    run = samovar.Forecaster.load(trained).run
    for r in rows:
        expected = 2 * float((after.radius(r["level"]).double().numpy() * run.scaler.std).mean())
        assert r["width_raw"] == pytest.approx(expected, rel=1e-9)
    assert runner.invoke(app, ["calibrate", str(trained)], env={"COLUMNS": "200"}).exit_code == 0  # back to val
    result = runner.invoke(app, ["calibrate", str(trained), "--split", "dev"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "unknown split 'dev'" in result.output


@pytest.mark.parametrize("levels, message", [
    ("80,80", "given twice"), ("0,95", "outside (0, 100)"), ("100", "outside (0, 100)"), ("abc", "--levels needs"),
    ("95.5", "not calibrated"), ("80,,x", "--levels needs"),
])
def test_forecast_levels_errors_are_one_clear_line(trained: Path, csv_input: Path, tmp_path: Path, levels, message) -> None:
    result = runner.invoke(app, ["forecast", str(trained), "-i", str(csv_input), "-o", str(tmp_path / "f.csv"),
                                 "--levels", levels], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and message in result.output and result.output.count("error:") == 1, result.output


def test_forecast_writes_interval_columns_and_bands(trained: Path, csv_input: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["forecast", str(trained), "-i", str(csv_input), "-o", str(tmp_path / "f.csv"),
                                 "--levels", "80,95", "--plot", str(tmp_path / "f.png")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "f.csv")
    assert list(frame.columns[:6]) == ["date", "ch0", "ch0-lo-95", "ch0-lo-80", "ch0-hi-80", "ch0-hi-95"]
    assert (tmp_path / "f.png").stat().st_size > 0


def test_a_run_without_intervals_says_how_to_make_them(trained: Path, csv_input: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    fc = samovar.Forecaster.load(trained)
    fc.run.intervals = None
    fc.save(copy)
    assert not (copy / rd.INTERVALS).exists()
    with pytest.raises(ValueError, match="samovar calibrate"):
        samovar.Forecaster.load(copy).predict(pd.read_csv(csv_input), levels=[80])
    with pytest.raises(FileNotFoundError, match="samovar calibrate"):
        interval_scores(copy)
