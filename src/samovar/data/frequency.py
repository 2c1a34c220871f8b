"""Seasonal period of a sampling frequency: the number of steps in one cycle of the data's dominant
calendar season (a day for sub-daily data, a week for daily, a year for weekly and coarser).

    seasonal_period("h") == 24; seasonal_period("10min") == 144; seasonal_period("D") == 7

Used by the seasonal-naive forecast and by MASE's scale; ``None`` means no calendar season is known
(no frequency, a frequency that does not divide a day, or yearly data).
"""

from __future__ import annotations

import pandas as pd

_DAY = pd.Timedelta(days=1)
# Spellings older pandas accepted and pandas 3 refuses, read as they were meant.
_LEGACY = {"H": "h", "T": "min", "S": "s", "L": "ms", "M": "ME", "Q": "QE", "A": "YE", "Y": "YE", "BM": "BME", "BQ": "BQE"}
# Offsets of a day or longer, by the leading letters of their alias (pandas 2 and 3 spellings).
_CALENDAR = {"D": 7, "B": 5, "C": 5, "W": 52, "SM": 24, "SMS": 24, "M": 12, "ME": 12, "MS": 12, "BM": 12,
             "BME": 12, "BMS": 12, "Q": 4, "QE": 4, "QS": 4, "BQ": 4, "BQE": 4, "BQS": 4}


def _offset(freq: str) -> pd.DateOffset:
    """The pandas offset of a frequency alias (older spellings too); ValueError for anything else."""
    digits = str(freq).rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")  # "2H" -> "2", "H" -> ""
    letters = str(freq)[len(digits):]
    text = digits + _LEGACY[letters] if letters in _LEGACY else str(freq)
    try:
        return pd.tseries.frequencies.to_offset(text)
    except (ValueError, TypeError):
        raise ValueError(f"{freq!r} is not a pandas frequency alias (e.g. 'h', '15min', 'D', 'W', 'MS')") from None


def mean_step(freq: str) -> pd.Timedelta:
    """The average step of a frequency over 100 steps: 'h' and '60min' -> 1 hour, 'MS' and 'ME' -> ~30.4 days."""
    dates = pd.date_range("2001-01-01", periods=101, freq=_offset(freq))
    return (dates[-1] - dates[0]) / 100


def describe_step(freq: str) -> str:
    """The mean step of a frequency in words: 'h' -> "01:00:00", 'D' -> "1 day", 'W' -> "7 days"."""
    step = mean_step(freq)
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{step.days} day" + ("" if step.days == 1 else "s")
    return str(step).removeprefix("0 days ")


def same_frequency(a: str, b: str) -> bool:
    """True when two frequency aliases step alike (within 1%): 'h' == '60min', 'W-SUN' == 'W-TUE', 'D' != 'B'."""
    step_a, step_b = mean_step(a), mean_step(b)
    return abs(step_a - step_b) <= 0.01 * max(step_a, step_b)


def seasonal_period(freq: str | None) -> int | None:
    """Steps per season for a pandas frequency alias (see the module text), or None if there is none.

    Raises ValueError for a string pandas does not read as a frequency.
    """
    if freq is None:
        return None
    offset = _offset(freq)
    alias = offset.rule_code  # without the multiple: "10min" -> "min", "W-TUE" -> "W-TUE"
    base = alias.split("-")[0]
    if isinstance(offset, pd.offsets.Tick):  # fixed length: h, min, s, ...; D is a Tick in some pandas versions
        step = pd.Timedelta(offset)
        if step < _DAY:
            per_day, rest = divmod(_DAY, step)
            return int(per_day) if rest == pd.Timedelta(0) and per_day > 1 else None
        if step == _DAY:
            return 7
        return None
    if base in _CALENDAR:
        per_season, rest = divmod(_CALENDAR[base], offset.n)
        return int(per_season) if rest == 0 and per_season > 1 else None
    return None  # yearly and anything else: no shorter calendar season


__all__ = ["describe_step", "mean_step", "same_frequency", "seasonal_period"]
