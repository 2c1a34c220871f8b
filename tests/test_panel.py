"""Many series in long format (samovar.data.panel): reading, per-series splits and scalers, windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from samovar.data import DataError, Scaler, WindowSet, prepare_data, read_table
from samovar.data.panel import LongFormat, PanelScaler, read_panel, scaler_from_dict
from samovar.data.registry import SplitProtocol
from samovar.data.splits import own_rows, split_rows

SHAPES = ("sine", "saw", "square", "double")


def make_panel(n_series: int = 6, *, lengths=(150, 600), seed: int = 0, period: int = 24, noise: float = 0.3,
               names=("unique_id", "ds", "y")) -> pd.DataFrame:
    """Hourly series of random lengths and start dates, each a level + trend + one of four seasonal shapes
    (period 24) + noise, in long format, rows shuffled across series."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_series):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        start = pd.Timestamp("2021-01-01") + pd.Timedelta(hours=int(rng.integers(0, 24 * 200)))
        t = np.arange(n) + int(rng.integers(0, period))
        phase = (t % period) / period
        shape = SHAPES[k % len(SHAPES)]
        season = {"sine": np.sin(2 * np.pi * phase), "saw": 2 * phase - 1, "square": np.where(phase < 0.5, 1.0, -1.0),
                  "double": np.sin(2 * np.pi * phase) + 0.6 * np.sin(4 * np.pi * phase + 1)}[shape]
        level, amp, trend = rng.normal(0, 20), rng.uniform(1, 10), rng.normal(0, 0.01)
        y = level + amp * season + trend * t + amp * noise * rng.standard_normal(n)
        frames.append(pd.DataFrame({names[0]: f"s{k:03d}", names[1]: pd.date_range(start, periods=n, freq="h"),
                                    names[2]: y}))
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def by_hand(df: pd.DataFrame, lookback: int, horizon: int, split=(0.7, 0.1, 0.2)):
    """Each series split, scaled and windowed on its own with the wide-format tools: {id: {split: (x, y)}}."""
    protocol = SplitProtocol("ratio", *split)
    out = {}
    for sid, part in df.groupby("unique_id", sort=False):
        values = part.sort_values("ds")["y"].to_numpy(np.float32)[:, None]
        n = len(values)
        train = own_rows(protocol, n)["train"]
        scaler = Scaler.fit(values[train[0]:train[1]])
        scaled = torch.from_numpy(scaler.transform(values.astype(np.float64)).astype(np.float32))
        borders = split_rows(protocol, n, lookback)
        out[sid] = {}
        for s, (a, b) in borders.items():
            ws = WindowSet(scaled, a, b, lookback, horizon)
            out[sid][s] = ws.batch(torch.arange(len(ws))) if len(ws) else None
    return out


def test_ragged_panel_windows_equal_each_series_split_by_hand():
    df = make_panel(7, lengths=(90, 400), seed=3)
    data = prepare_data(df, lookback=24, horizon=12)
    assert data.ids == list(pd.unique(df["unique_id"]))  # ids in the order they first appear
    assert data.channels == 1 and data.scaled.shape == (len(df), 1)
    hand = by_hand(df, 24, 12)
    for split in ("train", "val", "test"):
        windows = getattr(data, split)
        x, y = windows.batch(torch.arange(len(windows)))
        series = windows.series_of(np.arange(len(windows)))
        expected_x = torch.cat([hand[sid][split][0] for sid in data.ids])
        expected_y = torch.cat([hand[sid][split][1] for sid in data.ids])
        assert torch.equal(x, expected_x) and torch.equal(y, expected_y)
        assert list(np.bincount(series, minlength=len(data.ids))) == [len(hand[sid][split][0]) for sid in data.ids]
    # a shuffled batch is the same windows in that order; the target rows index the raw values
    idx = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(0))[:50]
    x, y = data.test.batch(idx)
    full_x, full_y = data.test.batch(torch.arange(len(data.test)))
    assert torch.equal(x, full_x[idx]) and torch.equal(y, full_y[idx])
    rows = data.test.target_row_index(idx.numpy())
    back = data.scaler.inverse_transform(y.double().numpy(), series=data.test.series_of(idx))
    np.testing.assert_allclose(back[:, :, 0], data.values[rows, 0], rtol=1e-5, atol=1e-4)
    assert list(data.test.target_rows(int(idx[0]))) == list(rows[0])


