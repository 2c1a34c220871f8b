"""Scale-out: a DDP run over 2 CPU processes (gloo) matches one process; the Ray executor on a local instance."""

from __future__ import annotations

import pytest
import torch

from samovar.bench.db import ResultsDB
from samovar.bench.ddp import DDPSpec, RankShare, launch
from samovar.bench.grid import plan
from samovar.bench.runner import run_grid
from samovar.data import prepare_data
from samovar.training import TrainConfig, train
from samovar.training.runs import build_model


def test_rank_shares_tile_each_global_batch():
    data = prepare_data("synthetic", lookback=48, horizon=24)
    idx = torch.tensor([5, 9, 2, 7, 11, 3])
    shares = [RankShare(data.train, r, 2).batch(idx)[0] for r in range(2)]
    full = data.train.batch(idx)[0]
    torch.testing.assert_close(torch.cat(shares), torch.cat([full[0::2], full[1::2]]))


@pytest.mark.slow
def test_ddp_two_processes_match_one(tmp_path):
    spec = DDPSpec(model="dlinear", dataset="synthetic", horizon=24, lookback=48, epochs=2, batch_size=16, lr=1e-2,
                   seed=3, max_steps_per_epoch=30, run_dir=str(tmp_path / "run"), db=str(tmp_path / "r.db"))
    ddp = launch(spec, nproc=2)
    assert ddp["world_size"] == 2
    # the same run in one process (same capped epochs: the bench runner's EpochSubset)
    from samovar.bench.runner import EpochSubset
    import copy

    data = prepare_data("synthetic", lookback=48, horizon=24)
    view = copy.copy(data)
    view.train = EpochSubset(data.train, 30 * 16)
    net = build_model("dlinear", 48, 24, data.channels, {}, seed=3)
    one = train(net, view, TrainConfig(epochs=2, batch_size=16, lr=1e-2, seed=3, quiet=True),
                on_epoch_end=lambda row: setattr(view.train, "epoch", row["epoch"]))
    assert ddp["epochs"] == one.epochs_run
    for key in ("mse", "mae", "mse_raw", "mae_raw"):
        assert ddp[key] == pytest.approx(one.test_metrics[key], rel=1e-5), key
    assert ddp["best_val_mse"] == pytest.approx(one.best_val_mse, rel=1e-5)
    row = ResultsDB(tmp_path / "r.db").rows()[0]  # rank 0 recorded it
    assert row["profile"] == "ddp" and row["test_mse"] == pytest.approx(ddp["mse"]) and row["device"] == "cpu x2"
    assert (tmp_path / "run" / "best.safetensors").exists()


def covariate_file(tmp_path) -> str:
    """A CSV with dates, a target y, a past-only column and a column known ahead (y follows it)."""
    import numpy as np
    import pandas as pd

    t = np.arange(700)
    rng = np.random.default_rng(0)
    known = np.cos(t / 5) + 0.1 * rng.standard_normal(len(t))
    frame = pd.DataFrame({"date": pd.date_range("2022-03-01", periods=len(t), freq="h"), "past": rng.standard_normal(len(t)),
                          "known": known, "y": np.roll(known, -3) + 0.05 * rng.standard_normal(len(t))})
    path = tmp_path / "load.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.slow
def test_ddp_reads_the_same_covariates_as_one_process(tmp_path):
    """Target, future-known column and calendar features: the DDP run's model is built for them, reads
    them, and trains as the same run in one process does."""
    import copy
    import json

    from safetensors.torch import load_file

    from samovar.bench.runner import EpochSubset

    source = covariate_file(tmp_path)
    inputs = {"target": ["y"], "future": ["known"], "calendar": True}
    spec = DDPSpec(model="dlinear", dataset=source, horizon=12, lookback=48, epochs=2, batch_size=16, lr=1e-2, seed=3,
                   max_steps_per_epoch=10, run_dir=str(tmp_path / "run"), inputs=inputs)
    ddp = launch(spec, nproc=2)
    # the same run in one process, as samovar train builds it (fit_run: targets and future channels from the data)
    data = prepare_data(source, lookback=48, horizon=12, **inputs)
    assert (data.target_channels, data.future_channels) == (1, 1 + 4)  # known + hour, weekday, day of month, of year
    view = copy.copy(data)
    view.train = EpochSubset(data.train, 10 * 16)
    net = build_model("dlinear", 48, 12, data.channels, {}, seed=3, targets=data.target_channels,
                      future_channels=data.future_channels)
    one = train(net, view, TrainConfig(epochs=2, batch_size=16, lr=1e-2, seed=3, quiet=True),
                on_epoch_end=lambda row: setattr(view.train, "epoch", row["epoch"]))
    for key in ("mse", "mae", "mse_raw", "mae_raw"):
        assert ddp[key] == pytest.approx(one.test_metrics[key], rel=1e-5), key
    assert ddp["best_val_mse"] == pytest.approx(one.best_val_mse, rel=1e-5)
    # the run directory is that of a covariate run: the future layers were trained, the inputs recorded
    run = tmp_path / "run"
    weights = load_file(run / "best.safetensors")
    assert weights.keys() == net.state_dict().keys() and any("future" in k for k in weights)
    assert all(torch.allclose(weights[k], v, rtol=1e-4, atol=1e-6) for k, v in net.state_dict().items())
    recorded = json.loads((run / "config.json").read_text())["data"]["inputs"]
    assert recorded["targets"] == ["y"] and recorded["future"] == ["known"] and len(recorded["calendar"]) == 4


