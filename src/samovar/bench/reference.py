"""Published numbers shown beside measured ones — a separate, labelled column set, never ranked.

``PUBLISHED`` maps dataset -> model -> :class:`Published` (test MSE, and MAE where printed,
averaged over horizons 96/192/336/720, optionally per horizon, with the citation of each
entry). Only numbers read from a source belong here, never numbers written from memory:

* DLinear: Zeng, Chen, Zhang & Xu, "Are Transformers Effective for Time Series
  Forecasting?", AAAI 2023, Table 2 (multivariate; LTSF-Linear reported at look-back 336,
  Appendix B.2), per horizon, MSE and MAE; the averages are computed here from them.
* SAMoVAR, LinTrans, FixedVAR on ETTh1/ETTh2: the horizon-averaged test MSE of Lu & Yang,
  "Linear Transformers as VAR Models", arXiv 2502.07244, from the transcription of the paper's
  main table that the seed-protocol records hold (benchmarks/results/seed_protocol/published.csv;
  the PDF itself could not be read offline).

Other numbers can be supplied as a CSV with columns ``dataset,model,mse`` (optionally ``mae``
and ``source``) through ``samovar bench report --reference FILE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

HORIZONS = (96, 192, 336, 720)
DLINEAR_SOURCE = ("Zeng et al., AAAI 2023 (arXiv 2205.13504), Table 2, DLinear, look-back 336; "
                  "average of the four horizons computed here")
SAMOVAR_SOURCE = ("Lu & Yang 2025 (arXiv 2502.07244), average test MSE over horizons 96/192/336/720, "
                  "transcribed from the paper's main table")


@dataclass(frozen=True)
class Published:
    """One published result: horizon-averaged test MSE (and MAE when printed) with its citation."""

    mse: float
    source: str
    mae: float | None = None
    per_horizon: dict[int, tuple[float, float | None]] = field(default_factory=dict)  # horizon -> (mse, mae)

    @classmethod
    def from_horizons(cls, source: str, rows: dict[int, tuple[float, float | None]]) -> "Published":
        """An entry printed per horizon: the averages are the plain means over HORIZONS."""
        missing = sorted(set(HORIZONS) - set(rows))
        if missing:
            raise ValueError(f"a per-horizon published entry needs horizons {HORIZONS}; missing {missing}")
        maes = [rows[h][1] for h in HORIZONS]
        return cls(mse=sum(rows[h][0] for h in HORIZONS) / len(HORIZONS), source=source,
                   mae=None if any(m is None for m in maes) else sum(maes) / len(HORIZONS), per_horizon=dict(rows))


def _dlinear(rows: dict[int, tuple[float, float]]) -> Published:
    return Published.from_horizons(DLINEAR_SOURCE, rows)


# dataset -> model -> entry. Values exactly as printed (MSE, MAE per horizon 96/192/336/720).
PUBLISHED: dict[str, dict[str, Published]] = {
    "ETTh1": {
        "dlinear": _dlinear({96: (0.375, 0.399), 192: (0.405, 0.416), 336: (0.439, 0.443), 720: (0.472, 0.490)}),
        "samovar": Published(mse=0.401, source=SAMOVAR_SOURCE),
        "lintrans": Published(mse=0.419, source=SAMOVAR_SOURCE),
        "fixedvar": Published(mse=0.564, source=SAMOVAR_SOURCE),
    },
    "ETTh2": {
        "dlinear": _dlinear({96: (0.289, 0.353), 192: (0.383, 0.418), 336: (0.448, 0.465), 720: (0.605, 0.551)}),
        "samovar": Published(mse=0.324, source=SAMOVAR_SOURCE),
        "lintrans": Published(mse=0.346, source=SAMOVAR_SOURCE),
        "fixedvar": Published(mse=0.391, source=SAMOVAR_SOURCE),
    },
    "ETTm1": {
        "dlinear": _dlinear({96: (0.299, 0.343), 192: (0.335, 0.365), 336: (0.369, 0.386), 720: (0.425, 0.421)}),
    },
    "Weather": {
        "dlinear": _dlinear({96: (0.176, 0.237), 192: (0.220, 0.282), 336: (0.265, 0.319), 720: (0.323, 0.362)}),
    },
    "Exchange": {
        "dlinear": _dlinear({96: (0.081, 0.203), 192: (0.157, 0.293), 336: (0.305, 0.414), 720: (0.643, 0.601)}),
    },
}


def as_published(value: "Published | float", source: str = "") -> Published:
    """A Published entry from an entry or a bare MSE (labelled with `source`)."""
    return value if isinstance(value, Published) else Published(mse=float(value), source=source)


def load_reference(path: str | Path | None = None) -> tuple[dict[str, dict[str, Published]], str]:
    """(dataset -> model -> Published, label): the built-in table, or the CSV at `path`."""
    if path is None:
        table = {d: dict(m) for d, m in PUBLISHED.items()}
        sources = sorted({e.source for m in table.values() for e in m.values()})
        return table, "; ".join(sources)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--reference {path}: no such file; give a CSV with columns dataset,model,mse[,mae][,source]")
    frame = pd.read_csv(path)
    missing = {"dataset", "model", "mse"} - set(frame.columns)
    if missing:
        raise ValueError(f"--reference {path}: missing column(s) {sorted(missing)}; expected dataset,model,mse[,mae][,source]")
    table: dict[str, dict[str, Published]] = {}
    for row in frame.to_dict("records"):
        value = float(row["mse"])
        if value != value:  # NaN: a number the file leaves out
            continue
        mae = row.get("mae")
        mae = None if mae is None or mae != mae else float(mae)
        source = row.get("source")
        source = str(source) if isinstance(source, str) and source else f"from {path.name}"
        table.setdefault(str(row["dataset"]), {})[str(row["model"]).lower()] = Published(mse=value, mae=mae, source=source)
    sources = sorted({e.source for m in table.values() for e in m.values()})
    return table, "; ".join(sources) or f"from {path.name}"
