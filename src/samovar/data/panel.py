"""Many series in long format (one row per series and time step), as NeuralForecast and statsforecast read them.

A long table has an id column (default ``unique_id``), a time column (``ds``) and a value column
(``y``); other numeric columns (``Panel.extra``) are model inputs when named as past-only or
future-known covariates (`panel_inputs`, docs/panels.md), else carried along. Series may differ in
length and start. `prepare_panel` splits every series by time within itself (the shares of the split
protocol, applied to each series' own rows), fits one scaler per series (per column) on that series'
training rows only, and serves windows of every series from one concatenated array: window i is one
series' lookback -> horizon, channels = the value column and its past-only covariates, gathered per
batch with its future-known covariates (nothing per window is stored).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from samovar.data.covariates import Inputs, calendar_features, resolve_inputs
from samovar.data.errors import DataError
from samovar.data.frequency import same_frequency
from samovar.data.io import (DECIMAL, FILL_MODES, SEP, Origin, _file_origin, _numeric_values, _parse_dates, _read_file,
                             _show_rows, csv_dialect, csv_sep, infer_freq)
from samovar.data.registry import SplitProtocol
from samovar.data.splits import SPLITS, Scaler, check_split_sizes, own_rows, split_rows

SHORT_SERIES = ("error", "drop")
NAMES_HELP = "id_col=, time_col=, target_col= (command line: --id-col, --time-col, --target-col)"


@dataclass(frozen=True)
class LongFormat:
    """The columns of a long table and what to do with a series too short for a window in a split.

    short_series: "error" (default: stop, naming the short series) or "drop" (leave them out of
    training and list them in the data's notes and ``PanelData.excluded``).
    """

    id_col: str = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"
    short_series: str = "error"

    def __post_init__(self) -> None:
        for key in ("id_col", "time_col", "target_col"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise DataError(f"{key} must be a column name, got {getattr(self, key)!r}")
        if len({self.id_col, self.time_col, self.target_col}) < 3:
            raise DataError(f"id_col, time_col and target_col must be three different columns, got "
                            f"{self.id_col!r}, {self.time_col!r}, {self.target_col!r}")
        if self.short_series not in SHORT_SERIES:
            raise DataError(f"short_series={self.short_series!r}: choose one of {', '.join(SHORT_SERIES)}")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "LongFormat | None":
        return None if d is None else cls(**d)


def long_format_options(id_col: str | None = None, time_col: str | None = None, target_col: str | None = None,
                        short_series: str = "error") -> dict[str, str] | None:
    """The LongFormat (as a dict) of the options given, the defaults filling the rest; None when none is
    given, so that a ``unique_id`` column decides (`long_format_of`)."""
    names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
    if all(v is None for v in names.values()) and short_series == "error":
        return None
    return LongFormat(**{k: v for k, v in names.items() if v is not None}, short_series=short_series).to_dict()


def _header(source: Any, sep: str = SEP) -> list[str] | None:
    """Column names of a DataFrame or of a .csv/.txt file's first line, split at `sep` (None for anything else)."""
    if isinstance(source, pd.DataFrame):
        return [str(c) for c in source.columns] + ([str(source.index.name)] if source.index.name is not None else [])
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = Path(source).expanduser()
    name = path.name.lower().removesuffix(".gz")
    if not path.is_file() or not name.endswith((".csv", ".txt")):
        return None
    from samovar.data.io import _first_line

    return [field.strip().strip('"').strip("'") for field in _first_line(path).split(sep)]


def long_format_of(source: Any, long_format: LongFormat | dict | None, sep: str = SEP) -> LongFormat | None:
    """The LongFormat to read `source` with, or None for a wide table.

    Given explicitly (`long_format`), the source is read as long (missing columns are an error then);
    else a source whose columns include ``unique_id`` is read as long with the default names (a file's
    header line split at `sep`).
    """
    if isinstance(long_format, dict):
        long_format = LongFormat(**long_format)
    if long_format is not None:
        return long_format
    columns = _header(source, csv_sep(sep))  # the separator alone: its decimal mark may be anything but sep
    return LongFormat() if columns is not None and LongFormat.id_col in columns else None


# ----------------------------------------------------------------------------- reading


@dataclass(repr=False)
class Panel:
    """Validated long data, series after series. Series i owns rows offsets[i]:offsets[i + 1] of
    `values` (rows, 1) float32 and `times`, in increasing time; `extra` (rows, k) holds the carried columns."""

    ids: list[str]
    offsets: np.ndarray
    values: np.ndarray
    times: pd.DatetimeIndex | None
    steps: np.ndarray | None  # integer time steps when the time column holds integers (times None)
    freq: str | None
    fmt: LongFormat
    extra_columns: list[str]
    extra: np.ndarray
    origin: str
    filled: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def rows(self, i: int) -> slice:
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def covariate_values(self, names: Any) -> np.ndarray:
        """(rows, len(names)) float32: the extra columns `names`, in that order."""
        return self.extra[:, [self.extra_columns.index(c) for c in names]].astype(np.float32)

    def time_labels(self, rows: np.ndarray) -> np.ndarray:
        """The times (datetime64) or integer steps of `rows` (any shape)."""
        return (self.times.to_numpy() if self.times is not None else np.asarray(self.steps))[rows]

    def time_of(self, row: int) -> Any:
        """The time of one row: a Timestamp, or an integer step."""
        return self.times[int(row)] if self.times is not None else int(self.steps[row])

    def frame(self, columns: Any = ()) -> pd.DataFrame:
        """The panel as a long table: its id, time and value columns (``fmt``'s names), then the extra `columns`."""
        fmt = self.fmt
        out = pd.DataFrame({fmt.id_col: np.repeat(np.asarray(self.ids, dtype=object), self.lengths),
                            fmt.time_col: self.times if self.times is not None else self.steps,
                            fmt.target_col: self.values[:, 0]})
        for name in columns:
            out[name] = self.extra[:, self.extra_columns.index(name)]
        return out

    def subset(self, keep: np.ndarray) -> "Panel":
        """The panel of series `keep` (indices, in order)."""
        rows = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in keep]) if len(keep) else np.array([], int)
        lengths = self.lengths[keep]
        return Panel(ids=[self.ids[i] for i in keep], offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                     values=self.values[rows], times=None if self.times is None else self.times[rows],
                     steps=None if self.steps is None else self.steps[rows], freq=self.freq, fmt=self.fmt,
                     extra_columns=self.extra_columns, extra=self.extra[rows], origin=self.origin, filled=self.filled,
                     notes=list(self.notes))

    def __repr__(self) -> str:
        return f"Panel({len(self.ids)} series, {len(self.values)} rows, freq={self.freq!r})"


