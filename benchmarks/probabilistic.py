"""Prediction intervals and scores on ETTh1 and Weather: split-conformal 80 % / 95 % intervals for
SAMoVAR, DLinear, FITS and PatchTST at horizons 96 and 720, beside the naive baselines.

    SAMOVAR_DATA_DIR=../shared/data python benchmarks/probabilistic.py train      # the cells, resumable
    SAMOVAR_DATA_DIR=../shared/data python benchmarks/probabilistic.py score      # records, then the table
    python benchmarks/probabilistic.py table                                       # rebuild the table only

`train` runs each cell's `samovar train` command (printed, and stored in its record) into
``<runs-root>/<cell>/`` (default ``~/.cache/samovar/prob-runs/cells``, outside the checkout): a cell
whose run finished is skipped, a killed one resumes from its checkpoint. `score` loads every finished
run, calibrates split-conformal intervals on its validation windows (``samovar.training.intervals``)
and scores them on every test window (coverage and mean width per level), with the point scores of
``samovar.training.metrics.evaluate``; the naive baselines need no training and are scored directly.
Each cell's record is ``benchmarks/results/probabilistic/<cell>.json``; the table is
``docs/results/probabilistic.md``, generated from the records only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _records import git_commit  # noqa: E402  (re-exported: tuned.py and covariates.py import it from here)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "probabilistic"
TABLE = REPO / "docs" / "results" / "probabilistic.md"
RUNS = Path.home() / ".cache" / "samovar" / "prob-runs" / "cells"
LEVELS = (80, 95)
NAIVE = ("naive", "seasonal_naive", "mean", "drift")
NAIVE_LOOKBACK = 336  # covers one season of both datasets' frequencies (24 hourly, 144 ten-minute)

# (model, dataset, horizon, options of `samovar train` beyond the model's default recipe and lookback)
CELLS: list[tuple[str, str, int, tuple[str, ...]]] = [
    # DLinear: the LTSF defaults with the settings of its authors' scripts (ETTh1 lr 0.005; Weather batch 16),
    # which is what its recorded paper recipe amounts to
    ("dlinear", "ETTh1", 96, ("--recipe", "ltsf", "--lookback", "336", "--lr", "0.005")),
    ("dlinear", "ETTh1", 720, ("--recipe", "ltsf", "--lookback", "336", "--lr", "0.005")),
    ("fits", "ETTh1", 96, ()),  # FITS's published ETTh1 recipe (lookback 360)
    ("fits", "ETTh1", 720, ()),
    ("dlinear", "Weather", 96, ("--recipe", "ltsf", "--lookback", "336", "--batch-size", "16")),
    ("dlinear", "Weather", 720, ("--recipe", "ltsf", "--lookback", "336", "--batch-size", "16")),
    ("fits", "Weather", 96, ("--recipe", "ltsf", "--lookback", "720")),  # LTSF defaults at FITS's lookback 720
    ("fits", "Weather", 720, ("--recipe", "ltsf", "--lookback", "720")),
    ("samovar", "ETTh1", 96, ()),  # the paper's recipe and lookback (1024 / 4096)
    ("samovar", "ETTh1", 720, ()),
    # PatchTST's published ETTh1 recipe, its 100 epochs (40 min per cell here) cut to 20
    ("patchtst", "ETTh1", 96, ("--epochs", "20")),
    ("patchtst", "ETTh1", 720, ("--epochs", "20")),
    # Weather with the long models: epochs cut to fit a 2-core CPU (measured on one thread: SAMoVAR 16 min per
    # epoch at 1024 -> 96 and 8 min at 4096 -> 720; the one-cycle schedule spans the cut epochs). PatchTST's
    # published Weather model (d_model 128, 16 heads, batch 128) takes 37-90 s per step here, hours per epoch:
    # the LTSF-default PatchTST (5 min per epoch) stands in for it, 2 epochs.
    ("samovar", "Weather", 720, ("--epochs", "3")),
    ("patchtst", "Weather", 96, ("--recipe", "ltsf", "--lookback", "336", "--epochs", "2")),
    ("samovar", "Weather", 96, ("--epochs", "1")),
    ("patchtst", "Weather", 720, ("--recipe", "ltsf", "--lookback", "336", "--epochs", "2")),
]


def cell_name(model: str, dataset: str, horizon: int) -> str:
    return f"{model}-{dataset}-H{horizon}"


def train_command(model: str, dataset: str, horizon: int, extra: tuple[str, ...], runs_dir: Path) -> list[str]:
    return ["samovar", "train", "--model", model, "--dataset", dataset, "--horizon", str(horizon),
            "--runs-dir", str(runs_dir), "--quiet", "--threads", "1", "--device", "cpu", *extra]


def run_dir_of(root: Path, name: str) -> Path | None:
    """The run directory inside a cell's folder (one per cell), or None before its first start."""
    found = sorted(p for p in (root / name).glob("*/") if (p / "config.json").exists())
    return found[-1] if found else None


