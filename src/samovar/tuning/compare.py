"""Paper | tuned | oracle: the test MSE of the published recipe, of the tuned configuration, and of the best
configuration chosen on test (an optimistic bound, never a result), per model, dataset and horizon.

All three come from the bench cells of the results database (``runs``): ``paper`` from the paper profile
(among several lookbacks, the one with the lowest validation MSE, as the bench report chooses),
``tuned`` from the tuned profile (``samovar bench run --profile tuned``), ``oracle`` from every done
configuration of any profile and lookback, the one whose seed-mean test MSE is lowest. The gap between
tuned and oracle is what choosing on validation left on the table; paper against tuned is what the
search gained.
"""

from __future__ import annotations

import pandas as pd

from ..bench.db import ResultsDB
from ..bench.report import aggregate, load, row_target, select_lookback

KEY = ["model", "dataset", "horizon"]


def _profile(db: ResultsDB, profile: str, name: str) -> pd.DataFrame:
    try:
        done, _, _, _ = load(db, profile=profile, target="none")  # tuning searches the M setting
    except ValueError:  # no M rows of this profile
        return pd.DataFrame(columns=[*KEY, name, f"{name}_std"])
    agg = aggregate(select_lookback(done))
    return agg[[*KEY, "mse", "mse_std"]].rename(columns={"mse": name, "mse_std": f"{name}_std"})


def comparison(db: ResultsDB) -> pd.DataFrame:
    """One row per (model, dataset, horizon) with paper, tuned and oracle test MSE (seed mean, std) and the
    oracle's profile and lookback; a missing column is NaN."""
    rows = pd.DataFrame([r for r in db.rows(status="done") if row_target(r["config_json"]) is None])  # M cells only
    if rows.empty:
        raise ValueError(f"{db.path} holds no finished bench cells; run `samovar bench run --profile paper` and "
                         "`--profile tuned` first")
    rows["test_mse"] = pd.to_numeric(rows["test_mse"])
    configs = rows.groupby([*KEY, "profile", "lookback", "config_hash"], as_index=False).agg(
        oracle=("test_mse", "mean"), oracle_std=("test_mse", "std"))
    oracle = configs.sort_values("oracle").drop_duplicates(KEY, keep="first")
    oracle = oracle.rename(columns={"profile": "oracle_profile", "lookback": "oracle_lookback"}).drop(columns="config_hash")
    table = _profile(db, "paper", "paper").merge(_profile(db, "tuned", "tuned"), on=KEY, how="outer")
    return table.merge(oracle, on=KEY, how="outer").sort_values(KEY).reset_index(drop=True)


def _cell(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "—"
    return f"{mean:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")


def comparison_markdown(table: pd.DataFrame) -> str:
    """The comparison as a Markdown table (test MSE, standardized; mean ± std over seeds)."""
    lines = ["| model | dataset | H | paper | tuned | oracle (chosen on test) |", "|---|---|---|---|---|---|"]
    for r in table.to_dict("records"):
        where = "" if pd.isna(r["oracle"]) else f" ({r['oracle_profile']}, L{int(r['oracle_lookback'])})"
        lines.append(f"| {r['model']} | {r['dataset']} | {int(r['horizon'])} | {_cell(r['paper'], r['paper_std'])} | "
                     f"{_cell(r['tuned'], r['tuned_std'])} | {_cell(r['oracle'], r['oracle_std'])}{where} |")
    return "\n".join(lines)
