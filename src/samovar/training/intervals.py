"""Split-conformal prediction intervals for any trained forecaster, without retraining.

Calibration: the absolute errors |y - ŷ| of the point forecast on every window of a calibration
split (default: validation), per horizon step h and channel c, on the standardized scale. With n
calibration windows, the radius at level p is the k-th smallest of the n errors at (h, c),
k = ceil((n + 1) p) (the finite-sample split-conformal quantile); when k > n no finite radius
has coverage p and the radius is infinite. The interval is ŷ ± radius, in data units
ŷ_raw ± radius · std_c (the train scaler's std). For exchangeable windows coverage is at least p;
consecutive windows of a series are not exchangeable, so `interval_scores` measures the coverage.

Radii are kept for the integer percents 1..99 (`LEVELS`), (99, horizon, channels) float32 in
``intervals.safetensors`` of the run directory, with n and the calibration split. While
calibrating, the errors of all windows are held once: 4·n·horizon·channels bytes. Only the
model's target channels are calibrated and scored (past-only covariates are never forecast outputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from ..models.base import ForecastModel
from . import rundir as rd
from .metrics import _first_target_row, scale_of, target_rows, targets_of, to_original, window_forecast

LEVELS: tuple[int, ...] = tuple(range(1, 100))  # interval levels kept, in percent
DEFAULT_SCORE_LEVELS: tuple[int, ...] = (50, 80, 90, 95)
SPLITS = ("train", "val", "test")  # the window sets of a ForecastData (samovar.data.splits.SPLITS)
_SORT_CHUNK = 1 << 24  # errors sorted at once while calibrating (bounds the sort's extra memory)


def conformal_rank(n: int, level: int) -> int:
    """ceil((n + 1) · level / 100), exactly: the 1-based rank of the radius among n errors at `level` percent."""
    return -(-(n + 1) * int(level) // 100)


def check_levels(levels: Iterable[Any], grid: tuple[int, ...] = LEVELS) -> tuple[int, ...]:
    """`levels` (percent) as ints, in the order given; ValueError naming the first bad one."""
    out: list[int] = []
    for value in levels:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"interval level {value!r} is not a number; give levels in percent, e.g. 80,95")
        if not 0 < value < 100:
            raise ValueError(f"interval level {value:g} is outside (0, 100); give levels in percent, e.g. 80,95")
        if value != int(value) or int(value) not in grid:
            raise ValueError(f"interval level {value:g} is not calibrated; calibrated levels: {_describe(grid)}")
        if int(value) in out:
            raise ValueError(f"interval level {value:g} is given twice")
        out.append(int(value))
    if not out:
        raise ValueError("no interval levels given; give levels in percent, e.g. 80,95")
    return tuple(out)


def _describe(grid: tuple[int, ...]) -> str:
    if grid == tuple(range(grid[0], grid[-1] + 1)) and len(grid) > 3:
        return f"the integer percents {grid[0]}..{grid[-1]}"
    return ", ".join(str(g) for g in grid)


def radii_from_errors(errors: torch.Tensor, levels: tuple[int, ...] = LEVELS) -> torch.Tensor:
    """errors: (n, H, C) absolute errors -> (len(levels), H, C) radii (inf where the rank exceeds n)."""
    n, horizon, channels = errors.shape
    if n == 0:
        raise ValueError("cannot calibrate on a split with no windows")
    ranks = [conformal_rank(n, level) for level in levels]
    finite = [i for i, k in enumerate(ranks) if k <= n]
    radii = torch.full((len(levels), horizon, channels), math.inf, dtype=errors.dtype)
    if not finite:
        return radii
    rows = torch.tensor([ranks[i] - 1 for i in finite])
    steps = max(1, _SORT_CHUNK // max(1, n * channels))
    for h0 in range(0, horizon, steps):
        ordered = errors[:, h0:h0 + steps].sort(dim=0).values
        radii[finite, h0:h0 + steps] = ordered[rows]
    return radii


@dataclass
class Calibration:
    """Interval radii at `levels` (percent) per horizon step and channel, standardized scale."""

    radii: torch.Tensor  # (len(levels), horizon, channels) float32
    levels: tuple[int, ...]
    windows: int  # n, the calibration windows
    split: str  # the split they came from

    def radius(self, level: int) -> torch.Tensor:
        """(horizon, channels) radius at `level` percent (inf where n is too small for it)."""
        (level,) = check_levels([level], self.levels)
        return self.radii[self.levels.index(level)]

    @property
    def max_finite_level(self) -> int | None:
        """The highest level with finite radii (None: none is finite)."""
        finite = [lv for lv in self.levels if conformal_rank(self.windows, lv) <= self.windows]
        return max(finite) if finite else None

    def infinite_levels(self, levels: Iterable[int]) -> list[int]:
        """The levels of `levels` whose radius is infinite (too few calibration windows)."""
        return [lv for lv in levels if conformal_rank(self.windows, lv) > self.windows]

    def rescaled(self, factor: Any) -> "Calibration":
        """The same intervals on another standardized scale: radii times `factor` per channel
        (old std / new std), e.g. radii of a validation-stage model moved to the scaler of a refit on all rows."""
        factor = torch.as_tensor(np.asarray(factor, dtype=np.float64), dtype=self.radii.dtype)
        return Calibration(radii=self.radii * factor, levels=self.levels, windows=self.windows, split=self.split)

    def save(self, path: str | Path) -> None:
        rd.save_tensors(path, {"radii": self.radii.float()}, {
            "levels": ",".join(str(lv) for lv in self.levels), "windows": str(self.windows), "split": self.split,
            "scale": "standardized", "rule": "ceil((n+1)p)-th smallest absolute error",
        })

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        tensors, meta = rd.load_tensors(path)
        try:
            levels = tuple(int(v) for v in meta["levels"].split(","))
            return cls(radii=tensors["radii"], levels=levels, windows=int(meta["windows"]), split=meta["split"])
        except KeyError as exc:
            raise ValueError(f"{path} is not an intervals file of samovar (missing {exc}); "
                             "recompute it with `samovar calibrate RUN_DIR`") from None


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return split


@torch.no_grad()
def calibrate(model: ForecastModel, windows: Any, *, split: str = "val", batch_size: int = 256,
              device: torch.device | str = "cpu", levels: tuple[int, ...] = LEVELS) -> Calibration:
    """Radii at `levels` from the model's absolute errors on every window of `windows` (a WindowSet)."""
    n = len(windows)
    if n == 0:
        raise ValueError(f"cannot calibrate on the {split} split: it has no windows")
    was_training = model.training
    model.eval()
    errors = None
    targets = targets_of(model)
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        pred, y = window_forecast(model, windows, idx, device)
        y = y[..., :targets]
        if errors is None:
            errors = torch.empty((n, *y.shape[1:]), dtype=torch.float32)
        errors[start:start + len(idx)] = (pred[..., :targets].float().cpu() - y.float()).abs()
    model.train(was_training)
    return Calibration(radii=radii_from_errors(errors, levels), levels=tuple(levels), windows=n, split=split)


