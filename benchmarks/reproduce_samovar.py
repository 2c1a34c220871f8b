"""Reproduce SAMoVAR, LinTrans and FixedVAR (Lu & Yang 2025, arXiv 2502.07244) on ETTh1/ETTh2.

    .venv/bin/python benchmarks/reproduce_samovar.py --models samovar --datasets ETTh1 --horizons 96
    .venv/bin/python benchmarks/reproduce_samovar.py                 # the full 3 x 2 x 4 grid
    .venv/bin/python benchmarks/reproduce_samovar.py --table-only    # rebuild the table

Each (model, dataset, horizon) cell trains once with the authors' recipe and writes one JSON
file, ``benchmarks/results/samovar/<model>_<dataset>_h<H>.json`` (atomically). A cell whose
JSON exists is skipped; a cell interrupted mid-training resumes from its run directory
(``runs/<cell>/`` beside the JSON files, removed when the cell is done). After every cell
``docs/results/samovar.md`` is rewritten.

The recipe is the authors' (samovar.sh, run_longExp.py, exp/exp_main.py): lookback
1024/2048/2048/4096 for horizons 96/192/336/720, batch 32, AdamW (lr 6e-4, betas (0.9, 0.95),
weight decay 0.1), torch's OneCycleLR stepped per batch over 100 + 1 epochs (5% warm-up,
div_factor 10, linear annealing), gradient clipping at norm 1, early stopping with patience
12 on validation MSE, seed 2024, bf16 autocast for the matmuls (their --use_amp), every
training window used (the last batch is partial); the values come from
``samovar.models.samovar.SAMoVAR.paper_training_config``. Each cell is ``samovar.training.runs.fit_run``
with that recipe, on the CPU, and as the authors' loop dropout draws on from the seeded model
init (``TrainConfig.reseed=False``); the diagnostics are trainer options: the test MSE of every
epoch (``test_each_epoch``, on by default here) and the clip of the authors' GPU runs
(``--gradscaler-clip``: ``grad_clip_before_unscale``). Metrics are
``samovar.training.metrics.evaluate`` (every window, standardized scale).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from samovar.data import prepare_data
from samovar.models.samovar import SAMoVAR
from samovar.training import TrainConfig
from samovar.training import rundir as rd
from samovar.training.runs import evaluate_run, fit_run
from samovar.utils import keep_freed_memory, next_time_of_day, write_json_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _blocks
from _records import git_commit  # noqa: E402
RESULTS = REPO / "benchmarks" / "results" / "samovar"
TABLE = REPO / "docs" / "results" / "samovar.md"
MODELS = ["samovar", "lintrans", "fixedvar"]
DATASETS = ["ETTh1", "ETTh2"]
HORIZONS = [96, 192, 336, 720]

# The paper's average test MSE over the four horizons (Lu & Yang 2025, transcribed from the paper's main table).
PAPER_AVG_MSE = {
    ("samovar", "ETTh1"): 0.401, ("samovar", "ETTh2"): 0.324,
    ("lintrans", "ETTh1"): 0.419, ("lintrans", "ETTh2"): 0.346,
    ("fixedvar", "ETTh1"): 0.564, ("fixedvar", "ETTh2"): 0.391,
}  # fmt: skip
# The authors' own code run on this machine's CPU: the records of benchmarks/authors_reference.py.
AUTHORS_RECORDS = REPO / "benchmarks" / "results" / "authors_reference"


def authors_code_here(directory: Path = AUTHORS_RECORDS) -> dict[tuple[str, str, int], tuple[int, float, float]]:
    """(model, dataset, horizon) -> (lookback, test MSE, test MAE) of each recorded run of the authors' code."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        rec = json.loads(path.read_text())
        s = rec["settings"]
        out[("samovar", s["data"], int(s["pred_len"]))] = (int(s["seq_len"]), rec["test_mse"], rec["test_mae"])
    return out


