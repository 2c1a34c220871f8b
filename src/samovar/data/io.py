"""Finding, downloading, verifying, reading and validating series files.

Where a registered dataset's file is looked for, in order:
1. the ``data_dir`` argument (``--data-dir`` on the command line),
2. the directory in the environment variable ``SAMOVAR_DATA_DIR``,
3. the cache directory (``cache_dir()``),
and if it is in none of them it is downloaded into the cache directory. In each directory both
``<file>`` and ``<file>.gz`` are accepted, directly or in the dataset's Time-Series-Library
sub-folder (e.g. ``ETT-small/ETTh1.csv``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import platformdirs

from samovar.data.errors import DataError
from samovar.data.registry import DatasetSpec

DATA_DIR_ENV = "SAMOVAR_DATA_DIR"
CACHE_DIR_ENV = "SAMOVAR_CACHE_DIR"
DATE_COLUMN_NAMES = ("date", "datetime", "timestamp", "time", "ds")
ID_COLUMN_NAMES = ("unique_id", "id", "series", "series_id", "item", "item_id", "store", "sku", "product", "key")
FILL_MODES = ("error", "interpolate")
SEP, DECIMAL = ",", "."  # pandas read_csv's defaults: comma-separated columns, a point before the decimals
_SEP_WORDS = {"\\t": "\t", "tab": "\t"}  # how a tab is typed on a command line
_SEP_NAMES = {",": "comma", "\t": "tab"}
_COMMA_DECIMAL = re.compile(r"\s*[-+]?\d*,\d+\s*")  # a number written with a decimal comma: 1,5  -0,25
_HOW_TO_SUPPLY = (
    "pass data_dir= (command line: --data-dir DIR), or set the environment variable "
    f"{DATA_DIR_ENV}=DIR, or copy the file into the cache directory {{cache}}"
)


@dataclass
class Table:
    """A validated series. values: (rows, channels) float32; dates: one per row, or None."""

    values: np.ndarray
    columns: list[str]
    dates: pd.DatetimeIndex | None
    freq: str | None
    filled: int = 0
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- locating files


def cache_dir() -> Path:
    """Where downloads go: $SAMOVAR_CACHE_DIR if set, else <user cache dir of samovar>/data."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir("samovar")) / "data"


