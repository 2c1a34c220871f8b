"""Tables and plots from the results database.

Selection and aggregation (stated in every report):
  1. Rows of one profile and one setting (M: every column forecast and scored; MS: one target column
     scored, the others read as past-only covariates; never mixed). For each (model, dataset,
     horizon, lookback, seed) the most recently finished 'done' row counts (older code versions /
     configs of the same cell are ignored).
  2. Lookback: when several lookbacks were trained, the one with the lowest *validation* MSE
     is kept per (model, dataset, horizon, seed). Test results never choose anything.
  3. Seeds: mean and standard deviation (ddof 1) of the test MSE/MAE over seeds.
  4. Main table: the mean over horizons of (3) per dataset and model; the Horizons column
     says which horizons the row's means cover. A model missing a horizon that another model
     has on that dataset gets a dagger and its own horizons (an average over fewer horizons)
     and takes no part in bold/underline for that row. Published numbers are averaged over
     the row's horizons too (from a paper's per-horizon numbers); a paper's printed average
     stands only beside a row of exactly the horizons it covers.
  5. Ranks: every (dataset, horizon, metric in {MSE, MAE}) with at least two models is a
     cell; models with a value are ranked by it, lowest first, ties sharing the best rank
     (1, 1, 3). AvgRank = mean rank over the cells where the model has a value; #Top1 =
     number of cells where it ranks first (ties count for each). Reference (published)
     numbers are never ranked. ``metric=`` (``--metric``) ranks on one recorded score instead
     (any of db.TEST_SCORES: mse, mae, rmse, *_raw, mape_raw, smape_raw, wape_raw, mase).
  6. Every recorded test score is tabled too (seed mean, averaged over horizons), ranked or not.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..utils import write_text_atomic
from .db import TEST_SCORES, ResultsDB
from .grid import QUICK_EPOCHS, QUICK_STEPS, quick_label, setting_label
from .reference import HORIZONS, Published, as_published

METRICS = ("mse", "mae")  # ranked by default, as the papers do
LABELS = {"mse": "MSE", "mae": "MAE", "rmse": "RMSE", "mse_raw": "MSE (original scale)",
          "mae_raw": "MAE (original scale)", "rmse_raw": "RMSE (original scale)", "mape_raw": "MAPE (original scale)",
          "smape_raw": "sMAPE (original scale)", "wape_raw": "WAPE (original scale)", "mase": "MASE"}
COUNTING_RULE = (
    "AvgRank and #Top1 are computed over every (dataset, horizon, metric) cell, metric in {METRICS}, "
    "that has at least two models: models are ranked by their seed-mean test value (lowest first; ties "
    "share the best rank); AvgRank is a model's mean rank over the cells where it has a value, #Top1 the "
    "number of cells where it ranks first (ties count for each). Lookbacks are chosen on validation MSE. "
    "Published numbers are not ranked and take no part in bold/underline."
)
PUBLISHED_NOTE = (
    "Published numbers (columns \"<model> (published)\"), averaged over the row's horizons like the measured ones: "
    "from the per-horizon numbers a paper prints, or its printed average when that covers exactly the row's horizons "
    f"({'/'.join(map(str, HORIZONS))}); – where the paper gives no mean over those horizons. Each paper's own "
    "full training budget and look-back, for orientation only; not comparable with a quick-profile run, never ranked, "
    "never bold/underlined."
)


def check_metric(name: str) -> str:
    """A recorded test score's name (lower case), or a ValueError listing them."""
    key = str(name).strip().lower()
    if key not in TEST_SCORES:
        raise ValueError(f"unknown metric {name!r}; the recorded test scores are: {', '.join(TEST_SCORES)}")
    return key


# ----------------------------------------------------------------------------- loading


def row_target(config_json: str | None) -> str | None:
    """The MS target of a stored cell (its config's "target"), None for an M cell."""
    return json.loads(config_json).get("target") if config_json else None


def setting_text(target: str | None) -> str:
    """The setting line of a report."""
    if target is None:
        return "setting **M** — every column is read, forecast and scored"
    return (f"setting **MS** — every column is read; only {target} is forecast and scored, the other columns are "
            f"past-only covariates (TSLib's --features MS --target {target}); not comparable with M numbers")


