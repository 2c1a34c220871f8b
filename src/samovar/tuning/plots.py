"""Plots of recorded tune trials (matplotlib, Agg): the lookback curve and the optimisation history.

Both read the results database's ``tune_trials`` rows, so they can be drawn any time after
(or during) a search: ``samovar tune report --out DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..bench.db import ResultsDB


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    from ..utils import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=110)
    plt.close(fig)
    return path


def lookback_curve(rows: list[dict[str, Any]], path: Path) -> Path:
    """Best validation MSE at each lookback, one line per model (and dataset/horizon); completed trials as dots."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
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
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("lookback")
    ax.set_ylabel("validation MSE (best trial at the lookback)")
    ax.set_title("lookback curve (validation only)")
    if groups:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(plt, fig, path)


def history(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Validation MSE of every trial by number (pruned: the best epoch before pruning) and the best so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
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
    return _save(plt, fig, path)


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