def test_ddp_refuses_covariates_a_model_cannot_take_before_spawning(tmp_path):
    spec = DDPSpec(model="patchtst", dataset=covariate_file(tmp_path), horizon=12, lookback=48, batch_size=16,
                   inputs={"calendar": True})
    with pytest.raises(ValueError, match="does not take future-known covariates"):
        launch(spec, nproc=2)
    spec.model, spec.inputs = "dlinear", {"target": ["nope"]}
    with pytest.raises(ValueError, match=r"\['nope'\] are not in the data"):
        launch(spec, nproc=2)


@pytest.mark.parametrize("extra, needle", [
    (["--model", "patchtst", "--calendar"], "model 'patchtst' does not take future-known covariates"),
    (["--target", "nope"], "target column(s) ['nope'] are not in the data"),
    (["--target", "y", "--future", "y"], "both target and future"),
])
def test_cli_ddp_bad_covariate_options_exit_2_with_one_line(tmp_path, extra, needle):
    from typer.testing import CliRunner

    from samovar.cli import app

    args = ["bench", "ddp", "--dataset", covariate_file(tmp_path), "--horizon", "12", "--lookback", "48",
            "--batch-size", "16", *extra]
    result = CliRunner().invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output


def test_ddp_rejects_uneven_batch():
    spec = DDPSpec(model="dlinear", dataset="synthetic", horizon=24, lookback=48, epochs=1, batch_size=15)
    with pytest.raises(Exception, match="divisible"):
        launch(spec, nproc=2)


