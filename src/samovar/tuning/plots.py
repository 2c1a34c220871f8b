"""Plots of recorded tune trials (matplotlib, Agg): the lookback curve and the optimisation history.

Both read the results database's ``tune_trials`` rows, so they can be drawn any time after
(or during) a search: ``samovar tune report --out DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..bench.db import ResultsDB


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(plt: Any, fig: Any, path: Path) -> Path:
    """Write `fig` to `path` atomically (format from the suffix) and close it."""
    from ..utils import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=110)
    plt.close(fig)
    return path


def draw_lookback_curve(ax: Any, rows: list[dict[str, Any]], title: str = "lookback curve (validation only)") -> None:
    """On `ax`: the best validation MSE at each lookback, one line per model (and dataset/horizon); completed
    trials as dots. Rows need model, dataset, horizon, lookback, state and val_mse."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["state"] == "complete" and r["val_mse"] is not None:
            groups.setdefault(f"{r['model']} {r['dataset']} H{r['horizon']}", []).append(r)
    for label, members in sorted(groups.items()):
        best: dict[int, float] = {}
        for r in members:
            best[r["lookback"]] = min(best.get(r["lookback"], float("inf")), r["val_mse"])
        xs = sorted(best)
        line, = ax.plot(xs, [best[x] for x in xs], marker="o", label=label)
        ax.scatter([r["lookback"] for r in members], [r["val_mse"] for r in members], s=10, alpha=0.35,
                   color=line.get_color())
    ax.set_xscale("log", base=2)
    ticks = sorted({r["lookback"] for members in groups.values() for r in members})
    ax.set_xticks(ticks, [str(t) for t in ticks], rotation=45)
    ax.minorticks_off()
    ax.set_xlabel("lookback")
    ax.set_ylabel("validation MSE (best trial at the lookback)")
    ax.set_title(title)
    if groups:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def lookback_curve(rows: list[dict[str, Any]], path: Path) -> Path:
    """`draw_lookback_curve` of every row in one figure, written to `path`."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    draw_lookback_curve(ax, rows)
    return save(plt, fig, path)


def draw_history(ax: Any, rows: list[dict[str, Any]], title: str) -> None:
    """On `ax`: the validation MSE of every trial by number (pruned: the best epoch before pruning), the best
    so far, and trial 0 (the published recipe). Rows need number, state and val_mse."""
    rows = sorted((r for r in rows if r["val_mse"] is not None), key=lambda r: r["number"])
    for state, marker in (("complete", "o"), ("pruned", "x")):
        chosen = [r for r in rows if r["state"] == state]
        ax.scatter([r["number"] for r in chosen], [r["val_mse"] for r in chosen], marker=marker, label=state, s=22)
    done = [r for r in rows if r["state"] == "complete"]
    if done:
        best, xs, ys = float("inf"), [], []
        for r in done:
            best = min(best, r["val_mse"])
            xs.append(r["number"])
            ys.append(best)
        ax.step(xs, ys, where="post", color="black", label="best so far")
    published = [r for r in rows if r["number"] == 0 and r["state"] != "failed"]
    if published:
        ax.axhline(published[0]["val_mse"], color="gray", linestyle=":", label="trial 0 (published recipe)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("trial")
    ax.set_ylabel("validation MSE")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def history(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """`draw_history` of one study's rows, written to `path`."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    draw_history(ax, rows, title)
    return save(plt, fig, path)


def write_plots(db: ResultsDB, out: str | Path, *, study: str | None = None) -> list[Path]:
    """lookback_curve.png over the chosen trials and history-<study>.png for each study; the paths written."""
    rows = db.tune_rows(study=study, kind="trial")
    if not rows:
        which = f" of study {study}" if study else ""
        raise ValueError(f"{db.path} holds no tune trials{which}; run `samovar tune` first")
    out = Path(out)
    paths = [lookback_curve(rows, out / "lookback_curve.png")]
    for name in sorted({r["study"] for r in rows}):
        paths.append(history([r for r in rows if r["study"] == name], out / f"history-{name}.png", name))
    return paths
