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