def recipe(dataset: str, horizon: int) -> dict:
    """The authors' settings for one cell: the model's ``paper_training_config`` plus its lookback."""
    return {**SAMoVAR.paper_training_config(dataset), "lookback": SAMoVAR.default_lookback(horizon)}


def train_config(rec: dict, args: argparse.Namespace) -> TrainConfig:
    """The trainer's options for a cell with recipe `rec`: the recipe, capped at ``--max-epochs`` (the
    one-cycle schedule still spans the recipe's epochs), on the CPU, dropout drawing on from the model's
    init, and the diagnostics asked for."""
    options = {k: v for k, v in rec.items() if k != "lookback"}
    epochs = args.max_epochs or rec["epochs"]
    return TrainConfig(**{**options, "epochs": epochs,
                          "schedule_extra_epochs": rec["epochs"] + rec["schedule_extra_epochs"] - epochs},
                       device="cpu", threads=args.threads, quiet=True, reseed=False,
                       test_each_epoch=args.test_each_epoch, grad_clip_before_unscale=args.gradscaler_clip)


def cell_path(name: str, dataset: str, horizon: int) -> Path:
    return RESULTS / f"{name}_{dataset}_h{horizon}.json"


def cell_run_dir(name: str, dataset: str, horizon: int) -> Path:
    """The trainer's run directory of an unfinished cell (config, metrics, checkpoint)."""
    return RESULTS / "runs" / cell_path(name, dataset, horizon).stem


def run_cell(name: str, dataset: str, horizon: int, args: argparse.Namespace, log) -> dict:
    """Train one model with the authors' recipe (resuming from its run directory); return the record."""
    rec = recipe(dataset, horizon)
    started_at_commit = git_commit()  # the code this process imported (HEAD may move during a long run)
    config = train_config(rec, args)
    lookback = args.lookback or rec["lookback"]
    data = prepare_data(dataset, lookback=lookback, horizon=horizon, data_dir=args.data_dir)
    run_dir = cell_run_dir(name, dataset, horizon)
    resume = (run_dir / rd.CHECKPOINT).exists()
    if resume:
        log(f"  resuming {run_dir}")

    def log_epoch(row: dict) -> None:
        log(f"  {name} {dataset} H={horizon} epoch {row['epoch']}: train {row['train_loss']:.4f} val {row['val_mse']:.4f} "
            f"lr {row['lr']:.2e} ({row['train_seconds']:.0f}s train, {row['seconds']:.0f}s total){' *' if row['best'] else ''}")

    hyper = {"bf16": args.bf16}
    result, _ = fit_run(name, dataset, horizon=horizon, lookback=lookback, model_kwargs=hyper, config=config,
                        data_dir=args.data_dir, run_dir=run_dir, on_epoch_end=log_epoch, resume=resume, data=data)
    history = result.history
    return {
        "model": name, "dataset": dataset, "horizon": horizon, "lookback": lookback, "hyper": hyper,
        "recipe": {**rec, "epochs_cap": config.epochs}, "train_config": config.to_dict(),
        "val_mse": result.best_val_mse, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early, "test": result.test_metrics,
        "train_seconds_per_epoch": round(sum(r["train_seconds"] for r in history) / len(history), 2),
        "seconds": round(sum(r["seconds"] for r in history), 1),
        "steps_per_epoch": math.ceil(len(data.train) / config.batch_size), "history": history,
        "parameters": result.model.num_parameters(), "threads": config.threads,
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": started_at_commit, "git_commit_at_finish": git_commit(),
        "python": platform.python_version(), "torch": torch.__version__,
    }


def evaluate_checkpoint(name: str, dataset: str, horizon: int, args: argparse.Namespace) -> dict | None:
    """Test metrics of the best epoch so far of an unfinished cell (its run directory); writes nothing."""
    run_dir = cell_run_dir(name, dataset, horizon)
    if not (run_dir / rd.CHECKPOINT).exists():
        return None
    ckpt = rd.load_checkpoint(run_dir / rd.CHECKPOINT)
    return {"epochs_run": ckpt["epoch"], "best_epoch": ckpt["best_epoch"], "best_val": ckpt["best_val"],
            "bad_epochs": ckpt["bad_epochs"], "test": evaluate_run(run_dir, data_dir=args.data_dir, device="cpu"),
            "history": ckpt["history"]}


