"""Locating, downloading, verifying and validating data files; every bad input gets a clear error."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import require_file
from samovar.data import DATASETS, DataError, cache_dir, dataset_table, locate, prepare_data, read_table
from samovar.data.registry import RATIO_70_10_20
from samovar.data.prepare import ALL_ROWS, validation_split


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path, monkeypatch):
    """No user-level data directory or cache leaks into these tests."""
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


TINY_CSV = "date,a,b\n" + "".join(f"2021-01-01 {h:02d}:00:00,{h},{2 * h + 1}\n" for h in range(24))
TINY_SHA256 = hashlib.sha256(TINY_CSV.encode()).hexdigest()


@pytest.fixture
def tiny_spec(monkeypatch):
    """A test-local registered dataset 'Tiny': 24 hourly rows x 2 channels, checksum known."""
    spec = dataclasses.replace(
        DATASETS["ETTh1"], name="Tiny", file_name="tiny.csv", channels=2, rows=24, freq="h",
        protocol=RATIO_70_10_20, url=None, sha256=TINY_SHA256, subdir="", aliases=(),
    )
    monkeypatch.setitem(DATASETS, "Tiny", spec)
    return spec


def write(path: Path, text: str, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


# ----------------------------------------------------------------------------- location order


def test_location_order_data_dir_then_env_then_cache(tmp_path, tiny_spec, monkeypatch):
    given, env, cache = tmp_path / "given", tmp_path / "env", cache_dir()
    for directory in (given, env, cache):
        write(directory / "tiny.csv", TINY_CSV)
    monkeypatch.setenv("SAMOVAR_DATA_DIR", str(env))
    assert locate(tiny_spec, given) == given / "tiny.csv"
    assert locate(tiny_spec) == env / "tiny.csv"
    monkeypatch.delenv("SAMOVAR_DATA_DIR")
    assert locate(tiny_spec) == cache / "tiny.csv"
    (cache / "tiny.csv").unlink()
    write(cache / "tiny.csv.gz", TINY_CSV, gz=True)  # .gz accepted too
    assert locate(tiny_spec) == cache / "tiny.csv.gz"


def test_time_series_library_subfolder_is_searched(tmp_path, shared_data_dir):
    source = require_file("ETTh1.csv.gz")
    (tmp_path / "ETT-small").mkdir()
    (tmp_path / "ETT-small" / "ETTh1.csv.gz").write_bytes(source.read_bytes())
    assert locate(DATASETS["ETTh1"], tmp_path) == tmp_path / "ETT-small" / "ETTh1.csv.gz"


def test_missing_file_lists_every_place_looked_and_how_to_supply(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMOVAR_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError) as info:
        prepare_data("PEMS03", lookback=96, horizon=12, data_dir=tmp_path / "given")
    message = str(info.value)
    for place in (tmp_path / "given", tmp_path / "env", cache_dir()):
        assert str(place / "PEMS03.npz") in message and str(place / "PEMS03.npz.gz") in message
        assert str(place / "PEMS" / "PEMS03.npz") in message
    assert "--data-dir" in message and "SAMOVAR_DATA_DIR" in message and "Time-Series-Library" in message


def test_unknown_name_and_missing_path(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'ETTh9'.*ETTh1"):
        prepare_data("ETTh9", lookback=4, horizon=2)
    with pytest.raises(DataError, match="does not exist"):
        prepare_data(str(tmp_path / "nope.csv"), lookback=4, horizon=2)
    with pytest.raises(DataError, match="is a directory"):
        prepare_data(tmp_path, lookback=4, horizon=2)


# ----------------------------------------------------------------------------- checksums and gzip


def test_checksum_mismatch_names_file_both_hashes_and_fix(tmp_path, tiny_spec):
    bad = write(tmp_path / "tiny.csv", TINY_CSV.replace(",5,11", ",5,12"))
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(DataError) as info:
        prepare_data("tiny", lookback=4, horizon=2, data_dir=tmp_path)
    message = str(info.value)
    assert str(bad) in message and TINY_SHA256 in message and actual in message and "delete" in message


def test_real_file_checksum_mismatch(tmp_path):
    require_file("ETTh1.csv.gz")
    write(tmp_path / "ETTh1.csv", "date,HUFL\n2016-07-01 00:00:00,1.0\n")
    with pytest.raises(DataError, match="f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"):
        prepare_data("ETTh1", lookback=4, horizon=2, data_dir=tmp_path)


def test_gz_and_plain_registered_file_read_identically(tmp_path, shared_data_dir):
    source = require_file("ETTh1.csv.gz")
    with gzip.open(source, "rb") as handle:
        (tmp_path / "ETTh1.csv").write_bytes(handle.read())
    plain = prepare_data("ETTh1", lookback=96, horizon=24, data_dir=tmp_path)
    packed = prepare_data("ETTh1", lookback=96, horizon=24, data_dir=shared_data_dir)
    assert plain.source.endswith("ETTh1.csv") and packed.source.endswith("ETTh1.csv.gz")
    np.testing.assert_array_equal(plain.values, packed.values)
    assert plain.dates.equals(packed.dates) and plain.columns == packed.columns


def test_gz_and_plain_user_csv_read_identically(tmp_path):
    plain = read_table(write(tmp_path / "mine.csv", TINY_CSV))
    packed = read_table(write(tmp_path / "mine.csv.gz", TINY_CSV, gz=True))
    np.testing.assert_array_equal(plain.values, packed.values)
    assert plain.dates.equals(packed.dates) and plain.columns == packed.columns == ["a", "b"] and plain.freq == "h"


def test_shape_is_checked_when_no_checksum_is_known(tmp_path, tiny_spec, monkeypatch):
    monkeypatch.setitem(DATASETS, "Tiny", dataclasses.replace(tiny_spec, sha256=None, rows=25))
    write(tmp_path / "tiny.csv", TINY_CSV)
    with pytest.raises(DataError, match=r"24 rows x 2 channels, expected 25 x 2 \(no checksum"):
        prepare_data("Tiny", lookback=4, horizon=2, data_dir=tmp_path)


# ----------------------------------------------------------------------------- download (loopback only)


@pytest.fixture
def loopback_server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/'served'; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_with_pooch_from_loopback_and_verify(loopback_server, tiny_spec, monkeypatch):
    base, served = loopback_server
    write(served / "tiny.csv.gz", TINY_CSV, gz=True)
    monkeypatch.setitem(DATASETS, "Tiny", dataclasses.replace(tiny_spec, url=f"{base}/tiny.csv.gz"))
    data = prepare_data("tiny", lookback=4, horizon=2)
    assert Path(data.source) == cache_dir() / "tiny.csv.gz" and Path(data.source).is_file()
    np.testing.assert_array_equal(data.values[:, 0], np.arange(24))
    assert locate(DATASETS["Tiny"]) == cache_dir() / "tiny.csv.gz"  # second time: from the cache


def test_download_with_wrong_content_is_rejected_and_deleted(loopback_server, tiny_spec, monkeypatch):
    base, served = loopback_server
    write(served / "tiny.csv", TINY_CSV + "2021-01-02 00:00:00,24,49\n")
    monkeypatch.setitem(DATASETS, "Tiny", dataclasses.replace(tiny_spec, url=f"{base}/tiny.csv"))
    with pytest.raises(DataError, match="(?s)checksum mismatch.*was deleted"):
        prepare_data("tiny", lookback=4, horizon=2)
    assert not (cache_dir() / "tiny.csv").exists()


def test_failed_download_says_where_it_looked_and_what_failed(loopback_server, tiny_spec, monkeypatch):
    base, _ = loopback_server
    monkeypatch.setitem(DATASETS, "Tiny", dataclasses.replace(tiny_spec, url=f"{base}/absent.csv"))
    with pytest.raises(DataError, match=r"(?s)Looked in:.*tiny\.csv\.gz.*Downloading it from .*absent\.csv failed"):
        prepare_data("tiny", lookback=4, horizon=2)


# ----------------------------------------------------------------------------- user files: bad input


def user_csv(tmp_path, text, name="mine.csv"):
    return write(tmp_path / name, text)


def test_missing_date_is_an_error_naming_the_row(tmp_path):
    path = user_csv(tmp_path, TINY_CSV.replace("2021-01-01 05:00:00", ""))
    with pytest.raises(DataError, match=r"1 of 24 rows have a missing or unreadable date.*line 7 \(nan\)\."):
        read_table(path)
    path = user_csv(tmp_path, TINY_CSV.replace("2021-01-01 07:00:00", "yesterday"))
    with pytest.raises(DataError, match=r"line 9 \('yesterday'\)"):
        read_table(path)


def test_duplicate_dates_are_an_error(tmp_path):
    path = user_csv(tmp_path, TINY_CSV.replace("2021-01-01 06:00:00", "2021-01-01 05:00:00"))
    with pytest.raises(DataError, match=r"2 rows share a date.*line 7.*line 8.*several series in long format") as info:
        read_table(path)
    assert "df.pivot(index='date', columns='id', values='value')" in str(info.value)
    assert "drop_duplicates" not in str(info.value) and "mean()" not in str(info.value)  # never drop or average rows


def dated_csv(tmp_path, dates: pd.DatetimeIndex, date_format: str, name: str = "dates.csv") -> Path:
    frame = pd.DataFrame({"date": dates.strftime(date_format), "v": np.arange(len(dates), dtype=float)})
    frame.to_csv(tmp_path / name, index=False)
    return tmp_path / name


DAILY = pd.date_range("2023-01-01", periods=40, freq="D")


def test_day_first_dates_stop_with_the_option_to_pass_and_read_with_it(tmp_path):
    path = dated_csv(tmp_path, DAILY, "%d/%m/%Y")
    with pytest.raises(DataError, match=r"are day-first \('13/01/2023' has no month 13\).*pass dayfirst=True "
                                        r"\(command line: --dayfirst\) or date_format='%d/%m/%Y'"):
        read_table(path)
    for options in ({"dayfirst": True}, {"date_format": "%d/%m/%Y"}):
        table = read_table(path, **options)
        assert table.dates.equals(pd.DatetimeIndex(DAILY)) and table.freq == "D"
    hourly = pd.date_range("2023-01-01", periods=400, freq="h")
    with pytest.raises(DataError, match=r"date_format='%d\.%m\.%Y %H:%M' \(--date-format '%d\.%m\.%Y %H:%M'\)"):
        read_table(dated_csv(tmp_path, hourly, "%d.%m.%Y %H:%M", "hourly.csv"))  # the suggested format fits the dates
    assert read_table(tmp_path / "hourly.csv", date_format="%d.%m.%Y %H:%M").dates.equals(hourly)
    with pytest.raises(DataError, match=r"19 of 40 rows have a missing or unreadable date.*'13/01/2023'.*"
                                        r"date_format='%m/%d/%Y' says"):
        read_table(path, date_format="%m/%d/%Y")


def test_dates_that_read_both_ways_stop_when_only_day_first_is_regular(tmp_path):
    monthly = pd.date_range("2021-01-01", periods=30, freq="MS")  # 01/02/2021 ...: every field <= 12
    path = dated_csv(tmp_path, monthly, "%d/%m/%Y")
    with pytest.raises(DataError, match=r"read either way \('01/02/2021': month-first 2021-01-02, day-first "
                                        r"2021-02-01\) and only day-first gives regular increasing dates; pass dayfirst=True"):
        read_table(path)
    assert read_table(path, dayfirst=True).dates.equals(pd.DatetimeIndex(monthly))
    us = read_table(dated_csv(tmp_path, DAILY, "%m/%d/%Y", "us.csv"))  # month-first: read as before
    assert us.dates.equals(pd.DatetimeIndex(DAILY))
    iso = read_table(dated_csv(tmp_path, DAILY, "%Y-%m-%d", "iso.csv"), dayfirst=True)  # dayfirst leaves ISO dates alone
    assert iso.dates.equals(pd.DatetimeIndex(DAILY))


def test_dates_regular_either_way_stop_and_name_both_options(tmp_path):
    """01/02/2023 .. 01/10/2023 are ten days month-first and ten months day-first: neither is assumed."""
    path = dated_csv(tmp_path, pd.date_range("2023-01-01", periods=10, freq="MS"), "%d/%m/%Y")
    with pytest.raises(DataError, match=r"read either way \('01/02/2023': month-first 2023-01-02, day-first 2023-02-01\) "
                                        r"and both give regular increasing dates \(month-first at frequency 'D', day-first "
                                        r"at 'MS'\); say which: for day-first pass dayfirst=True .* for month-first pass "
                                        r"date_format='%m/%d/%Y' \(--date-format '%m/%d/%Y'\)"):
        read_table(path)
    assert read_table(path, dayfirst=True).freq == "MS"
    assert read_table(path, date_format="%m/%d/%Y").freq == "D"
    same = pd.DatetimeIndex([f"2023-{m:02d}-{m:02d}" for m in range(1, 13)])  # day == month: one reading, no question
    with pytest.warns(UserWarning, match="dates are irregular"):
        assert read_table(dated_csv(tmp_path, same, "%d/%m/%Y", "same.csv")).dates.equals(same)


def test_unsorted_dates_are_an_error(tmp_path):
    lines = TINY_CSV.splitlines(keepends=True)
    lines[4], lines[5] = lines[5], lines[4]  # data rows 3 and 4 swapped
    with pytest.raises(DataError, match=r"not in increasing order: line 6 \(2021-01-01 03:00:00\) comes before line 5.*sort"):
        read_table(user_csv(tmp_path, "".join(lines)))


def test_non_numeric_column_is_an_error_naming_it(tmp_path):
    text = TINY_CSV.replace("date,a,b", "date,a,b,site").replace("\n", ",x\n").replace("date,a,b,site,x", "date,a,b,site")
    with pytest.raises(DataError, match=r"column 'site' is not numeric: line 2 \('x'\).*drop the column"):
        read_table(user_csv(tmp_path, text))
    with pytest.raises(DataError, match=r"column 'a' is not numeric: line 5 \('oops'\)"):
        read_table(user_csv(tmp_path, TINY_CSV.replace(",3,7", ",oops,7")))


def test_rows_are_named_by_file_line_or_dataframe_row(tmp_path):
    """Files: the line an editor shows (header = line 1, blank lines counted); DataFrames and arrays: the row position."""
    text = TINY_CSV.replace(",3,7", ",oops,7")
    with pytest.raises(DataError, match=r"column 'a' is not numeric: line 6 \('oops'\)"):
        read_table(user_csv(tmp_path, text.replace("\n", "\n\n", 1)))  # a blank line after the header
    headerless = "".join(text.splitlines(keepends=True)[1:])
    with pytest.raises(DataError, match=r"column '1' is not numeric: line 4 \('oops'\)"):
        read_table(user_csv(tmp_path, headerless, name="plain.csv"))
    frame = pd.read_csv(user_csv(tmp_path, TINY_CSV.replace(",3,7", ",,7")))
    with pytest.raises(DataError, match=r"DataFrame: 1 missing or non-finite.*first at row 3, column 'a'"):
        read_table(frame)


def test_nan_and_inf_are_errors_by_default(tmp_path):
    with pytest.raises(DataError, match=r"1 missing or non-finite.*first at line 5, column 'a'.*fill='interpolate'"):
        read_table(user_csv(tmp_path, TINY_CSV.replace(",3,7", ",,7")))
    with pytest.raises(DataError, match=r"2 missing or non-finite.*'b': 2"):
        read_table(user_csv(tmp_path, TINY_CSV.replace(",3,7", ",3,inf").replace(",4,9", ",4,nan")))


def test_interpolate_fills_and_reports_the_count(tmp_path):
    text = TINY_CSV.replace(",3,7", ",,7").replace(",4,9", ",,inf").replace(",0,1", ",0,")
    # Gaps: a at rows 3, 4 (empty); b at row 0 (empty) and row 4 (inf): 4 values.
    with pytest.warns(UserWarning, match=r"filled 4 missing.*'a': 2, 'b': 2"):
        table = read_table(user_csv(tmp_path, text), fill="interpolate")
    assert table.filled == 4 and any("filled 4" in note for note in table.notes)
    np.testing.assert_allclose(table.values[:6, 0], [0, 1, 2, 3, 4, 5])  # linear between 2 and 5
    np.testing.assert_allclose(table.values[:6, 1], [3, 3, 5, 7, 9, 11])  # leading gap takes the first value
    with pytest.warns(UserWarning, match="filled 4"):
        data = prepare_data(user_csv(tmp_path, text), lookback=4, horizon=2, fill="interpolate")
    assert data.filled == 4
    with pytest.raises(DataError, match="fill='zero' is not an option"):
        read_table(user_csv(tmp_path, TINY_CSV), fill="zero")


def test_split_too_short_says_the_numbers(tmp_path):
    frame = pd.DataFrame({"v": np.arange(200.0)})
    # train = int(0.7 * 200) = 140 rows; lookback 120 + horizon 30 = 150 > 140.
    with pytest.raises(DataError, match=r"train split has 140 rows.*lookback 120 \+ horizon 30 = 150 rows.*"
                                        r"horizon <= 20 at lookback 120 or lookback <= 110 at horizon 30"):
        prepare_data(frame, lookback=120, horizon=30)
    # val = 200 - 140 - 40 = 20 own rows; horizon 25 does not fit even with history.
    with pytest.raises(DataError, match=r"val split has 20 rows of its own plus up to 48.*horizon <= 20"):
        prepare_data(frame, lookback=48, horizon=25)


def test_bad_split_and_arguments():
    frame = pd.DataFrame({"v": np.arange(200.0)})
    with pytest.raises(DataError, match="sum to 1"):
        prepare_data(frame, lookback=4, horizon=2, split=(0.7, 0.2, 0.2))
    with pytest.raises(DataError, match="three numbers"):
        prepare_data(frame, lookback=4, horizon=2, split=(0.7, 0.3))
    with pytest.raises(DataError, match="lookback must be a positive integer"):
        prepare_data(frame, lookback=0, horizon=2)
    with pytest.raises(DataError, match="published protocol.*pass the file path"):
        prepare_data("ETTh1", lookback=4, horizon=2, split=(0.6, 0.2, 0.2))  # refused before any file lookup


def test_a_zero_test_share_trains_and_validates_on_every_row():
    """The refits of a cross-validation split the rows before a cut-off into train and val only."""
    frame = pd.DataFrame({"v": np.arange(200.0)})
    data = prepare_data(frame, lookback=8, horizon=4, split=(0.8, 0.2, 0))
    # train = int(0.8 * 200) = 160 rows, val = the other 40 (with 8 rows of history), no test windows
    assert data.split_rows["train"] == (0, 160) and data.split_rows["val"] == (152, 200)
    assert len(data.val) == 40 - 4 + 1 and len(data.test) == 0 and not data.notes
    np.testing.assert_allclose(data.scaler.mean, [79.5])  # the train rows only
    with pytest.raises(DataError, match="train positive and val and test positive or 0"):
        prepare_data(frame, lookback=8, horizon=4, split=(1.1, -0.1, 0))
    with pytest.raises(DataError, match="val split has 2 rows of its own"):  # still required, still explained
        prepare_data(frame, lookback=8, horizon=4, split=(0.99, 0.01, 0))


def test_all_rows_trains_on_every_row_with_no_validation_or_test_windows():
    """fit_mode "epochs" and the final fit of "refit" train on every row (ALL_ROWS)."""
    frame = pd.DataFrame({"v": np.arange(200.0)})
    data = prepare_data(frame, lookback=8, horizon=4, split=ALL_ROWS)
    assert data.split_rows["train"] == (0, 200) and len(data.train) == 200 - 12 + 1
    assert len(data.val) == 0 and len(data.test) == 0
    np.testing.assert_allclose(data.scaler.mean, [99.5])  # the scaler has seen every row
    assert validation_split((0.7, 0.1, 0.2)) == pytest.approx((0.875, 0.125, 0.0))


def test_registered_weather_keeps_its_irregular_rows(shared_data_dir):
    require_file("weather.csv.gz")
    data = prepare_data("weather", lookback=96, horizon=96, data_dir=shared_data_dir)
    assert data.rows == 52696 and data.freq == "10min"
    # The same rows as a user file fail the strict date checks instead.
    with pytest.raises(DataError, match="share a date"):
        read_table(shared_data_dir / "weather.csv.gz")


def test_irregular_user_dates_take_the_most_common_step(tmp_path):
    text = "".join(line for i, line in enumerate(TINY_CSV.splitlines(keepends=True)) if i not in (6, 11))
    with pytest.warns(UserWarning, match=r"2 of 21 steps differ.*'h'"):
        table = read_table(user_csv(tmp_path, text))
    assert table.freq == "h" and len(table.values) == 22


def test_user_files_without_dates_and_other_formats(tmp_path):
    headerless = read_table(user_csv(tmp_path, "1.5,2\n3,4\n5,6\n", name="plain.txt"))  # 1,2 a line: two series?
    assert headerless.dates is None and headerless.columns == ["0", "1"] and headerless.values.shape == (3, 2)
    named = read_table(user_csv(tmp_path, "x,y\n1,2\n3,4\n"))
    assert named.dates is None and named.columns == ["x", "y"]
    dated = read_table(user_csv(tmp_path, "2020-01-01,1.5,2\n2020-01-02,3,4\n2020-01-03,5,6\n", name="dated.csv"))
    assert len(dated.values) == 3 and dated.freq == "D"  # headerless with dates: no row lost to a header
    with pytest.raises(DataError, match=r"is separated by ';', not ','\. To fix: pass sep=';' \(command line: --sep ';'\)\.$"):
        read_table(user_csv(tmp_path, "date;a\n2020-01-01;1\n", name="semi.csv"))
    np.savez(tmp_path / "arr.npz", data=np.arange(12.0).reshape(6, 2))
    assert read_table(tmp_path / "arr.npz").values.shape == (6, 2)
    (tmp_path / "lfs.npz").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 10\n")
    with pytest.raises(DataError, match="Git LFS pointer"):
        read_table(tmp_path / "lfs.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="cannot read .* as a NumPy .npz"):
        read_table(tmp_path / "broken.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="no 'data'"):
        read_table(tmp_path / "other.npz")
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(user_csv(tmp_path, "a", name="thing.parquet"))
    with pytest.raises(DataError, match=r"empty\.csv is empty \(no header, no rows\); check that it is the file"):
        read_table(user_csv(tmp_path, "", name="empty.csv"))  # pandas' own "No columns to parse" names no fix
    indexed = pd.DataFrame({"v": np.arange(5.0)}, index=pd.date_range("2020-01-01", periods=5, freq="D"))
    table = read_table(indexed)
    assert table.freq == "D" and table.columns == ["v"] and len(table.dates) == 5
    by_name = pd.DataFrame({"date": ["2020-01-01", "2020-01-02", "2020-01-03"], "v": [1.0, 2.0, 3.0]}).set_index("date")
    assert read_table(by_name).freq == "D"


def test_dataset_table_lists_every_dataset_and_where_it_is(tmp_path, shared_data_dir):
    require_file("ETTh1.csv.gz")
    table = dataset_table(shared_data_dir)
    assert list(table["name"]) == [*DATASETS, "synthetic"]
    etth1 = table.set_index("name").loc["ETTh1"]
    assert (etth1.train_rows, etth1.val_rows, etth1.test_rows, etth1.unused_rows) == (8640, 2880, 2880, 3020)
    assert etth1.available and etth1.location == str(shared_data_dir / "ETTh1.csv.gz")
    assert not table.set_index("name").loc["PEMS03"].available
    assert dataset_table(tmp_path)["available"].sum() == 1  # only the built-in synthetic set


def test_a_column_without_a_name_is_refused_not_read_as_a_series(tmp_path):
    """df.to_csv(path) without index=False writes the row numbers as a first column with an empty header
    cell; it was read as one more series (the model trained on and forecast the row numbers)."""
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=30, freq="h").astype(str),
                          "load": np.arange(30.0) % 7})
    frame.to_csv(tmp_path / "indexed.csv")  # header: ",date,load"
    with pytest.raises(DataError, match=r"column 'Unnamed: 0' has no name in the header line and counts the rows "
                                        r"\(0, 1, 2, \.\.\.\): it is the row index pandas writes .* index_col=0"):
        read_table(tmp_path / "indexed.csv")
    with pytest.raises(DataError, match="no name in the header line"):  # the same table read by the user first
        read_table(pd.read_csv(tmp_path / "indexed.csv"))
    odd = frame.assign(extra=np.linspace(0.0, 1.0, 30)).rename(columns={"extra": "Unnamed: 2"})
    with pytest.raises(DataError, match=r"column 'Unnamed: 2' has no name in the header line; samovar would read it"):
        read_table(odd)  # not a row counter: still refused, without the index explanation
    assert read_table(frame.to_csv(tmp_path / "plain.csv", index=False) or tmp_path / "plain.csv").columns == ["load"]


EUROPEAN_CSV = "date;load;temp\n" + "".join(f"2021-01-01 {h:02d}:00:00;{10 + h},{h % 10};-{h % 3},5\n" for h in range(24))


def test_a_file_with_another_separator_and_decimal_comma_reads_as_sep_and_decimal_say(tmp_path):
    path = user_csv(tmp_path, EUROPEAN_CSV)
    with pytest.raises(DataError, match=r"mine\.csv reads as one column: its first line 'date;load;temp' is separated "
                                        r"by ';', not ',' and its numbers are written like 1,5\. To fix: pass sep=';', "
                                        r"decimal=',' \(command line: --sep ';' --decimal ','\)\.$"):
        read_table(path)
    table = read_table(path, sep=";", decimal=",")
    assert table.columns == ["load", "temp"] and table.freq == "h" and len(table.dates) == 24
    np.testing.assert_allclose(table.values[:3], [[10.0, -0.5], [11.1, -1.5], [12.2, -2.5]], rtol=1e-6)
    # the separator alone: the comma decimals are text, and the message names decimal
    with pytest.raises(DataError, match=r"column 'load' holds numbers written with a decimal comma: line 2 \('10,0'\), "
                                        r"line 3 \('11,1'\).*pass decimal=',' \(command line: --decimal ','\)"):
        read_table(path, sep=";")
    tabbed = user_csv(tmp_path, EUROPEAN_CSV.replace(";", "\t"), name="tabbed.txt")
    for tab in ("\t", "\\t", "tab", "TAB"):  # typed on a command line as '\t' or tab
        np.testing.assert_array_equal(read_table(tabbed, sep=tab, decimal=",").values, table.values)


def test_a_headerless_file_with_another_dialect_keeps_its_first_row_and_names_lines(tmp_path):
    rows = "".join(f"2021-01-01 {h:02d}:00:00;{h},5\n" for h in range(6))
    table = read_table(user_csv(tmp_path, rows), sep=";", decimal=",")
    assert len(table.values) == 6 and table.values[0, 0] == 0.5  # the first line is data, not a header
    with pytest.raises(DataError, match=r"column '1' is not numeric: line 3 \('oops'\)"):  # lines as an editor counts
        read_table(user_csv(tmp_path, rows.replace("2,5", "oops"), name="bad.csv"), sep=";", decimal=",")


@pytest.mark.parametrize("options,message", [
    ({"sep": ""}, r"^sep='' must be the one character between the columns of the file"),
    ({"sep": ";;"}, r"^sep=';;' must be the one character"),
    ({"decimal": ""}, r"^decimal='' must be the one character before the decimals"),
    ({"decimal": "1"}, r"^decimal='1' must be the one character"),
    ({"sep": ",", "decimal": ","}, r"^sep and decimal are both ',': a number like 1,5 would read as two columns"),
    ({"sep": ";", "decimal": ";"}, r"^sep and decimal are both ';'"),
])
def test_bad_sep_or_decimal_is_an_error_naming_it(tmp_path, options, message):
    path = user_csv(tmp_path, EUROPEAN_CSV)
    for source in (path, pd.DataFrame({"a": [1.0, 2.0]})):  # checked whatever the source
        with pytest.raises(DataError, match=message):
            read_table(source, **options)
    with pytest.raises(DataError, match=message):
        prepare_data(path, lookback=4, horizon=2, **options)


def test_a_point_as_the_separator_with_decimal_commas_reads_through_prepare_data(tmp_path):
    """sep='.' with decimal=',' is a valid dialect: prepare_data looked for a long-format header with the
    separator checked against the default decimal '.', and refused it as 'sep and decimal are both '.''."""
    path = user_csv(tmp_path, EUROPEAN_CSV.replace(";", "."), name="points.csv")
    frame = pd.DataFrame({"a": np.arange(40.0)})
    for source in (path, frame):
        data = prepare_data(source, lookback=4, horizon=2, sep=".", decimal=",")
        assert data.channels == (2 if source is path else 1)
    np.testing.assert_allclose(read_table(path, sep=".", decimal=",").values[:2], [[10.0, -0.5], [11.1, -1.5]], rtol=1e-6)


def test_numbers_with_a_point_in_a_decimal_comma_file_are_refused_not_read_as_decimals(tmp_path):
    """With decimal=',' pandas leaves 1.234 (a thousands point) as text, and the column's numbers were then read
    with pd.to_numeric as 1.234 instead of 1234: every value of a thousands-grouped column off by 1000, silently."""
    from samovar.data.panel import read_panel

    rows = ["1.234", "2,5", "1.500,25", "3"]
    path = user_csv(tmp_path, "date;a\n" + "".join(f"2023-01-0{d};{v}\n" for d, v in enumerate(rows, start=1)))
    with pytest.raises(DataError, match=r"mine\.csv: column 'a' holds numbers written with a point, read with "
                                        r"decimal=',': line 2 \('1\.234'\), line 4 \('1\.500,25'\); .*thousands='\.'"):
        read_table(path, sep=";", decimal=",")
    only_points = user_csv(tmp_path, "date;a\n2023-01-01;1.234\n2023-01-02;2.345\n2023-01-03;3\n",
                           name="points.csv")
    with pytest.raises(DataError, match=r"column 'a' holds numbers written with a point.*line 2 \('1\.234'\), line 3"):
        read_table(only_points, sep=";", decimal=",")
    assert read_table(only_points, sep=";").values[:, 0].tolist() == pytest.approx([1.234, 2.345, 3])  # decimal points
    # a day-first date with points is the date column, not a number; the panel's covariates are checked too
    dotted = user_csv(tmp_path, "date;a\n" + "".join(f"{d:02d}.01.2023;{d},5\n" for d in range(1, 5)), name="dotted.csv")
    assert read_table(dotted, sep=";", decimal=",", dayfirst=True).values[:, 0].tolist() == [1.5, 2.5, 3.5, 4.5]
    late = user_csv(tmp_path, "a;Datum\n1,5;01.02.2023\n2,5;02.02.2023\n", name="late.csv")
    with pytest.raises(DataError, match=r"column 'Datum' is not numeric: .*a date column must be named"):
        read_table(late, sep=";", decimal=",")  # a date, not numbers with points
    long = user_csv(tmp_path, "unique_id;ds;y;x\n" + "".join(f"s{i};2023-01-0{d};{d},5;{d}.000\n" for i in range(2)
                                                            for d in range(1, 5)), name="long.csv")
    with pytest.raises(DataError, match=r"column 'x' holds numbers written with a point.*line 2 \('1\.000'\)"):
        read_panel(long, sep=";", decimal=",", covariates=["x"])


def test_rows_with_a_field_more_than_the_header_are_refused_not_read_without_their_first_field(tmp_path):
    """A one-column file with decimal commas (value / 1,5 / 2,5) has no separator for --sep to name: pandas read
    each row's '1' as a row label and the column as 5, 5, 5, silently."""
    one = user_csv(tmp_path, "value\n1,5\n2,5\n3,5\n4,5\n", name="one.csv")
    with pytest.raises(DataError, match=r"one\.csv: its rows have one field more than its header line 'value' "
                                        r"\(e\.g\. '1,5'\), read comma-separated; .*pass decimal=',' .*--sep ';' "
                                        r"--decimal ','\)\.$"):
        read_table(one)
    assert read_table(one, sep=";", decimal=",").values[:, 0].tolist() == [1.5, 2.5, 3.5, 4.5]
    dated = user_csv(tmp_path, "date,a\n2023-01-01,1,2\n2023-01-02,3,4\n2023-01-03,5,6\n", name="dated.csv")
    with pytest.raises(DataError, match=r"dated\.csv: its rows have one field more than its header line 'date,a'"):
        read_table(dated)  # the dates were read as row labels, the second field as 'date'


