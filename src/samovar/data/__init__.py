"""Data layer: registered benchmarks, user files, validation, splits, scaling and lazy windows.

    data = prepare_data("ETTh1", lookback=336, horizon=96)
    x, y = data.train.batch(torch.arange(32))   # (32, 336, 7), (32, 96, 7)
    panel = prepare_data("long.csv", lookback=48, horizon=12)   # unique_id, ds, y: many series (docs/panels.md)
"""

from samovar.data.errors import DataError
from samovar.data.panel import LongFormat, PanelData, PanelScaler, PanelWindowSet, read_panel
from samovar.data.io import Table, cache_dir, content_sha256, locate, read_table, search_locations
from samovar.data.prepare import ForecastData, dataset_table, load_table, prepare_data
from samovar.data.registry import DATASETS, DatasetSpec, SplitProtocol, available_datasets, get_spec
from samovar.data.splits import Scaler, WindowSet
from samovar.data.synthetic import make_synthetic

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetSpec",
    "ForecastData",
    "LongFormat",
    "PanelData",
    "PanelScaler",
    "PanelWindowSet",
    "Scaler",
    "SplitProtocol",
    "Table",
    "WindowSet",
    "available_datasets",
    "cache_dir",
    "content_sha256",
    "dataset_table",
    "get_spec",
    "load_table",
    "locate",
    "make_synthetic",
    "prepare_data",
    "read_panel",
    "read_table",
    "search_locations",
]
