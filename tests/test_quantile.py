"""Quantile training for every model: the QuantileForecaster wrapper, the pinball loss, runs, the API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import samovar
from samovar.cli import app
from samovar.data import prepare_data
from samovar.training import TrainConfig, train
from samovar.training import rundir as rd
from samovar.training.quantile import QuantileForecaster, check_quantiles, pinball_loss, quantile_name
from samovar.training.runs import build_model, fit_run, load_run

L, H = 96, 24
QS = (0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95)


@pytest.fixture(scope="module")
def noisy() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(4000)
    return pd.DataFrame({"a": np.sin(2 * np.pi * t / 24) + 0.3 * rng.standard_normal(t.size),
                         "b": 2 * np.cos(2 * np.pi * t / 48) + 0.5 * rng.standard_normal(t.size)})


@pytest.mark.parametrize("model", ["dlinear", "samovar", "patchtst", "fits"])
def test_quantiles_never_cross_for_random_inputs_and_weights(model: str) -> None:
    torch.manual_seed(0)
    net = build_model(model, L, H, 3, quantiles=QS).eval()  # no dropout: forward is deterministic
    for p in net.head.parameters():
        torch.nn.init.normal_(p, std=3.0)  # far from the start: monotone by construction, not by luck
    q = net.forward_quantiles(torch.randn(8, L, 3) * 5)
    assert q.shape == (8, H, 3, len(QS)) and (q.diff(dim=-1) >= 0).all()
    torch.testing.assert_close(net(torch.ones(2, L, 3)), net.base(torch.ones(2, L, 3)))


def test_pinball_gradient_pushes_an_under_prediction_up_more_strongly_for_high_q() -> None:
    quantiles = torch.tensor([0.1, 0.5, 0.9])
    pred = torch.zeros(1, 3, requires_grad=True)
    pinball_loss(pred, torch.ones(1), quantiles).backward()  # y = 1 above every prediction
    grad = pred.grad[0]
    assert (grad < 0).all() and grad[0] > grad[1] > grad[2]  # descent raises each; q = 0.9 the most
    torch.testing.assert_close(grad, -quantiles / 3)
    pred.grad = None
    pinball_loss(pred, -torch.ones(1), quantiles).backward()  # over-prediction: pushed down, most for low q
    torch.testing.assert_close(pred.grad[0], (1 - quantiles) / 3)


def test_bad_quantiles_are_named() -> None:
    assert check_quantiles([0.9, 0.1]) == (0.1, 0.9)
    for bad, message in (([0.1, 0.1], "given twice"), ([1.0], "outside"), ([0], "outside"), (["a"], "not a number"),
                         ([], "no quantiles")):
        with pytest.raises(ValueError, match=message):
            check_quantiles(bad)
    with pytest.raises(ValueError, match="need loss='quantile'"):
        TrainConfig(quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="mae")
    assert TrainConfig(loss="quantile").quantiles == (0.1, 0.5, 0.9)
    data = prepare_data(pd.DataFrame({"a": np.sin(np.arange(400.0))}), lookback=L, horizon=H, split=(0.6, 0.2, 0.2))
    with pytest.raises(ValueError, match=r"build_model\(\.\.\., quantiles=config.quantiles\)"):
        train(build_model("dlinear", L, H, 1), data, TrainConfig(loss="quantile", quiet=True))
    with pytest.raises(ValueError, match="differ from TrainConfig.quantiles None"):
        train(build_model("dlinear", L, H, 1, quantiles=(0.1, 0.9)), data, TrainConfig(quiet=True))
    assert (quantile_name(0.1), quantile_name(0.5), quantile_name(0.025)) == ("q10", "q50", "q2.5")


def test_dlinear_quantiles_are_roughly_calibrated_and_the_point_path_is_unchanged(noisy) -> None:
    data = prepare_data(noisy, lookback=L, horizon=H, split=(0.7, 0.1, 0.2))
    options = dict(epochs=10, lr=5e-3, batch_size=32, patience=0, quiet=True)
    plain = train(build_model("dlinear", L, H, 2, seed=0), data, TrainConfig(**options))
    config = TrainConfig(**options, loss="quantile", quantiles=(0.1, 0.5, 0.9))
    result = train(build_model("dlinear", L, H, 2, seed=0, quantiles=config.quantiles), data, config)
    # the pinball loss trains only the head: the point forecast is the one of the plain run, to the bit
    assert result.test_metrics["mse"] == plain.test_metrics["mse"]
    x, y = data.test.batch(torch.arange(len(data.test)))
    with torch.no_grad():
        q = result.model.forward_quantiles(x)
    below = [float((y <= q[..., k]).float().mean()) for k in range(3)]
    # measured 0.083 / 0.496 / 0.910 (10 epochs, 2800 training windows)
    assert abs(below[0] - 0.1) < 0.04 and abs(below[1] - 0.5) < 0.04 and abs(below[2] - 0.9) < 0.04, below
    assert (q.diff(dim=-1) >= 0).all()


def test_a_quantile_run_reloads_and_predicts_quantile_columns(noisy, tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, lr=5e-3, batch_size=64, quiet=True, loss="quantile", quantiles=(0.1, 0.9))
    result, data = fit_run("dlinear", noisy, horizon=H, lookback=L, split=(0.7, 0.1, 0.2), config=config,
                           run_dir=tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert isinstance(run.model, QuantileForecaster) and run.model.quantiles == (0.1, 0.9)
    x, _ = data.test.batch(torch.arange(5))
    with torch.no_grad():
        torch.testing.assert_close(run.model.forward_quantiles(x), result.model.cpu().forward_quantiles(x))
    fc = samovar.Forecaster.load(tmp_path / "run")
    out = fc.predict(noisy, levels=[80])
    assert list(out.columns[:5]) == ["a", "a-lo-80", "a-hi-80", "a-q10", "a-q90"]
    assert (out["a-q10"] <= out["a-q90"]).all()


def test_forecaster_and_cli_take_the_quantile_loss(noisy, tmp_path: Path) -> None:
    fc = samovar.Forecaster("dlinear", lookback=L, horizon=H, split=(0.7, 0.1, 0.2), epochs=1, quiet=True,
                            loss="quantile", quantiles=[0.25, 0.75]).fit(noisy)
    assert fc.quantiles == (0.25, 0.75)
    assert list(fc.predict(noisy).columns[:3]) == ["a", "a-q25", "a-q75"]
    csv = tmp_path / "noisy.csv"
    noisy.to_csv(csv, index=False)
    base = ["train", "--model", "dlinear", "--dataset", str(csv), "--split", "0.7,0.1,0.2", "--lookback", str(L),
            "--horizon", str(H), "--epochs", "1", "--quiet", "--runs-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, [*base, "--loss", "quantile", "--quantiles", "0.1,0.5,0.9"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for args, message in ((["--quantiles", "0.1,0.9"], "need loss='quantile'"),
                          (["--loss", "quantile", "--quantiles", "0.1,1.5"], "outside (0, 1)"),
                          (["--loss", "quantile", "--quantiles", "x"], "--quantiles needs")):
        result = CliRunner().invoke(app, [*base, *args], env={"COLUMNS": "300"})
        assert result.exit_code == 2 and message in result.output, result.output


class _Killed(Exception):
    pass


def _kill_after_two(row) -> None:
    if row["epoch"] == 2:
        raise _Killed


def test_a_killed_quantile_run_resumes_to_the_same_weights_head_lr_and_intervals(noisy, tmp_path: Path) -> None:
    data = prepare_data(noisy.iloc[:1500], lookback=L, horizon=H, split=(0.7, 0.1, 0.2))
    config = TrainConfig(epochs=3, lr=5e-3, batch_size=64, patience=0, quiet=True, loss="quantile")
    build = lambda: build_model("dlinear", L, H, 2, seed=0, quantiles=config.quantiles)  # noqa: E731
    full = train(build(), data, config, tmp_path / "full")
    with pytest.raises(_Killed):
        train(build(), data, config, tmp_path / "part", on_epoch_end=_kill_after_two)
    resumed = train(build(), data, config, tmp_path / "part", resume=True)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    groups = rd.load_checkpoint(tmp_path / "part" / rd.CHECKPOINT)["optimizer"]["param_groups"]
    assert [g.get("peak_lr") for g in groups] == [None, 1e-2]
    assert torch.equal(full.calibration.radii, resumed.calibration.radii)


def test_quantile_scores_stream_to_the_library_values_and_evaluate_shows_them(noisy, tmp_path: Path) -> None:
    """`samovar evaluate` on a quantile run: the point scores, the conformal intervals' coverage and the
    quantiles' CRPS / pinball / shares below, the latter equal to scoring every forecast at once."""
    from samovar.training import scores
    from samovar.training.metrics import quantile_scores

    csv = tmp_path / "noisy.csv"
    noisy.to_csv(csv, index=False)
    train = ["train", "--model", "dlinear", "--dataset", str(csv), "--split", "0.7,0.1,0.2", "--lookback", str(L),
             "--horizon", str(H), "--epochs", "2", "--lr", "5e-3", "--quiet", "--runs-dir", str(tmp_path / "runs"),
             "--loss", "quantile", "--quantiles", "0.1,0.5,0.9"]
    assert CliRunner().invoke(app, train, env={"COLUMNS": "200"}).exit_code == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    run = load_run(run_dir)
    data = prepare_data(str(csv), lookback=L, horizon=H, split=(0.7, 0.1, 0.2))
    streamed = quantile_scores(run.model, data.test, batch_size=100)  # several batches, a partial last one
    x, y = data.test.batch(torch.arange(len(data.test)))
    with torch.no_grad():
        q = run.model.forward_quantiles(x).double().numpy()
    target = y.double().numpy()
    levels = (0.1, 0.5, 0.9)
    assert streamed["crps"] == pytest.approx(scores.crps_quantiles(target, q, levels), rel=1e-12)
    assert streamed["pinball"] == pytest.approx(scores.pinball_loss(target, q, levels), rel=1e-12)
    assert streamed["below"][0.9] == pytest.approx(float(np.mean(target <= q[..., 2])), abs=1e-12)
    assert streamed["coverage"][80] == pytest.approx(scores.interval_coverage(target, q[..., 0], q[..., 2]), abs=1e-12)
    from samovar.training.runs import evaluate_run, score_run

    both = score_run(run_dir)  # one load of the run and its data for every score
    assert both["point"] == evaluate_run(run_dir)
    assert both["quantiles"]["crps"] == pytest.approx(streamed["crps"], rel=1e-12)  # other batches: same sums
    assert evaluate_run(run_dir, split="val")["windows"] == len(data.val)
    result = CliRunner().invoke(app, ["evaluate", str(run_dir)], env={"COLUMNS": "200"})
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "conformal intervals on test" in out and "calibrated on" in out and "95%" in out
    assert f"CRPS {streamed['crps']:.4f}" in out and "80% central" in out


def test_a_quantile_forecast_is_drawn_with_its_quantile_bands() -> None:
    """`samovar forecast --plot` of a quantile run drew the point forecast alone: its q10 .. q90 columns were
    written to the CSV but not drawn. Symmetric quantiles are now paired outside in, each pair a band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from samovar.api import _draw_forecast, _quantile_bands

    steps = pd.date_range("2024-01-01", periods=4, freq="h")
    names = [f"y-{quantile_name(q)}" for q in (0.1, 0.25, 0.5, 0.75, 0.9)]
    forecast = pd.DataFrame({"y": 1.0, **{n: float(k) for k, n in enumerate(names)}}, index=steps)
    assert _quantile_bands(forecast, "y") == [("y-q10", "y-q90"), ("y-q25", "y-q75")]  # the median: no partner
    assert _quantile_bands(forecast.rename(columns={"y-q90": "y-qx"}), "y") == [("y-q25", "y-q75")]  # q10 alone
    fig, ax = plt.subplots()
    _draw_forecast(ax, steps - pd.Timedelta(hours=4), np.zeros(4), steps, forecast, "y")
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [b.get_label() for b in bands] == ["q10–q90 quantiles", "q25–q75 quantiles"]
    plt.close(fig)