def _fmt(v, digits=4):
    return "—" if v is None else f"{v:.{digits}f}"


def _epoch_test_mse(row: dict) -> float | None:
    """An epoch's diagnostic test MSE: the trainer's ``test_mse``; records written by this script's own
    training loop (before it ran the trainer) name it ``test_mse_diagnostic``."""
    return row.get("test_mse", row.get("test_mse_diagnostic"))


def _diagnostic_min_test(r: dict) -> str:
    """The lowest per-epoch test MSE and its epoch, when recorded (--test-each-epoch); never a result."""
    diag = [(_epoch_test_mse(h), h["epoch"]) for h in r["history"] if _epoch_test_mse(h) is not None]
    if not diag:
        return "not recorded"
    mse, epoch = min(diag)
    return f"{mse:.4f} ({epoch})"


README = REPO / "README.md"
BEGIN = "<!-- samovar-grid:begin (python benchmarks/reproduce_samovar.py --table-only) -->"
END = "<!-- samovar-grid:end -->"
NAMES = {"samovar": "SAMoVAR", "lintrans": "LinTrans", "fixedvar": "FixedVAR"}


def load_cells(directory: Path | None = None) -> dict[tuple[str, str, int], dict]:
    done = {}
    for path in sorted((directory or RESULTS).glob("*.json")):
        r = json.loads(path.read_text())
        done[(r["model"], r["dataset"], r["horizon"])] = r
    return done


def readme_block(done: dict[tuple[str, str, int], dict]) -> str:
    """The README's grid table (test MSE per cell, the average over the four horizons beside the paper's) and
    the ranking of the averages per dataset, from the cell records."""
    lines = [BEGIN, "", "| model | dataset | 96 | 192 | 336 | 720 | average | paper average |", "|---|---|---|---|---|---|---|---|"]
    averages: dict[tuple[str, str], float] = {}
    for name in MODELS:
        for dataset in DATASETS:
            cells = [done.get((name, dataset, h)) for h in HORIZONS]
            if all(c is None for c in cells):
                continue
            if all(c is not None for c in cells):
                averages[(name, dataset)] = sum(c["test"]["mse"] for c in cells) / len(cells)
            mean = averages.get((name, dataset))
            lines.append(f"| {NAMES[name]} | {dataset} | "
                         + " | ".join("not run" if c is None else f"{c['test']['mse']:.4f}" for c in cells)
                         + f" | {'–' if mean is None else f'{mean:.3f}'} | {PAPER_AVG_MSE[(name, dataset)]:.3f} |")
    ranked = []
    for dataset in DATASETS:
        have = sorted((averages[(n, dataset)], n) for n in MODELS if (n, dataset) in averages)
        if len(have) == len(MODELS):
            ranked.append(f"{dataset}: " + " < ".join(f"{NAMES[n]} ({m:.3f})" for m, n in have))
    gaps = {n: [f"{d} {averages[(n, d)] - PAPER_AVG_MSE[(n, d)]:+.3f}" for d in DATASETS if (n, d) in averages]
            for n in MODELS}
    if ranked:
        lines += ["", "Averages over the four horizons, ranked (the paper's order is SAMoVAR < LinTrans < FixedVAR): "
                  + "; ".join(ranked) + "."]
    if any(gaps.values()):
        lines += ["Average minus the paper's: " + "; ".join(f"{NAMES[n]} " + ", ".join(v) for n, v in gaps.items() if v) + "."]
    lines += ["", END]
    return "\n".join(lines)


def write_readme(readme: Path | None = None) -> str:
    from _blocks import replace_block

    path = readme or README
    block = readme_block(load_cells())
    write_text_atomic(path, replace_block(path.read_text(), BEGIN, END, block, str(path), error=SystemExit))
    return block