def _frame_and_origin(source: Any, sep: str = SEP, decimal: str = DECIMAL) -> tuple[pd.DataFrame, Origin]:
    if isinstance(source, pd.DataFrame):
        csv_dialect(sep, decimal)  # bad values are an error whatever the source
        frame = source.reset_index() if source.index.name is not None else source.reset_index(drop=True)
        return frame, Origin(str(source.attrs.get("samovar_name", "DataFrame")))
    path = Path(source).expanduser()
    return _read_file(path, sep, decimal), _file_origin(str(path), path, sep, decimal)


def read_panel(source: Any, fmt: LongFormat | None = None, *, fill: str = "error", date_format: str | None = None,
               dayfirst: bool = False, covariates: Any = None, sep: str = SEP, decimal: str = DECIMAL) -> Panel:
    """Read and validate a long table (DataFrame or .csv/.txt path, optionally .gz) into a `Panel`.

    Rows are grouped by series (in the order the ids first appear) and sorted by time within each.
    A missing column, a missing id, an unreadable time, a date repeated within one series, series at
    different frequencies, or a non-numeric value column raise DataError naming it and the fix.
    covariates: the extra columns read as model inputs (names); their missing values follow `fill`
    as the value column's do (an error naming the first, or interpolation within each series).
    sep, decimal: the column separator and decimal mark of a .csv/.txt file (``samovar.data.read_table``).
    """
    fmt = fmt or LongFormat()
    if fill not in FILL_MODES:
        raise DataError(f"fill={fill!r} is not an option; use one of {FILL_MODES}.")
    frame, origin = _frame_and_origin(source, sep, decimal)
    frame.columns = [str(c) for c in frame.columns]
    needed = {"series id": fmt.id_col, "time": fmt.time_col, "value": fmt.target_col}
    missing = [f"{col!r} ({what})" for what, col in needed.items() if col not in frame.columns]
    if missing:
        raise DataError(f"{origin}: a long-format table needs the columns {fmt.id_col!r} (series id), {fmt.time_col!r} "
                        f"(time) and {fmt.target_col!r} (value); missing {', '.join(missing)}; its columns are "
                        f"{list(frame.columns)}. To fix: rename them, or name yours with {NAMES_HELP}.")
    if len(frame) == 0:
        raise DataError(f"{origin}: no data rows.")
    raw_ids = frame[fmt.id_col]
    if raw_ids.isna().any():
        rows = np.flatnonzero(raw_ids.isna().to_numpy())
        raise DataError(f"{origin}: {len(rows)} rows have no series id in column {fmt.id_col!r}: "
                        f"{_show_rows(rows, raw_ids.to_numpy()[rows], origin)}. To fix: fill in or delete those rows.")
    codes, uniques = pd.factorize(raw_ids.astype(str), sort=False)
    raw_time = frame[fmt.time_col]
    integer_time = pd.api.types.is_integer_dtype(raw_time)
    if integer_time:
        key = raw_time.to_numpy(dtype=np.int64)
        dates = None
    else:
        dates = _parse_dates(raw_time.reset_index(drop=True), origin, date_format, dayfirst)
        key = dates.as_unit("ns").asi8
    order = np.lexsort((key, codes))  # by series (first appearance), then time; stable
    codes, key = codes[order], key[order]
    same = (codes[1:] == codes[:-1]) & (key[1:] == key[:-1])
    if same.any():
        first = int(np.flatnonzero(same)[0])
        series = uniques[codes[first]]
        repeated = order[np.flatnonzero((codes == codes[first]) & np.isin(key, key[first + 1]))]
        shown = _show_rows(repeated, [str(raw_time.iloc[r]) for r in repeated], origin)
        count = int(same.sum())
        raise DataError(
            f"{origin}: series {series!r} has the time {raw_time.iloc[repeated[0]]!s} more than once ({shown})"
            + (f"; {count} rows in all repeat a time of their own series" if count > 1 else "")
            + ". The same time in different series is normal; within one series each time must appear once. To fix: "
            f"check that {fmt.id_col!r} names one series per id (a second series under the same id repeats its "
            "times) and correct the repeated rows at their source."
        )
    value_frame = frame[[fmt.target_col]].iloc[order].reset_index(drop=True)
    values = _numeric_values(value_frame, _Reordered(origin, order))
    extra_columns = [c for c in frame.columns if c not in (fmt.id_col, fmt.time_col, fmt.target_col)]
    extra = (_numeric_values(frame[extra_columns].iloc[order].reset_index(drop=True), _Reordered(origin, order))
             if extra_columns else np.zeros((len(frame), 0)))
    lengths = np.bincount(codes, minlength=len(uniques))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = [str(u) for u in uniques]
    notes: list[str] = []
    values, filled = _fill_missing(values, offsets, ids, fill, origin, order, fmt.target_col, notes)
    used = [c for c in column_list(covariates) if c in extra_columns]
    for name in used:
        k = extra_columns.index(name)
        column, count = _fill_missing(extra[:, [k]], offsets, ids, fill, origin, order, name, notes)
        extra[:, k], filled = column[:, 0], filled + count
    carried = [c for c in extra_columns if c not in used]
    if carried:
        notes.append(f"columns {carried} are carried with the panel but are not model inputs (name them with "
                     "past= / future= (--past / --future) to read them as covariates)")
    times = None if dates is None else dates[order]
    freq = None if integer_time else _panel_freq(times, offsets, ids, origin, notes)
    return Panel(ids=ids, offsets=offsets, values=values.astype(np.float32), times=times,
                 steps=key if integer_time else None, freq=freq, fmt=fmt, extra_columns=extra_columns,
                 extra=extra.astype(np.float32), origin=str(origin), filled=filled, notes=notes)


