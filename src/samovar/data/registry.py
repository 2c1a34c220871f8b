"""The registered benchmark datasets: where to get each file, how to check it, how to split it.

Checksums are sha256 of the *decompressed* file content (so ``ETTh1.csv`` and ``ETTh1.csv.gz``
verify alike). Where no checksum could be established offline (``sha256=None``) the file is
checked by its shape instead: ``rows`` x ``channels`` after reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from samovar.data.errors import DataError


@dataclass(frozen=True)
class SplitProtocol:
    """How a series is cut into train / val / test.

    kind "months": ``train``/``val``/``test`` are whole 30-day months of ``rows_per_month`` rows
    each (the ETT protocol); rows after them are unused.
    kind "ratio": they are fractions of all rows; train = int(T * train), test = int(T * test),
    val = the rest (Time-Series-Library's Dataset_Custom / Dataset_Solar / Dataset_PEMS).
    ``history``: val and test start ``lookback`` rows early, so their first window has a full
    history taken from the split before (True for every protocol except PEMS).
    """

    kind: str
    train: float
    val: float
    test: float
    history: bool = True
    rows_per_month: int = 0

    def describe(self) -> str:
        if self.kind == "months":
            return f"{self.train:g}/{self.val:g}/{self.test:g} months of {self.rows_per_month} rows"
        shares = "/".join(f"{round(share * 100, 2):g}%" for share in (self.train, self.val, self.test))  # 87.5%, not 88%
        return shares + ("" if self.history else " (no history overlap)")


ETT_HOURLY = SplitProtocol("months", 12, 4, 4, rows_per_month=30 * 24)
ETT_15MIN = SplitProtocol("months", 12, 4, 4, rows_per_month=30 * 24 * 4)
RATIO_70_10_20 = SplitProtocol("ratio", 0.7, 0.1, 0.2)
PEMS_60_20_20 = SplitProtocol("ratio", 0.6, 0.2, 0.2, history=False)


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark dataset: file, expected shape, frequency, split protocol and provenance.

    ``file_format``: "csv" (a ``date`` column, then one numeric column per channel), "txt"
    (comma-separated numbers, no header, no dates) or "npz" (array ``data`` of shape
    (rows, channels, features); feature 0 is used). ``subdir`` is the folder the file sits in
    within Time-Series-Library's ``dataset/`` tree, also searched.
    """

    name: str
    file_name: str
    channels: int
    rows: int
    freq: str | None
    protocol: SplitProtocol
    url: str | None
    sha256: str | None
    description: str
    citation: str
    file_format: str = "csv"
    subdir: str = ""
    aliases: tuple[str, ...] = ()
    download_hint: str = ""

    @property
    def verification(self) -> str:
        return "sha256" if self.sha256 else "shape only (no checksum known)"


_ETT_COMMIT = "1d16c8f4f943005d613b5bc962e9eeb06058cf07"
_ETT_URL = f"https://raw.githubusercontent.com/zhouhaoyi/ETDataset/{_ETT_COMMIT}/ETT-small/{{}}.csv"
_MTSF = "https://raw.githubusercontent.com/frfggv/MTSF"
_ETT_CITE = "Zhou et al., Informer: Beyond Efficient Transformer for Long Sequence Time-Series Forecasting, AAAI 2021"
_AUTOFORMER_CITE = "Wu et al., Autoformer: Decomposition Transformers with Auto-Correlation, NeurIPS 2021"
_LSTNET_CITE = "Lai et al., Modeling Long- and Short-Term Temporal Patterns with Deep Neural Networks, SIGIR 2018"
_PEMS_CITE = "Guo et al., ASTGCN, AAAI 2019 (PEMS03/04/07/08 from Caltrans PeMS); protocol of Liu et al., iTransformer, ICLR 2024"
_PEMS_HINT = (
    "the PEMS .npz files are distributed with Time-Series-Library's data archive "
    "(see the README of github.com/thuml/Time-Series-Library, folder dataset/PEMS/)"
)


def _ett(name: str, protocol: SplitProtocol, freq: str, rows: int, sha256: str | None) -> DatasetSpec:
    resolution = "hourly" if freq == "h" else "15-minute"
    return DatasetSpec(
        name=name, file_name=f"{name}.csv", channels=7, rows=rows, freq=freq, protocol=protocol,
        url=_ETT_URL.format(name), sha256=sha256, subdir="ETT-small",
        description=f"Electricity transformer temperature, {resolution}, 7 channels (target OT), 2016-07 to 2018-06",
        citation=_ETT_CITE,
    )


def _pems(number: str, channels: int, rows: int, url: str | None = None) -> DatasetSpec:
    return DatasetSpec(
        name=f"PEMS{number}", file_name=f"PEMS{number}.npz", channels=channels, rows=rows, freq="5min",
        protocol=PEMS_60_20_20, url=url, sha256=None, file_format="npz", subdir="PEMS",
        description=f"California freeway traffic flow, district {number[-1]}, {channels} sensors, 5-minute",
        citation=_PEMS_CITE, download_hint=_PEMS_HINT,
    )


_SPECS = [
    _ett("ETTh1", ETT_HOURLY, "h", 17420, "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"),
    _ett("ETTh2", ETT_HOURLY, "h", 17420, "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b"),
    _ett("ETTm1", ETT_15MIN, "15min", 69680, "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e"),
    _ett("ETTm2", ETT_15MIN, "15min", 69680, None),
    DatasetSpec(
        name="Weather", file_name="weather.csv", channels=21, rows=52696, freq="10min", protocol=RATIO_70_10_20,
        url="https://raw.githubusercontent.com/ljnvs/HiCR-Mamba/d472c100956ed4373e9ca3700481ce88f8f1e4dd/datasets/weather/weather.csv.gz",
        sha256="34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63", subdir="weather",
        description="Jena weather station (Max Planck Institute for Biogeochemistry), 21 variables, 10-minute, 2020",
        citation=_AUTOFORMER_CITE,
    ),
    DatasetSpec(
        name="ECL", file_name="electricity.csv", channels=321, rows=26304, freq="h", protocol=RATIO_70_10_20,
        url=f"{_MTSF}/a0bee3d683d93c050b909a0e100148953fc284f4/dataset/electricity/electricity.csv",
        sha256=None, subdir="electricity", aliases=("electricity",),
        description="Hourly electricity consumption of 321 clients (UCI ElectricityLoadDiagrams, 2012-2014 as re-packaged by Autoformer)",
        citation=_AUTOFORMER_CITE,
    ),
    DatasetSpec(
        name="Traffic", file_name="traffic.csv", channels=862, rows=17544, freq="h", protocol=RATIO_70_10_20,
        url=f"{_MTSF}/33833e342f2d27694ae66b8a74cc34beb3a1b8c9/dataset/traffic/traffic.csv",
        sha256=None, subdir="traffic",
        description="Hourly road occupancy of 862 San Francisco Bay Area freeway sensors (Caltrans PeMS, 2015-2016)",
        citation=_AUTOFORMER_CITE,
    ),
    DatasetSpec(
        name="Exchange", file_name="exchange_rate.csv", channels=8, rows=7588, freq="D", protocol=RATIO_70_10_20,
        url=f"{_MTSF}/d0e92511ddf71f33cf81e729f45d2a96685fbfef/dataset/exchange_rate/exchange_rate.csv",
        sha256="d55e7aa2641009814a18ba3279431b13f6d413b0eab195b9ff21988d8cf94e97", subdir="exchange_rate",
        aliases=("exchange_rate",),
        description="Daily exchange rates of 8 countries, 1990-2010 (LSTNet collection)",
        citation=_LSTNET_CITE,
    ),
    DatasetSpec(
        name="ILI", file_name="national_illness.csv", channels=7, rows=966, freq="W-TUE", protocol=RATIO_70_10_20,
        url=f"{_MTSF}/d0e92511ddf71f33cf81e729f45d2a96685fbfef/dataset/illness/national_illness.csv",
        sha256="8594cecb98c6f2f9dc014eca11c4d5d1e38ad5ce6ed0592d4abe65b146fce395", subdir="illness",
        aliases=("illness", "national_illness"),
        description="Weekly influenza-like illness ratios in the USA (CDC FluView), 2002-2020",
        citation=_AUTOFORMER_CITE,
    ),
    DatasetSpec(
        name="Solar", file_name="solar_AL.txt", channels=137, rows=52560, freq="10min", protocol=RATIO_70_10_20,
        url="https://raw.githubusercontent.com/laiguokun/multivariate-time-series-data/master/solar-energy/solar_AL.txt.gz",
        sha256=None, file_format="txt", subdir="Solar", aliases=("solar_al", "solar-energy"),
        description="Solar power of 137 photovoltaic plants in Alabama, 10-minute, 2006 (no dates in the file)",
        citation=_LSTNET_CITE,
    ),
    _pems("03", 358, 26208),
    _pems("04", 307, 16992),
    _pems("07", 883, 28224),
    _pems("08", 170, 17856, url="https://raw.githubusercontent.com/STGTraffic/TWIST/3bc24ccd2d6410c26992762514c83ff560fa8046/data/PEMS08/PEMS08.npz"),
]

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def available_datasets() -> list[str]:
    """Names of the registered benchmark datasets (the built-in "synthetic" is not among them)."""
    return list(DATASETS)


def _lookup_table() -> dict[str, DatasetSpec]:
    table = {}
    for spec in DATASETS.values():
        for key in (spec.name, *spec.aliases):
            table[key.lower()] = spec
    return table


def find_spec(name: str) -> DatasetSpec | None:
    """The spec registered under `name` or one of its aliases (case-insensitive), else None."""
    return _lookup_table().get(name.strip().lower())


def get_spec(name: str) -> DatasetSpec:
    """Like find_spec, but an unknown name raises DataError listing the known ones."""
    spec = find_spec(name)
    if spec is None:
        raise DataError(
            f"unknown dataset {name!r}; registered: {', '.join(DATASETS)} (and 'synthetic'). "
            "To use your own data pass a file path (.csv, .csv.gz, .txt, .npz) or a pandas DataFrame."
        )
    return spec
