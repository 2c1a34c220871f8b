"""benchmarks/baselines_test_protocol.py: re-scoring a cell on the windows a drop_last test loader keeps."""

from __future__ import annotations

import pytest
import torch

from samovar.training import TrainConfig
from samovar.training.runs import fit_run

from conftest import load_benchmark


def test_kept_windows_is_what_a_drop_last_dataloader_yields():
    proto = load_benchmark("baselines_test_protocol")
    for n, batch in ((2161, 128), (2785, 256), (7, 7), (2161, 1)):
        loader = torch.utils.data.DataLoader(range(n), batch_size=batch, shuffle=False, drop_last=True)
        assert proto.kept_windows(n, batch) == sum(len(b) for b in loader)
    with pytest.raises(ValueError, match="scores none"):
        proto.kept_windows(100, 128)


def test_rescore_reproduces_the_record_and_scores_exactly_the_first_windows(tmp_path):
    proto = load_benchmark("baselines_test_protocol")
    config = TrainConfig(epochs=1, batch_size=64, lr=1e-3, quiet=True, threads=1)
    run_dir = tmp_path / "runs" / "dlinear_cell"
    result, data = fit_run("dlinear", "synthetic:seed=3,length=900,channels=2", horizon=12, lookback=48,
                           config=config, run_dir=run_dir)
    record = {"dataset": "synthetic:seed=3,length=900,channels=2", "lookback": 48, "horizon": 12,
              "run_dir": str(run_dir), "recipe": {"batch_size": 64}, "test": result.test_metrics}
    scored = proto.rescore(record, tmp_path / "runs", None)
    n = len(data.test)
    assert scored["windows"] == n and scored["kept_windows"] == (n // 64) * 64 < n
    assert scored["full"]["mse"] == pytest.approx(result.test_metrics["mse"], abs=1e-12)
    # written out: mean squared / absolute error over the first kept windows only
    x, y = data.test.batch(torch.arange(scored["kept_windows"]))
    with torch.no_grad():
        err = result.model.eval()(x).double() - y.double()
    assert scored["kept"]["mse"] == pytest.approx(float(err.square().mean()), rel=1e-9)
    assert scored["kept"]["mae"] == pytest.approx(float(err.abs().mean()), rel=1e-9)

    record["test"] = {"mse": result.test_metrics["mse"] + 0.01}  # a record from other weights is refused
    with pytest.raises(RuntimeError, match="not this record's"):
        proto.rescore(record, tmp_path / "runs", None)
    assert proto.rescore({**record, "run_dir": str(tmp_path / "nothing")}, tmp_path / "runs", None) is None