def future_panel_values(source: Any, fmt: LongFormat, columns: list[str], ids: list[str], times: np.ndarray, *,
                        date_format: str | None = None, dayfirst: bool = False, sep: str = SEP,
                        decimal: str = DECIMAL) -> np.ndarray:
    """(S, H, len(columns)) float64: the values of the future-known covariate `columns` of series `ids` at
    `times` (S, H) (each series' next H dates, datetime64, or integer steps), read from a long table
    `source` (DataFrame or file) with the id and time columns of `fmt`. A missing column, a time repeated
    within a series, a series lacking any of its times or a non-finite value raise DataError naming it."""
    frame, origin = _frame_and_origin(source, sep, decimal)
    frame.columns = [str(c) for c in frame.columns]
    what = f"the future covariates ({origin})"
    need = [fmt.id_col, fmt.time_col, *columns]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lack the column(s) {missing}; they need {need} in long format: one row per series "
                        f"and time after the input's end; its columns are {list(frame.columns)}")
    S, H = times.shape
    if np.issubdtype(times.dtype, np.integer):
        if not pd.api.types.is_integer_dtype(frame[fmt.time_col]):
            raise DataError(f"{what}: the time column {fmt.time_col!r} must hold integer steps, as the input's does")
        key = frame[fmt.time_col].to_numpy(dtype=np.int64)
        wanted_key = times.reshape(-1).astype(np.int64)
    else:
        key = _parse_dates(frame[fmt.time_col].reset_index(drop=True), origin, date_format, dayfirst).as_unit("ns").asi8
        wanted_key = pd.DatetimeIndex(times.reshape(-1)).as_unit("ns").asi8
    series = frame[fmt.id_col].astype(str).to_numpy()
    index = pd.MultiIndex.from_arrays([series, key])
    if index.has_duplicates:
        first = index[index.duplicated()][0]
        raise DataError(f"{what}: series {first[0]!r} has a time more than once; give each series one row per time")
    pos = index.get_indexer(pd.MultiIndex.from_arrays([np.repeat(np.asarray(ids, dtype=object), H), wanted_key]))
    pos = pos.reshape(S, H)
    lacking = np.flatnonzero((pos < 0).any(axis=1))
    if len(lacking):
        def shown(i: int) -> str:
            gone = np.flatnonzero(pos[i] < 0)
            when = [str(pd.Timestamp(t)) if not np.issubdtype(times.dtype, np.integer) else str(t) for t in times[i, gone]]
            return (f"{ids[i]!r} (missing {len(gone)} of its {H} times after its last input row: {when[0]}"
                    + (f" .. {when[-1]})" if len(when) > 1 else ")"))
        listed = "; ".join(shown(i) for i in lacking[:3]) + (f"; and {len(lacking) - 3} more series" if len(lacking) > 3 else "")
        raise DataError(f"{what} lack rows for {len(lacking)} of {S} series: {listed}. To fix: give each series' "
                        f"{', '.join(columns)} at the {H} times after its last row in the input")
    values = _numeric_values(frame[columns].reset_index(drop=True), origin)[pos.reshape(-1)].reshape(S, H, len(columns))
    bad = ~np.isfinite(values)
    if bad.any():
        i, _, k = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(f"{what}: series {ids[i]!r} has a missing or non-finite value in column {columns[k]!r} over "
                        "the horizon; give every value")
    return values


