"""Published numbers shown beside measured ones — a separate, labelled column set, never ranked.

``PUBLISHED`` maps dataset -> model -> horizon-averaged test MSE as printed in a paper, with
``SOURCE`` naming the table. Only numbers read from the paper itself belong here: the
SAMoVAR paper (Lu & Yang 2025, arXiv 2502.07244) could not be read from this machine (its
results tables are not in the authors' README, and the paper text was not reachable), so the
built-in table is empty rather than filled from memory. Supply the numbers as a CSV with
columns ``dataset,model,mse`` (optionally ``source``) through ``samovar bench report
--reference FILE``; they appear as "<model> (published)" columns in the MSE table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SOURCE = "Lu & Yang 2025, arXiv 2502.07244 (averages over horizons 96/192/336/720)"
PUBLISHED: dict[str, dict[str, float]] = {}


def load_reference(path: str | Path | None = None) -> tuple[dict[str, dict[str, float]], str]:
    """(dataset -> model -> MSE, label): the built-in table, or the CSV at `path`."""
    if path is None:
        return {d: dict(m) for d, m in PUBLISHED.items()}, SOURCE
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--reference {path}: no such file; give a CSV with columns dataset,model,mse")
    frame = pd.read_csv(path)
    missing = {"dataset", "model", "mse"} - set(frame.columns)
    if missing:
        raise ValueError(f"--reference {path}: missing column(s) {sorted(missing)}; expected dataset,model,mse[,source]")
    table: dict[str, dict[str, float]] = {}
    for row in frame.itertuples():
        value = float(row.mse)
        if not value == value:  # NaN: a number the file leaves out
            continue
        table.setdefault(str(row.dataset), {})[str(row.model).lower()] = value
    sources = sorted(set(frame["source"].dropna().astype(str))) if "source" in frame.columns else []
    return table, "; ".join(sources) or f"from {path.name}"
