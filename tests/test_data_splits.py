"""Split borders, window counts, the train-only scaler and window gathering, with real numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import require_file
from samovar.data import DataError, Scaler, WindowSet, prepare_data


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path, monkeypatch):
    """No user-level data directory or cache leaks into these tests."""
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


def assert_last_test_window_ends_at_split_end(data):
    _, test_end = data.split_rows["test"]
    assert data.test.target_rows(len(data.test) - 1)[-1] == test_end - 1


# ----------------------------------------------------------------------------- real files


def test_etth1_borders_and_window_counts(shared_data_dir):
    require_file("ETTh1.csv.gz")
    data = prepare_data("ETTh1", lookback=336, horizon=96, data_dir=shared_data_dir)
    # A month is 30 days x 24 rows = 720 rows. Train = 12 months = 8640 rows,
    # val = 4 months = 2880 rows (8640..11520), test = 4 months = 2880 rows (11520..14400).
    # Val and test start lookback = 336 rows early: 8640 - 336 = 8304, 11520 - 336 = 11184.
    assert data.split_rows == {"train": (0, 8640), "val": (8304, 11520), "test": (11184, 14400)}
    assert len(data.train) == 8640 - 336 - 96 + 1 == 8209
    assert len(data.val) == (11520 - 8304) - 336 - 96 + 1 == 2880 - 96 + 1 == 2785
    assert len(data.test) == (14400 - 11184) - 336 - 96 + 1 == 2785
    # 17420 rows in the file, 14400 used: 3020 rows after the test months are unused.
    assert data.rows == 17420 and data.channels == 7 and data.freq == "h"
    assert data.columns == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert data.dates[0] == pd.Timestamp("2016-07-01 00:00") and data.dates[-1] == pd.Timestamp("2018-06-26 19:00")
    assert_last_test_window_ends_at_split_end(data)
    # The first test target is the first row of the test months.
    assert data.test.target_rows(0)[0] == 11520
    assert not data.synthetic and data.name == "ETTh1"
    assert any("3020 rows" in note and "not used" in note for note in data.notes)


def test_ettm1_borders_and_window_counts(shared_data_dir):
    require_file("ETTm1.csv.gz")
    data = prepare_data("ettm1", lookback=96, horizon=720, data_dir=shared_data_dir)
    # A month is 30 days x 96 rows = 2880 rows: train 12 x 2880 = 34560, val ends at
    # 16 x 2880 = 46080, test ends at 20 x 2880 = 57600 (of 69680 rows: 12080 unused).
    # History: 34560 - 96 = 34464, 46080 - 96 = 45984.
    assert data.split_rows == {"train": (0, 34560), "val": (34464, 46080), "test": (45984, 57600)}
    assert len(data.train) == 34560 - 96 - 720 + 1 == 33745
    assert len(data.val) == 11520 - 720 + 1 == 10801
    assert len(data.test) == 11520 - 720 + 1 == 10801
    assert data.freq == "15min"
    assert_last_test_window_ends_at_split_end(data)


def test_weather_borders_window_counts_and_rows_as_published(shared_data_dir):
    require_file("weather.csv.gz")
    data = prepare_data("Weather", lookback=96, horizon=96, data_dir=shared_data_dir)
    # T = 52696. train = int(0.7 T) = int(36887.2) = 36887, test = int(0.2 T) = int(10539.2) = 10539,
    # val = 52696 - 36887 - 10539 = 5270. Val starts at 36887 - 96 = 36791; test at
    # 52696 - 10539 - 96 = 42061.
    assert data.split_rows == {"train": (0, 36887), "val": (36791, 42157), "test": (42061, 52696)}
    assert len(data.train) == 36887 - 96 - 96 + 1 == 36696
    assert len(data.val) == 5270 - 96 + 1 == 5175
    assert len(data.test) == 10539 - 96 + 1 == 10444
    # The file's one duplicate timestamp is kept, as in the published protocol.
    assert data.rows == 52696 and data.channels == 21 and data.dates.duplicated().sum() == 1
    assert_last_test_window_ends_at_split_end(data)


def test_registered_scaler_is_fit_on_train_rows_of_the_file(shared_data_dir):
    require_file("ETTh1.csv.gz")
    data = prepare_data("ETTh1", lookback=96, horizon=24, data_dir=shared_data_dir)
    train = data.values[:8640].astype(np.float64)
    np.testing.assert_allclose(data.scaler.mean, train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.scaler.std, train.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.scaled[:8640].double().mean(0).numpy(), 0.0, atol=1e-5)


# ----------------------------------------------------------------------------- Solar / PEMS08 formats


@pytest.fixture
def solar_dir(tmp_path):
    """A solar_AL.txt in the published format: 52560 rows x 137 comma-separated numbers, no header.
    Column 0 holds the row number, so windows can be traced back to rows."""
    rows, channels = 52560, 137
    rng = np.random.default_rng(0)
    patterns = [",".join(map(str, rng.integers(0, 10, channels - 1))) for _ in range(997)]
    text = "\n".join(f"{r},{patterns[r % 997]}" for r in range(rows)) + "\n"
    (tmp_path / "solar_AL.txt").write_text(text)
    return tmp_path


def test_solar_borders_and_windows_on_published_format(solar_dir):
    data = prepare_data("solar", lookback=96, horizon=96, data_dir=solar_dir)
    # T = 52560: train = int(0.7 T) = 36792, test = int(0.2 T) = 10512, val = 5256.
    # Val starts 36792 - 96 = 36696; test starts 52560 - 10512 - 96 = 41952.
    assert data.split_rows == {"train": (0, 36792), "val": (36696, 42048), "test": (41952, 52560)}
    assert len(data.train) == 36792 - 96 - 96 + 1 == 36601
    assert len(data.val) == 5256 - 96 + 1 == 5161
    assert len(data.test) == 10512 - 96 + 1 == 10417
    assert data.channels == 137 and data.dates is None and data.name == "Solar"
    # Column 0 is the row number: window 5 of test reads rows 41952 + 5 ...
    x, y = data.test.batch(torch.tensor([5]))
    raw_x = data.scaler.inverse_transform(x[0].double())
    assert raw_x[0, 0].item() == pytest.approx(41952 + 5, abs=1e-2)
    assert_last_test_window_ends_at_split_end(data)


@pytest.fixture
def pems_dir(tmp_path):
    """A PEMS08.npz in the published format: key 'data', shape (17856, 170, 3).
    Feature 0 is row + node / 1000; features 1 and 2 are -1 (they must not be used)."""
    rows, nodes = 17856, 170
    data = np.full((rows, nodes, 3), -1.0, dtype=np.float32)
    data[:, :, 0] = np.arange(rows)[:, None] + np.arange(nodes)[None, :] / 1000
    np.savez(tmp_path / "PEMS08.npz", data=data)
    return tmp_path


def test_pems08_contiguous_60_20_20_without_history(pems_dir):
    data = prepare_data("PEMS08", lookback=96, horizon=12, data_dir=pems_dir)
    # T = 17856: train = [0, int(0.6 T)) = [0, 10713); val ends at int((0.6 + 0.2) T) =
    # int(14284.8) = 14284; test = [14284, 17856). No history overlap (published PEMS loader).
    assert data.split_rows == {"train": (0, 10713), "val": (10713, 14284), "test": (14284, 17856)}
    assert len(data.train) == 10713 - 96 - 12 + 1 == 10606
    assert len(data.val) == (14284 - 10713) - 96 - 12 + 1 == 3464
    assert len(data.test) == (17856 - 14284) - 96 - 12 + 1 == 3465
    assert data.channels == 170
    # Feature 0 is used; the scaler is fit on rows 0..10712 only.
    np.testing.assert_allclose(data.values[:, 3], np.arange(17856) + 0.003, rtol=1e-6)
    np.testing.assert_allclose(data.scaler.mean[0], (10713 - 1) / 2, rtol=1e-9)
    x, y = data.test.batch(torch.tensor([0]))
    assert data.scaler.inverse_transform(x[0, 0].double())[0].item() == pytest.approx(14284, abs=1e-2)
    assert_last_test_window_ends_at_split_end(data)


# ----------------------------------------------------------------------------- scaler


def test_scaler_ignores_val_and_test_rows():
    rng = np.random.default_rng(1)
    values = rng.normal(5.0, 2.0, size=(1000, 3))
    values[700:] = 1e6  # val and test rows: any leak would move mean and std far away
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    data = prepare_data(frame, lookback=24, horizon=12)
    np.testing.assert_allclose(data.scaler.mean, values[:700].astype(np.float32).astype(np.float64).mean(0), rtol=1e-10)
    np.testing.assert_allclose(data.scaler.std, values[:700].astype(np.float32).astype(np.float64).std(0), rtol=1e-10)
    assert np.all(np.abs(data.scaler.mean - 5.0) < 0.5) and np.all(np.abs(data.scaler.std - 2.0) < 0.3)


def test_scaler_round_trip_torch_numpy_dict_and_constant_channel():
    values = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    scaler = Scaler.fit(values)
    assert scaler.std[1] == 1.0  # constant channel: centred, not divided by zero
    scaled = scaler.transform(values)
    np.testing.assert_allclose(scaled[:, 1], 0.0)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), values)
    tensor = torch.tensor(values, dtype=torch.float32)
    back = scaler.inverse_transform(scaler.transform(tensor))
    assert back.dtype == torch.float32 and torch.allclose(back, tensor, atol=1e-5)
    assert scaler.transform(values.astype(np.float32)).dtype == np.float32
    clone = Scaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(clone.mean, scaler.mean)
    np.testing.assert_array_equal(clone.std, scaler.std)
    with pytest.raises(DataError, match="2 channels"):
        scaler.transform(np.zeros((4, 3)))


# ----------------------------------------------------------------------------- windows


def test_window_batch_equals_slicing_by_hand():
    data = torch.randn(200, 4)
    windows = WindowSet(data, start=30, end=170, lookback=20, horizon=7)
    assert len(windows) == 140 - 27 + 1
    idx = torch.tensor([0, 5, 113, 57, 5])
    x, y = windows.batch(idx)
    assert x.shape == (5, 20, 4) and y.shape == (5, 7, 4)
    for b, i in enumerate(idx.tolist()):
        torch.testing.assert_close(x[b], data[30 + i: 30 + i + 20], rtol=0, atol=0)
        torch.testing.assert_close(y[b], data[30 + i + 20: 30 + i + 27], rtol=0, atol=0)
        assert windows.target_rows(i) == range(30 + i + 20, 30 + i + 27)
        assert windows.input_rows(i) == range(30 + i, 30 + i + 20)
    x1, y1 = windows[113]
    torch.testing.assert_close(x1, x[2])
    assert windows.target_rows(len(windows) - 1)[-1] == 169
    with pytest.raises(IndexError, match=r"\[0, 114\)"):
        windows.batch(torch.tensor([114]))
    with pytest.raises(IndexError):
        windows.batch(torch.tensor([-1]))


def test_windows_share_the_one_scaled_tensor():
    data = prepare_data("synthetic", lookback=48, horizon=24)
    for split in (data.train, data.val, data.test):
        assert split.data.data_ptr() == data.scaled.data_ptr()
    assert data.scaled.dtype == torch.float32 and data.values.dtype == np.float32
    assert sum(len(s) for s in (data.train, data.val, data.test)) == (3500 - 71) + (500 - 23) + (1000 - 23)
    assert_last_test_window_ends_at_split_end(data)


def test_custom_split_ratios_for_user_data():
    frame = pd.DataFrame({"v": np.arange(1000.0), "w": np.sin(np.arange(1000.0))})
    data = prepare_data(frame, lookback=10, horizon=5, split=(0.6, 0.2, 0.2))
    # train = int(0.6 * 1000) = 600, test = int(0.2 * 1000) = 200, val = 200.
    assert data.split_rows == {"train": (0, 600), "val": (590, 800), "test": (790, 1000)}
    assert (len(data.train), len(data.val), len(data.test)) == (600 - 14, 200 - 4, 200 - 4)
    assert data.dates is None and data.freq is None and data.name == "dataframe"


# ----------------------------------------------------------------------------- any sizes


from hypothesis import given, settings, strategies as st  # noqa: E402

from samovar.data.registry import ETT_HOURLY, PEMS_60_20_20, RATIO_70_10_20  # noqa: E402
from samovar.data.splits import own_rows, split_rows  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(300, 50_000), lookback=st.integers(1, 96), horizon=st.integers(1, 48),
       protocol=st.sampled_from([RATIO_70_10_20, PEMS_60_20_20]))
def test_splits_tile_the_series_and_windows_end_at_each_split_end(rows, lookback, horizon, protocol):
    owned = own_rows(protocol, rows)
    assert owned["train"][0] == 0 and owned["test"][1] == rows
    assert owned["train"][1] == owned["val"][0] and owned["val"][1] == owned["test"][0]
    borders = split_rows(protocol, rows, lookback)
    data = torch.zeros(rows, 1)
    for name, (start, end) in borders.items():
        history = lookback if protocol.history and name != "train" else 0
        assert start == owned[name][0] - history and end == owned[name][1]
        windows = WindowSet(data, start, end, lookback, horizon)
        assert len(windows) == max(end - start - lookback - horizon + 1, 0)
        if len(windows):
            assert windows.target_rows(len(windows) - 1)[-1] == end - 1
            assert windows.target_rows(0)[0] == start + lookback


def test_ett_protocol_refuses_a_short_file():
    with pytest.raises(DataError, match="needs 14400 rows, the series has 14000"):
        own_rows(ETT_HOURLY, 14000)


def test_split_shares_are_described_without_rounding_to_101_percent():
    """A refit's validation stage splits 87.5% / 12.5%: messages said "88%/13%/0%" (101 %)."""
    from samovar.data.registry import PEMS_60_20_20, RATIO_70_10_20, SplitProtocol

    assert SplitProtocol("ratio", 0.875, 0.125, 0.0).describe() == "87.5%/12.5%/0%"
    assert RATIO_70_10_20.describe() == "70%/10%/20%"  # the registered protocols read as before
    assert PEMS_60_20_20.describe() == "60%/20%/20% (no history overlap)"
