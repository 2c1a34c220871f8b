"""The seed-protocol report: one lookback per (model, dataset, horizon) chosen on validation, beside the
one chosen on test (the "oracle", not a valid selection) and the published numbers.

The SAMoVAR authors' baseline.sh trains every baseline at four input lengths (4096, 2048, 1024, 512)
and the paper's main table reports each baseline "after testing varying input lengths". Which of
the four a reported number comes from is not said. This report computes both readings from the same
runs: the lookback with the lowest *validation* MSE (a selection a user could make; its test MSE is
the honest number) and the lookback with the lowest *test* MSE (what picking on the test split would
report); then which of the two the published numbers lie closer to.

Rules (tested in tests/test_seed_protocol.py):
* a lookback is a candidate when the authors' script trains it (``training.seed.seed_lookbacks``);
  one whose dataset holds no full window in some split is *excluded* (no run can exist: N/A for a
  data reason); one not finished (no result yet: not run or still running, worded "no record yet";
  failed; or N/A because its estimated cost exceeded ``--max-cell-hours``) is *missing*, and a selection with a missing lookback is marked
  incomplete;
* ties (equal MSE) go to the shorter lookback;
* a dataset's average over horizons 96/192/336/720 is given only when every horizon has a complete
  selection; otherwise it is marked incomplete and names the horizons it has (never a mean over fewer);
* the closeness line compares the averages of the models that have both averages and a published
  number (mean absolute difference to the published MSE), leaving out models trained at one lookback
  per horizon (samovar.sh), for which both selections are the same run;
* the ranking ranks the models with both averages and a published number three ways (published,
  oracle, validation; equal to 3 decimals share a rank) and counts those whose place changes;
* a model whose selections miss only lookbacks over the cost cap gets a second, narrower reading,
  *within this machine's budget*: both choices among the lookbacks that ran, averaged only when every
  horizon has one. It is shown in its own table and sentence, labelled as not the authors' protocol,
  and never enters the closeness line or the ranking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

# How a lookback without a result (never run, or a run not finished) is worded: a report is read later than it is
# written, so it says what the records hold, not what a process was doing.
NO_RECORD = "no record yet"

HORIZONS = (96, 192, 336, 720)
COST_CAP = "N/A over the cost cap"
ORACLE_LABEL = "oracle — not a valid selection"
VAL_LABEL = "chosen on validation"


@dataclass
class Selection:
    """The lookbacks of one (model, dataset, horizon) and the two choices among the finished ones."""

    model: str
    dataset: str
    horizon: int
    candidates: tuple[int, ...]
    done: dict[int, dict[str, Any]] = field(default_factory=dict)  # lookback -> finished row
    missing: dict[int, str] = field(default_factory=dict)  # lookback -> why it has no result
    excluded: dict[int, str] = field(default_factory=dict)  # lookback -> why no run can exist (data)
    val_choice: int | None = None
    oracle_choice: int | None = None

    @property
    def complete(self) -> bool:
        return not self.missing and self.val_choice is not None

    @property
    def within_budget(self) -> bool:
        """Complete but for lookbacks over the cost cap: both choices are among the lookbacks that ran."""
        return self.val_choice is not None and all(why.startswith(COST_CAP) for why in self.missing.values())

    def test_mse(self, which: str) -> float | None:
        choice = self.val_choice if which == "val" else self.oracle_choice
        return None if choice is None else self.done[choice]["test_mse"]

    def test_mae(self, which: str) -> float | None:
        choice = self.val_choice if which == "val" else self.oracle_choice
        return None if choice is None else self.done[choice].get("test_mae")


def _argmin(done: dict[int, dict[str, Any]], column: str) -> int | None:
    """The lookback with the lowest finite `column`; ties go to the shorter lookback."""
    scored = [(row[column], lb) for lb, row in done.items()
              if row.get(column) is not None and math.isfinite(row[column])]
    return min(scored)[1] if scored else None


def _is_data_na(row: dict[str, Any]) -> bool:
    """An N/A row for a reason no machine changes (no full window, no script setting), not for its cost."""
    return row["status"] == "na" and row.get("est_cpu_hours") is None


def latest_rows(rows: Iterable[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """Per (model, dataset, horizon, lookback, seed): the finished row recorded last, else the last row."""
    best: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = (row["model"], row["dataset"], int(row["horizon"]), int(row["lookback"]), int(row["seed"]))
        old = best.get(key)
        rank = (row["status"] == "done", row.get("finished_at") or 0.0, row.get("id") or 0)
        if old is None or rank > (old["status"] == "done", old.get("finished_at") or 0.0, old.get("id") or 0):
            best[key] = row
    return best


def select(rows: Iterable[dict[str, Any]], *, seed: int | None = None,
           candidates: Any = None) -> list[Selection]:
    """One Selection per (model, dataset, horizon) present in `rows` (rows of ``runs``, any status).

    seed: only rows of this seed (default: every seed must be the same; several are an error).
    candidates: ``(model, horizon) -> lookbacks`` (default: the authors' script, ``seed_lookbacks``)."""
    if candidates is None:
        from ..training.seed import seed_lookbacks as candidates
    table = latest_rows(r for r in rows if seed is None or int(r["seed"]) == int(seed))
    seeds = sorted({k[4] for k in table})
    if len(seeds) > 1:
        raise ValueError(f"the rows hold seeds {seeds}; pick one (seed=...)")
    groups: dict[tuple, dict[int, dict[str, Any]]] = {}
    for (model, dataset, horizon, lookback, _), row in table.items():
        groups.setdefault((model, dataset, horizon), {})[lookback] = row
    out = []
    for (model, dataset, horizon), by_lookback in sorted(groups.items()):
        sel = Selection(model, dataset, horizon, tuple(candidates(model, horizon)))
        for lb in sel.candidates:
            row = by_lookback.get(lb)
            if row is None or row["status"] == "running":
                sel.missing[lb] = NO_RECORD
            elif row["status"] == "done" and row.get("test_mse") is not None:
                sel.done[lb] = row
            elif _is_data_na(row):
                sel.excluded[lb] = (row.get("reason") or "N/A").splitlines()[0]
            elif row["status"] == "na":
                sel.missing[lb] = f"{COST_CAP}: est. {row['est_cpu_hours']:.3g} CPU-h"
            else:
                why = (row.get("reason") or "").splitlines()[0] if row.get("reason") else ""
                sel.missing[lb] = f"{row['status']}{': ' + why if why else ''}"
        sel.val_choice = _argmin(sel.done, "val_mse")
        sel.oracle_choice = _argmin(sel.done, "test_mse")
        out.append(sel)
    return out


@dataclass
class Average:
    """A model's mean test score over HORIZONS on one dataset for one selection (None: incomplete)."""

    mse: float | None
    mae: float | None
    have: tuple[int, ...]  # horizons with a complete selection

    @property
    def complete(self) -> bool:
        return self.mse is not None


def average(selections: list[Selection], which: str, horizons: tuple[int, ...] = HORIZONS, *,
            budget: bool = False) -> Average:
    """Mean over `horizons` of one model's selections on one dataset; incomplete unless all are complete
    (budget: unless all are complete or `within_budget`, the narrower reading)."""
    by_h = {s.horizon: s for s in selections}
    have = tuple(h for h in horizons if h in by_h and (by_h[h].complete or budget and by_h[h].within_budget))
    if len(have) < len(horizons):
        return Average(None, None, have)
    mses = [by_h[h].test_mse(which) for h in horizons]
    maes = [by_h[h].test_mae(which) for h in horizons]
    mae = None if any(m is None for m in maes) else sum(maes) / len(maes)
    return Average(sum(mses) / len(mses), mae, have)


def closeness(averages: dict[str, tuple[Average, Average]], published: dict[str, Any],
              single: Iterable[str] = ()) -> str:
    """The computed line: which selection the published MSEs are closer to (mean absolute difference).

    single: models whose script trains one lookback per horizon (samovar.sh): both selections are that
    run, so they say nothing about which selection the table used and are left out."""
    single = set(single)
    models = sorted(m for m, (v, o) in averages.items()
                    if v.complete and o.complete and m in published and m not in single)
    if not models:
        return ("closer to: not computed — no model with several input lengths has all four horizons for both "
                "selections and a published number")
    mad_val = sum(abs(averages[m][0].mse - published[m].mse) for m in models) / len(models)
    mad_oracle = sum(abs(averages[m][1].mse - published[m].mse) for m in models) / len(models)
    if math.isclose(mad_val, mad_oracle, rel_tol=0, abs_tol=1e-12):
        verdict = "equally close to both selections"
    elif mad_oracle < mad_val:
        verdict = "closer to the test-chosen (oracle) selection"
    else:
        verdict = "closer to the validation-chosen selection"
    return (f"closer to: the published numbers are {verdict} — mean |difference| {mad_val:.4f} (validation) vs "
            f"{mad_oracle:.4f} (oracle) over {len(models)} model(s): {', '.join(models)}")


def _ranks(scores: dict[str, float]) -> dict[str, int]:
    """1 for the lowest score; equal scores (to the 3 decimals shown) share the better rank."""
    shown = {m: round(v, 3) for m, v in scores.items()}
    return {m: 1 + sum(other < v for other in shown.values()) for m, v in shown.items()}


def ranking(averages: dict[str, tuple[Average, Average]], published: dict[str, Any]) -> list[str]:
    """Markdown lines: the models ranked by their published average, by the oracle selection and by the
    validation selection (models with all three), and how many change place; [] for fewer than 2 models."""
    models = sorted(m for m, (v, o) in averages.items() if v.complete and o.complete and m in published)
    if len(models) < 2:
        return []
    pub = _ranks({m: published[m].mse for m in models})
    orc = _ranks({m: averages[m][1].mse for m in models})
    val = _ranks({m: averages[m][0].mse for m in models})
    lines = ["Ranking of the models with all three averages (1 = lowest MSE; equal to 3 decimals share a rank):", "",
             f"| model | published MSE (rank) | {ORACLE_LABEL}: MSE (rank) | {VAL_LABEL}: MSE (rank) |",
             "|---|---:|---:|---:|"]
    for m in sorted(models, key=lambda m: (pub[m], m)):
        lines.append(f"| {m} | {published[m].mse:.3f} ({pub[m]}) | {averages[m][1].mse:.3f} ({orc[m]}) | "
                     f"{averages[m][0].mse:.3f} ({val[m]}) |")
    moved_o = [m for m in models if orc[m] != pub[m]]
    moved_v = [m for m in models if val[m] != pub[m]]
    best = lambda r: ", ".join(m for m in models if r[m] == 1)
    lines += ["", f"ranked first: published {best(pub)}; oracle {best(orc)}; validation {best(val)}. "
              f"Rank differs from the published one for {len(moved_o)} of {len(models)} models under the oracle "
              f"selection{' (' + ', '.join(moved_o) + ')' if moved_o else ''} and {len(moved_v)} of {len(models)} "
              f"under the validation selection{' (' + ', '.join(moved_v) + ')' if moved_v else ''}.", ""]
    return lines


def _between(pub: float, val: float, oracle: float) -> str:
    """Where a published average lies against the two selections of the same runs (no threshold)."""
    lo, hi = min(val, oracle), max(val, oracle)
    if pub < lo:
        return f"below even the oracle by {lo - pub:.4f}"
    if pub > hi:
        return f"above both selections by {pub - hi:.4f}"
    return "between the two selections" if lo < hi else "equal to both selections"


@dataclass
class DatasetSummary:
    """One dataset's selections with what the answer, the tables and the lines below them share."""

    selections: list[Selection]
    averages: dict[str, tuple[Average, Average]]  # model -> (validation, oracle) average
    published: dict[str, Any]  # model (lower case) -> its published average
    single: set[str]  # models trained at one lookback per horizon (samovar.sh)
    # model -> (validation, oracle) average within this machine's budget, for the models without `averages`
    # that have it: lookbacks over the cost cap left out (not the authors' protocol)
    budget: dict[str, tuple[Average, Average]] = field(default_factory=dict)

    def ran(self, model: str) -> str:
        """The lookbacks a model's budget reading chose among, e.g. "512/1024 (H96, H192), 512 (H720)"."""
        groups: dict[str, list[int]] = {}
        for s in self.selections:
            if s.model == model and s.horizon in HORIZONS:
                groups.setdefault("/".join(str(lb) for lb in s.candidates if lb in s.done), []).append(s.horizon)
        if len(groups) == 1:
            return next(iter(groups))
        return ", ".join(f"{lbs} ({', '.join(f'H{h}' for h in hs)})" for lbs, hs in groups.items())


def summaries(selections: list[Selection], reference: dict[str, dict[str, Any]]) -> dict[str, DatasetSummary]:
    """Per dataset (sorted): its selections, each model's two averages, its published numbers, one-lookback models."""
    out = {}
    for dataset in sorted({s.dataset for s in selections}):
        ds = [s for s in selections if s.dataset == dataset]
        mine = lambda m: [s for s in ds if s.model == m]
        averages = {m: (average(mine(m), "val"), average(mine(m), "oracle")) for m in sorted({s.model for s in ds})}
        budget = {m: (average(mine(m), "val", budget=True), average(mine(m), "oracle", budget=True))
                  for m, (val, _) in averages.items() if not val.complete}
        out[dataset] = DatasetSummary(
            ds, averages, {m.lower(): p for m, p in reference.get(dataset, {}).items()},
            {s.model for s in ds if len(s.candidates) == 1},
            {m: pair for m, pair in budget.items() if pair[0].complete})
    return out


def answer(selections: list[Selection], reference: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Markdown bullets, per dataset: for the models trained at several input lengths, how much choosing
    the length on test instead of validation lowers the average and where each published average lies;
    for the one-length models, the gap to the published average that selection cannot explain; and the
    first-ranked model three ways. Only models with all four horizons for both selections count."""
    out = []
    for dataset, summary in summaries(selections, reference or {}).items():
        ds, averages, published, single = summary.selections, summary.averages, summary.published, summary.single
        done = {m: (v, o) for m, (v, o) in averages.items() if v.complete and o.complete}
        lacking = sorted(set(averages) - set(done))
        parts = []
        several = [m for m in done if m not in single]
        if several:
            gaps = {m: done[m][0].mse - done[m][1].mse for m in several}
            text = ("choosing the input length on test instead of validation lowers the average test MSE by "
                    + ", ".join(f"{gaps[m]:.4f} ({m})" for m in several))
            where = [f"{m} {published[m].mse:.3f}: {_between(published[m].mse, *(a.mse for a in done[m]))}"
                     for m in several if m in published]
            if where:
                text += "; the published averages lie: " + "; ".join(where)
            parts.append(text)
        one = [m for m in done if m in single and m in published]
        if one:
            parts.append("one input length per horizon in samovar.sh, so no selection over lengths can explain the "
                         "gap to the published average (ours − published): "
                         + ", ".join(f"{m} {done[m][0].mse - published[m].mse:+.3f}" for m in one))
        ranked = [m for m in done if m in published]
        if len(ranked) >= 2:
            first = lambda key: ", ".join(m for m, r in _ranks({m: key(m) for m in ranked}).items() if r == 1)
            parts.append(f"ranked first among {', '.join(ranked)}: published {first(lambda m: published[m].mse)}, "
                         f"oracle {first(lambda m: done[m][1].mse)}, validation {first(lambda m: done[m][0].mse)}")
        capped = [m for m in lacking if any("cost cap" in why for s in ds if s.model == m for why in s.missing.values())]
        # a model can be both: some lengths over the cap, others not run yet (or a horizon without any)
        waiting = [m for m in lacking if m not in capped or any(
            not why.startswith(COST_CAP) for s in ds if s.model == m for why in s.missing.values())
            or len({s.horizon for s in ds if s.model == m} & set(HORIZONS)) < len(HORIZONS)]
        if capped:
            parts.append(f"incomplete because input lengths are over this machine's cost cap (their estimated CPU-hours "
                         f"are in the table): {', '.join(capped)}")
        if summary.budget:
            parts.append("within this machine's budget only (the input lengths that ran; a narrower choice than the "
                         "authors' protocol): " + ", ".join(_budget_text(m, summary) for m in summary.budget))
        if waiting:
            parts.append(f"not yet complete (a lookback or horizon missing): {', '.join(waiting)}")
        out.append(f"- **{dataset}**: " + ("; ".join(parts) if parts else "no model complete yet") + ".")
    return out


def _budget_text(model: str, summary: DatasetSummary) -> str:
    val, oracle = summary.budget[model]
    pub = summary.published.get(model)
    return (f"{model} validation {val.mse:.3f}, oracle {oracle.mse:.3f} among {summary.ran(model)}"
            + (f", published {pub.mse:.3f}" if pub else ""))


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _lookbacks_cell(sel: Selection) -> str:
    done = "/".join(str(lb) for lb in sel.candidates if lb in sel.done) or "none"
    parts = [f"{done} of {'/'.join(map(str, sel.candidates))}"]
    pending = [lb for lb, why in sel.missing.items() if why == NO_RECORD]
    if pending:
        parts.append(f"{NO_RECORD} for " + "/".join(map(str, pending)))
    others = {lb: why for lb, why in sel.missing.items() if why != NO_RECORD}
    if others:
        parts.append("missing " + ", ".join(f"{lb} ({why})" for lb, why in others.items()))
    if sel.excluded:
        parts.append("no window " + "/".join(map(str, sel.excluded)))
    return "; ".join(parts)


def markdown(rows: Iterable[dict[str, Any]], reference: dict[str, dict[str, Any]] | None = None, *,
             title: str = "Seed protocol: lookback chosen on validation vs on test", seed: int | None = None,
             intro: str = "") -> str:
    """The report as markdown: per dataset, a per-horizon table, a table of averages, and the closeness line."""
    selections = select(list(rows), seed=seed)
    reference = reference or {}
    sources: dict[str, int] = {}
    lines = [f"# {title}", ""]
    if intro:
        lines += [intro, ""]
    lines += [
        f"Each (model, dataset, horizon) is trained at every input length of the authors' script. "
        f"**{VAL_LABEL}**: the lookback with the lowest validation MSE and its test MSE/MAE (the honest number). "
        f"**{ORACLE_LABEL}**: the lookback with the lowest test MSE. **published**: the paper's main-table number "
        "(the mean over horizons 96/192/336/720, so it appears with the averages). Ties go to the shorter lookback; "
        "a selection with a lookback not finished is marked incomplete (*), and an average needs all four horizons.",
        "",
    ]
    if not selections:
        return "\n".join(lines + ["No seed-profile cells recorded.", ""])
    lines += ["## The answer, per dataset", "",
              "Computed from the tables below (one seed per cell, the scripts' 2024: differences of the size of "
              "the seed-to-seed spreads in baselines_seeds.md and tuned.md are not meaningful).", "",
              *answer(selections, reference), ""]
    for dataset, summary in summaries(selections, reference).items():
        ds, averages, published = summary.selections, summary.averages, summary.published
        lines += [f"## {dataset}", "",
                  f"| model | H | lookbacks finished | {VAL_LABEL}: L | val MSE | test MSE | test MAE | "
                  f"{ORACLE_LABEL}: L | test MSE |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
        for s in ds:
            star = "" if s.complete else " *"
            val_row = s.done.get(s.val_choice, {}) if s.val_choice is not None else {}
            lines.append(
                f"| {s.model} | {s.horizon} | {_lookbacks_cell(s)} | {s.val_choice or '—'}{star} | "
                f"{_num(val_row.get('val_mse'))} | {_num(s.test_mse('val'))} | {_num(s.test_mae('val'))} | "
                f"{s.oracle_choice or '—'}{star} | {_num(s.test_mse('oracle'))} |")
        lines += ["", f"Averages over horizons {'/'.join(map(str, HORIZONS))} (test):", "",
                  f"| model | {VAL_LABEL}: MSE | MAE | {ORACLE_LABEL}: MSE | published MSE | source |",
                  "|---|---:|---:|---:|---:|---|"]
        for model, (val, oracle) in averages.items():
            pub = published.get(model)

            def shown(avg: Average) -> str:
                if avg.complete:
                    return _num(avg.mse)
                return f"incomplete (complete: {'/'.join(map(str, avg.have)) or 'none'})"

            ref = f"[{sources.setdefault(pub.source, len(sources) + 1)}]" if pub else "not in the reference table"
            lines.append(f"| {model} | {shown(val)} | {_num(val.mae) if val.complete else '—'} | {shown(oracle)} | "
                         f"{_num(pub.mse) if pub else '—'} | {ref} |")
        lines += ["", closeness(averages, published, summary.single), ""]
        lines += ranking(averages, published)
        if summary.budget:
            lines += ["Within this machine's budget: the models above without an average because input lengths are "
                      "over the cost cap, with both choices made among the input lengths that ran. A narrower choice "
                      "than the authors' protocol, so not part of the closeness line or the ranking:", "",
                      f"| model | input lengths that ran | {VAL_LABEL}: MSE | MAE | {ORACLE_LABEL}: MSE | "
                      "published MSE |", "|---|---|---:|---:|---:|---:|"]
            for model, (val, oracle) in summary.budget.items():
                pub = published.get(model)
                lines.append(f"| {model} | {summary.ran(model)} | {_num(val.mse)} | {_num(val.mae)} | "
                             f"{_num(oracle.mse)} | {_num(pub.mse) if pub else '—'} |")
            lines.append("")
    if sources:
        lines += ["Published sources:", ""] + [f"[{n}] {text}" for text, n in sources.items()] + [""]
    return "\n".join(lines)


__all__ = ["Average", "DatasetSummary", "HORIZONS", "ORACLE_LABEL", "Selection", "VAL_LABEL", "average", "closeness", "latest_rows",
           "answer", "markdown", "ranking", "select", "summaries"]