@torch.no_grad()
def coverage_scores(model: ForecastModel, windows: Any, calibration: Calibration,
                    levels: Iterable[int] = DEFAULT_SCORE_LEVELS, *, batch_size: int = 256,
                    device: torch.device | str = "cpu", scaler: Any = None,
                    raw_values: np.ndarray | None = None) -> list[dict[str, float]]:
    """Empirical coverage and mean width per level over every value of every window of `windows`.

    One row per level: ``level``, ``coverage`` (share of targets inside ŷ ± radius, standardized
    scale), ``width`` (mean interval width, standardized), and with `scaler` and `raw_values` (T, C)
    ``coverage_raw`` / ``width_raw`` against the raw data in data units; plus ``windows``.
    """
    levels = check_levels(levels, calibration.levels)
    n = len(windows)
    if n == 0:
        raise ValueError("cannot score intervals on a split with no windows")
    radii = torch.stack([calibration.radius(lv) for lv in levels]).double()  # (K, H, C)
    was_training = model.training
    model.eval()
    covered = torch.zeros(len(levels), dtype=torch.float64)
    covered_raw = torch.zeros(len(levels), dtype=torch.float64)
    raw = None
    first = None
    targets = targets_of(model)
    if scaler is not None and raw_values is not None:
        raw = torch.as_tensor(np.asarray(raw_values), dtype=torch.float64)
        first = None if hasattr(windows, "target_row_index") else _first_target_row(windows)
    width_raw = torch.zeros(len(levels), dtype=torch.float64)
    count = 0
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        pred, y = window_forecast(model, windows, idx, device)
        pred = pred.double().cpu()
        err = (pred - y.double()).abs()[..., :targets]
        count += err.numel()
        err_raw = None
        if raw is not None:
            rows = torch.as_tensor(target_rows(windows, idx, first, y.shape[1]))
            err_raw = (to_original(scaler, windows, idx, pred) - raw[rows]).abs()[..., :targets]
            # the std each target value was standardised by, broadcasting to err_raw
            std = torch.as_tensor(np.asarray(scale_of(scaler, windows, idx), dtype=np.float64))[..., :targets]
        for k in range(len(levels)):  # one level at a time: memory of one batch of errors
            covered[k] += int((err <= radii[k]).sum())
            if err_raw is not None:
                bound = (radii[k] * std).expand_as(err_raw)  # (B, H, T) in data units
                covered_raw[k] += int((err_raw <= bound).sum())
                width_raw[k] += 2 * float(bound.sum())
    model.train(was_training)
    out = []
    for k, level in enumerate(levels):
        row = {"level": level, "coverage": float(covered[k]) / count, "width": 2 * float(radii[k].mean()), "windows": n}
        if raw is not None:
            row.update(coverage_raw=float(covered_raw[k]) / count, width_raw=float(width_raw[k]) / count)
        out.append(row)
    return out


__all__ = ["DEFAULT_SCORE_LEVELS", "LEVELS", "Calibration", "calibrate", "check_levels", "check_split",
           "conformal_rank", "coverage_scores", "radii_from_errors"]