@pytest.mark.slow
def test_ray_executor_on_a_local_instance(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'samovar[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        db = ResultsDB(tmp_path / "r.db")
        cells = plan(["dlinear"], ["synthetic"], [24], [1, 2], profile="quick", max_epochs=1, max_steps_per_epoch=2, lookback="48")
        counts = run_grid(cells, db, executor="ray", threads=1, runs_root=tmp_path / "runs", code_version="t")
        assert counts == {"done": 2}
        assert {r["seed"] for r in db.rows(status="done")} == {1, 2}
        # a second pass through Ray skips the finished cells
        assert run_grid(cells, db, executor="ray", threads=1, runs_root=tmp_path / "runs", code_version="t") == {"skipped": 2}
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_cli_ddp_run_that_diverges_in_the_ranks_exits_2_with_one_line(tmp_path):
    """A failure found only after spawning (lr 1e30: the loss becomes inf in the first epoch and the trainer
    raises FloatingPointError in every rank): samovar train's one line and exit status, no traceback, no hang."""
    from typer.testing import CliRunner

    from samovar.cli import app

    args = ["bench", "ddp", "--model", "dlinear", "--dataset", "synthetic", "--horizon", "24", "--lookback", "48",
            "--batch-size", "16", "--epochs", "1", "--max-steps", "2", "--lr", "1e30", "--nproc", "2"]
    result = CliRunner().invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "training diverged at epoch 1" in lines[0] and "lower the learning rate" in lines[0], \
        result.output


def test_launcher_reports_the_first_rank_error_else_names_the_ended_rank(tmp_path):
    import pickle

    from samovar.bench.ddp import RankFailed, _rank_error

    from torch.multiprocessing.spawn import ProcessExitedException

    from samovar.bench.ddp import _portable, failed_rank

    (tmp_path / "error-0.pkl").write_bytes(pickle.dumps((2.0, _portable(RuntimeError("Connection closed by peer"), 0))))
    (tmp_path / "error-1.pkl").write_bytes(pickle.dumps((1.0, _portable(FloatingPointError("training diverged"), 1))))
    error = _rank_error(str(tmp_path), Exception("process 0 terminated with exit code 1"))
    assert type(error) is FloatingPointError and str(error) == "training diverged" and failed_rank(error) == 1
    for path in tmp_path.iterdir():
        path.unlink()
    ended = ProcessExitedException("process 1 terminated with signal SIGKILL", error_index=1, error_pid=4321,
                                   exit_code=-9, signal_name="SIGKILL")
    error = _rank_error(str(tmp_path), ended)
    assert isinstance(error, RankFailed) and "process 1 terminated with signal SIGKILL" in str(error)
    assert failed_rank(error) == 1


def test_an_exception_that_does_not_pickle_crosses_as_its_type_and_first_line():
    import pickle
    import threading

    from samovar.bench.ddp import RankFailed, _portable, failed_rank

    class Holding(RuntimeError):
        def __init__(self, message):
            super().__init__(message)
            self.lock = threading.Lock()  # does not pickle

    crossed = pickle.loads(pickle.dumps(_portable(Holding("bad shapes\nsecond line"), 1)))
    assert isinstance(crossed, RankFailed) and str(crossed) == "Holding: bad shapes" and failed_rank(crossed) == 1


def test_cli_ddp_failure_that_is_not_bad_input_exits_1_with_one_line(monkeypatch):
    """The mapping for what samovar train does not report as bad input (here the error a rank's model
    raised, as launch raises it again): one line naming it, exit 1."""
    from typer.testing import CliRunner

    import samovar.bench.ddp as ddp
    from samovar.cli import app

    def failing(spec, nproc):
        error = RuntimeError("mat1 and mat2 shapes cannot be multiplied (16x48 and 96x24)\nsecond line")
        error.ddp_rank = 1  # as launch raises the first failure: marked with its rank
        raise error

    monkeypatch.setattr(ddp, "launch", failing)
    result = CliRunner().invoke(app, ["bench", "ddp", "--dataset", "synthetic", "--horizon", "24"],
                                catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "rank 1: RuntimeError: mat1 and mat2 shapes cannot be multiplied" in lines[0], result.output


@pytest.mark.slow
def test_ddp_takes_the_seasonal_period_from_the_data_as_one_process(tmp_path):
    """seasonal_naive's period left at None: fit_run takes it from the data's frequency (hourly: 24);
    the DDP run builds the model with the same period and records it (nothing to train: no DDP wrapper)."""
    import json

    from samovar.training.runs import fit_run, load_run

    source = covariate_file(tmp_path)
    spec = DDPSpec(model="seasonal_naive", dataset=source, horizon=12, lookback=48, epochs=1, batch_size=16,
                   run_dir=str(tmp_path / "run"))
    ddp = launch(spec, nproc=2)
    one, _ = fit_run("seasonal_naive", source, horizon=12, lookback=48, fit_mode="holdout",
                     config=TrainConfig(epochs=1, batch_size=16, quiet=True))
    assert one.model.period == 24
    assert load_run(tmp_path / "run").model.period == one.model.period
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["kwargs"] == {"period": 24}
    assert ddp["mse"] == pytest.approx(one.test_metrics["mse"], rel=1e-6)


@pytest.mark.slow
def test_ddp_trains_a_quantile_model_as_one_process(tmp_path):
    """loss=quantile under DDP: the trainer sees the quantile model inside the wrapper; the run's
    quantile forecasts are ordered and match the same run in one process."""
    import copy

    from samovar.bench.runner import EpochSubset
    from samovar.training.runs import load_run

    spec = DDPSpec(model="dlinear", dataset="synthetic", horizon=24, lookback=48, epochs=1, batch_size=16, lr=1e-2,
                   seed=3, max_steps_per_epoch=10, run_dir=str(tmp_path / "run"), train_options={"loss": "quantile"})
    launch(spec, nproc=2)
    data = prepare_data("synthetic", lookback=48, horizon=24)
    view = copy.copy(data)
    view.train = EpochSubset(data.train, 10 * 16)
    config = TrainConfig(epochs=1, batch_size=16, lr=1e-2, seed=3, quiet=True, loss="quantile")
    net = build_model("dlinear", 48, 24, data.channels, {}, seed=3, quantiles=config.quantiles)
    train(net, view, config)
    x, _ = data.test.batch(torch.arange(0, len(data.test), 37))
    with torch.no_grad():
        ddp_q = load_run(tmp_path / "run").model.forward_quantiles(x)
        one_q = net.forward_quantiles(x)
    assert (ddp_q.diff(dim=-1) >= 0).all()
    # measured: max |difference| 7.2e-7 on quantiles up to 4.1 in size (gradients summed in another order);
    # the bound is over ten times that
    torch.testing.assert_close(ddp_q, one_q, rtol=1e-4, atol=1e-5)


def test_cli_ddp_passes_set_loss_and_quantiles_as_samovar_train_reads_them(monkeypatch):
    from typer.testing import CliRunner

    import samovar.bench.ddp as ddp
    from samovar.cli import app

    seen = {}

    def capture(spec, nproc):
        seen["spec"] = spec
        return None  # what a non-zero rank returns: nothing printed

    monkeypatch.setattr(ddp, "launch", capture)
    args = ["bench", "ddp", "--dataset", "synthetic", "--horizon", "24", "--set", "individual=true",
            "--loss", "quantile", "--quantiles", "0.2,0.5,0.8"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    spec = seen["spec"]
    assert spec.model_kwargs == {"individual": True}
    assert spec.train_options == {"loss": "quantile", "quantiles": (0.2, 0.5, 0.8)}


@pytest.mark.parametrize("extra, needle", [
    (["--loss", "pinball"], "loss"),
    (["--loss", "quantile", "--quantiles", "0.5,1.5"], "quantile"),
    (["--set", "individual"], "key=value"),
])
def test_cli_ddp_bad_loss_quantiles_or_set_exit_2_with_one_line_before_spawning(extra, needle):
    from typer.testing import CliRunner

    from samovar.cli import app

    args = ["bench", "ddp", "--dataset", "synthetic", "--horizon", "24", "--lookback", "48", *extra]
    result = CliRunner().invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output


@pytest.mark.slow
@pytest.mark.parametrize("missing_on", [0, 1])
def test_torchrun_ranks_all_report_the_rank_that_failed_first(tmp_path, missing_on):
    """As under torchrun on two machines (RANK / WORLD_SIZE / MASTER_* set; here two local processes): the data
    file is missing only where rank `missing_on` runs. That rank fails reading it; the other fails later, in a
    collective, on the closed connection. Both print the same one line naming the first rank and its error,
    and exit 2 (bad input) rather than a peer's lost-connection error."""
    import os
    import socket
    import subprocess
    import sys

    import samovar

    here, there = tmp_path / "rank0", tmp_path / "rank1"
    for place in (here, there):
        place.mkdir()
    frame = covariate_file(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = os.path.dirname(os.path.dirname(samovar.__file__))
    args = [sys.executable, "-m", "samovar", "bench", "ddp", "--dataset", "load.csv", "--target", "y", "--horizon", "12",
            "--lookback", "48", "--batch-size", "8", "--epochs", "1", "--max-steps", "2", "--backend", "gloo"]
    ranks = []
    for rank, place in enumerate((here, there)):
        if rank != missing_on:
            os.link(frame, place / "load.csv")
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), PYTHONPATH=src, OMP_NUM_THREADS="1", COLUMNS="300")
        ranks.append(subprocess.Popen(args, cwd=place, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=240) for process in ranks]
    for process, (out, err) in zip(ranks, outputs):
        lines = [line for line in (out + err).splitlines() if line.strip()]
        assert process.returncode == 2, (out, err)
        assert len(lines) == 1 and lines[0].startswith(f"error: rank {missing_on}: ") and "load.csv" in lines[0], (out, err)


def test_cli_ddp_reads_a_day_first_csv_with_dayfirst_and_refuses_it_for_registered_data(monkeypatch, tmp_path):
    """--dayfirst / --date-format reach the spec, every rank reads the file with them (`_prepare`, as rank 0 does)
    and the run records them; for a registered dataset they are one error line before any process starts."""
    from typer.testing import CliRunner

    import samovar.bench.ddp as ddp
    from samovar.cli import app
    from samovar.data import DataError, make_synthetic

    frame = make_synthetic(length=400, channels=2, seed=1)
    dates = frame["date"].copy()
    frame["date"] = frame["date"].dt.strftime("%d/%m/%Y %H:%M")
    path = tmp_path / "dayfirst.csv"
    frame.to_csv(path, index=False)
    seen = {}
    monkeypatch.setattr(ddp, "launch", lambda spec, nproc: seen.update(spec=spec))
    args = ["bench", "ddp", "--dataset", str(path), "--horizon", "12", "--lookback", "24"]
    result = CliRunner().invoke(app, [*args, "--dayfirst"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    spec = seen["spec"]
    assert (spec.dayfirst, spec.date_format) == (True, None)
    _, data, _ = ddp._prepare(spec)
    assert list(data.dates) == list(dates)  # 13/01 is 13 January, as written
    with pytest.raises(DataError, match=r"pass dayfirst=True \(command line: --dayfirst\)"):
        ddp._prepare(ddp.DDPSpec(**{**spec.__dict__, "dayfirst": False}))
    for extra in (["--dayfirst"], ["--date-format", "%d/%m/%Y"]):
        seen.clear()
        refused = CliRunner().invoke(app, ["bench", "ddp", "--dataset", "ETTh1", "--horizon", "24", *extra],
                                     catch_exceptions=False, env={"COLUMNS": "300"})
        lines = [line for line in refused.output.splitlines() if line.strip()]
        assert refused.exit_code == 2 and len(lines) == 1 and extra[0] in lines[0], refused.output
        assert "ETTh1 is read by samovar in its own format" in lines[0] and not seen

