"""prepare_data: any source -> validated, split, train-scaled series with lazy windows."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from samovar._checks import positive_int
from samovar.data.covariates import Inputs, calendar_features, resolve_inputs
from samovar.data.errors import DataError
from samovar.data.io import (DECIMAL, SEP, Table, csv_dialect, find_local, frame_to_table, locate, read_registered,
                             read_table, search_locations)
from samovar.data.panel import LongFormat, PanelData, long_format_of, prepare_panel
from samovar.data.registry import DATASETS, SplitProtocol, find_spec, get_spec
from samovar.data.splits import SPLITS, Scaler, WindowSet, check_split_sizes, own_rows, split_rows
from samovar.data.synthetic import DEFAULT_CHANNELS, DEFAULT_LENGTH, SYNTHETIC_NAME, make_synthetic, parse_synthetic_source

DEFAULT_SPLIT = (0.7, 0.1, 0.2)
ALL_ROWS = (1.0, 0.0, 0.0)  # every row trains: no validation, no test (fit_mode "epochs" and the final fit of "refit")


@dataclass(repr=False)
class ForecastData:
    """A series ready for training. values: (T, C) float32 raw; scaled: (T, C) float32 tensor.

    train / val / test serve windows from `scaled`; split_rows gives each split's row range
    [start, end) including the history its first window reads. columns are the series channels:
    the targets, then the past-only covariates (``inputs``); covariates: the future-known
    covariates (T, F) float32 tensor (user columns scaled by ``future_scaler``, fit on the train
    rows, then the calendar features on their fixed scale), or None.
    """

    name: str
    columns: list[str]
    channels: int
    dates: pd.DatetimeIndex | None
    freq: str | None
    values: np.ndarray
    scaled: torch.Tensor
    scaler: Scaler
    lookback: int
    horizon: int
    train: WindowSet
    val: WindowSet
    test: WindowSet
    synthetic: bool
    split_rows: dict[str, tuple[int, int]]
    protocol: str = ""
    source: str = ""
    filled: int = 0
    notes: list[str] = field(default_factory=list)
    inputs: Inputs | None = None  # None: every column a target, no covariates
    covariates: torch.Tensor | None = None
    future_scaler: Scaler | None = None

    def __post_init__(self) -> None:
        if self.inputs is None:
            self.inputs = Inputs(tuple(self.columns))

    @property
    def rows(self) -> int:
        return self.values.shape[0]

    @property
    def target_channels(self) -> int:
        """The number of target channels: the first columns (the rest are past-only covariates)."""
        return len(self.inputs.targets)

    @property
    def future_channels(self) -> int:
        return self.inputs.future_channels

    def __repr__(self) -> str:
        return (f"ForecastData(name={self.name!r}, rows={self.rows}, channels={self.channels}, freq={self.freq!r}, "
                f"lookback={self.lookback}, horizon={self.horizon}, windows train/val/test="
                f"{len(self.train)}/{len(self.val)}/{len(self.test)}, synthetic={self.synthetic})")


def _ratio_protocol(split) -> SplitProtocol:
    if split is None:
        split = DEFAULT_SPLIT
    try:
        train, val, test = (float(s) for s in split)
    except (TypeError, ValueError):
        raise DataError(f"split must be three numbers (train, val, test), e.g. (0.7, 0.1, 0.2); got {split!r}") from None
    if train <= 0 or min(val, test) < 0 or abs(train + val + test - 1.0) > 1e-6:
        raise DataError(f"split shares must sum to 1 with train positive and val and test positive or 0 "
                        f"(val 0: no validation windows; test 0: no test split), got {split!r} "
                        f"(sum {train + val + test:g}); e.g. (0.7, 0.1, 0.2) or (0.875, 0.125, 0)")
    return SplitProtocol("ratio", train, val, test)


def validation_split(split=None) -> tuple[float, float, float]:
    """The train:val ratio of `split` (default DEFAULT_SPLIT) as a split of all rows with no test share:
    (0.7, 0.1, 0.2) -> (0.875, 0.125, 0). Used by fits that need early stopping but no test split
    (fit_mode "refit", the fits of a backtest)."""
    protocol = _ratio_protocol(split)  # a malformed split is refused here, as by prepare_data
    return protocol.train / (protocol.train + protocol.val), protocol.val / (protocol.train + protocol.val), 0.0


def _load(source, data_dir, fill: str, date_format: str | None = None, dayfirst: bool = False, sep: str = SEP,
          decimal: str = DECIMAL) -> tuple[Table, str, SplitProtocol | None, bool, str]:
    """(table, name, registered protocol or None, synthetic?, where it came from)."""
    sep, decimal = csv_dialect(sep, decimal)  # bad values are an error whatever the source
    dates = dict(date_format=date_format, dayfirst=dayfirst)  # how a user's text dates are read
    if isinstance(source, pd.DataFrame):
        synthetic = bool(source.attrs.get("samovar_synthetic", False))
        name = str(source.attrs.get("samovar_name", "dataframe"))
        return frame_to_table(source, origin=name, fill=fill, **dates), name, None, synthetic, "DataFrame"
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"source must be a dataset name, a file path or a pandas DataFrame, got {type(source).__name__}")
    text = os.fspath(source)
    options = parse_synthetic_source(text) if isinstance(source, str) else None
    if options is not None:
        frame = make_synthetic(**options)
        desc = ", ".join(f"{k}={v}" for k, v in frame.attrs["samovar_params"].items())
        return frame_to_table(frame, origin=SYNTHETIC_NAME, fill=fill), SYNTHETIC_NAME, None, True, f"built-in ({desc})"
    spec = find_spec(text) if isinstance(source, str) else None
    if spec is not None:
        path = locate(spec, data_dir)
        return read_registered(spec, path, fill=fill), spec.name, spec.protocol, False, str(path)
    path = Path(text).expanduser()
    if not path.exists():
        if path.suffix or os.sep in text:
            raise DataError(f"file {path} does not exist; check the path (relative paths start at {Path.cwd()}).")
        get_spec(text)  # raises: unknown dataset name, listing the registered ones
    name = path.name.split(".")[0]
    return read_table(path, fill=fill, sep=sep, decimal=decimal, **dates), name, None, False, str(path)


def load_table(source, *, data_dir=None, fill: str = "error", date_format: str | None = None,
               dayfirst: bool = False, sep: str = SEP, decimal: str = DECIMAL) -> Table:
    """The validated series of any `prepare_data` source (registered name, "synthetic...", file,
    DataFrame), unsplit and unscaled; sep, decimal: how a user's .csv/.txt file is written (`read_table`)."""
    return _load(source, data_dir, fill, date_format, dayfirst, sep, decimal)[0]