class _Reordered(Origin):
    """An Origin for rows in sorted order: row i of the sorted table is row order[i] of the input."""

    def __init__(self, origin: Origin, order: np.ndarray) -> None:
        super().__init__(origin.name, origin.text_file, origin.sep, origin.decimal)
        self._origin, self._order = origin, order

    def row(self, i: int) -> str:
        return self._origin.row(int(self._order[i]))


def column_list(value: Any) -> list[str]:
    """None, a column name, a comma list or a sequence of names -> a list of names."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


def _fill_missing(values: np.ndarray, offsets: np.ndarray, ids: list[str], fill: str, origin: Origin,
                  order: np.ndarray, column: str, notes: list[str]) -> tuple[np.ndarray, int]:
    """NaN/inf in `values` (rows, 1), the table's column `column`: an error naming the first (fill="error"),
    or linear interpolation in time within each series ("interpolate"; a series with no finite value is
    an error)."""
    bad = ~np.isfinite(values[:, 0])
    count = int(bad.sum())
    if count == 0:
        return values, 0
    first = int(np.flatnonzero(bad)[0])
    series = ids[int(np.searchsorted(offsets, first, side="right") - 1)]
    if fill == "error":
        raise DataError(f"{origin}: {count} missing or non-finite values (NaN/inf) in column {column!r}; first "
                        f"at {origin.row(int(order[first]))} (series {series!r}). To fix: clean the data, or pass "
                        "fill='interpolate' (command line: --fill interpolate) to fill them by linear interpolation "
                        "in time within each series.")
    out = values.copy()
    for i in np.unique(np.searchsorted(offsets, np.flatnonzero(bad), side="right") - 1):
        part = out[offsets[i]:offsets[i + 1], 0]
        if not np.isfinite(part).any():
            raise DataError(f"{origin}: series {ids[i]!r} has no finite value in column {column!r} at all, so nothing "
                            "can be interpolated; drop its rows.")
        out[offsets[i]:offsets[i + 1], 0] = pd.Series(np.where(np.isfinite(part), part, np.nan)).interpolate(
            method="linear", limit_direction="both").to_numpy()
    notes.append(f"filled {count} missing/non-finite values of {column!r} by linear interpolation within their series")
    return out, count


def _panel_freq(times: pd.DatetimeIndex, offsets: np.ndarray, ids: list[str], origin: Origin,
                notes: list[str]) -> str | None:
    """One frequency for the panel: each series' (of 3+ rows), which must agree; irregular series are noted."""
    found: dict[str, list[str]] = {}
    irregular = []
    for i, name in enumerate(ids):
        part = times[offsets[i]:offsets[i + 1]]
        if len(part) < 3:
            continue
        alias, note = infer_freq(part)
        if note:
            irregular.append(name)
        for known in found:
            if same_frequency(known, alias):
                found[known].append(name)
                break
        else:
            found[alias] = [name]
    if not found:
        return None
    if len(found) > 1:
        parts = "; ".join(f"{freq!r}: {', '.join(repr(s) for s in names[:3])}{' ...' if len(names) > 3 else ''} "
                          f"({len(names)} series)" for freq, names in found.items())
        raise DataError(f"{origin}: the series are at different frequencies ({parts}); one model forecasts series of "
                        "one frequency. To fix: resample them to one frequency, or put each frequency in its own file.")
    if irregular:
        notes.append(f"{len(irregular)} series have irregular time steps (e.g. {irregular[0]!r}); their forecasts "
                     "continue at the panel's frequency")
    return next(iter(found))


# ----------------------------------------------------------------------------- scaling and windows