def search_locations(data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The directories searched for dataset files, in order, each with where it came from."""
    places = []
    if data_dir is not None:
        places.append(("data_dir argument", Path(data_dir).expanduser()))
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        places.append((f"${DATA_DIR_ENV}", Path(env).expanduser()))
    places.append(("cache directory", cache_dir()))
    return places


def _candidates(spec: DatasetSpec, directory: Path) -> list[Path]:
    folders = [directory] + ([directory / spec.subdir] if spec.subdir else [])
    return [folder / name for folder in folders for name in (spec.file_name, spec.file_name + ".gz")]


def find_local(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first existing file for `spec` in the search order, or None (no download, no hashing)."""
    for _, directory in search_locations(data_dir):
        for path in _candidates(spec, directory):
            if path.is_file():
                return path
    return None


def locate(spec: DatasetSpec, data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Path of the verified file of `spec`: found locally, else downloaded into cache_dir().

    A file with the wrong checksum raises DataError (it is not skipped in favour of another copy).
    """
    path = find_local(spec, data_dir)
    if path is not None:
        verify_checksum(spec, path)
        return path
    looked = [f"  - {p}  ({label})" for label, d in search_locations(data_dir) for p in _candidates(spec, d)]
    problem = f"dataset {spec.name!r}: file {spec.file_name} (or {spec.file_name}.gz) was not found. Looked in:\n" + "\n".join(looked)
    supply = _HOW_TO_SUPPLY.format(cache=cache_dir())
    if not download or spec.url is None:
        where = f"download it from {spec.url}" if spec.url else f"no download URL is registered; get it from {spec.download_hint or 'its original source'}"
        raise DataError(f"{problem}\nTo fix: {where}, then {supply}.")
    try:
        return download_file(spec)
    except DataError:
        raise
    except Exception as exc:  # network errors come in many types (requests, OSError, ...)
        raise DataError(
            f"{problem}\nDownloading it from {spec.url} failed: {type(exc).__name__}: {exc}\n"
            f"To fix: download the file yourself, then {supply}."
        ) from exc


def download_file(spec: DatasetSpec) -> Path:
    """Download `spec.url` with pooch into cache_dir() and verify it; returns the file path."""
    import pooch

    assert spec.url is not None
    target_name = spec.file_name + (".gz" if spec.url.endswith(".gz") else "")
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch otherwise logs the hash of every unhashed download
    try:
        path = Path(pooch.retrieve(spec.url, known_hash=None, fname=target_name, path=cache_dir(), progressbar=False))
    finally:
        logger.setLevel(level)
    if spec.sha256 is not None and (actual := content_sha256(path)) != spec.sha256.lower():
        path.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for dataset {spec.name!r} downloaded from {spec.url}:\n"
            f"  expected sha256 {spec.sha256}\n  actual   sha256 {actual}\n"
            "(of the decompressed content). The downloaded file was deleted: the URL now serves different "
            f"content. To fix: get the published {spec.file_name} from its original source, then "
            + _HOW_TO_SUPPLY.format(cache=cache_dir()) + "."
        )
    return path


# ----------------------------------------------------------------------------- checksums

_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def open_binary(path: str | os.PathLike):
    """Open a file for reading bytes, transparently decompressing ``.gz``."""
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def content_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of the decompressed content of `path`; remembered per (path, size, mtime)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_MEMO:
        digest = hashlib.sha256()
        try:
            with open_binary(path) as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except (OSError, EOFError) as exc:  # e.g. a truncated or not-really-gzip .gz file
            raise DataError(f"cannot read {path}: {exc}. The file is damaged; delete it and fetch it again.") from exc
        _HASH_MEMO[key] = digest.hexdigest()
    return _HASH_MEMO[key]


def verify_checksum(spec: DatasetSpec, path: Path) -> None:
    """Raise DataError if `path`'s decompressed content does not have `spec.sha256` (None: no check)."""
    if spec.sha256 is None:
        return
    actual = content_sha256(path)
    if actual != spec.sha256.lower():
        fetch = f"samovar will download it again from {spec.url}" if spec.url else f"put in a fresh copy ({spec.download_hint})"
        raise DataError(
            f"checksum mismatch for dataset {spec.name!r}, file {path}:\n"
            f"  expected sha256 {spec.sha256}\n  actual   sha256 {actual}\n"
            "(of the decompressed content). The file is damaged or a different version of the data. "
            f"To fix: delete {path}; {fetch}."
        )


# ----------------------------------------------------------------------------- reading


def _stem(path: Path) -> str:
    """File name without .gz, lower case: the part whose suffix tells the format."""
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def _first_line(path: Path) -> str:
    with open_binary(path) as handle:
        return handle.readline().decode("utf-8", errors="replace").strip()


_DIALECT_EXAMPLE = ("e.g. sep=';' with decimal=',' for a file written as 2023-01-01;1,5 (command line: --sep ';' "
                    "--decimal ',')")


def csv_sep(sep: str = SEP) -> str:
    """The column separator of a user's .csv/.txt file, checked: one character ("\\t" or "tab" for a tab);
    else DataError naming the keyword and the fix. `csv_dialect` checks it together with the decimal mark."""
    sep = _SEP_WORDS.get(sep.lower(), sep) if isinstance(sep, str) else sep
    if not isinstance(sep, str) or len(sep) != 1 or sep in "\"\r\n":
        raise DataError(f"sep={sep!r} must be the one character between the columns of the file ('\\t' or 'tab' for "
                        f"a tab), {_DIALECT_EXAMPLE}")
    return sep


# how a user's file is read, at the defaults every registered dataset and "synthetic" are read with
READING_DEFAULTS = {"sep": ",", "decimal": ".", "date_format": None, "dayfirst": False}
READING_FLAGS = {"sep": "--sep", "decimal": "--decimal", "date_format": "--date-format", "dayfirst": "--dayfirst"}


def reading_options(sep: str = ",", decimal: str = ".", date_format: str | None = None,
                    dayfirst: bool = False) -> dict[str, Any]:
    """How a user's file is read (sep, decimal, date_format, dayfirst) where it is not the default, so that
    a key or hash holding them is the same as before for a file read with the defaults."""
    given = {"sep": sep, "decimal": decimal, "date_format": date_format, "dayfirst": bool(dayfirst)}
    return {k: v for k, v in given.items() if v != READING_DEFAULTS[k]}


def csv_dialect(sep: str = SEP, decimal: str = DECIMAL) -> tuple[str, str]:
    """(sep, decimal) of a user's .csv/.txt file (pandas read_csv's options), checked: each one character,
    different from each other ("\\t" or "tab" for a tab); else DataError naming the keyword and the fix."""
    sep = csv_sep(sep)
    if not isinstance(decimal, str) or len(decimal) != 1 or decimal.isdigit() or decimal in "\"\r\n+-eE":
        raise DataError(f"decimal={decimal!r} must be the one character before the decimals of a number ('.' or ','), "
                        f"{_DIALECT_EXAMPLE}")
    if sep == decimal:
        default = " (sep is ',' unless given)" if sep == SEP else ""
        raise DataError(f"sep and decimal are both {sep!r}: a number like 1{sep}5 would read as two columns{default}. "
                        f"To fix: give the character between the columns as sep and the one before the decimals as "
                        f"decimal, e.g. sep=';' with decimal=',' for a file written as 2023-01-01;1,5 or a file of one "
                        f"column written as 1,5 (command line: --sep ';' --decimal ',')")
    return sep, decimal


def _separated(sep: str) -> str:
    """How a separator is named in a message: "comma-separated", "';'-separated", "tab-separated"."""
    return f"{_SEP_NAMES.get(sep, repr(sep))}-separated"


def _is_data_line(line: str, sep: str = SEP, decimal: str = DECIMAL) -> bool:
    """True if a first line is data, not a header: all numbers, or a date followed by numbers."""
    fields = [field.strip() for field in line.split(sep)]
    if not line:
        return False

    def number(field: str) -> bool:
        try:
            float(field.replace(decimal, ".") if decimal != "." else field)
        except ValueError:
            return False
        return True

    if all(number(field) for field in fields):
        return True
    return (len(fields) > 1 and all(number(field) for field in fields[1:])
            and not pd.isna(pd.to_datetime(fields[0], errors="coerce")))


def _read_npz(path: Path) -> pd.DataFrame:
    try:
        with open_binary(path) as handle:
            archive = np.load(io.BytesIO(handle.read()), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} as a NumPy .npz archive ({exc}); the file is damaged or not an .npz. "
                        "Replace it with the published file.") from exc
    if "data" not in archive.files:
        raise DataError(f"{path}: the .npz has arrays {archive.files} but no 'data'; save the series under the key 'data'.")
    data = archive["data"]
    if data.ndim == 3:
        data = data[:, :, 0]  # (rows, nodes, features): feature 0, as the PEMS protocol does
    if data.ndim != 2:
        raise DataError(f"{path}: array 'data' has shape {data.shape}; expected (rows, channels) or (rows, channels, features).")
    return pd.DataFrame(data, columns=[str(i) for i in range(data.shape[1])])


def _read_file(path: Path, sep: str = SEP, decimal: str = DECIMAL) -> pd.DataFrame:
    """A file as a DataFrame, format chosen by suffix (.csv, .txt, .npz, each optionally .gz); sep, decimal:
    how a .csv/.txt file writes its columns and numbers (pandas read_csv's options, checked by `csv_dialect`)."""
    sep, decimal = csv_dialect(sep, decimal)
    if path.is_dir():
        raise DataError(f"{path} is a directory; pass the data file itself (.csv, .txt or .npz, optionally .gz).")
    if not path.is_file():
        raise DataError(f"file {path} does not exist; check the path (relative paths start at {Path.cwd()}).")
    stem = _stem(path)
    if _first_line(path).startswith("version https://git-lfs"):
        raise DataError(f"{path} is a Git LFS pointer, not the data: it was fetched from a repository that "
                        "stores the file with Git LFS. Get the real file (e.g. with `git lfs pull`) and replace it.")
    if stem.endswith(".npz"):
        return _read_npz(path)
    if not stem.endswith((".csv", ".txt")):
        raise DataError(f"{path}: unsupported file type; use .csv, .txt (comma-separated, or as sep= says) or .npz, "
                        "optionally gzipped (.gz).")
    first = _first_line(path)
    header = None if _is_data_line(first, sep, decimal) else "infer"
    try:
        frame = pd.read_csv(path, header=header, sep=sep, decimal=decimal, encoding_errors="replace",
                            skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty (no header, no rows); check that it is the file you meant and that it was "
                        "written completely: a header line (e.g. date,a,b) and one line per time step.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"cannot parse {path} as {_separated(sep)} text: {exc}") from exc
    if frame.shape[1] == 1:
        _refuse_other_separator(path, first, sep, decimal)
    if not frame.index.equals(pd.RangeIndex(len(frame))):  # pandas took each row's extra first field as its label
        _refuse_row_labels(path, first, sep, decimal)
    if header is None and sep == ",":
        _refuse_split_decimal_commas(path, first, frame)
    if decimal != DECIMAL:
        _read_decimals(frame, decimal)
    if header is None:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    return frame


def _read_decimals(frame: pd.DataFrame, decimal: str) -> None:
    """In place: the numbers written with `decimal` in text columns as floats. pandas reads them only in columns
    that are numbers throughout; a column with one bad entry stays text, and its other numbers should not be
    named as bad with it."""
    for name in frame.columns:
        column = frame[name]
        if not _is_text(column):
            continue
        text = column.astype("string")
        numbers = pd.to_numeric(text.str.replace(decimal, ".", regex=False), errors="coerce")
        written = (text.str.contains(decimal, regex=False) & numbers.notna()).fillna(False).to_numpy(dtype=bool)
        if written.any():
            frame[name] = column.astype(object).where(~written, numbers.astype(object))


def _refuse_other_separator(path: Path, first: str, sep: str, decimal: str) -> None:
    """A file read as one column whose first line holds another common separator: DataError naming the
    sep (and decimal, where its numbers are written like 1,5) to read it with."""
    found = next((other for other in (";", "\t", "|", ",") if other != sep and other in first), None)
    if found is None or (found == decimal and _is_data_line(first, sep, decimal)):
        return  # a headerless file of one column written like 1,5: its commas are its decimal marks
    with open_binary(path) as handle:
        lines = [handle.readline().decode("utf-8", errors="replace").strip() for _ in range(3)]
    fields = [field.strip() for line in lines for field in line.split(found)]
    comma_decimals = found != "," and decimal != "," and any(_COMMA_DECIMAL.fullmatch(f) for f in fields)
    # a file separated by its decimal mark (read with decimal=','; comma-separated) writes its decimals with a point
    options = [("sep", found)] + ([("decimal", ",")] if comma_decimals else [("decimal", ".")] if found == decimal else [])
    keywords = ", ".join(f"{name}={value!r}" for name, value in options)
    command = " ".join(f"--{name} {_quoted(value)}" for name, value in options)
    numbers = " and its numbers are written like 1,5" if comma_decimals else ""
    raise DataError(f"{path} reads as one column: its first line {first[:60]!r} is separated by {found!r}, not "
                    f"{sep!r}{numbers}. To fix: pass {keywords} (command line: {command}).")


def _refuse_row_labels(path: Path, first: str, sep: str, decimal: str) -> None:
    """Rows with one field more than the header line: pandas reads their first field as row labels and drops it,
    so a one-column file written like 1,5 read as 5, 5, 5: DataError naming the line and the fix."""
    with open_binary(path) as handle:
        row = next((line for line in (raw.decode("utf-8", errors="replace").strip() for raw in handle)
                    if line and line != first), "")
    comma_decimals = sep == "," and decimal != "," and re.search(r"\d,\d", row) is not None
    fix = ("its numbers look written like 1,5, split at the comma. To fix: pass decimal=',' with the column "
           "separator as sep (a file of one column: sep=';', decimal=','; command line: --sep ';' --decimal ',')"
           if comma_decimals else "To fix: give every column a name in the header line, or drop the extra field "
           "from each row")
    raise DataError(f"{path}: its rows have one field more than its header line {first[:60]!r} (e.g. {row[:60]!r}), "
                    f"read {_separated(sep)}; samovar would drop each row's first field. {fix[0].upper()}{fix[1:]}.")


def _split_decimal_commas(frame: pd.DataFrame) -> bool:
    """True if a headerless comma-separated frame is two columns of whole numbers (the second not negative),
    after a date column or none: a one-column file written with decimal commas (1,5 / 2,25) reads just so."""
    numbers = frame.iloc[:, 1:] if frame.shape[1] == 3 and not pd.api.types.is_numeric_dtype(frame.iloc[:, 0]) else frame
    return (numbers.shape[1] == 2 and all(pd.api.types.is_integer_dtype(numbers[name]) for name in numbers.columns)
            and bool((numbers.iloc[:, 1] >= 0).all()))


def _refuse_split_decimal_commas(path: Path, first: str, frame: pd.DataFrame) -> None:
    """A headerless comma-separated file of two whole numbers a line (1,5): two series, or one written with decimal
    commas split at the comma (1.5)? Either reading is as likely, so DataError naming the fix of each."""
    if not _split_decimal_commas(frame):
        return
    line = "a date and two whole numbers" if frame.shape[1] == 3 else "two whole numbers"
    raise DataError(f"{path}: every line is {line} separated by commas (e.g. {first[:60]!r}) and there is no "
                    "header line: read comma-separated these are two series, but a one-column file written with "
                    "decimal commas (1,5 for 1.5) looks the same. To fix: for one series with decimal commas pass "
                    "sep=';', decimal=',' (command line: --sep ';' --decimal ','); for two series add a header line "
                    "naming them (e.g. a,b).")


def _quoted(value: str) -> str:
    """A separator as typed in a shell: ';' (quoted, as the shell would split at it), '\\t' for a tab."""
    return "'\\t'" if value == "\t" else f"'{value}'"


class Origin:
    """Where a table comes from: its name opens every message, and `row(i)` names data row i as the
    user finds it: the line of a text file (header = line 1) as an editor shows it, else "row i"
    (the position in a DataFrame or an array, as df.iloc counts)."""

    def __init__(self, name: str, text_file: Path | None = None, sep: str = SEP, decimal: str = DECIMAL) -> None:
        self.name = name
        self.text_file = text_file
        self.sep, self.decimal = sep, decimal  # how the text file was read: which first line is a header
        self._lines: list[int] | None = None  # file line of each data row, read on the first error

    def __str__(self) -> str:
        return self.name

    def row(self, i: int) -> str:
        if self.text_file is None:
            return f"row {i}"
        if self._lines is None:
            self._lines = _data_line_numbers(self.text_file, self.sep, self.decimal)
        return f"line {self._lines[i]}" if i < len(self._lines) else f"row {i}"


def _data_line_numbers(path: Path, sep: str = SEP, decimal: str = DECIMAL) -> list[int]:
    """1-based line numbers of the data rows of a text file as `_read_file` reads it (blank lines and header skipped)."""
    with open_binary(path) as handle:
        numbers = [n for n, line in enumerate(handle, start=1) if line.strip()]
    return numbers if _is_data_line(_first_line(path), sep, decimal) else numbers[1:]


def _show_rows(rows: np.ndarray, values, origin: Origin, limit: int = 3) -> str:
    shown = ", ".join(f"{origin.row(int(r))} ({v!r})" for r, v in zip(rows[:limit], values[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


# dates written with the day and the month first, in either order: 13/01/2023, 01-13-2023 10:00, 1.2.23
_DAY_MONTH = re.compile(r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2\d{2,4}(?!\d)")


def _is_text(raw: pd.Series) -> bool:
    return raw.dtype == object or pd.api.types.is_string_dtype(raw)


def _to_datetime(raw: pd.Series, date_format: str | None = None, dayfirst: bool = False,
                 mixed: bool = False) -> pd.Series:
    """pd.to_datetime(errors="coerce") with the user's date options; dayfirst only applies to dates that
    do not start with the year (pandas would read 2023-01-02 as 1 February)."""
    if date_format is not None:
        return pd.to_datetime(raw, errors="coerce", format=date_format)
    dayfirst = dayfirst and _is_text(raw) and not raw.astype(str).str.match(r"\s*\d{4}").all()
    return pd.to_datetime(raw, errors="coerce", dayfirst=dayfirst, **({"format": "mixed"} if mixed else {}))


def _parse_dates(raw: pd.Series, origin: Origin, date_format: str | None = None,
                 dayfirst: bool = False) -> pd.DatetimeIndex:
    """Parse a date column; empty or unparseable entries raise DataError naming their rows, and day-first
    dates read without dayfirst/date_format raise DataError naming the option (`_check_day_month`)."""
    if date_format is None and not dayfirst and _is_text(raw):
        _check_day_month(raw, origin)
    dates = _to_datetime(raw, date_format, dayfirst)
    bad = dates.isna().to_numpy()
    if bad.any() and date_format is None and not raw.isna().to_numpy()[bad].all():  # maybe mixed formats: element-wise
        dates = _to_datetime(raw, dayfirst=dayfirst, mixed=True)
        bad = dates.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        fix = (f"write them as date_format={date_format!r} says, or change date_format (--date-format)" if date_format
               else "write the dates as YYYY-MM-DD HH:MM:SS, or give their format with date_format= (--date-format)")
        raise DataError(
            f"{origin}: {len(rows)} of {len(raw)} rows have a missing or unreadable date in column "
            f"{raw.name!r}: {_show_rows(rows, raw.to_numpy()[rows], origin)}. To fix: fill in or delete those rows, or {fix}."
        )
    return pd.DatetimeIndex(dates)


def _regular(dates: pd.Series) -> bool:
    """Increasing dates at one frequency (pandas can infer it)."""
    index = pd.DatetimeIndex(dates)
    return not index.hasnans and index.is_monotonic_increasing and index.is_unique and infer_freq(index)[1] is None


def _date_options(example: str) -> str:
    """The options that read day-first dates like `example`, with its format when pandas can guess it."""
    from pandas.tseries.api import guess_datetime_format

    fmt = guess_datetime_format(example.strip(), dayfirst=True) or "%d/%m/%Y"
    return f"dayfirst=True (command line: --dayfirst) or date_format='{fmt}' (--date-format '{fmt}')"


def _month_first_option(example: str) -> str:
    """The option that reads dates like `example` month-first."""
    from pandas.tseries.api import guess_datetime_format

    fmt = guess_datetime_format(example.strip(), dayfirst=False) or "%m/%d/%Y"
    return f"date_format='{fmt}' (--date-format '{fmt}')"


def _check_day_month(raw: pd.Series, origin: Origin) -> None:
    """Stop when text dates like 13/01/2023 can only be day-first, or read both ways and only day-first
    gives regular increasing dates: pandas reads them month-first, which would scramble the series; and
    when both readings give regular increasing dates (e.g. 01/02/2023 .. 01/10/2023: daily or monthly),
    naming the option for each."""
    parts = raw.astype(str).str.extract(_DAY_MONTH)
    if len(parts) == 0 or parts[0].isna().any():
        return  # not every date is written day and month first (e.g. ISO dates): nothing ambiguous
    first, second = parts[0].astype(int).to_numpy(), parts[2].astype(int).to_numpy()
    if (second > 12).any():
        return  # only month-first fits (a day > 12 in second place), or neither: the parse explains
    name = f"{origin}: the dates in column {raw.name!r}"
    if (first > 12).any():
        i = int(np.argmax(first > 12))
        raise DataError(f"{name} are day-first ({raw.iloc[i]!r} has no month {first[i]}) but would be read month-first; "
                        f"pass {_date_options(str(raw.iloc[i]))}.")
    if (first == second).all():
        return  # both readings are the same dates
    month_first, day_first = _to_datetime(raw), _to_datetime(raw, dayfirst=True)
    i = int(np.argmax(first != second))  # a date whose two readings differ
    either = (f"{name} read either way ({raw.iloc[i]!r}: month-first {month_first.iloc[i]:%Y-%m-%d}, day-first "
              f"{day_first.iloc[i]:%Y-%m-%d})")
    month_regular, day_regular = _regular(month_first), _regular(day_first)
    if not month_regular and day_regular:
        raise DataError(f"{either} and only day-first gives regular increasing dates; pass {_date_options(str(raw.iloc[i]))}.")
    if month_regular and day_regular:
        freqs = [infer_freq(pd.DatetimeIndex(d))[0] for d in (month_first, day_first)]
        raise DataError(f"{either} and both give regular increasing dates (month-first at frequency {freqs[0]!r}, "
                        f"day-first at {freqs[1]!r}); say which: for day-first pass {_date_options(str(raw.iloc[i]))}; "
                        f"for month-first pass {_month_first_option(str(raw.iloc[i]))}.")


def id_like_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that look like a series id: named like one (ID_COLUMN_NAMES) or holding text."""
    out = []
    for name in frame.columns:
        lowered = str(name).strip().lower()
        if lowered in ID_COLUMN_NAMES or lowered.endswith("_id") or not (
                pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name])):
            out.append(str(name))
    return out


def _check_date_order(dates: pd.DatetimeIndex, origin: Origin, id_like: list[str] | None = None,
                      date_name: str = "date") -> None:
    """Strict checks for user data: no duplicate dates, increasing order. id_like: columns that look like
    a series id; with one, repeated dates are explained as a long-format file and the long-format options named."""
    duplicated = dates.duplicated(keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated)
        shown = _show_rows(rows, [str(d) for d in dates[rows]], origin)
        if id_like:
            raise DataError(
                f"{origin}: {len(rows)} rows share a date with another row: {shown}. Column {id_like[0]!r} looks like a "
                "series id: this reads as several series in long format (one row per series and date). To fix: read it "
                f"as a panel, naming its columns: id_col={id_like[0]!r}, time_col={date_name!r}, target_col=<value "
                f"column> (command line: --id-col {id_like[0]} --time-col {date_name} --target-col <value column>); "
                "see docs/panels.md."
            )
        raise DataError(
            f"{origin}: {len(rows)} rows share a date with another row: {shown}. "
            "Repeated dates usually mean several series in long format (id, date, value) or an error in the data. "
            "To fix: if the file holds several series, read it as a panel with id_col=, time_col=, target_col= "
            "(command line: --id-col, --time-col, --target-col; docs/panels.md), or pivot it to one column per series "
            "(df.pivot(index='date', columns='id', values='value')); otherwise find out why those rows repeat and "
            "correct the data at its source."
        )
    steps = np.diff(dates.asi8)
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0]) + 1
        raise DataError(
            f"{origin}: dates are not in increasing order: {origin.row(i)} ({dates[i]}) comes before "
            f"{origin.row(i - 1)} ({dates[i - 1]}). "
            "To fix: sort the rows by date (e.g. df.sort_values('date'))."
        )


def infer_freq(dates: pd.DatetimeIndex) -> tuple[str | None, str | None]:
    """(pandas offset alias, note). Irregular dates give the most common step and a note saying so."""
    if len(dates) < 3:
        return None, f"only {len(dates)} dates: frequency unknown"
    try:  # pandas >= 3 can return an offset object; ask for it and take its alias
        with pd.option_context("future.infer_freq_returns_offset", True):
            exact = pd.infer_freq(dates)
    except (KeyError, AttributeError):  # older pandas: no such option, a string is returned
        exact = pd.infer_freq(dates)
    if exact is not None:
        return (exact if isinstance(exact, str) else exact.freqstr), None
    steps = pd.Series(np.diff(dates.as_unit("ns").asi8))
    counts = steps.value_counts()
    common = pd.Timedelta(int(counts.index[0]))
    alias = pd.tseries.frequencies.to_offset(common).freqstr
    off = int((steps != counts.index[0]).sum())
    note = (
        f"dates are irregular: {off} of {len(steps)} steps differ from the most common step {common} "
        f"(largest step {pd.Timedelta(int(steps.max()))}); frequency taken as {alias!r}, "
        "so forecasts continue the dates at that step"
    )
    return alias, note


def _refuse_unnamed_columns(frame: pd.DataFrame, origin: Origin) -> None:
    """A column with an empty header cell (pandas names it 'Unnamed: k') would become a channel unnoticed;
    most often it is the row index pandas writes with ``df.to_csv(path)``, whose values only count the rows."""
    unnamed = [c for c in frame.columns if re.fullmatch(r"Unnamed: \d+(\.\d+)?", c)]
    if not unnamed:
        return
    name = unnamed[0]
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    counts = len(values) > 1 and bool(np.all(np.diff(values) == 1)) and values[0] in (0, 1)
    index = (f" and counts the rows ({int(values[0])}, {int(values[0]) + 1}, {int(values[0]) + 2}, ...): it is the row "
             "index pandas writes with df.to_csv(path) unless index=False is given") if counts else ""
    more = f" (and {len(unnamed) - 1} more such column(s))" if len(unnamed) > 1 else ""
    raise DataError(f"{origin}: column {name!r}{more} has no name in the header line{index}; samovar would read it "
                    f"as one more series. To fix: drop it (df.drop(columns=[{name!r}]), or for this file "
                    "pd.read_csv(path, index_col=0).to_csv(path, index=False)), or give it a name in the header.")


def _numeric_values(frame: pd.DataFrame, origin: Origin) -> np.ndarray:
    """(rows, channels) float64; a column with text in it raises DataError naming it."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            columns.append(column.to_numpy(dtype=np.float64, na_value=np.nan))
            continue
        if origin.decimal != DECIMAL:
            _refuse_points(column, name, origin)
        numbers = pd.to_numeric(column, errors="coerce")
        text = numbers.isna().to_numpy() & column.notna().to_numpy()
        if text.any():
            rows = np.flatnonzero(text)
            lowered = str(name).strip().lower()
            panel = (f"; if it names the series of a long-format file (one row per series and time), read it as a "
                     f"panel: id_col={name!r}, time_col=, target_col= (command line: --id-col {name} --time-col ... "
                     "--target-col ...; docs/panels.md)") if lowered in ID_COLUMN_NAMES or lowered.endswith("_id") else ""
            shown = column.to_numpy()[rows]
            if all(_COMMA_DECIMAL.fullmatch(str(v)) for v in shown[:3]):
                raise DataError(f"{origin}: column {name!r} holds numbers written with a decimal comma: "
                                f"{_show_rows(rows, shown, origin)}. To fix: pass decimal=',' (command line: "
                                "--decimal ','), with the column separator as sep= (--sep) if it is not a comma.")
            raise DataError(
                f"{origin}: column {name!r} is not numeric: {_show_rows(rows, shown, origin)}. "
                f"To fix: drop the column (df.drop(columns=[{name!r}])) or convert it to numbers; "
                f"a date column must be named one of {', '.join(DATE_COLUMN_NAMES)} or come first{panel}."
            )
        columns.append(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.stack(columns, axis=1)


def _refuse_points(column: pd.Series, name: str, origin: Origin) -> None:
    """In a file read with another decimal mark (e.g. ','), a number written with a point, 1.234 or 1.234,5,
    groups its thousands or is a decimal point; either way it is not read as written (pandas leaves it text,
    and pd.to_numeric would read 1.234 as one point two three four): DataError naming the lines and the fix."""
    raw = column[column.map(lambda v: isinstance(v, str))].str.strip()
    # thousands groups (1.234, 1.234,5) or one decimal point (1.5); not a date like 01.02.2023
    shape = rf"[-+]?(?:\d{{1,3}}(?:\.\d{{3}})+(?:{re.escape(origin.decimal)}\d*)?|\d*\.\d+)(?:[eE][-+]?\d+)?"
    pointed = raw.str.fullmatch(shape)
    if not pointed.any():
        return
    rows = np.flatnonzero(column.index.isin(pointed[pointed].index))
    raise DataError(f"{origin}: column {name!r} holds numbers written with a point, read with decimal="
                    f"{origin.decimal!r}: {_show_rows(rows, column.to_numpy()[rows], origin)}; samovar reads no "
                    "thousands separators, and a point before the decimals needs decimal='.'. To fix: write the numbers "
                    f"without thousands separators (e.g. pd.read_csv(path, sep={origin.sep!r}, decimal={origin.decimal!r}, "
                    "thousands='.').to_csv(new_path, index=False) writes a comma-separated copy with decimal points, read without "
                    "sep and decimal), or pass decimal='.' (command line: --decimal '.') "
                    "if every number has a decimal point.")


def _handle_missing(values: np.ndarray, columns: list[str], fill: str, origin: Origin) -> tuple[np.ndarray, int, str | None]:
    """Raise on NaN/inf (fill="error") or interpolate them linearly in time ("interpolate")."""
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if count == 0:
        return values, 0, None
    per_column = bad.sum(axis=0)
    worst = ", ".join(f"{columns[c]!r}: {per_column[c]}" for c in np.argsort(-per_column)[:5] if per_column[c])
    first_row, first_col = (int(i) for i in np.argwhere(bad)[0])
    if fill == "error":
        raise DataError(
            f"{origin}: {count} missing or non-finite values (NaN/inf) in {int((per_column > 0).sum())} columns "
            f"({worst}); first at {origin.row(first_row)}, column {columns[first_col]!r}. "
            "To fix: clean the data, or pass fill='interpolate' (command line: --fill interpolate) "
            "to fill them by linear interpolation along time."
        )
    empty = [columns[c] for c in range(values.shape[1]) if per_column[c] == values.shape[0]]
    if empty:
        raise DataError(f"{origin}: columns {empty} have no finite value at all, so nothing can be interpolated; drop them.")
    frame = pd.DataFrame(np.where(bad, np.nan, values))
    filled = frame.interpolate(method="linear", limit_direction="both").to_numpy()
    note = f"filled {count} missing/non-finite values by linear interpolation ({worst})"
    warnings.warn(f"{origin}: {note}", stacklevel=3)
    return filled, count, note


def frame_to_table(frame: pd.DataFrame, *, origin: str | Origin, fill: str = "error", strict_dates: bool = True,
                   freq: str | None = None, date_format: str | None = None, dayfirst: bool = False) -> Table:
    """Validate a DataFrame into a Table (values as float64 until the final float32 copy).

    The dates come from a DatetimeIndex (or an index named like a date), a column named like a date (see DATE_COLUMN_NAMES), or
    a non-numeric first column that parses as dates; without any, dates are None.
    strict_dates: duplicates / unsorted dates raise (user data); registered files skip this.
    freq: known frequency (registered files); None means infer it from the dates.
    origin: a name, or an `Origin` that also names rows by their file line.
    date_format: the strftime format of text dates (e.g. "%d/%m/%Y"); dayfirst: read 01/02/2023 as
    1 February. Without either, text dates that are only readable day-first, or that only give
    regular dates day-first, raise DataError naming them.
    """
    origin = origin if isinstance(origin, Origin) else Origin(origin)
    if fill not in FILL_MODES:
        raise DataError(f"fill={fill!r} is not an option; use one of {FILL_MODES}.")
    if frame.shape[0] == 0:
        raise DataError(f"{origin}: no data rows.")
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    raw_dates = None
    index_name = str(frame.index.name).strip().lower() if frame.index.name is not None else ""
    if isinstance(frame.index, pd.DatetimeIndex) or index_name in DATE_COLUMN_NAMES:
        raw_dates = pd.Series(frame.index, name=frame.index.name or "index")
        frame = frame.reset_index(drop=True)
    else:
        named = [c for c in frame.columns if c.strip().lower() in DATE_COLUMN_NAMES]
        first = frame.columns[0] if len(frame.columns) else None
        if named:
            raw_dates = frame.pop(named[0])
        elif first is not None and not pd.api.types.is_numeric_dtype(frame[first]):
            parsed = _to_datetime(frame[first], date_format, dayfirst, mixed=date_format is None)
            if parsed.notna().mean() >= 0.9:  # a first column of (mostly) dates is the date column
                raw_dates = frame.pop(first)
    if frame.shape[1] == 0:
        raise DataError(f"{origin}: no value columns besides the dates; a series needs at least one numeric column.")
    _refuse_unnamed_columns(frame, origin)
    dates = None
    notes: list[str] = []
    if raw_dates is not None:
        dates = _parse_dates(raw_dates.reset_index(drop=True), origin, date_format, dayfirst)
        if strict_dates:
            _check_date_order(dates, origin, id_like_columns(frame), str(raw_dates.name))
        if freq is None:
            freq, note = infer_freq(dates)
            if note:
                notes.append(note)
                warnings.warn(f"{origin}: {note}", stacklevel=3)
    columns = list(frame.columns)
    values, filled, note = _handle_missing(_numeric_values(frame, origin), columns, fill, origin)
    if note:
        notes.append(note)
    return Table(values=values.astype(np.float32), columns=columns, dates=dates, freq=freq, filled=filled, notes=notes)


def read_table(source: str | os.PathLike | pd.DataFrame, *, fill: str = "error", date_format: str | None = None,
               dayfirst: bool = False, sep: str = SEP, decimal: str = DECIMAL) -> Table:
    """Read and validate a user's series: a CSV/TXT/NPZ path (optionally .gz) or a DataFrame.

    Returns values (rows, channels) float32, column names, dates (or None) and the frequency
    (inferred; irregular dates give the most common step with a warning). date_format, dayfirst:
    how text dates are read (`frame_to_table`). sep, decimal: the column separator and decimal mark
    of a .csv/.txt file (pandas read_csv's; e.g. ";" and "," for 2023-01-01;1,5).
    """
    options = dict(fill=fill, date_format=date_format, dayfirst=dayfirst)
    if isinstance(source, pd.DataFrame):
        csv_dialect(sep, decimal)  # bad values are an error whatever the source
        return frame_to_table(source, origin="DataFrame", **options)
    path = Path(source).expanduser()
    return frame_to_table(_read_file(path, sep, decimal), origin=_file_origin(str(path), path, sep, decimal), **options)


def _file_origin(name: str, path: Path, sep: str = SEP, decimal: str = DECIMAL) -> Origin:
    """Rows of a text file are named by their line; rows of an .npz array by their position."""
    if _stem(path).endswith(".npz"):
        return Origin(name)
    return Origin(name, path, *csv_dialect(sep, decimal))


def read_registered(spec: DatasetSpec, path: Path, *, fill: str = "error") -> Table:
    """Read a registered benchmark file exactly as published: rows kept as they are, shape checked."""
    origin = _file_origin(f"{spec.name} ({path})", path)
    frame = _read_file(path)
    if spec.file_format == "csv":
        if frame.columns[0] != "date":
            raise DataError(f"{origin}: expected the first column to be 'date', got {frame.columns[0]!r}; the file is not {spec.file_name}.")
    table = frame_to_table(frame, origin=origin, fill=fill, strict_dates=False, freq=spec.freq)
    shape = (len(table.values), len(table.columns))
    if shape != (spec.rows, spec.channels):
        check = "" if spec.sha256 else " (no checksum is registered for this dataset, so its shape is what is verified)"
        raise DataError(
            f"{origin}: has {shape[0]} rows x {shape[1]} channels, expected {spec.rows} x {spec.channels}{check}. "
            f"The file is truncated or a different version; replace it with the published {spec.file_name}."
        )
    return table