ONE_COLUMN = ["1,5", "2,25", "3,0", "4,75", "10,05", "6,5"]  # one series written with decimal commas, no dates


def test_a_headerless_one_column_file_with_decimal_commas_is_refused_not_read_as_two_series(tmp_path):
    """1,5 / 2,25 / 3,0 without a header read comma-separated as two series, 1 2 3 and 5 25 0, silently:
    a one-column file of decimal commas and two series of whole numbers are the same text."""
    path = user_csv(tmp_path, "".join(f"{v}\n" for v in ONE_COLUMN), name="one.csv")
    message = (r"one\.csv: every line is two whole numbers separated by commas \(e\.g\. '1,5'\) and there is no header line: "
               r"read comma-separated these are two series, but a one-column file written with decimal commas \(1,5 "
               r"for 1\.5\) looks the same\. To fix: for one series with decimal commas pass sep=';', decimal=',' "
               r"\(command line: --sep ';' --decimal ','\); for two series add a header line naming them \(e\.g\. a,b\)\.$")
    with pytest.raises(DataError, match=message):
        read_table(path)
    with pytest.raises(DataError, match=message):
        prepare_data(path, lookback=2, horizon=1, split=(0.5, 0.25, 0.25))
    with pytest.raises(DataError, match=r"^sep and decimal are both ',': a number like 1,5 would read as two columns "
                                        r"\(sep is ',' unless given\)\. .*a file of one column written as 1,5 "
                                        r"\(command line: --sep ';' --decimal ','\)$"):
        read_table(path, decimal=",")  # the decimal mark alone: the default separator is the same comma
    table = read_table(path, sep=";", decimal=",")  # the fix the message names: one series, every line kept
    assert table.columns == ["0"] and table.dates is None
    np.testing.assert_allclose(table.values[:, 0], [1.5, 2.25, 3.0, 4.75, 10.05, 6.5], rtol=1e-6)
    assert read_table(path, sep="\t", decimal=",").values.shape == (6, 1)
    dated = user_csv(tmp_path, "".join(f"2023-01-0{d},{v}\n" for d, v in enumerate(ONE_COLUMN, start=1)), name="dated.csv")
    with pytest.raises(DataError, match=r"dated\.csv: every line is a date and two whole numbers separated by "
                                        r"commas \(e\.g\. '2023-01-01,1,5'\)"):
        read_table(dated)  # after a date column alike
    for two in ("1,2\n3,4\n5,6\n", "2020-01-01,1,2\n2020-01-02,3,4\n2020-01-03,5,6\n"):
        with pytest.raises(DataError, match="for two series add a header line naming them"):
            read_table(user_csv(tmp_path, two, name="two.csv"))
        named = read_table(user_csv(tmp_path, ("date,a,b\n" if two[0] == "2" else "a,b\n") + two, name="named.csv"))
        assert named.columns == ["a", "b"] and named.values[:, 1].tolist() == [2, 4, 6]  # the fix for two series
    # not ambiguous, read as before: a decimal point, a negative second number, three numbers a line
    for text, shape in (("1,5\n2.5,3\n", (2, 2)), ("1,-5\n2,3\n", (2, 2)), ("1,2,3\n4,5,6\n", (2, 3))):
        assert read_table(user_csv(tmp_path, text, name="plain.csv")).values.shape == shape


