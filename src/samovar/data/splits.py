"""Split borders, the train-only scaler, and lazily served sliding windows."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from samovar.data.errors import DataError
from samovar.data.registry import SplitProtocol

SPLITS = ("train", "val", "test")


def own_rows(protocol: SplitProtocol, rows: int) -> dict[str, tuple[int, int]]:
    """Row range [start, end) each split owns, without borrowed history; rows after test are unused."""
    if protocol.kind == "months":
        month = protocol.rows_per_month
        train_end = int(protocol.train * month)
        val_end = train_end + int(protocol.val * month)
        test_end = val_end + int(protocol.test * month)
        if rows < test_end:
            raise DataError(
                f"the {protocol.describe()} protocol needs {test_end} rows, the series has {rows}; "
                "use the complete published file."
            )
        return {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, test_end)}
    if protocol.history:  # Time-Series-Library Dataset_Custom / Dataset_Solar arithmetic
        train_rows = int(rows * protocol.train)
        test_rows = int(rows * protocol.test)
        val_rows = rows - train_rows - test_rows
        return {"train": (0, train_rows), "val": (train_rows, train_rows + val_rows), "test": (rows - test_rows, rows)}
    # Dataset_PEMS arithmetic (note: the val end is int((train + val) * rows), float sum included)
    train_end = int(protocol.train * rows)
    val_end = int((protocol.train + protocol.val) * rows)
    return {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, rows)}


def split_rows(protocol: SplitProtocol, rows: int, lookback: int) -> dict[str, tuple[int, int]]:
    """Row range [start, end) of each split including the history its first window reads."""
    owned = own_rows(protocol, rows)
    if not protocol.history:
        return owned
    return {name: (max(start - lookback, 0) if name != "train" else 0, end) for name, (start, end) in owned.items()}


def check_split_sizes(protocol: SplitProtocol, rows: int, lookback: int, horizon: int, name: str) -> None:
    """Raise DataError if any split holds no full window, saying the numbers and what would fit."""
    owned = own_rows(protocol, rows)
    need = lookback + horizon
    for split, (start, end) in owned.items():
        if split != "train" and getattr(protocol, split) == 0:
            continue  # no such split asked for (test 0: the refits of a backtest; val 0: training on every row)
        n = end - start
        borrows = protocol.history and split != "train"
        if borrows:
            if start - lookback < 0:
                available = end  # history reaches back to row 0 only
            else:
                available = n + lookback
        else:
            available = n
        if available >= need:
            continue
        if borrows:
            detail = f"{n} rows of its own plus up to {lookback} rows of history before it ({available} in all)"
            fits = f"horizon <= {n}" if n >= 1 else "a larger share for this split"
        else:
            detail = f"{n} rows"
            options = []
            if n - lookback >= 1:
                options.append(f"horizon <= {n - lookback} at lookback {lookback}")
            if n - horizon >= 1:
                options.append(f"lookback <= {n - horizon} at horizon {horizon}")
            fits = " or ".join(options) or f"lookback + horizon <= {n}"
        raise DataError(
            f"{name}: the {split} split has {detail}, but one window needs lookback {lookback} + "
            f"horizon {horizon} = {need} rows. What would fit: {fits}; or use a longer series "
            "(for your own data: a larger share for this split via split=(train, val, test))."
        )


class Scaler:
    """Per-channel standardisation (x - mean) / std, fit on the training rows only.

    std is the population std (ddof=0, as sklearn's StandardScaler). A constant channel
    (std below 10 * float64 eps * max(1, |mean|)) gets std = 1, so it is centred, not blown up.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise DataError(f"scaler mean has {self.mean.size} channels but std has {self.std.size}")
        if not (np.isfinite(self.std).all() and (self.std > 0).all() and np.isfinite(self.mean).all()):
            raise DataError("scaler mean must be finite and std finite and positive")

    @classmethod
    def fit(cls, values: np.ndarray) -> "Scaler":
        """values: (rows, channels); fit on these rows (pass the training rows only)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] == 0:
            raise DataError(f"Scaler.fit needs a (rows, channels) array with rows > 0, got shape {values.shape}")
        mean = values.mean(axis=0)
        std = values.std(axis=0)
        constant = std < 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean))
        return cls(mean, np.where(constant, 1.0, std))

    @property
    def channels(self) -> int:
        return self.mean.size

    def _stats_like(self, a: Any) -> tuple[Any, Any]:
        if a.shape[-1] != self.channels:
            raise DataError(f"scaler has {self.channels} channels but the array's last dimension is {a.shape[-1]}")
        if isinstance(a, torch.Tensor):
            dtype = a.dtype if a.is_floating_point() else torch.float32
            return (torch.as_tensor(self.mean, dtype=dtype, device=a.device),
                    torch.as_tensor(self.std, dtype=dtype, device=a.device))
        return self.mean, self.std

    def transform(self, a: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """a: (..., channels) -> standardised, same type (numpy float32 stays float32)."""
        mean, std = self._stats_like(a)
        out = (a - mean) / std
        return out.astype(a.dtype, copy=False) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else out

    def inverse_transform(self, a: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """a: (..., channels) on the scaled scale -> original units, same type."""
        mean, std = self._stats_like(a)
        out = a * std + mean
        return out.astype(a.dtype, copy=False) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else out

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Scaler":
        try:
            return cls(np.asarray(d["mean"]), np.asarray(d["std"]))
        except KeyError as exc:
            raise DataError(f"scaler dict needs keys 'mean' and 'std', missing {exc}") from None

    def __repr__(self) -> str:
        return f"Scaler(channels={self.channels})"


class WindowSet:
    """All windows (stride 1) of rows [start, end) of one scaled tensor, served by index.

    Window i reads x = data[start + i : start + i + lookback] and
    y = data[start + i + lookback : start + i + lookback + horizon]. Nothing per window is stored.
    future: future-known covariates (rows, F) aligned with `data`, or None; ``future_batch``
    serves window i's rows start + i .. start + i + lookback + horizon - 1 (lookback and horizon).
    """

    def __init__(self, data: torch.Tensor, start: int, end: int, lookback: int, horizon: int, name: str = "",
                 future: torch.Tensor | None = None) -> None:
        if not 0 <= start <= end <= data.shape[0]:
            raise DataError(f"window rows [{start}, {end}) are outside the data's {data.shape[0]} rows")
        if future is not None and future.shape[0] != data.shape[0]:
            raise DataError(f"future covariates have {future.shape[0]} rows, the series {data.shape[0]}")
        self.data = data
        self.future = future
        self.start, self.end = int(start), int(end)
        self.lookback, self.horizon = int(lookback), int(horizon)
        self.name = name
        self._offsets = torch.arange(self.lookback + self.horizon, device=data.device)

    def __len__(self) -> int:
        return max(self.end - self.start - self.lookback - self.horizon + 1, 0)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """idx: (B,) window indices -> x: (B, lookback, C), y: (B, horizon, C), one gather."""
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.data.device).reshape(-1)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= len(self)):
            raise IndexError(f"{self.name or 'window set'}: window indices must be in [0, {len(self)}), got "
                             f"min {int(idx.min())}, max {int(idx.max())}")
        windows = self.data[self.start + idx[:, None] + self._offsets]  # (B, lookback + horizon, C)
        return windows[:, : self.lookback], windows[:, self.lookback:]

    def future_batch(self, idx: torch.Tensor) -> torch.Tensor | None:
        """idx: (B,) window indices -> the future-known covariates (B, lookback + horizon, F), or None."""
        if self.future is None:
            return None
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.future.device).reshape(-1)
        return self.future[self.start + idx[:, None] + self._offsets]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One window: x (lookback, C), y (horizon, C) (for a torch DataLoader; batch() is faster)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        i %= len(self)
        x, y = self.batch(torch.tensor([i]))
        return x[0], y[0]

    def input_rows(self, i: int) -> range:
        """Row indices of window i's lookback (into ForecastData.values / dates)."""
        first = self.start + self._check(i)
        return range(first, first + self.lookback)

    def target_rows(self, i: int) -> range:
        """Row indices of window i's horizon (into ForecastData.values / dates)."""
        first = self.start + self._check(i) + self.lookback
        return range(first, first + self.horizon)

    def _check(self, i: int) -> int:
        if not 0 <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        return int(i)

    def __repr__(self) -> str:
        return f"WindowSet({self.name!r}, rows=[{self.start}, {self.end}), windows={len(self)})"