def write_table() -> str:
    """Rebuild docs/results/samovar.md from every cell JSON present."""
    done = {}
    for path in sorted(RESULTS.glob("*.json")):
        r = json.loads(path.read_text())
        done[(r["model"], r["dataset"], r["horizon"])] = r
    rows = []
    authors = authors_code_here()
    for (name, dataset, horizon), r in sorted(done.items(), key=lambda kv: (MODELS.index(kv[0][0]), kv[0][1], kv[0][2])):
        ref = authors.get((name, dataset, horizon))
        ref = ref[1:] if ref and ref[0] == r["lookback"] else None  # the same cell only
        capped = r["recipe"]["epochs_cap"] < r["recipe"]["epochs"]
        rows.append(
            f"| {name} | {dataset} | {horizon} | {r['lookback']} | {r['val_mse']:.4f} | **{r['test']['mse']:.4f}** | "
            f"**{r['test']['mae']:.4f}** | {_fmt(ref and ref[0])} | {_fmt(ref and ref[1])} | {r['best_epoch']}/{r['epochs_run']}"
            f"{' (capped)' if capped else ''} | {r['train_seconds_per_epoch']:.1f} | "
            f"{r['seconds'] / 60:.1f} | {_diagnostic_min_test(r)} |"
        )
    avg_rows = []
    for name in MODELS:
        for dataset in DATASETS:
            cells = [done.get((name, dataset, h)) for h in HORIZONS]
            have = [c for c in cells if c is not None]
            if not have:
                continue
            mean = sum(c["test"]["mse"] for c in have) / len(have)
            paper = PAPER_AVG_MSE[(name, dataset)]
            complete = len(have) == len(HORIZONS)
            avg_rows.append(
                f"| {name} | {dataset} | {len(have)}/4 | {mean:.4f}{'' if complete else ' (mean of the horizons done; not comparable)'} | "
                f"{paper:.3f} | {f'{mean - paper:+.4f}' if complete else '—'} | "
                f"{('yes' if mean - paper <= 0.01 else 'no') if complete else '—'} |"
            )
    lines = [
        "# SAMoVAR, LinTrans and FixedVAR: our runs against the paper",
        "",
        "Generated by `benchmarks/reproduce_samovar.py` from `benchmarks/results/samovar/*.json`. Multivariate "
        "forecasting, the standard ETT splits (12/4/4 months), train-only standardization, metrics on the "
        "standardized scale over every test window. Authors' recipe: lookback 1024/2048/2048/4096, batch 32, "
        "AdamW 6e-4 (betas 0.9/0.95, weight decay 0.1), linear one-cycle over 101 epochs, clip 1, patience 12, "
        "seed 2024, bf16 autocast for the matmuls; one seed; CPU, one thread, on a shared 2-core machine "
        "(wall times depend on the load of the other jobs). The authors' code columns: its runs on this machine "
        "recorded in `benchmarks/results/authors_reference/` (`benchmarks/authors_reference.py`; their per-epoch "
        "tables and times are in docs/samovar.md).",
        "",
        "## Cells",
        "",
        "| model | dataset | horizon | lookback | best val MSE | test MSE | test MAE | authors' code here: MSE | MAE | "
        "best epoch / epochs run | train s/epoch (ours) | wall (min) | "
        "diagnostic: lowest test MSE of any epoch (epoch) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## Averages over horizons 96/192/336/720 against the paper",
        "",
        "Target: SAMoVAR within +0.01 of the paper, and SAMoVAR < LinTrans < FixedVAR.",
        "",
        "| model | dataset | horizons done | our mean test MSE | paper | Δ | within +0.01 |",
        "|---|---|---|---|---|---|---|",
        *avg_rows,
        "",
    ]
    missing = [f"{n} {d} H={h}" for n in MODELS for d in DATASETS for h in HORIZONS if (n, d, h) not in done]
    if missing:
        lines += ["Not run yet (CPU budget): " + ", ".join(missing) + ".", ""]
    text = "\n".join(lines)
    write_text_atomic(TABLE, text)
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma list from {MODELS}")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--horizons", default=",".join(map(str, HORIZONS)))
    parser.add_argument("--data-dir", default=os.environ.get("SAMOVAR_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in float32 instead of bf16 autocast")
    parser.add_argument("--gradscaler-clip", action="store_true",
                        help="clip as the authors' GPU runs did (at clip / GradScaler scale; "
                         "TrainConfig.grad_clip_before_unscale)")
    parser.add_argument("--no-test-each-epoch", dest="test_each_epoch", action="store_false",
                        help="do not record the (diagnostic, never used for selection) test MSE of every epoch")
    parser.add_argument("--lookback", type=int, default=None,
                        help="override the paper's lookback (an experiment, not the recipe: needs --results-dir)")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap the epochs (a smoke run; marked in the table)")
    parser.add_argument("--table-only", action="store_true", help="only rebuild docs/results/samovar.md")
    parser.add_argument("--stop-after", default=None, help="UTC HH:MM (its next occurrence) after which no new cell starts")
    parser.add_argument("--results-dir", default=None, help="write cells and the table here instead (smoke runs)")
    parser.add_argument("--evaluate-checkpoint", action="store_true",
                        help="print the test metrics of the best epoch so far of unfinished cells (writes nothing)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.results_dir:
        global RESULTS, TABLE
        RESULTS = Path(args.results_dir)
        TABLE = RESULTS / "samovar.md"
    if args.lookback and not args.results_dir:
        parser.error("--lookback departs from the paper's recipe: write such runs elsewhere with --results-dir")
    if args.table_only:
        print(write_table())
        if not args.results_dir:
            write_readme()
        return
    names = [n.strip().lower() for n in args.models.split(",") if n.strip()]
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    horizons = [int(h) for h in args.horizons.split(",")]
    for bad, allowed, what in ((set(names) - set(MODELS), MODELS, "model"), (set(datasets) - set(DATASETS), DATASETS, "dataset"),
                               (set(horizons) - set(HORIZONS), HORIZONS, "horizon")):
        if bad:
            parser.error(f"unknown {what}(s) {sorted(bad)}; choose from {allowed}")
    try:
        deadline = next_time_of_day(args.stop_after, datetime.now(timezone.utc)) if args.stop_after else None
    except ValueError as err:
        parser.error(f"--stop-after: {err}")
    torch.set_num_threads(args.threads)
    print(f"glibc keeps freed memory: {keep_freed_memory()}", flush=True)
    if args.evaluate_checkpoint:
        for name in names:
            for dataset in datasets:
                for horizon in horizons:
                    r = evaluate_checkpoint(name, dataset, horizon, args)
                    if r is not None:
                        print(f"{name} {dataset} H={horizon} (unfinished: {r['epochs_run']} epochs, best epoch "
                              f"{r['best_epoch']} val {r['best_val']:.4f}, {r['bad_epochs']} epochs without improvement): "
                              f"test MSE {r['test']['mse']:.4f} MAE {r['test']['mae']:.4f}")
        return

    def log(msg: str) -> None:
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {msg}", flush=True)

    for name in names:
        for dataset in datasets:
            for horizon in horizons:
                path = cell_path(name, dataset, horizon)
                if path.exists():
                    log(f"skip {path.name} (done)")
                    continue
                if deadline is not None and datetime.now(timezone.utc) >= deadline:
                    log(f"stop: it is past {args.stop_after} UTC")
                    print(write_table())
                    return
                log(f"run {name} {dataset} H={horizon}")
                record = run_cell(name, dataset, horizon, args, log)
                write_json_atomic(path, record)
                shutil.rmtree(cell_run_dir(name, dataset, horizon))
                log(f"done {name} {dataset} H={horizon}: test MSE {record['test']['mse']:.4f} MAE {record['test']['mae']:.4f}")
                write_table()
    print(write_table())


if __name__ == "__main__":
    main()