def test_a_one_column_file_with_decimal_commas_and_a_header_reads_with_its_sep_and_decimal(tmp_path):
    path = user_csv(tmp_path, "value\n" + "".join(f"{v}\n" for v in ONE_COLUMN), name="one.csv")
    with pytest.raises(DataError, match=r"its rows have one field more than its header line 'value' .*--sep ';' "
                                        r"--decimal ','\)\.$"):
        read_table(path)
    with pytest.raises(DataError, match=r"^sep and decimal are both ','"):
        read_table(path, decimal=",")
    table = read_table(path, sep=";", decimal=",")
    assert table.columns == ["value"]
    np.testing.assert_allclose(table.values[:, 0], [1.5, 2.25, 3.0, 4.75, 10.05, 6.5], rtol=1e-6)


def test_a_comma_separated_file_read_with_decimal_commas_is_told_to_read_decimal_points(tmp_path):
    """A file read as one column whose separator is the decimal mark given: sep=',' alone led to the error
    'sep and decimal are both ','', so the message names decimal='.' with it."""
    path = user_csv(tmp_path, "date,a\n2023-01-01,1.5\n2023-01-02,2.5\n2023-01-03,3.5\n", name="comma.csv")
    with pytest.raises(DataError, match=r"comma\.csv reads as one column: its first line 'date,a' is separated by ',', "
                                        r"not ';'\. To fix: pass sep=',', decimal='\.' \(command line: --sep ',' "
                                        r"--decimal '\.'\)\.$"):
        read_table(path, sep=";", decimal=",")
    assert read_table(path, sep=",", decimal=".").values[:, 0].tolist() == [1.5, 2.5, 3.5]


@pytest.mark.parametrize("source", ["synthetic", "synthetic:seed=1,length=800", "ETTh1"])
def test_sep_and_decimal_are_refused_for_registered_and_builtin_data(source):
    """They would be recorded with the run and applied to its later input files, while this data ignores them."""
    from samovar.data import prepare_data
    from samovar.data.io import DataError

    with pytest.raises(DataError, match=r"describe your own CSV files.*drop them \(command line: --sep, --decimal\)"):
        prepare_data(source, lookback=24, horizon=12, sep=";", decimal=",")
    prepare_data("synthetic", lookback=24, horizon=12, sep=",", decimal=".")  # the defaults are fine