def select_setting(rows: list[dict[str, Any]], target: str | None, where: str) -> tuple[list[dict[str, Any]], str | None]:
    """(the rows of one setting, its target or None for M). target: a column (MS), "none" (M) or None (the
    only setting `rows` hold; several are a ValueError naming them and how to choose)."""
    held = sorted({row_target(r["config_json"]) for r in rows}, key=lambda t: (t is not None, t or ""))
    labels = ", ".join(setting_label(t) for t in held)
    if target is None:
        if len(held) > 1:
            raise ValueError(f"{where} holds several settings ({labels}); choose one with --target COL (MS) "
                             "or --target none (M)")
        chosen = held[0] if held else None
    else:
        chosen = None if target.strip().lower() == "none" else target.strip()
    mine = [r for r in rows if row_target(r["config_json"]) == chosen]
    if rows and not mine:
        raise ValueError(f"no results of setting {setting_label(chosen)} in {where}; it holds {labels}")
    return mine, chosen


def load(db: ResultsDB, *, profile: str | None = None, models: list[str] | None = None,
         datasets: list[str] | None = None, target: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, str, str | None]:
    """(done rows, N/A rows, profile, MS target or None for M) of one profile and setting; a DB holding several
    profiles needs `profile`, one holding several settings of it `target` (a column, or "none" for M)."""
    rows = pd.DataFrame(db.rows())
    if rows.empty:
        raise ValueError(f"{db.path} holds no results yet; run `samovar bench run` first")
    profiles = sorted(rows["profile"].unique())
    if profile is None:
        if len(profiles) > 1:
            raise ValueError(f"{db.path} holds several profiles {profiles}; choose one with --profile")
        profile = profiles[0]
    rows = rows[rows["profile"] == profile]
    if rows.empty:
        raise ValueError(f"no results of profile {profile!r} in {db.path}; it holds {profiles}")
    _, chosen = select_setting(rows.to_dict("records"), target, f"{db.path}, profile {profile}")
    rows = rows[rows["config_json"].map(lambda config: row_target(config) == chosen).astype(bool)]
    if models:
        rows = rows[rows["model"].isin([m.lower() for m in models])]
    if datasets:
        wanted = {d.lower() for d in datasets}
        rows = rows[rows["dataset"].str.lower().isin(wanted)]
    for col in ("val_mse", "val_mae", *(f"test_{score}" for score in TEST_SCORES), "train_seconds", "params", "peak_mem_mb"):
        rows[col] = pd.to_numeric(rows[col])  # a column that is NULL everywhere (e.g. val_mae of old rows) as NaN
    key = ["model", "dataset", "horizon", "lookback", "seed"]
    done = rows[rows["status"] == "done"].sort_values("finished_at").drop_duplicates(key, keep="last")
    na = rows[rows["status"] == "na"].drop_duplicates(["model", "dataset", "horizon", "lookback"], keep="last")
    return done.reset_index(drop=True), na.reset_index(drop=True), profile, chosen


