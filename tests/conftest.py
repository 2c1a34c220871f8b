"""Shared test set-up: torch threads, and where the real benchmark files are."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

# Tests run two xdist workers on a 2-core machine: one thread each avoids oversubscription.
torch.set_num_threads(int(os.environ.get("SAMOVAR_TEST_THREADS", "1")))

REPO = Path(__file__).resolve().parents[1]
# Real data: $SAMOVAR_TEST_DATA, else $SAMOVAR_DATA_DIR (the package's and the Makefile's variable),
# else ../shared/data beside the checkout.
SHARED_DATA = Path(os.environ.get("SAMOVAR_TEST_DATA") or os.environ.get("SAMOVAR_DATA_DIR")
                   or REPO.parent / "shared" / "data")


@pytest.fixture
def fits(monkeypatch) -> list:
    """Every fit a cross-validation (``Forecaster.cross_validation``) makes: (the table it was given, the data
    it prepared from it), in order."""
    import samovar.api

    seen = []
    real = samovar.api.fit_run

    def spy(model, source, **kwargs):
        result, data = real(model, source, **kwargs)
        seen.append((source, data))
        return result, data

    monkeypatch.setattr(samovar.api, "fit_run", spy)
    return seen


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Directory holding the real benchmark files (e.g. ETTh1.csv.gz)."""
    return SHARED_DATA


def require_file(name: str) -> Path:
    """Path of a real benchmark file, or skip the calling test saying what is missing."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{name} not found in {SHARED_DATA} (set SAMOVAR_TEST_DATA or SAMOVAR_DATA_DIR to the data directory)")
    return path


class EvenSubset:
    """A training set of n windows spread evenly over another window set (same `len`/`batch` interface);
    keeps real-data training tests to a few seconds."""

    def __init__(self, windows, n: int) -> None:
        self.windows = windows
        self.index = torch.linspace(0, len(windows) - 1, min(n, len(windows))).round().long()

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, idx: torch.Tensor):
        return self.windows.batch(self.index[idx])


def naive_forecasts(data, lookback: int, horizon: int) -> dict:
    """The registered ``naive`` (last value) and ``seasonal_naive`` forecasts for `data`, built as
    ``samovar train`` builds them (the season from the data's frequency: 24 for hourly data); the
    floors a trained model is held to on the same windows."""
    from samovar.training.runs import build_model, fill_seasonal_period

    return {name: build_model(name, lookback, horizon, data.channels, fill_seasonal_period(name, None, data.freq))
            for name in ("naive", "seasonal_naive")}


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` (the benchmarks are scripts, not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses (and pickling) look their module up by name
    spec.loader.exec_module(module)
    return module