def future_covariates(inputs: Inputs, columns: list[str], values: np.ndarray, dates, scaler: Scaler | None
                      ) -> np.ndarray | None:
    """(rows, F) float32 future-known covariates of a table: the user columns `inputs.future` of
    `values` scaled by `scaler`, then the calendar features of `dates`; None without any."""
    if not inputs.future_channels:
        return None
    parts = []
    if inputs.future:
        raw = values[:, [columns.index(c) for c in inputs.future]].astype(np.float64)
        parts.append(scaler.transform(raw).astype(np.float32))
    if inputs.calendar:
        parts.append(calendar_features(dates, list(inputs.calendar)))
    return np.concatenate(parts, axis=1)


def source_format(source, long_format=None, sep: str = SEP) -> LongFormat | None:
    """The `LongFormat` `prepare_data` reads `source` with, or None for wide data: given (`long_format`, a
    LongFormat or its dict) or found (a ``unique_id`` column; ``samovar.data.panel.long_format_of``). A
    registered name or "synthetic..." is wide; with `long_format` it is a DataError."""
    spec = find_spec(source) if isinstance(source, str) else None
    if spec is not None and long_format is not None:
        raise DataError(f"{spec.name} is a registered benchmark in wide format; long_format= (--id-col ...) is for "
                        "your own long-format files")
    if spec is not None or (isinstance(source, str) and parse_synthetic_source(source) is not None):
        return None
    return long_format_of(source, long_format, sep)


def builtin_name(source) -> str | None:
    """The name of a registered dataset or of the built-in "synthetic" data that `source` names, else None
    (a file, a DataFrame): data samovar reads in its own format."""
    spec = find_spec(source) if isinstance(source, str) else None
    if spec is not None:
        return spec.name
    return "synthetic" if isinstance(source, str) and parse_synthetic_source(source) is not None else None


