"""The built-in synthetic dataset: a seeded multivariate series for offline demos and tests.

Each channel = level + trend + daily and weekly cycles (with a harmonic) + a slow cycle
+ AR(1) noise; then channel c receives a lagged copy of channel c-1 (cross-channel coupling,
lags of 1..12 steps), so a model that looks across channels can do better than one that does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from samovar.data.errors import DataError

SYNTHETIC_NAME = "synthetic"
DEFAULT_LENGTH = 5000
DEFAULT_CHANNELS = 7


def make_synthetic(length: int = DEFAULT_LENGTH, channels: int = DEFAULT_CHANNELS, seed: int = 0,
                   start: str = "2020-01-01", freq: str = "h", coupling: float = 1.0) -> pd.DataFrame:
    """A DataFrame with a ``date`` column and `channels` columns ``ch0..``: (length, 1 + channels).

    Same arguments give the same numbers. Periods are in steps (daily = 24, weekly = 168), so
    they read as days and weeks at the default hourly frequency. ``df.attrs`` marks it synthetic,
    which prepare_data keeps (name "synthetic", ``synthetic=True``), and records the coupling
    lags (``attrs["coupling_lags"][c]``: channel c follows channel c-1 by that many steps).
    coupling scales the cross-channel terms (0 switches them off; the other draws are unchanged).
    """
    for key, value, low in (("length", length, 2), ("channels", channels, 1)):
        if int(value) != value or value < low:
            raise DataError(f"synthetic {key} must be an integer >= {low}, got {value!r}")
    length, channels = int(length), int(channels)
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)[:, None]  # (length, 1)

    level = rng.normal(0.0, 2.0, channels)
    slope = rng.normal(0.0, 1.5, channels) / length  # drift of about +-1.5 over the series
    curve = rng.normal(0.0, 0.5, channels) / length**2
    trend = level + slope * t + curve * (t - length / 2) ** 2

    def cycle(period: float, amplitude: np.ndarray) -> np.ndarray:
        phase = rng.uniform(0.0, 2 * np.pi, channels)
        return amplitude * np.sin(2 * np.pi * t / period + phase)

    seasonal = (cycle(24, rng.uniform(0.6, 1.5, channels))
                + cycle(12, rng.uniform(0.1, 0.4, channels))
                + cycle(168, rng.uniform(0.3, 0.9, channels))
                + cycle(max(length / 3, 2.0), rng.uniform(0.2, 0.6, channels)))

    phi = rng.uniform(0.3, 0.8, channels)
    shocks = rng.normal(0.0, 1.0, (length, channels)) * rng.uniform(0.1, 0.3, channels)
    noise = np.empty_like(shocks)
    noise[0] = shocks[0]
    for step in range(1, length):
        noise[step] = phi * noise[step - 1] + shocks[step]

    series = trend + seasonal + noise
    lags = rng.integers(1, 13, channels)
    strength = coupling * rng.uniform(0.3, 0.7, channels)
    for c in range(1, channels):  # channel c follows channel c-1 with a delay
        lag = int(lags[c])
        delayed = np.concatenate([np.repeat(series[:1, c - 1], lag), series[:-lag, c - 1]])[:length]
        series[:, c] += strength[c] * delayed

    scale = rng.uniform(1.0, 10.0, channels)
    offset = rng.uniform(-20.0, 20.0, channels)
    frame = pd.DataFrame(series * scale + offset, columns=[f"ch{c}" for c in range(channels)])
    frame.insert(0, "date", pd.date_range(start, periods=length, freq=freq))
    frame.attrs.update(samovar_name=SYNTHETIC_NAME, samovar_synthetic=True,
                       samovar_params={"length": length, "channels": channels, "seed": seed},
                       coupling_lags=[0] + [int(lag) for lag in lags[1:]])
    return frame


def parse_synthetic_source(source: str) -> dict[str, int] | None:
    """Arguments of "synthetic" or "synthetic:seed=1,length=2000,channels=3"; None if not synthetic."""
    head, _, rest = source.strip().partition(":")
    if head.lower() != SYNTHETIC_NAME:
        return None
    options: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, value = item.partition("=")
        if key not in ("seed", "length", "channels") or not value.strip().lstrip("-").isdigit():
            raise DataError(f"bad synthetic option {item!r}; write e.g. 'synthetic:seed=1,length=2000,channels=3'")
        options[key] = int(value)
    return options