class PanelScaler:
    """One standardisation (x - mean) / std per series and column, each fit on that series' training rows
    only (the rules of `Scaler`: population std, a constant column gets std 1). mean, std: (series, channels);
    channel 0 is the value column, the others past-only (or, for a future scaler, future-known) covariates."""

    def __init__(self, ids: list[str], mean: np.ndarray, std: np.ndarray) -> None:
        self.ids = [str(i) for i in ids]
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        self.mean = mean.reshape(len(self.ids), -1) if mean.ndim == 1 and len(self.ids) else mean
        self.std = std.reshape(len(self.ids), -1) if std.ndim == 1 and len(self.ids) else std
        if not (self.mean.ndim == self.std.ndim == 2 and len(self.ids) == len(self.mean)
                and self.mean.shape == self.std.shape):
            raise DataError(f"per-series scaler: {len(self.ids)} ids, means of shape {self.mean.shape}, stds of shape "
                            f"{self.std.shape}")
        if not (np.isfinite(self.std).all() and (self.std > 0).all() and np.isfinite(self.mean).all()):
            raise DataError("per-series scaler: means must be finite and stds finite and positive")
        self._index = {name: i for i, name in enumerate(self.ids)}

    @classmethod
    def fit(cls, ids: list[str], values: np.ndarray, segments: list[tuple[int, int]]) -> "PanelScaler":
        """values: (rows, channels); segments[i]: the rows [start, end) series i is fit on (its training rows)."""
        fitted = [Scaler.fit(values[a:b]) for a, b in segments]
        channels = values.shape[1]
        return cls(ids, np.array([f.mean for f in fitted]).reshape(len(ids), channels),
                   np.array([f.std for f in fitted]).reshape(len(ids), channels))

    @property
    def channels(self) -> int:
        return self.mean.shape[1]

    def index(self, ids: list[str]) -> np.ndarray:
        """Positions of `ids` among the fitted series; unknown ids raise DataError naming them."""
        unknown = [i for i in ids if i not in self._index]
        if unknown:
            raise DataError(f"{len(unknown)} series were not in the training data, so the model has no scaler for them: "
                            f"{', '.join(repr(u) for u in unknown[:5])}{' ...' if len(unknown) > 5 else ''}. To fix: "
                            "forecast only the trained series, or train on data that includes these.")
        return np.array([self._index[i] for i in ids], dtype=np.int64)

    def _stats(self, a: Any, series: Any) -> tuple[Any, Any]:
        series = np.asarray(series, dtype=np.int64).reshape(-1)
        if len(series) != a.shape[0]:
            raise DataError(f"per-series scaler: {len(series)} series indices for {a.shape[0]} rows")
        if a.shape[-1] != self.channels:
            raise DataError(f"per-series scaler of {self.channels} channel(s) given values with {a.shape[-1]}")
        shape = (len(series),) + (1,) * (a.ndim - 2) + (self.channels,)
        mean, std = self.mean[series].reshape(shape), self.std[series].reshape(shape)
        if isinstance(a, torch.Tensor):
            dtype = a.dtype if a.is_floating_point() else torch.float32
            return torch.as_tensor(mean, dtype=dtype, device=a.device), torch.as_tensor(std, dtype=dtype, device=a.device)
        return mean, std

    def transform(self, a: Any, series: Any) -> Any:
        """a: (N, ..., channels) values of series `series` (N,) -> standardised by each one's own statistics."""
        mean, std = self._stats(a, series)
        return (a - mean) / std

    def inverse_transform(self, a: Any, series: Any = None) -> Any:
        """a: (N, ..., channels) on the standardised scale of series `series` (N,) -> original units."""
        if series is None:
            raise DataError("a per-series scaler needs the series of each row: inverse_transform(a, series=...)")
        mean, std = self._stats(a, series)
        return a * std + mean

    def to_dict(self) -> dict[str, Any]:
        # one channel (a panel without covariates): one number per series, as before
        mean, std = (self.mean[:, 0], self.std[:, 0]) if self.channels == 1 else (self.mean, self.std)
        return {"kind": "per_series", "ids": self.ids, "mean": mean.tolist(), "std": std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PanelScaler":
        try:
            return cls(d["ids"], np.asarray(d["mean"]), np.asarray(d["std"]))
        except KeyError as exc:
            raise DataError(f"per-series scaler dict needs keys 'ids', 'mean' and 'std', missing {exc}") from None

    def __repr__(self) -> str:
        return f"PanelScaler(series={len(self.ids)})"


def scaler_from_dict(d: dict[str, Any]) -> Scaler | PanelScaler:
    """The scaler of a scaler.json: per series (a long-format run) or per channel."""
    return PanelScaler.from_dict(d) if isinstance(d, dict) and d.get("kind") == "per_series" else Scaler.from_dict(d)


class PanelWindowSet:
    """Every window (stride 1) of every series in its rows [starts[s], ends[s]) of one scaled tensor.

    Windows are numbered series after series; window i of series s reads rows
    starts[s] + j .. + lookback + horizon, j = i - first window of s. One gather per batch, as `WindowSet`.
    """

    def __init__(self, data: torch.Tensor, starts: np.ndarray, ends: np.ndarray, lookback: int, horizon: int,
                 name: str = "", future: torch.Tensor | None = None) -> None:
        if future is not None and future.shape[0] != data.shape[0]:
            raise DataError(f"future covariates have {future.shape[0]} rows, the panel {data.shape[0]}")
        self.data = data
        self.future = future
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        self.lookback, self.horizon = int(lookback), int(horizon)
        self.name = name
        self.counts = np.maximum(self.ends - self.starts - self.lookback - self.horizon + 1, 0)
        self._cum = torch.as_tensor(np.concatenate([[0], np.cumsum(self.counts)]), dtype=torch.long)
        self._starts = torch.as_tensor(self.starts, dtype=torch.long)
        self._offsets = torch.arange(self.lookback + self.horizon, device=data.device)

    def __len__(self) -> int:
        return int(self._cum[-1])

    def _locate(self, idx: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(series, first row) of each window index."""
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= len(self)):
            raise IndexError(f"{self.name or 'window set'}: window indices must be in [0, {len(self)}), got "
                             f"min {int(idx.min())}, max {int(idx.max())}")
        series = torch.searchsorted(self._cum, idx, right=True) - 1
        return series, self._starts[series] + idx - self._cum[series]

    def series_of(self, idx: Any) -> np.ndarray:
        """The series (its index in the panel) of each window in `idx`."""
        return self._locate(idx)[0].numpy()

    def batch(self, idx: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """idx: (B,) window indices -> x: (B, lookback, C), y: (B, horizon, C), one gather (C: the value
        column, then the past-only covariates)."""
        _, first = self._locate(idx)
        windows = self.data[first.to(self.data.device)[:, None] + self._offsets]
        return windows[:, : self.lookback], windows[:, self.lookback:]

    def future_batch(self, idx: Any) -> torch.Tensor | None:
        """idx: (B,) window indices -> the future-known covariates (B, lookback + horizon, F) of each
        window's own series and rows, or None without any."""
        if self.future is None:
            return None
        _, first = self._locate(idx)
        return self.future[first.to(self.future.device)[:, None] + self._offsets.to(self.future.device)]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        x, y = self.batch(torch.tensor([i % len(self)]))
        return x[0], y[0]

    def target_row_index(self, idx: Any) -> np.ndarray:
        """(B, horizon) rows of the panel (into `PanelData.values`) each window's targets are."""
        first = self._locate(idx)[1].numpy() + self.lookback
        return first[:, None] + np.arange(self.horizon)[None, :]

    def input_rows(self, i: int) -> range:
        first = int(self._locate([i])[1][0])
        return range(first, first + self.lookback)

    def target_rows(self, i: int) -> range:
        first = int(self._locate([i])[1][0]) + self.lookback
        return range(first, first + self.horizon)

    def __repr__(self) -> str:
        return f"PanelWindowSet({self.name!r}, series={int((self.counts > 0).sum())}, windows={len(self)})"


# ----------------------------------------------------------------------------- prepared data


@dataclass(repr=False)
class PanelData:
    """A long-format panel ready for training: the `ForecastData` interface (one window set per split
    over all series) plus the panel, its per-series split rows and exclusions. columns: the value column,
    then the past-only covariates (``inputs``; channels = their count); values (rows, channels) raw;
    covariates: the future-known covariates (rows, F) float32 tensor (user columns scaled per series by
    ``future_scaler``, then calendar features of each series' dates), or None."""

    name: str
    panel: Panel
    columns: list[str]
    dates: pd.DatetimeIndex | None
    freq: str | None
    values: np.ndarray
    scaled: torch.Tensor
    scaler: PanelScaler
    lookback: int
    horizon: int
    train: PanelWindowSet
    val: PanelWindowSet
    test: PanelWindowSet
    series_rows: dict[str, np.ndarray]  # split -> (S, 2) rows [start, end) each series' split reads (history included)
    own: dict[str, np.ndarray]  # split -> (S, 2) rows [start, end) each series' split owns (no history)
    excluded: list[tuple[str, int]]  # (id, rows) of series left out as too short (short_series="drop")
    protocol: str = ""
    source: str = ""
    filled: int = 0
    notes: list[str] = field(default_factory=list)
    synthetic: bool = False
    channels: int = 1
    inputs: Inputs | None = None  # None: the value column alone
    covariates: torch.Tensor | None = None
    future_scaler: "PanelScaler | None" = None

    def __post_init__(self) -> None:
        if self.inputs is None:
            self.inputs = Inputs((self.long_format.target_col,))

    @property
    def ids(self) -> list[str]:
        return self.panel.ids

    @property
    def long_format(self) -> LongFormat:
        return self.panel.fmt

    @property
    def target_channels(self) -> int:
        return 1  # the value column

    @property
    def future_channels(self) -> int:
        return self.inputs.future_channels

    @property
    def rows(self) -> int:
        return self.values.shape[0]

    @property
    def split_rows(self) -> dict[str, tuple[int, int]]:
        """Not defined for a panel (each series has its own); see `series_rows` and `stage_rows`."""
        return {}

    def stage_rows(self) -> dict[str, dict[str, int]]:
        """Per split with windows: series with windows, rows they own (history excluded) and windows."""
        out = {}
        for split in SPLITS:
            windows = getattr(self, split)
            if len(windows):
                own = self.own[split]
                out[split] = {"series": int((windows.counts > 0).sum()), "rows": int((own[:, 1] - own[:, 0]).sum()),
                              "windows": len(windows)}
        return out

    def mase_scale(self, period: int | None) -> np.ndarray:
        """MASE's scale per series: the in-sample seasonal-naive MAE (lag `period`, 1 when None) of its raw
        training rows (as `samovar.training.scores.seasonal_naive_scale` per channel); NaN for a series
        with no more training rows than the lag."""
        lag = period if period and period >= 1 else 1
        out = np.empty(len(self.ids))
        for s, (a, b) in enumerate(self.own["train"]):
            y = self.values[a:b, 0].astype(np.float64)
            out[s] = np.abs(y[lag:] - y[:-lag]).mean() if len(y) > lag else np.nan
        return out

    def run_record(self) -> dict[str, Any]:
        """config.json's "data" entry for a run on this panel."""
        last = None
        if self.dates is not None:
            ends = self.series_rows["val"][:, 1] if len(self.val) else self.series_rows["train"][:, 1]
            last = str(self.dates[ends - 1].max())
        roles = {} if self.inputs.is_default(self.columns) else {"inputs": self.inputs.to_dict()}
        return {**roles, "name": self.name, "lookback": int(self.lookback), "horizon": int(self.horizon),
                "channels": int(self.channels), "columns": list(self.columns), "freq": self.freq, "split_rows": {},
                "windows": {s: len(getattr(self, s)) for s in SPLITS}, "last_seen": last,
                "panel": {**self.long_format.to_dict(), "series": len(self.ids), "rows": self.rows,
                          "stage_rows": self.stage_rows(),
                          "excluded": [{"id": i, "rows": n} for i, n in self.excluded]}}

    def __repr__(self) -> str:
        dropped = f", excluded={len(self.excluded)}" if self.excluded else ""
        return (f"PanelData(name={self.name!r}, series={len(self.ids)}, rows={self.rows}, freq={self.freq!r}, "
                f"lookback={self.lookback}, horizon={self.horizon}, windows train/val/test="
                f"{len(self.train)}/{len(self.val)}/{len(self.test)}{dropped})")


def fits_splits(protocol: SplitProtocol, rows: int, lookback: int, horizon: int) -> bool:
    """Whether a series of `rows` rows holds a window in every split `protocol` asks for (`check_split_sizes`)."""
    try:
        check_split_sizes(protocol, rows, lookback, horizon, "")
    except DataError:
        return False
    return True


def min_series_rows(protocol: SplitProtocol, lookback: int, horizon: int) -> int | None:
    """The fewest rows a series needs for a window in every split asked for (None: none below 100 000)."""
    return next((n for n in range(lookback + horizon, 100_000) if fits_splits(protocol, n, lookback, horizon)), None)


def leave_out_short(panel: Panel, short: list[tuple[int, int]], reason: str, fix: str
                    ) -> tuple[Panel, list[tuple[str, int]], str | None]:
    """The panel's short_series policy (``panel.fmt.short_series``) applied to the series `short` ((index,
    rows) pairs) that are too short for `reason` (what they lack, e.g. "lookback 24 + horizon 12 with ...").

    "error", or every series short: DataError naming the first five series, their lengths and `fix` (what
    to change). "drop": (the panel without them, their (id, rows), a note listing them). No short series:
    (panel, [], None)."""
    if not short:
        return panel, [], None
    listed = ", ".join(f"{panel.ids[i]!r} ({n} rows)" for i, n in short[:5]) + (
        f" and {len(short) - 5} more" if len(short) > 5 else "")
    if panel.fmt.short_series == "error" or len(short) == len(panel.ids):
        extra = (" (every series is too short, so leaving them out leaves nothing)" if len(short) == len(panel.ids)
                 else ", or leave them out with short_series='drop' (command line: --short-series drop), which lists them")
        raise DataError(f"{panel.origin}: {len(short)} of {len(panel.ids)} series are too short for {reason}: "
                        f"{listed}. To fix: {fix}{extra}.")
    dropped = {i for i, _ in short}
    kept = panel.subset(np.array([i for i in range(len(panel.ids)) if i not in dropped], dtype=np.int64))
    note = f"left out {len(short)} of {len(panel.ids)} series too short for {reason}, as short_series='drop' asks: {listed}"
    return kept, [(panel.ids[i], n) for i, n in short], note


def panel_inputs(panel: Panel, *, target: Any = None, past: Any = None, future: Any = None,
                 calendar: bool = False) -> Inputs:
    """The role of each column of a long table (``samovar.data.covariates.resolve_inputs`` over the value
    column and the extra columns): the value column is the one target; past-only covariates are the
    extra columns named by `past` (default none: unnamed columns are carried, not read); future-known
    covariates the columns named by `future`, plus calendar features of the dates with `calendar`."""
    fmt = panel.fmt
    if target is not None and column_list(target) != [fmt.target_col]:
        raise DataError(f"target {column_list(target)}: a long-format panel forecasts its value column "
                        f"{fmt.target_col!r}; to forecast another column, name it with target_col= (--target-col)")
    if calendar and panel.times is None:
        raise DataError(f"calendar features need dates; the time column {fmt.time_col!r} holds integer steps: give "
                        "dates (or drop --calendar / calendar=True)")
    return resolve_inputs([fmt.target_col, *panel.extra_columns], target=[fmt.target_col],
                          past=[] if past is None else past, future=future, calendar=calendar, freq=panel.freq)


def prepare_panel(source: Any, fmt: LongFormat, *, lookback: int, horizon: int, protocol: SplitProtocol,
                  fill: str = "error", date_format: str | None = None, dayfirst: bool = False,
                  name: str | None = None, origin_label: str = "", target: Any = None, past: Any = None,
                  future: Any = None, calendar: bool = False, sep: str = SEP, decimal: str = DECIMAL) -> PanelData:
    """Read `source` as a long table, split each series by `protocol` within itself, fit each series'
    scalers on its own training rows, and build the three window sets over all series.

    target, past, future, calendar: the role of each column (`panel_inputs`); past-only covariates are
    channels of x after the value column, future-known ones are served per window (``future_batch``);
    both are standardised per series and column on that series' training rows."""
    panel = read_panel(source, fmt, fill=fill, date_format=date_format, dayfirst=dayfirst,
                       covariates=column_list(past) + column_list(future), sep=sep, decimal=decimal)
    inputs = panel_inputs(panel, target=target, past=past, future=future, calendar=calendar)
    notes = list(panel.notes)
    short = [(i, int(n)) for i, n in enumerate(panel.lengths) if not fits_splits(protocol, int(n), lookback, horizon)]
    need = min_series_rows(protocol, lookback, horizon) if short else None
    needs = f"each series needs at least {need} rows here" if need else "no series length fits"
    panel, excluded, note = leave_out_short(
        panel, short,
        f"lookback {lookback} + horizon {horizon} with the split {protocol.describe()} per series ({needs})",
        "a shorter lookback or horizon, other split shares")
    notes += [note] if note else []
    S = len(panel.ids)
    own = {s: np.zeros((S, 2), dtype=np.int64) for s in SPLITS}
    reads = {s: np.zeros((S, 2), dtype=np.int64) for s in SPLITS}
    for i in range(S):
        n, base = int(panel.lengths[i]), int(panel.offsets[i])
        owned, borders = own_rows(protocol, n), split_rows(protocol, n, lookback)
        for s in SPLITS:
            own[s][i] = (base + owned[s][0], base + owned[s][1])
            reads[s][i] = (base + borders[s][0], base + borders[s][1])
    train_rows = [tuple(r) for r in own["train"]]
    values = np.concatenate([panel.values, panel.covariate_values(inputs.past)], axis=1)  # (rows, 1 + past)
    scaler = PanelScaler.fit(panel.ids, values, train_rows)
    series_of_row = np.repeat(np.arange(S), panel.lengths)
    scaled = torch.from_numpy(scaler.transform(values.astype(np.float64), series_of_row).astype(np.float32))
    future_scaler = None
    if inputs.future:
        future_scaler = PanelScaler.fit(panel.ids, panel.covariate_values(inputs.future), train_rows)
    covariates = panel_covariates(inputs, panel.covariate_values(inputs.future), panel.times, future_scaler,
                                  series_of_row)
    covariates = None if covariates is None else torch.from_numpy(covariates)
    label = name or "panel"
    windows = {s: PanelWindowSet(scaled, reads[s][:, 0], reads[s][:, 1], lookback, horizon, name=f"{label} {s}",
                                 future=covariates) for s in SPLITS}
    data = PanelData(name=label, panel=panel, columns=inputs.series, dates=panel.times, freq=panel.freq,
                     values=values, scaled=scaled, scaler=scaler, lookback=lookback, horizon=horizon,
                     train=windows["train"], val=windows["val"], test=windows["test"], series_rows=reads, own=own,
                     excluded=excluded, protocol=f"{protocol.describe()} of each series", source=origin_label,
                     filled=panel.filled, notes=notes, channels=len(inputs.series), inputs=inputs,
                     covariates=covariates, future_scaler=future_scaler)
    return data


def panel_covariates(inputs: Inputs, values: np.ndarray, times: pd.DatetimeIndex | None,
                     scaler: PanelScaler | None, series: np.ndarray) -> np.ndarray | None:
    """(rows, F) float32 future-known covariates: the user columns `values` (rows, len(inputs.future))
    standardised by each row's series (`series`, indices into `scaler`), then the calendar features
    of `times`; None without any."""
    if not inputs.future_channels:
        return None
    parts = []
    if inputs.future:
        parts.append(scaler.transform(values.astype(np.float64), series).astype(np.float32))
    if inputs.calendar:
        parts.append(calendar_features(pd.DatetimeIndex(times), list(inputs.calendar)))
    return np.concatenate(parts, axis=1)