def train_cell(root: Path, name: str, command: list[str]) -> bool:
    """Train one cell's run with `command` (a `samovar train ...` list), or resume it from its checkpoint
    if it was killed, on one thread; False (nothing run) if it had already finished."""
    run = run_dir_of(root, name)
    if run is not None and (run / "test_metrics.json").exists():
        return False
    exe = str(Path(sys.executable).with_name("samovar"))
    if run is not None and (run / "checkpoint.pt").exists():
        cmd = [exe, "train", "--resume", str(run), "--quiet", "--threads", "1", "--device", "cpu"]
    else:
        cmd = [exe, *command[1:]]
    print(f"start    {name}: {shlex.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return True


def train(root: Path, only: list[str] | None) -> None:
    """Run every cell's command in turn (skip finished ones, resume killed ones)."""
    for model, dataset, horizon, extra in CELLS:
        name = cell_name(model, dataset, horizon)
        if only and name not in only:
            continue
        if not train_cell(root, name, train_command(model, dataset, horizon, extra, root / name)):
            print(f"done     {name}", flush=True)


def naive_cells() -> list[tuple[str, str, int, tuple[str, ...]]]:
    """The naive baselines on every (dataset, horizon) of CELLS: no training, lookback NAIVE_LOOKBACK."""
    settings = sorted({(d, h) for _, d, h, _ in CELLS})
    return [(m, d, h, ("--lookback", str(NAIVE_LOOKBACK))) for d, h in settings for m in NAIVE]


def score_cell(model: str, dataset: str, horizon: int, extra: tuple[str, ...], run: Path) -> dict[str, Any]:
    """Calibrate a finished run on validation, score intervals and points on every test window."""
    from samovar.training import rundir as rd
    from samovar.training.runs import calibrate_run, evaluate_run, read_run_config, score_run

    calibration = calibrate_run(run, split="val", device="cpu")  # runs trained before intervals existed have none
    scores = score_run(run, split="test", levels=LEVELS, device="cpu")
    val = evaluate_run(run, split="val", device="cpu")
    config = read_run_config(run)
    epochs = rd.read_jsonl(run / rd.METRICS) if (run / rd.METRICS).exists() else []
    best = min(epochs, key=lambda e: e["val_mse"]) if epochs else None
    recipe = config.get("recipe") or {}
    return {
        "cell": cell_name(model, dataset, horizon),
        "model": model, "dataset": dataset, "horizon": horizon,
        "lookback": config["data"]["lookback"],
        "command": shlex.join(train_command(model, dataset, horizon, extra, Path("RUNS") / cell_name(model, dataset, horizon))),
        "recipe": recipe.get("label"),
        "seed": config["train"].get("seed"),
        "epochs_run": len(epochs), "best_epoch": best["epoch"] if best else None,
        "val_mse": best["val_mse"] if best else None,
        "val": val,  # the calibration windows: their errors set the radii
        "test": scores["point"],
        "calibration": {"split": calibration.split, "windows": calibration.windows},
        "intervals": {str(row["level"]): row for row in scores["intervals"]},
        "code_version": git_commit(),
    }


def score(root: Path, only: list[str] | None) -> None:
    """Score every finished cell (the naive ones are trained, instantly, first) and write its record."""
    from samovar.utils import write_json_atomic

    for model, dataset, horizon, extra in CELLS + naive_cells():
        name = cell_name(model, dataset, horizon)
        if only and name not in only:
            continue
        if model in NAIVE and run_dir_of(root, name) is None:
            subprocess.run([str(Path(sys.executable).with_name("samovar")),
                            *train_command(model, dataset, horizon, extra, root / name)[1:]], check=True)
        run = run_dir_of(root, name)
        if run is None or not (run / "test_metrics.json").exists():
            print(f"not finished: {name}", flush=True)
            continue
        record = score_cell(model, dataset, horizon, extra, run)
        write_json_atomic(RESULTS / f"{name}.json", record)
        iv = record["intervals"]
        print(f"scored   {name}: test MSE {record['test']['mse']:.4f}, coverage 80 {iv['80']['coverage']:.3f} "
              f"95 {iv['95']['coverage']:.3f}", flush=True)


def _fmt(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def recipe_label(record: dict[str, Any]) -> str:
    """The recipe a cell trained with, as its command gave it: the base recipe and every option over it."""
    if not record["epochs_run"]:
        return "none (no parameters)"
    base = "paper" if (record.get("recipe") or "").startswith("paper") else "LTSF default"
    words = shlex.split(record["command"])
    shown = {"--lr": "lr", "--batch-size": "batch", "--epochs": "epochs"}
    options = [f"{shown[w]} {words[i + 1]}" for i, w in enumerate(words[:-1]) if w in shown]
    return ", ".join([base, *options])


def summary(records: list[dict[str, Any]]) -> list[str]:
    """Plain-words findings computed from the records: coverage against nominal, and the val/test shift."""
    if not records:
        return []
    lines = ["## Findings (computed from the records below)", ""]
    for level in ("80", "95"):
        cover = [100 * r["intervals"][level]["coverage"] for r in records]
        near = sum(abs(c - int(level)) <= 3 for c in cover)
        lines.append(f"- {level} % intervals: test coverage {min(cover):.1f}–{max(cover):.1f} % over {len(cover)} cells; "
                     f"{near} of them within 3 points of nominal.")
    over = [r for r in records if r["intervals"]["80"]["coverage"] > 0.83]
    shifted = [r for r in over if r["val"]["mse"] > r["test"]["mse"]]
    lines.append(f"- {len(over)} cells over-cover at 80 % by more than 3 points; in {len(shifted)} of them the "
                 "calibration (validation) MSE exceeds the test MSE: the validation period is harder to forecast "
                 "than the test period, so its error quantiles are too wide for test. Split-conformal coverage is "
                 "guaranteed only when calibration and test windows are exchangeable; a shift between the two "
                 "periods breaks that, in either direction.")
    under = [r for r in records if r["intervals"]["80"]["coverage"] < 0.77]
    if under:
        lines.append("- Under-coverage at 80 % (more than 3 points below): "
                     + ", ".join(f"{r['cell']} ({100 * r['intervals']['80']['coverage']:.1f} %)" for r in under) + ".")
    return lines + [""]


def write_table(results: Path = RESULTS, out: Path = TABLE) -> str:
    """docs/results/probabilistic.md from the records in `results` (nothing else is read)."""
    from samovar.utils import write_text_atomic

    records = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    order = {m: i for i, m in enumerate(("samovar", "patchtst", "fits", "dlinear", *NAIVE))}
    records.sort(key=lambda r: (r["dataset"], r["horizon"], order.get(r["model"], 99)))
    lines = [
        "# Prediction intervals and scores (ETTh1, Weather)",
        "",
        "Generated by `python benchmarks/probabilistic.py table` from `benchmarks/results/probabilistic/*.json`;",
        "do not edit by hand. Each trained cell is one run of the `samovar train` command in its record",
        "(one seed); split-conformal intervals are calibrated on the run's validation windows and scored on",
        "**every** test window. Coverage: the share of test values inside the interval, in % (nominal 80 / 95).",
        "Width: the mean interval width on the standardized scale (train-split standard deviations).",
        "MSE, MAE: standardized scale; MASE: against the in-sample seasonal-naive error of the training rows.",
        "val MSE: the same model's MSE on the calibration (validation) windows: where it is above the test MSE,",
        "the validation errors are larger than the test errors and the intervals over-cover on test, and the reverse.",
        "",
        *summary(records),
    ]
    missing = [cell_name(m, d, h) for m, d, h, _ in CELLS
               if not any(r["cell"] == cell_name(m, d, h) for r in records)]
    for dataset in sorted({r["dataset"] for r in records}):
        for horizon in sorted({r["horizon"] for r in records if r["dataset"] == dataset}):
            rows = [r for r in records if r["dataset"] == dataset and r["horizon"] == horizon]
            lines += [f"## {dataset}, horizon {horizon}", "",
                      "| model | lookback | recipe | MSE | MAE | MASE | val MSE | cover 80 | width 80 | cover 95 | width 95 |",
                      "|---|---|---|---|---|---|---|---|---|---|---|"]
            for r in rows:
                iv, t = r["intervals"], r["test"]
                lines.append(
                    f"| {r['model']} | {r['lookback']} | {recipe_label(r)} | {_fmt(t['mse'])} | {_fmt(t['mae'])} | "
                    f"{_fmt(t.get('mase'))} | {_fmt(r['val']['mse'])} | {_pct(iv['80']['coverage'])} | {_fmt(iv['80']['width'])} | "
                    f"{_pct(iv['95']['coverage'])} | {_fmt(iv['95']['width'])} |")
            lines.append("")
    if missing:
        lines += ["## Not measured yet", "",
                  "These cells of `CELLS` in the script have no record: " + ", ".join(f"`{m}`" for m in missing) + ".", ""]
    text = "\n".join(lines)
    write_text_atomic(out, text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("train", "score", "table"))
    parser.add_argument("--runs-root", type=Path, default=RUNS, help="Where the cells' run directories live.")
    parser.add_argument("--cells", default=None, help="Comma-separated cell names (model-dataset-H<h>); default: all.")
    args = parser.parse_args(argv)
    only = args.cells.split(",") if args.cells else None
    if args.action == "train":
        train(args.runs_root, only)
    if args.action == "score":
        score(args.runs_root, only)
    print(write_table())


if __name__ == "__main__":
    main()