def refuse_file_options(source, *, sep: str = SEP, decimal: str = DECIMAL, date_format: str | None = None,
                        dayfirst: bool = False) -> None:
    """DataError when options that describe the user's own files (how a CSV is written: sep, decimal; how its
    text dates are read: date_format, dayfirst) are given for a registered dataset or "synthetic", which
    samovar reads in its own format; `prepare_data` checks it, and the commands before they start work."""
    builtin = builtin_name(source)
    if builtin is None:
        return
    sep, decimal = csv_dialect(sep, decimal)
    if (sep, decimal) != (SEP, DECIMAL):
        raise DataError(f"sep={sep!r}, decimal={decimal!r} describe your own CSV files, but {builtin} is read by samovar "
                        "in its own format; drop them (command line: --sep, --decimal), or pass the file path instead "
                        "of the name")
    given = [(f"date_format={date_format!r}", "--date-format")] if date_format is not None else []
    given += [("dayfirst=True", "--dayfirst")] if dayfirst else []
    if given:
        them, does = ("them", "do") if len(given) > 1 else ("it", "does")
        raise DataError(f"{builtin} is read by samovar in its own format, so {' and '.join(g for g, _ in given)} "
                        f"(how the text dates of your own files are read) {does} not apply to it; drop {them} "
                        f"(command line: {', '.join(o for _, o in given)}), or pass the file path instead of the name")


def prepare_data(source, *, lookback: int, horizon: int, data_dir=None, split=None, fill: str = "error",
                 date_format: str | None = None, dayfirst: bool = False, target=None, past=None, future=None,
                 calendar: bool = False, long_format=None, sep: str = SEP, decimal: str = DECIMAL
                 ) -> ForecastData | PanelData:
    """Load `source`, split it, fit the scaler on the train rows, and build the three window sets.

    source: a registered name (case-insensitive; see DATASETS), "synthetic" (optionally
    "synthetic:seed=1,length=2000,channels=3"), a file path (.csv/.txt/.npz, optionally .gz)
    or a DataFrame. split: (train, val, test) shares for data that is not registered
    (default 0.7/0.1/0.2; test may be 0: no test split, no test windows; val may be 0: no
    validation windows, e.g. ALL_ROWS); registered datasets always use their published protocol.
    fill: "error" (NaN/inf raise DataError) or "interpolate". date_format (e.g. "%d/%m/%Y"),
    dayfirst: how the text dates of a file or DataFrame are read (``samovar.data.io.frame_to_table``).
    sep, decimal: the column separator and decimal mark of a .csv/.txt file (pandas read_csv's; e.g. ";"
    and "," for a file written as 2023-01-01;1,5). A registered dataset or "synthetic" refuses other values
    of these four (``refuse_file_options``).
    target, past, future, calendar: the role of each column (``samovar.data.covariates.resolve_inputs``):
    forecast columns (default all), past-only covariates (default every other column), future-known
    covariate columns, calendar features from the dates. The series channels are targets then past.
    long_format: a `samovar.data.panel.LongFormat` (or its dict) to read `source` as many series in
    long format; without it a file or DataFrame with a ``unique_id`` column is read so. A long source
    gives a `PanelData` (each series split within itself, one scaler per series; docs/panels.md); its
    target is the value column, and past / future / calendar work as for wide data except that past
    defaults to none (``samovar.data.panel.panel_inputs``).
    """
    lookback = positive_int("lookback", lookback, error=DataError)
    horizon = positive_int("horizon", horizon, error=DataError)
    spec = find_spec(source) if isinstance(source, str) else None
    sep, decimal = csv_dialect(sep, decimal)
    fmt = source_format(source, long_format, sep)
    if fmt is not None:
        return _prepare_long(source, fmt, lookback, horizon, split, fill, date_format, dayfirst,
                             dict(target=target, past=past, future=future, calendar=calendar), sep, decimal)
    refuse_file_options(source, sep=sep, decimal=decimal, date_format=date_format, dayfirst=dayfirst)
    if spec is not None and split is not None:
        raise DataError(f"{spec.name} is a registered benchmark and is always split by its published protocol "
                        f"({spec.protocol.describe()}); split= is for your own data. To split it differently, pass "
                        "the file path as source instead of the dataset name.")
    table, name, protocol, synthetic, origin = _load(source, data_dir, fill, date_format, dayfirst, sep, decimal)
    if protocol is None:
        protocol = _ratio_protocol(split)
    inputs = resolve_inputs(table.columns, target=target, past=past, future=future, calendar=calendar, freq=table.freq)
    values = table.values
    if inputs.series != table.columns:
        values = np.ascontiguousarray(table.values[:, [table.columns.index(c) for c in inputs.series]])
    rows = len(values)
    check_split_sizes(protocol, rows, lookback, horizon, name)
    borders = split_rows(protocol, rows, lookback)
    train_start, train_end = own_rows(protocol, rows)["train"]
    scaler = Scaler.fit(values[train_start:train_end])
    scaled = torch.from_numpy(scaler.transform(values.astype(np.float64)).astype(np.float32))
    future_scaler = None
    if inputs.future:
        future_scaler = Scaler.fit(table.values[train_start:train_end, [table.columns.index(c) for c in inputs.future]])
    covariates = future_covariates(inputs, table.columns, table.values, table.dates, future_scaler)
    covariates = None if covariates is None else torch.from_numpy(covariates)
    notes = list(table.notes)
    unused = rows - own_rows(protocol, rows)["test"][1]
    if unused:
        notes.append(f"rows {rows - unused}..{rows - 1} ({unused} rows) come after the test split and are "
                     f"not used by the published protocol ({protocol.describe()})")
    windows = {s: WindowSet(scaled, *borders[s], lookback, horizon, name=f"{name} {s}", future=covariates) for s in SPLITS}
    return ForecastData(
        name=name, columns=inputs.series, channels=len(inputs.series), dates=table.dates, freq=table.freq,
        values=values, scaled=scaled, scaler=scaler, lookback=lookback, horizon=horizon,
        train=windows["train"], val=windows["val"], test=windows["test"], synthetic=synthetic,
        split_rows=borders, protocol=protocol.describe(), source=origin, filled=table.filled, notes=notes,
        inputs=inputs, covariates=covariates, future_scaler=future_scaler,
    )