def select_lookback(done: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset, horizon, seed) the row with the lowest validation MSE."""
    if done.empty:
        return done
    order = done.assign(_val=done["val_mse"].fillna(np.inf)).sort_values(["_val", "lookback"])
    return order.drop_duplicates(["model", "dataset", "horizon", "seed"], keep="first").drop(columns="_val")


def aggregate(chosen: pd.DataFrame) -> pd.DataFrame:
    """Seed mean/std per (model, dataset, horizon): every test score and its std (mse, mse_std, mae, mae_std,
    rmse, ..., mase, mase_std), val_mse, val_mae (best epoch's validation, seed mean), seeds, lookback,
    seconds, params, peak_mem_mb."""
    scores = {col: agg for score in TEST_SCORES
              for col, agg in ((score, (f"test_{score}", "mean")), (f"{score}_std", (f"test_{score}", "std")))}
    if chosen.empty:
        return pd.DataFrame(columns=["model", "dataset", "horizon", *scores, "val_mse", "val_mae", "seeds"])
    grouped = chosen.groupby(["model", "dataset", "horizon"])
    out = grouped.agg(
        **scores, val_mse=("val_mse", "mean"), val_mae=("val_mae", "mean"),
        seeds=("seed", "nunique"), lookback=("lookback", lambda s: ",".join(map(str, sorted(set(s))))),
        seconds=("train_seconds", "mean"), params=("params", "mean"), peak_mem_mb=("peak_mem_mb", "max"),
    ).reset_index()
    return out


# ----------------------------------------------------------------------------- ranking


def rank_cells(agg: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """One row per (dataset, horizon, metric, model) with the model's rank in that cell."""
    records = []
    for (dataset, horizon), group in agg.groupby(["dataset", "horizon"]):
        for metric in metrics:
            values = group[["model", metric]].dropna()
            if len(values) < 2:
                continue
            ranks = values[metric].round(12).rank(method="min", ascending=True)  # equal up to float noise: a tie
            for model, value, rank in zip(values["model"], values[metric], ranks):
                records.append({"dataset": dataset, "horizon": horizon, "metric": metric, "model": model,
                                "value": value, "rank": int(rank)})
    return pd.DataFrame.from_records(records, columns=["dataset", "horizon", "metric", "model", "value", "rank"])


def rank_summary(ranks: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """AvgRank, #Top1 and the number of ranked cells per model (index: model)."""
    rows = []
    for model in models:
        mine = ranks[ranks["model"] == model]
        rows.append({"model": model, "avg_rank": mine["rank"].mean() if len(mine) else math.nan,
                     "top1": int((mine["rank"] == 1).sum()), "cells": len(mine)})
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------- tables


def main_table(agg: pd.DataFrame, metric: str = "mse") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(dataset x model table of horizon-averaged `metric`, same-shape bool 'complete' table)."""
    datasets = sorted(agg["dataset"].unique(), key=str.lower)
    models = sorted(agg["model"].unique())
    values = pd.DataFrame(index=datasets, columns=models, dtype=float)
    complete = pd.DataFrame(False, index=datasets, columns=models)
    for dataset in datasets:
        sub = agg[agg["dataset"] == dataset]
        horizons = set(sub["horizon"])
        for model in models:
            mine = sub[sub["model"] == model].dropna(subset=[metric])
            if len(mine):
                values.loc[dataset, model] = mine[metric].mean()
                complete.loc[dataset, model] = set(mine["horizon"]) == horizons
    return values, complete


def published_mean(entry: Published, horizons: list[int], metric: str) -> float | None:
    """`entry`'s `metric` averaged over exactly `horizons`: from its per-horizon numbers, else its printed
    average when that covers exactly these horizons; None when the paper gives no such mean."""
    if metric not in ("mse", "mae"):  # the papers publish MSE and MAE only
        return None
    values = [entry.per_horizon[h][("mse", "mae").index(metric)] if h in entry.per_horizon else None for h in horizons]
    if horizons and None not in values:
        return sum(values) / len(values)
    return getattr(entry, metric) if sorted(horizons) == list(HORIZONS) else None


def _horizon_list(horizons) -> str:
    return "/".join(str(int(h)) for h in sorted(horizons))


def best_two(row: pd.Series, eligible: pd.Series) -> tuple[set[str], set[str]]:
    """(models with the lowest value, models with the second-lowest distinct value) among eligible ones."""
    vals = row[eligible.astype(bool)].dropna()
    if len(vals) < 2:
        return set(), set()
    distinct = sorted(set(vals.round(12)))
    best = {m for m, v in vals.items() if distinct and round(v, 12) == distinct[0]}
    second = {m for m, v in vals.items() if len(distinct) > 1 and round(v, 12) == distinct[1]}
    return best, second


def _fmt(value: float, std: float | None = None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "N/A"
    text = f"{value:.{digits}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std:.{digits}f}"
    return text


def _title(fig: Any, text: str) -> None:
    """A figure title wrapped to the figure's width (9 pt: about 13 characters per inch)."""
    import textwrap

    fig.suptitle(textwrap.fill(text, width=max(40, int(fig.get_figwidth() * 13))), fontsize=9)


def _markup(text: str, style: str | None, fmt: str) -> str:
    if style == "best":
        return f"**{text}**" if fmt == "md" else f"<b>{text}</b>"
    if style == "second":
        return f"<u>{text}</u>"
    return text


class Report:
    """Everything rendered from one profile of a results database."""

    def __init__(self, db: ResultsDB, *, profile: str | None = None, models: list[str] | None = None,
                 datasets: list[str] | None = None, reference: dict[str, dict[str, Published | float]] | None = None,
                 reference_label: str = "", metric: str | None = None, target: str | None = None) -> None:
        """metric: rank on this recorded test score alone (default: MSE and MAE, as the papers);
        target: the setting (an MS target column, or "none" for M; default: the only one held)."""
        self.db = db
        self.rank_metrics = METRICS if metric is None else (check_metric(metric),)
        self.done, self.na, self.profile, self.target = load(db, profile=profile, models=models, datasets=datasets,
                                                             target=target)
        self.setting = setting_label(self.target)
        self.chosen = select_lookback(self.done)
        self.agg = aggregate(self.chosen)
        if metric is not None and len(self.agg) and self.agg[self.rank_metrics[0]].isna().all():
            raise ValueError(f"no finished run of this selection recorded {self.rank_metrics[0]} (runs recorded "
                             "before samovar computed it); choose another --metric or run the cells again")
        # one main table per ranked metric, then MSE and MAE if not ranked
        self.table_metrics = tuple(dict.fromkeys(self.rank_metrics + METRICS))
        self.models = sorted(set(self.agg["model"]) | set(self.na["model"]) if len(self.na) else set(self.agg["model"]))
        self.datasets = sorted(set(self.agg["dataset"]) | (set(self.na["dataset"]) if len(self.na) else set()), key=str.lower)
        self.ranks = rank_cells(self.agg, self.rank_metrics)
        self.summary = rank_summary(self.ranks, self.models)
        # published entries of the reported datasets and models only: dataset -> model -> Published
        wanted = set(self.models) | ({m.lower() for m in models} if models else set())
        self.reference = {d: {m: as_published(v, reference_label) for m, v in entries.items() if m in wanted}
                          for d, entries in (reference or {}).items() if d in self.datasets}
        self.reference = {d: entries for d, entries in self.reference.items() if entries}
        self.reference_label = reference_label

    # -- labels

    def budget_label(self) -> str:
        configs = [json.loads(c) for c in pd.concat([self.done, self.na])["config_json"]] if len(self.done) + len(self.na) else []
        steps = sorted({c.get("max_steps_per_epoch") for c in configs if c.get("max_steps_per_epoch")})
        epochs = sorted({c.get("train", {}).get("epochs") for c in configs if c.get("train", {}).get("epochs")})
        if self.profile == "quick":
            return "profile **" + quick_label(max(epochs or [QUICK_EPOCHS]), max(steps or [QUICK_STEPS])).replace("quick", "quick**", 1)
        if self.profile == "tuned":
            return ("profile **tuned** — each model's configuration chosen by `samovar tune` on validation "
                    "(the best recorded trial per model, dataset and horizon; its study and trial name the recipe)")
        return "profile **paper** — each model's published recipe where it has one (else the LTSF default; see notes)"

    def _setting_suffix(self) -> str:
        """What the table headings add: the MS setting (M, the default, is named in the header line only)."""
        return f", setting {self.setting}" if self.target else ""

    def default_title(self) -> str:
        return f"samovar bench — {self.profile} profile{self._setting_suffix()}"

    def _short_budget(self) -> str:
        """The budget (and an MS setting) in a plot title: the quick label up to its caps."""
        if self.profile != "quick":
            return f"{self.profile} profile{self._setting_suffix()}"
        return self.budget_label().replace("**", "").removeprefix("profile ").split(" (evenly")[0] + self._setting_suffix()

    def counting_rule(self) -> str:
        return COUNTING_RULE.format(METRICS="{" + ", ".join(LABELS[m] for m in self.rank_metrics) + "}")

    def na_reasons(self) -> dict[tuple[str, str, int], str]:
        out = {}
        for _, r in self.na.iterrows():
            out.setdefault((r["model"], r["dataset"], int(r["horizon"])), r["reason"])
        return out

    # -- table content as rows of cells (text, style)

    def main_rows(self, metric: str, fmt: str) -> tuple[list[str], list[list[str]]]:
        values, complete = main_table(self.agg, metric) if len(self.agg) else (pd.DataFrame(), pd.DataFrame())
        header = ["Dataset", "Horizons"] + self.models
        ref_models = sorted({m for d in self.reference.values() for m, e in d.items() if getattr(e, metric, None) is not None})
        header += [f"{m} (published)" for m in ref_models]
        body = []
        for dataset in self.datasets:
            measured = self.agg[self.agg["dataset"] == dataset]
            horizons = sorted(set(measured["horizon"]))  # as main_table counts a mean complete
            row = [dataset, _horizon_list(horizons)]
            best, second = (best_two(values.loc[dataset], complete.loc[dataset]) if dataset in values.index else (set(), set()))
            for model in self.models:
                if dataset in values.index and model in values.columns and not math.isnan(values.loc[dataset, model]):
                    own = measured.loc[(measured["model"] == model) & measured[metric].notna(), "horizon"]
                    text = _fmt(values.loc[dataset, model]) + ("" if complete.loc[dataset, model] else f"† ({_horizon_list(own)})")
                    style = "best" if model in best else "second" if model in second else None
                    row.append(_markup(text, style, fmt))
                else:
                    row.append("N/A")
            for model in ref_models:
                ref = self.reference.get(dataset, {}).get(model)
                value = published_mean(ref, horizons, metric) if ref is not None else None
                row.append(_fmt(value) if value is not None else "–")
            body.append(row)
        if metric not in self.rank_metrics:
            return header, body
        avg = ["AvgRank", ""] + [_fmt(self.summary.loc[m, "avg_rank"], digits=2) if m in self.summary.index else "N/A" for m in self.models]
        top = ["#Top1", ""] + [str(self.summary.loc[m, "top1"]) if m in self.summary.index else "0" for m in self.models]
        cells = ["#cells ranked", ""] + [str(self.summary.loc[m, "cells"]) if m in self.summary.index else "0" for m in self.models]
        pad = [""] * len(ref_models)
        return header, body + [avg + pad, top + pad, cells + pad]

    def score_rows(self) -> tuple[list[str], list[list[str]]]:
        """Every recorded test score averaged over horizons: one row per (dataset, model); † = fewer horizons."""
        header = ["Dataset", "model"] + [LABELS[s].replace(" (original scale)", " orig.") for s in TEST_SCORES]
        if self.agg.empty:
            return header, []
        tables = [main_table(self.agg, score) for score in TEST_SCORES]
        body = []
        for dataset in tables[0][0].index:
            for model in tables[0][0].columns:
                cells = [_fmt(values.loc[dataset, model], digits=4) + ("" if complete.loc[dataset, model] else "†")
                         if not math.isnan(values.loc[dataset, model]) else "–" for values, complete in tables]
                if any(c != "–" for c in cells):
                    body.append([dataset, model] + cells)
        return header, body

    def horizon_rows(self, fmt: str) -> tuple[list[str], list[list[str]]]:
        header = ["Dataset", "H", "metric"] + self.models
        ref_models = sorted({m for d in self.reference.values() for m, e in d.items() if e.per_horizon})
        header += [f"{m} (published)" for m in ref_models]
        reasons = self.na_reasons()
        body = []
        for dataset in self.datasets:
            horizons = sorted(set(self.agg.loc[self.agg["dataset"] == dataset, "horizon"])
                              | set(self.na.loc[self.na["dataset"] == dataset, "horizon"] if len(self.na) else []))
            for horizon in horizons:
                cell = self.agg[(self.agg["dataset"] == dataset) & (self.agg["horizon"] == horizon)].set_index("model")
                for metric in self.rank_metrics:
                    vals = cell[metric].dropna() if len(cell) else pd.Series(dtype=float)
                    distinct = sorted(set(vals.round(12)))
                    row = [dataset, str(int(horizon)), LABELS[metric]]
                    for model in self.models:
                        if model in vals.index:
                            v = round(vals[model], 12)
                            style = "best" if distinct and v == distinct[0] and len(vals) > 1 else \
                                "second" if len(distinct) > 1 and v == distinct[1] else None
                            std = cell.loc[model, f"{metric}_std"] if cell.loc[model, "seeds"] > 1 else None
                            row.append(_markup(_fmt(vals[model], std), style, fmt))
                        elif (model, dataset, int(horizon)) in reasons:
                            row.append("N/A*")
                        else:
                            row.append("–")
                    for model in ref_models:  # shown as printed, never marked
                        ref = self.reference.get(dataset, {}).get(model)
                        pair = ref.per_horizon.get(int(horizon)) if ref is not None else None
                        value = pair[METRICS.index(metric)] if pair is not None and metric in METRICS else None
                        row.append(_fmt(value) if value is not None else "–")
                    body.append(row)
        return header, body

    # -- renderers

    def markdown(self, title: str = "Benchmark") -> str:
        def table(header, body):
            lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
            lines += ["| " + " | ".join(r) + " |" for r in body]
            return "\n".join(lines)

        parts = [f"# {title}", "", self.budget_label() + ".", "", setting_text(self.target) + ".", ""]
        for i, metric in enumerate(self.table_metrics):
            parts += [f"## Test {LABELS[metric]} averaged over horizons{self._setting_suffix()}"
                      + (" (rows datasets, columns models)" if i == 0 else ""), ""]
            if i == 0:
                parts += ["Best **bold**, runner-up <u>underlined</u>; Horizons = the horizons each mean of the row covers; "
                          "† = a model's average over fewer horizons than the row's, its horizons in brackets (not marked best)." + (" " + PUBLISHED_NOTE if self.reference else ""), ""]
            parts += [table(*self.main_rows(metric, "md")), ""]
        parts += ["Counting rule: " + self.counting_rule(), "",
                  "## Every test score averaged over horizons", "",
                  "Standardized scale unless marked orig. (original units); MAPE/sMAPE/WAPE as fractions; "
                  "MASE is scale-free (docs/training.md, Scores). – = not recorded.", "",
                  table(*self.score_rows()), "",
                  "## Per horizon (mean ± std over seeds where several)", "", table(*self.horizon_rows("md")), "",
                 "N/A* = the cell cannot exist; reasons below. – = not run.", ""]
        if self.reference:
            parts += ["## Published numbers (not ranked)", "", PUBLISHED_NOTE, ""]
            parts += [f"- {d} / {m}: MSE {_fmt(e.mse)}" + (f", MAE {_fmt(e.mae)}" if e.mae is not None else "")
                      + f" — {e.source}" for d, entries in sorted(self.reference.items()) for m, e in sorted(entries.items())]
            parts.append("")
        reasons = self.na_reasons()
        if reasons:
            parts += ["## N/A cells", ""]
            parts += [f"- {m} / {d} / H{h}: {r.splitlines()[0]}" for (m, d, h), r in sorted(reasons.items())]
            parts.append("")
        parts += ["## Runs", "", self._provenance_md(), ""]
        return "\n".join(parts)

    def _provenance_md(self) -> str:
        if self.chosen.empty:
            return "(no finished runs)"
        lines = ["| model | dataset | H | lookback | seeds | val MSE | val MAE | params | train s (mean) | peak MB | code version |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for (model, dataset, horizon), g in self.chosen.groupby(["model", "dataset", "horizon"]):
            lines.append(f"| {model} | {dataset} | {horizon} | {','.join(map(str, sorted(set(g['lookback']))))} | "
                         f"{g['seed'].nunique()} | {_fmt(g['val_mse'].mean(), digits=4)} | {_fmt(g['val_mae'].mean(), digits=4)} | "
                         f"{int(g['params'].iloc[0]):,} | {g['train_seconds'].mean():.1f} | "
                         f"{g['peak_mem_mb'].max():.0f} | {','.join(sorted(set(g['code_version'])))} |")
        return "\n".join(lines)

    def csv(self) -> str:
        """Long format: one row per (model, dataset, horizon) with seed mean/std, plus N/A rows with reasons."""
        frame = self.agg.copy()
        frame["status"] = "done"
        frame["reason"] = ""
        if len(self.na):
            na = self.na[["model", "dataset", "horizon", "reason"]].drop_duplicates(["model", "dataset", "horizon"]).copy()
            na = na.merge(frame[["model", "dataset", "horizon"]], how="left", indicator=True)
            na = na[na["_merge"] == "left_only"].drop(columns="_merge").assign(status="na")
            frame = pd.concat([frame, na], ignore_index=True)
        frame.insert(0, "profile", self.profile)
        frame.insert(1, "setting", self.setting)
        frame.insert(2, "budget", self.budget_label().replace("**", "").removeprefix("profile "))
        return frame.sort_values(["dataset", "horizon", "model"]).to_csv(index=False)

    def html(self, title: str = "Benchmark", figures: dict[str, bytes] | None = None) -> str:
        def table(header, body):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body)
            return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

        label = html.escape(self.budget_label() + ". " + setting_text(self.target)).replace("**", "")
        imgs = "".join(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
            f"<figcaption>{html.escape(name)}</figcaption></figure>" for name, png in (figures or {}).items())
        published = "".join(f"<li>{html.escape(f'{d} / {m}: MSE {_fmt(e.mse)}' + (f', MAE {_fmt(e.mae)}' if e.mae is not None else '') + f' — {e.source}')}</li>"
                            for d, entries in sorted(self.reference.items()) for m, e in sorted(entries.items()))
        published = f"<h2>Published numbers (not ranked)</h2><ul>{published}</ul>" if published else ""
        reasons = "".join(f"<li>{html.escape(f'{m} / {d} / H{h}: {r.splitlines()[0]}')}</li>"
                          for (m, d, h), r in sorted(self.na_reasons().items()))
        style = ("body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}"
                 "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
                 ".label{background:#fff3cd;padding:.5em;border:1px solid #e0c060}img{max-width:100%}")
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1><p class='label'>{label}</p>"
                f"<p>Best <b>bold</b>, runner-up <u>underlined</u>; "
                f"Horizons = the horizons each mean of the row covers; † = a model's average over fewer horizons "
                f"(its horizons in brackets).{(' ' + html.escape(PUBLISHED_NOTE)) if self.reference else ''}</p>"
                + "".join(f"<h2>Test {html.escape(LABELS[m])} averaged over horizons{html.escape(self._setting_suffix())}</h2>"
                          f"{table(*self.main_rows(m, 'html'))}"
                          for m in self.table_metrics)
                + f"<p>Counting rule: {html.escape(self.counting_rule())}</p>"
                f"<h2>Every test score averaged over horizons</h2>{table(*self.score_rows())}"
                f"<h2>Per horizon</h2>{table(*self.horizon_rows('html'))}"
                f"{published}<h2>N/A cells</h2><ul>{reasons or '<li>none</li>'}</ul><h2>Plots</h2>{imgs}</body></html>")

    # -- plots

    def figures(self) -> dict[str, Any]:
        """matplotlib figures by name: mse_vs_horizon, accuracy_vs_cost, forecasts."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figs: dict[str, Any] = {}
        if self.agg.empty:
            return figs
        datasets = sorted(self.agg["dataset"].unique(), key=str.lower)
        n = len(datasets)
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
        for ax, dataset in zip(axes[0], datasets):
            sub = self.agg[self.agg["dataset"] == dataset]
            for model, g in sub.groupby("model"):
                g = g.sort_values("horizon")
                ax.errorbar(g["horizon"], g["mse"], yerr=g["mse_std"].fillna(0), marker="o", label=model, capsize=2)
            ax.set_title(dataset)
            ax.set_xlabel("horizon")
            ax.set_ylabel("test MSE")
            ax.set_xticks(sorted(sub["horizon"].unique()))
        axes[0][-1].legend(fontsize=7)
        _title(fig, f"Test MSE vs horizon ({self._short_budget()})")
        fig.tight_layout()
        figs["mse_vs_horizon"] = fig

        # relative MSE (1 = the best model of that dataset x horizon cell): comparable even when
        # models miss different cells (N/A), unlike a plain mean over each model's own cells
        rel = self.agg.assign(rel=self.agg["mse"] / self.agg.groupby(["dataset", "horizon"])["mse"].transform("min"))
        per_model = rel.groupby("model").agg(mse=("rel", "mean"), seconds=("seconds", "mean"), params=("params", "mean"))
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for ax, col, xlabel in ((axes[0], "seconds", "mean training time per run (s)"), (axes[1], "params", "parameters")):
            ax.scatter(per_model[col], per_model["mse"])
            for model, r in per_model.iterrows():
                ax.annotate(model, (r[col], r["mse"]), fontsize=8, xytext=(3, 3), textcoords="offset points")
            positive = per_model[col][per_model[col] > 0]
            if len(positive) == len(per_model):
                ax.set_xscale("log")
            else:  # the naive baselines: no parameters, (almost) no time; linear near 0, logarithmic above
                ax.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("test MSE / best MSE of the cell (mean)")
        _title(fig, f"Accuracy vs cost (1.0 = best model in every dataset x horizon cell; {self._short_budget()})")
        fig.tight_layout()
        figs["accuracy_vs_cost"] = fig

        samples = self.chosen.dropna(subset=["forecast_json"])
        if len(samples):
            horizon = int(samples["horizon"].min())
            samples = samples[samples["horizon"] == horizon].sort_values("seed").drop_duplicates(["model", "dataset"])
            fig, axes = plt.subplots(1, n, figsize=(4.8 * n, 3.4), squeeze=False)
            for ax, dataset in zip(axes[0], datasets):
                truth_drawn = False
                for _, r in samples[samples["dataset"] == dataset].iterrows():
                    s = json.loads(r["forecast_json"])
                    h = len(s["truth"])
                    if not truth_drawn:
                        hist = s["history"][-2 * h:]
                        ax.plot(range(-len(hist), 0), hist, color="black", lw=1, label="input")
                        ax.plot(range(h), s["truth"], color="black", lw=1.5, ls="--", label="truth")
                        ax.set_title(f"{dataset}, {s['channel']}, H{h}, first test window")
                        truth_drawn = True
                    ax.plot(range(h), s["pred"], lw=1, label=r["model"])
                ax.set_xlabel("step (0 = first forecast)")
                ax.legend(fontsize=6)
            _title(fig, f"First test window ({self._short_budget()})")
            fig.tight_layout()
            figs["forecasts"] = fig
        return figs

    def write(self, out_dir: str | Path, title: str | None = None) -> dict[str, Path]:
        """Write report.md, results.csv, report.html and the plots (PNG + SVG) into out_dir."""
        import matplotlib.pyplot as plt

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        title = title or self.default_title()
        paths: dict[str, Path] = {}
        pngs: dict[str, bytes] = {}
        for name, fig in self.figures().items():
            for ext in ("png", "svg"):
                buf = io.BytesIO()
                fig.savefig(buf, format=ext, dpi=110)
                path = out / f"{name}.{ext}"
                with open(path.with_suffix(path.suffix + ".tmp"), "wb") as fh:
                    fh.write(buf.getvalue())
                path.with_suffix(path.suffix + ".tmp").replace(path)
                paths[f"{name}.{ext}"] = path
                if ext == "png":
                    pngs[name] = buf.getvalue()
            plt.close(fig)
        for name, text in (("report.md", self.markdown(title)), ("results.csv", self.csv()),
                           ("report.html", self.html(title, pngs))):
            write_text_atomic(out / name, text)
            paths[name] = out / name
        return paths


def task_table(db: ResultsDB, task: str | None = None) -> str:
    """Markdown table of downstream-task results: rows (task, metric, budget), columns mixers."""
    rows = pd.DataFrame(db.task_rows(task=task))
    if rows.empty:
        return f"(no task results{f' for {task}' if task else ''} in {db.path})"
    rows["who"] = rows.apply(lambda r: r["mixer"] or r["model"], axis=1)
    agg = rows.groupby(["task", "metric", "budget", "who"])["value"].agg(["mean", "std", "count"]).reset_index()
    whos = sorted(agg["who"].unique())
    lines = ["| task | metric | budget | " + " | ".join(whos) + " |", "|---|---|---|" + "---|" * len(whos)]
    for (t, metric, budget), g in agg.groupby(["task", "metric", "budget"]):
        g = g.set_index("who")
        cells = [_fmt(g.loc[w, "mean"], g.loc[w, "std"] if g.loc[w, "count"] > 1 else None, 4) if w in g.index else "–"
                 for w in whos]
        lines.append(f"| {t} | {metric} | {budget} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