def test_windows_are_gathered_not_stored():
    data = prepare_data(make_panel(5, lengths=(200, 300)), lookback=48, horizon=24)
    windows = data.train
    assert windows.data is data.scaled  # one shared tensor; per-series arrays only
    assert all(a.nbytes <= 8 * len(data.ids) + 8 for a in (windows.starts, windows.ends, windows.counts))


def test_per_series_scaler_sees_only_its_training_rows():
    df = make_panel(5, lengths=(150, 300), seed=1)
    data = prepare_data(df, lookback=24, horizon=12)
    changed = df.copy()
    target = data.ids[2]
    part = changed.index[changed["unique_id"] == target]
    ordered = changed.loc[part].sort_values("ds").index
    train_end = int(len(ordered) * 0.7)
    changed.loc[ordered[train_end:], "y"] = changed.loc[ordered[train_end:], "y"] * 100 + 1e4  # val and test rows
    again = prepare_data(changed, lookback=24, horizon=12)
    np.testing.assert_array_equal(again.scaler.mean, data.scaler.mean)
    np.testing.assert_array_equal(again.scaler.std, data.scaler.std)
    # each series' statistics are those of its own first 70 % of rows
    for s, sid in enumerate(data.ids):
        y = df[df["unique_id"] == sid].sort_values("ds")["y"].to_numpy(np.float32).astype(np.float64)
        np.testing.assert_allclose(data.scaler.mean[s], y[: int(len(y) * 0.7)].mean(), rtol=1e-12)
    restored = scaler_from_dict(data.scaler.to_dict())
    assert isinstance(restored, PanelScaler) and restored.ids == data.ids
    np.testing.assert_array_equal(restored.std, data.scaler.std)


def test_same_date_in_different_series_is_normal_but_not_within_one():
    df = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 3, "ds": list(pd.date_range("2024-01-01", periods=3, freq="D")) * 2,
                       "y": np.arange(6.0)})
    panel = read_panel(df)
    assert panel.ids == ["a", "b"] and list(panel.lengths) == [3, 3] and panel.freq == "D"
    dup = pd.concat([df, df.iloc[[4]]], ignore_index=True)
    with pytest.raises(DataError, match=r"series 'b' has the time 2024-01-02 00:00:00 more than once \(row 4.*row 6") as info:
        read_panel(dup)
    assert "drop_duplicates" not in str(info.value) and "mean()" not in str(info.value)


def test_missing_columns_name_the_options(tmp_path):
    df = make_panel(2, lengths=(60, 60)).rename(columns={"y": "sales"})
    with pytest.raises(DataError, match=r"missing 'y' \(value\).*columns are \['unique_id', 'ds', 'sales'\].*"
                                        r"target_col=.*--target-col"):
        prepare_data(df, lookback=8, horizon=4)
    data = prepare_data(df, lookback=8, horizon=4, long_format=LongFormat(target_col="sales"))
    assert data.columns == ["sales"] and len(data.ids) == 2
    custom = make_panel(3, lengths=(60, 80), names=("store", "week", "sales"))
    with pytest.raises(DataError, match=r"missing 'unique_id' \(series id\)"):
        prepare_data(custom, lookback=8, horizon=4, long_format={"target_col": "sales", "time_col": "week"})
    data = prepare_data(custom, lookback=8, horizon=4, long_format={"id_col": "store", "time_col": "week",
                                                                    "target_col": "sales"})
    assert data.ids == list(pd.unique(custom["store"]))