def _prepare_long(source, fmt, lookback: int, horizon: int, split, fill: str, date_format, dayfirst,
                  inputs: dict, sep: str = SEP, decimal: str = DECIMAL) -> PanelData:
    if not isinstance(source, (pd.DataFrame, str, os.PathLike)):
        raise DataError(f"source must be a file path or a pandas DataFrame, got {type(source).__name__}")
    if isinstance(source, pd.DataFrame):
        name, origin = str(source.attrs.get("samovar_name", "dataframe")), "DataFrame"
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError(f"file {path} does not exist; check the path (relative paths start at {Path.cwd()}).")
        name, origin = path.name.split(".")[0], str(path)
    return prepare_panel(source, fmt, lookback=lookback, horizon=horizon, protocol=_ratio_protocol(split), fill=fill,
                         date_format=date_format, dayfirst=dayfirst, name=name, origin_label=origin, sep=sep,
                         decimal=decimal, **inputs)


def dataset_table(data_dir=None) -> pd.DataFrame:
    """One row per registered dataset (plus the built-in synthetic one): shape, frequency, split
    sizes in rows (each split's own rows, without borrowed history), unused rows, and whether the
    file is available locally and where (found by name; its checksum is verified when loaded)."""
    records = []
    for spec in DATASETS.values():
        owned = own_rows(spec.protocol, spec.rows)
        path = find_local(spec, data_dir)
        records.append({
            "name": spec.name, "channels": spec.channels, "rows": spec.rows, "freq": spec.freq,
            "protocol": spec.protocol.describe(),
            **{f"{s}_rows": owned[s][1] - owned[s][0] for s in SPLITS},
            "unused_rows": spec.rows - owned["test"][1],
            "verified_by": spec.verification,
            "available": path is not None,
            "location": str(path) if path else "",
            "url": spec.url or "",
        })
    synthetic = _ratio_protocol(DEFAULT_SPLIT)
    owned = own_rows(synthetic, DEFAULT_LENGTH)
    records.append({
        "name": SYNTHETIC_NAME, "channels": DEFAULT_CHANNELS, "rows": DEFAULT_LENGTH, "freq": "h",
        "protocol": synthetic.describe(), **{f"{s}_rows": owned[s][1] - owned[s][0] for s in SPLITS},
        "unused_rows": 0, "verified_by": "generated (seeded)", "available": True, "location": "built-in", "url": "",
    })
    frame = pd.DataFrame.from_records(records)
    frame.attrs["searched"] = [f"{label}: {path}" for label, path in search_locations(data_dir)]
    return frame
