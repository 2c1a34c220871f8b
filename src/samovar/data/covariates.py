"""Targets and covariates: which columns are forecast, which are only read, and calendar features.

A series' columns take one of three roles (docs/covariates.md):

- targets: forecast and scored (default: every column that is not a future covariate, TSLib's
  "M"; one target out of several columns is "MS", one column in and out is "S");
- past-only covariates: read in the lookback, never beyond the forecast origin, never scored
  (default: every column that is neither a target nor a future covariate);
- future-known covariates: user columns whose values over the horizon are known when forecasting
  (given at prediction time), plus calendar features derived from the dates.

Calendar features (``calendar_features``) are chosen from the sampling frequency and scaled to
[-0.5, 0.5] by their fixed range (value / (count - 1) - 0.5), so they need no fitted scaler:

    minute_of_hour (sub-hourly), hour_of_day (sub-daily), day_of_week (sub-weekly),
    day_of_month and day_of_year (daily and finer), week_of_year (weekly), month_of_year (weekly and coarser)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from samovar.data.errors import DataError

# name -> (pandas accessor on a DatetimeIndex, first value, number of values)
CALENDAR = {
    "minute_of_hour": (lambda d: d.minute, 0, 60),
    "hour_of_day": (lambda d: d.hour, 0, 24),
    "day_of_week": (lambda d: d.day_of_week, 0, 7),
    "day_of_month": (lambda d: d.day, 1, 31),
    "day_of_year": (lambda d: d.day_of_year, 1, 366),
    "week_of_year": (lambda d: d.isocalendar().week.to_numpy(), 1, 53),
    "month_of_year": (lambda d: d.month, 1, 12),
}


def calendar_names(freq: str | None) -> list[str]:
    """The calendar features that vary at sampling frequency `freq` (a pandas alias, e.g. "h", "15min", "D")."""
    from samovar.data.frequency import mean_step

    if freq is None:
        raise DataError("calendar features need dates at a regular frequency; this data has none: give a date column "
                        "(or drop --calendar / calendar=True)")
    step = mean_step(freq)
    hour, day = pd.Timedelta(hours=1), pd.Timedelta(days=1)
    if step < hour:
        return ["minute_of_hour", "hour_of_day", "day_of_week", "day_of_month", "day_of_year"]
    if step < day:
        return ["hour_of_day", "day_of_week", "day_of_month", "day_of_year"]
    if step < 7 * day:
        return ["day_of_week", "day_of_month", "day_of_year"]
    if step < 28 * day:
        return ["day_of_month", "week_of_year", "month_of_year"]
    if step < 365 * day:
        return ["month_of_year"]
    raise DataError(f"calendar features: data at frequency {freq!r} (yearly or coarser) has no calendar season; "
                    "drop --calendar / calendar=True")


def calendar_features(dates: pd.DatetimeIndex, names: list[str]) -> np.ndarray:
    """(len(dates), len(names)) float32: each feature's value scaled by its fixed range to [-0.5, 0.5]."""
    out = np.empty((len(dates), len(names)), dtype=np.float32)
    for k, name in enumerate(names):
        accessor, first, count = CALENDAR[name]
        out[:, k] = (np.asarray(accessor(dates), dtype=np.float64) - first) / (count - 1) - 0.5
    return out


@dataclass(frozen=True)
class Inputs:
    """The role of each column: ``targets`` then ``past`` are the series channels, in that order;
    ``future`` are user columns known over the horizon; ``calendar`` the calendar feature names."""

    targets: tuple[str, ...]
    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()
    calendar: tuple[str, ...] = ()

    @property
    def series(self) -> list[str]:
        """The channels of x: targets, then past-only covariates."""
        return [*self.targets, *self.past]

    @property
    def future_channels(self) -> int:
        return len(self.future) + len(self.calendar)

    @property
    def kinds(self) -> list[str]:
        """The covariate kinds used ("past", "future")."""
        return [kind for kind, used in (("past", self.past), ("future", self.future_channels)) if used]

    def is_default(self, columns: list[str]) -> bool:
        """Every column a target in its own order, no covariates (TSLib's "M"): nothing to record."""
        return list(self.targets) == list(columns) and not self.past and not self.future_channels

    def to_dict(self) -> dict[str, list[str]]:
        return {"targets": list(self.targets), "past": list(self.past), "future": list(self.future),
                "calendar": list(self.calendar)}

    def options(self) -> dict:
        """The ``prepare_data`` keywords that rebuild these roles on the same columns."""
        return {"target": list(self.targets), "past": list(self.past), "future": list(self.future),
                "calendar": bool(self.calendar)}

    @classmethod
    def from_record(cls, data: dict) -> "Inputs":
        """From config.json's "data" section (a run without an "inputs" entry: every column a target)."""
        rec = data.get("inputs") or {"targets": data["columns"]}
        return cls(tuple(rec["targets"]), tuple(rec.get("past", ())), tuple(rec.get("future", ())),
                   tuple(rec.get("calendar", ())))


def _names(value, what: str) -> list[str] | None:
    """None, a column name, a comma list or a sequence of names -> list (None stays None)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip() for v in items if str(v).strip()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{what}: column(s) {repeated} given twice")
    return names


def resolve_inputs(columns: list[str], *, target=None, past=None, future=None, calendar: bool = False,
                   freq: str | None = None) -> Inputs:
    """The role of every column of a table with `columns` (see the module text).

    target: None (every column not in `future`) or names; past: None (every other column),
    [] / "" (none: with one target, TSLib's "S") or names; future: names of user columns known
    over the horizon. An unknown name or a column in two roles is a DataError naming it.
    """
    target, past, future = _names(target, "target"), _names(past, "past"), _names(future, "future") or []
    for what, names in (("target", target), ("past", past), ("future", future)):
        unknown = [n for n in names or [] if n not in columns]
        if unknown:
            raise DataError(f"{what} column(s) {unknown} are not in the data; its columns: {', '.join(columns)}")
    if target is not None and not target:
        raise DataError("target: give at least one column to forecast (or none for every column)")
    targets = [c for c in columns if c not in future] if target is None else target
    if not targets:
        raise DataError(f"every column is a future covariate ({', '.join(future)}): leave at least one to forecast")
    others = [c for c in columns if c not in targets and c not in future]
    past = others if past is None else past
    for a, b, names_a, names_b in (("target", "future", targets, future), ("target", "past", targets, past),
                                   ("past", "future", past, future)):
        both = [n for n in names_a if n in names_b]
        if both:
            raise DataError(f"column(s) {both} are both {a} and {b}: give each column one role")
    names = calendar_names(freq) if calendar else []
    return Inputs(tuple(targets), tuple(past), tuple(future), tuple(names))


__all__ = ["CALENDAR", "Inputs", "calendar_features", "calendar_names", "resolve_inputs"]