def test_extra_numeric_columns_are_carried_and_text_ones_refused():
    df = make_panel(3, lengths=(80, 90))
    df["price"] = np.arange(len(df), dtype=float)
    data = prepare_data(df, lookback=8, horizon=4)
    assert data.panel.extra_columns == ["price"] and data.panel.extra.shape == (len(df), 1)
    assert any("carried" in note and "not model inputs" in note for note in data.notes)
    order = data.panel.rows(0)
    first = df[df["unique_id"] == data.ids[0]].sort_values("ds")
    np.testing.assert_array_equal(data.panel.extra[order, 0], first["price"].to_numpy(np.float32))
    df["colour"] = "red"
    with pytest.raises(DataError, match="column 'colour' is not numeric"):
        prepare_data(df, lookback=8, horizon=4)


def test_short_series_are_named_or_dropped_and_listed():
    df = make_panel(4, lengths=(200, 220), seed=2)
    short = pd.DataFrame({"unique_id": "tiny", "ds": pd.date_range("2021-03-01", periods=40, freq="h"), "y": 1.0})
    df = pd.concat([df, short], ignore_index=True)
    with pytest.raises(DataError, match=r"1 of 5 series are too short for lookback 24 \+ horizon 12 .*at least 104 rows"
                                        r".*'tiny' \(40 rows\).*short_series='drop'"):
        prepare_data(df, lookback=24, horizon=12)
    for rows, fits in ((104, True), (103, False)):  # the minimum stated is exact
        one = pd.DataFrame({"unique_id": "one", "ds": pd.date_range("2021-03-01", periods=rows, freq="h"), "y": np.arange(rows, dtype=float)})
        if fits:
            assert len(prepare_data(one, lookback=24, horizon=12).val) == 1
        else:
            with pytest.raises(DataError, match="too short"):
                prepare_data(one, lookback=24, horizon=12)
    data = prepare_data(df, lookback=24, horizon=12, long_format=LongFormat(short_series="drop"))
    assert "tiny" not in data.ids and data.excluded == [("tiny", 40)]
    assert any("left out 1 of 5 series" in note and "'tiny' (40 rows)" in note for note in data.notes)
    assert data.run_record()["panel"]["excluded"] == [{"id": "tiny", "rows": 40}]
    with pytest.raises(DataError, match="every series is too short"):
        prepare_data(short, lookback=24, horizon=12, long_format=LongFormat(short_series="drop"))


def test_series_at_different_frequencies_are_refused():
    a = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=50, freq="h"), "y": 1.0})
    b = pd.DataFrame({"unique_id": "b", "ds": pd.date_range("2024-01-01", periods=50, freq="D"), "y": 1.0})
    with pytest.raises(DataError, match="different frequencies"):
        read_panel(pd.concat([a, b]))


def test_missing_values_error_or_interpolate_within_each_series(tmp_path):
    df = make_panel(3, lengths=(60, 60), seed=4).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    df.loc[5, "y"] = np.nan
    path = tmp_path / "long.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"1 missing .* first at line 7 \(series 's000'\).*fill='interpolate'"):
        read_panel(path)
    panel = read_panel(path, fill="interpolate")
    assert panel.filled == 1
    np.testing.assert_allclose(panel.values[5, 0], (df.loc[4, "y"] + df.loc[6, "y"]) / 2, rtol=1e-5)


def test_wide_file_with_an_id_column_points_to_the_long_format_options(tmp_path):
    df = make_panel(2, lengths=(30, 30)).rename(columns={"unique_id": "store", "ds": "date"})
    path = tmp_path / "stores.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"share a date.*Column 'store' looks like a series id.*--id-col store "
                                        r"--time-col date") as info:
        read_table(path)
    assert "drop_duplicates" not in str(info.value) and "pivot" not in str(info.value)


def test_integer_time_steps():
    df = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 60), "ds": np.tile(np.arange(60), 2) + np.repeat([0, 7], 60),
                       "y": np.random.default_rng(0).normal(size=120)})
    data = prepare_data(df, lookback=8, horizon=4)
    assert data.dates is None and data.freq is None and len(data.test) > 0
    assert list(data.panel.steps[:3]) == [0, 1, 2]
