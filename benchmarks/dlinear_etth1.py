"""Reproduce DLinear on ETTh1 (Zeng et al., AAAI 2023, Table 3): lookback 336, horizons 96-720.

The paper's recipe (cure-lab/LTSF-Linear, scripts/EXP-LongForecasting/Linear/etth1.sh and
run_longExp.py defaults): Adam, lr 0.005 halved every epoch, batch 32, at most 10 epochs,
early stopping with patience 3 on validation MSE, shared (not individual) heads, kernel 25.
Each run goes through `samovar.training.runs.fit_run`, exactly what
``samovar train --model dlinear --dataset ETTh1 --horizon H --lr 0.005 --seed S`` does.

Test metrics use every test window. The original test loader used drop_last=True (batch 32),
which skips the last n mod 32 windows; the table also shows the MSE over those windows only.

    python benchmarks/dlinear_etth1.py                       # 4 horizons x seeds 2021,1,2,3,4
    python benchmarks/dlinear_etth1.py --horizons 96 --seeds 2021
    python benchmarks/dlinear_etth1.py --record benchmarks/results/dlinear_etth1/patience3.json   # also write the runs
    python benchmarks/dlinear_etth1.py --table        # the README and docs/training.md blocks from benchmarks/results/dlinear_etth1/*.json

The records of the table in the README are benchmarks/results/dlinear_etth1/patience3.json (4 horizons x
5 seeds) and patience10.json (`--patience 10`, seeds 2021 and 1), each with its command and conditions.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from samovar.data import WindowSet
from samovar.training import TrainConfig, evaluate
from samovar.training.runs import fit_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block  # noqa: E402
from _timing import timed_call  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "benchmarks" / "results" / "dlinear_etth1"
BEGIN = "<!-- dlinear-etth1:begin (python benchmarks/dlinear_etth1.py --table) -->"
END = "<!-- dlinear-etth1:end -->"
TRAINING_BEGIN = "<!-- dlinear-etth1-runs:begin (python benchmarks/dlinear_etth1.py --table) -->"
TRAINING_END = "<!-- dlinear-etth1-runs:end -->"
PATIENCE_BEGIN = "<!-- dlinear-etth1-patience:begin (python benchmarks/dlinear_etth1.py --table) -->"
PATIENCE_END = "<!-- dlinear-etth1-patience:end -->"
PAPER = {96: (0.375, 0.399), 192: (0.405, 0.416), 336: (0.439, 0.443), 720: (0.472, 0.490)}  # (MSE, MAE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2021, 1, 2, 3, 4])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience (the paper: 3)")
    parser.add_argument("--record", default=None, help="also write the runs to this JSON record")
    parser.add_argument("--table", action="store_true",
                        help="train nothing: rewrite the README block from the records in benchmarks/results/dlinear_etth1/")
    parser.add_argument("--readme", default=str(REPO / "README.md"))
    parser.add_argument("--training-doc", default=str(REPO / "docs" / "training.md"))
    args = parser.parse_args()
    if args.table:
        records = load_records(RECORDS)
        readme = Path(args.readme)
        block = table(records)
        readme.write_text(replace_block(readme.read_text(), BEGIN, END, block, str(readme), error=SystemExit))
        doc = Path(args.training_doc)
        text = replace_block(doc.read_text(), TRAINING_BEGIN, TRAINING_END, training_block(records[3]), str(doc),
                             error=SystemExit)
        if 10 in records:
            text = replace_block(text, PATIENCE_BEGIN, PATIENCE_END, patience_block(records[10]), str(doc),
                                 error=SystemExit)
        doc.write_text(text)
        print(block)
        return
    torch.set_num_threads(args.threads)

    print(f"DLinear on ETTh1, lookback 336, lr 0.005, batch 32, <=10 epochs, patience {args.patience}; torch {torch.__version__}, "
          f"{args.threads} thread(s)\n")
    header = f"{'H':>4} {'seed':>5} {'epochs':>6} {'best':>4} {'test MSE':>9} {'test MAE':>9} {'MSE drop_last':>13} {'windows':>8} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    summary = {}
    runs = []
    for horizon in args.horizons:
        rows = []
        for seed in args.seeds:
            config = TrainConfig(lr=0.005, batch_size=32, epochs=10, patience=args.patience, schedule="type1", seed=seed,
                                 threads=args.threads, quiet=True)
            (result, data), run = timed_call(lambda: fit_run("dlinear", "ETTh1", horizon=horizon, lookback=336,  # noqa: B023
                                                             config=config, data_dir=args.data_dir))
            seconds = run.median()  # wall time of the whole run, data loading included
            test = data.test
            kept = len(test) - len(test) % 32  # what a drop_last=True loader with batch 32 evaluates
            subset = WindowSet(data.scaled, test.start, test.start + kept + 336 + horizon - 1, 336, horizon)
            dropped_mse = evaluate(result.model, subset)["mse"]
            m = result.test_metrics
            rows.append((m["mse"], m["mae"], dropped_mse, seconds))
            runs.append({"horizon": horizon, "seed": seed, "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                         "test_mse": m["mse"], "test_mae": m["mae"], "test_mse_drop_last": dropped_mse,
                         "test_windows": m["windows"], "wall_seconds": seconds})
            print(run_line(runs[-1]), flush=True)
        summary[horizon] = rows

    print("\n" + "\n".join(summary_lines(runs)))


    if args.record:
        write_record(args, runs)


def run_line(run: dict) -> str:
    """One run as the script prints it (horizon, seed, epochs, best epoch, test MSE/MAE, drop_last MSE, windows, s)."""
    return (f"{run['horizon']:>4} {run['seed']:>5} {run['epochs_run']:>6} {run['best_epoch']:>4} {run['test_mse']:>9.4f} "
            f"{run['test_mae']:>9.4f} {run['test_mse_drop_last']:>13.4f} {run['test_windows']:>8} {run['wall_seconds']:>8.1f}")


def summary_lines(runs: list[dict]) -> list[str]:
    """The printed summary: mean +- std over the seeds per horizon, beside the paper."""
    lines = ["summary (mean +- std over seeds)",
             f"{'H':>4} {'test MSE':>16} {'test MAE':>16} {'paper MSE':>9} {'paper MAE':>9} {'MSE drop_last':>13} {'s/run':>6}"]
    for horizon in dict.fromkeys(r["horizon"] for r in runs):
        cols = [[r[k] for r in runs if r["horizon"] == horizon]
                for k in ("test_mse", "test_mae", "test_mse_drop_last", "wall_seconds")]
        sd = (lambda v: statistics.stdev(v)) if len(cols[0]) > 1 else (lambda v: 0.0)
        lines.append(f"{horizon:>4} {statistics.mean(cols[0]):>9.4f} +- {sd(cols[0]):.4f} {statistics.mean(cols[1]):>9.4f} "
                     f"+- {sd(cols[1]):.4f} {PAPER.get(horizon, ('-', '-'))[0]:>9} {PAPER.get(horizon, ('-', '-'))[1]:>9}"
                     f" {statistics.mean(cols[2]):>13.4f} {statistics.mean(cols[3]):>6.1f}")
    return lines


def training_block(record: dict) -> str:
    """docs/training.md's tables of the paper-recipe record (markers included): per horizon seed 2021, the other
    seeds and the spread beside the paper, then the script's whole output rebuilt from the record."""
    runs, env = record["runs"], record["environment"]
    seeds = sorted({r["seed"] for r in runs}, key=lambda s: (s != 2021, s))
    others = [s for s in seeds if s != 2021]
    lines = [TRAINING_BEGIN, "",
             f"Measured {env['date']} ({env.get('machine', 'CPU')}; torch {env['torch']}, {env['threads']} thread). "
             f"Test metrics over **every** test window, standardized scale.", "",
             f"Paper recipe (patience {record['patience']}), {len(seeds)} seeds (2021 is the seed of the authors' script); "
             f"total wall time of the {len(runs)} runs {sum(r['wall_seconds'] for r in runs):.0f} s:", "",
             f"| H | seed 2021 MSE / MAE (epochs, best) | seeds {others[0]}-{others[-1]} MSE | mean +- std MSE ({len(seeds)} seeds) "
             "| mean MAE | paper MSE / MAE | s/run |",
             "|---|---|---|---|---|---|---|"]
    for horizon, group in _by_horizon(runs).items():
        first = group[0]
        mse = [r["test_mse"] for r in group]
        cell = f"{statistics.mean(mse):.4f} +- {statistics.stdev(mse):.4f}"
        paper = PAPER[horizon]
        rest = ", ".join(format(r["test_mse"], ".4f") for r in group[1:])
        lines.append(f"| {horizon} | {first['test_mse']:.4f} / {first['test_mae']:.4f} ({first['epochs_run']}, "
                     f"{first['best_epoch']}) | {rest} | "
                     f"{f'**{cell}**' if horizon == 96 else cell} | {statistics.mean(r['test_mae'] for r in group):.4f} | "
                     f"{paper[0]:.3f} / {paper[1]:.3f} | {statistics.mean(r['wall_seconds'] for r in group):.0f} |")
    header = (f"{'H':>4} {'seed':>5} {'epochs':>6} {'best':>4} {'test MSE':>9} {'test MAE':>9} {'MSE drop_last':>13} "
              f"{'windows':>8} {'seconds':>8}")
    lines += ["", "Full output of that command (epochs = epochs run, best = best epoch):", "", "```text",
              f"DLinear on ETTh1, lookback 336, lr 0.005, batch 32, <=10 epochs, patience {record['patience']}; "
              f"torch {env['torch']}, {env['threads']} thread(s)", "", header, "-" * len(header),
              *[run_line(r) for r in runs], "", *summary_lines(runs), "```", ""]
    if "provenance" in record:
        lines += [f"The output is rebuilt from the record `{record['file']}`, itself {record['provenance']}; the "
                  "summary's means are recomputed from those four-decimal values, so a last digit can differ by one "
                  "from the original printout.", ""]
    lines.append(TRAINING_END)
    return "\n".join(lines)


def patience_block(record: dict) -> str:
    """The --patience 10 table of docs/training.md (indented in its list item; markers included)."""
    groups = _by_horizon(record["runs"])
    seeds = sorted({r["seed"] for r in record["runs"]}, key=lambda s: (s != 2021, s))
    names = " / ".join(f"seed {s}" for s in seeds)
    lines = [PATIENCE_BEGIN, "", f"  | H | MSE {names} | MAE {names} | paper MSE / MAE |", "  |---|---|---|---|"]
    for horizon, runs in groups.items():
        mse = " / ".join(format(r["test_mse"], ".4f") for r in runs)
        lines.append(f"  | {horizon} | {mse} | "
                     f"{' / '.join(format(r['test_mae'], '.4f') for r in runs)} | {PAPER[horizon][0]:.3f} / {PAPER[horizon][1]:.3f} |")
    lines += ["", f"  (the record `{record['file']}`)", "", "  " + PATIENCE_END]
    return "\n".join(lines)


def write_record(args: argparse.Namespace, runs: list[dict]) -> None:
    from samovar.utils import write_json_atomic

    write_json_atomic(args.record, {
        "script": "benchmarks/dlinear_etth1.py", "model": "dlinear", "dataset": "ETTh1", "lookback": 336,
        "command": "python " + shlex.join(["benchmarks/dlinear_etth1.py", *sys.argv[1:]]),
        "recipe": {"source": "cure-lab/LTSF-Linear scripts/EXP-LongForecasting/Linear/etth1.sh", "optimizer": "adam",
                   "lr": 0.005, "schedule": "type1", "batch_size": 32, "epochs": 10},
        "patience": args.patience,
        "metrics": "test MSE / MAE on the standardized scale over every test window; test_mse_drop_last: the windows "
                   "a drop_last=True loader with batch 32 keeps",
        "environment": {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "torch": torch.__version__,
                        "threads": args.threads, "device": "cpu"},
        "runs": runs,
    })


def load_records(folder: Path) -> dict[int, dict]:
    """The records of `folder` by their early-stopping patience."""
    records = {}
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        records[int(record["patience"])] = record | {"file": path.relative_to(REPO).as_posix()}
    if 3 not in records:
        raise SystemExit(f"no record with patience 3 (the paper's) in {folder}: run this script with --record first")
    return records


def _by_horizon(runs: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for run in sorted(runs, key=lambda r: (r["horizon"], r["seed"] != 2021, r["seed"])):
        out.setdefault(run["horizon"], []).append(run)
    return out


def table(records: dict[int, dict]) -> str:
    """The README block: mean +- std over the paper-recipe record's seeds per horizon, beside the paper,
    and the --patience 10 record's runs in one sentence."""
    main = records[3]
    lines = [BEGIN, "", f"`{main['command']}` (the record `{main['file']}`; one row is "
             "`samovar train --model dlinear --dataset ETTh1 --horizon H --seed S`, which uses that recipe: "
             "`samovar train` and `bench --profile paper` take it from `DLinear.paper_training_config`):", "",
             "| horizon | MSE, mean ± std over the seeds | MAE | seeds | paper MSE / MAE |", "|---|---|---|---|---|"]
    groups = _by_horizon(main["runs"])
    for horizon, runs in groups.items():
        mse = [r["test_mse"] for r in runs]
        std = statistics.stdev(mse) if len(mse) > 1 else 0.0
        cell = f"{statistics.mean(mse):.4f} ± {std:.4f}"
        paper = PAPER.get(horizon)
        lines.append(f"| {horizon} | {cell} | {statistics.mean(r['test_mae'] for r in runs):.4f} | "
                     f"{', '.join(str(r['seed']) for r in runs)} | {f'{paper[0]:.3f} / {paper[1]:.3f}' if paper else '–'} |")
    if 10 in records:
        other = records[10]
        parts = [f"{h}: " + " / ".join(f"{r['test_mse']:.4f}" for r in runs) for h, runs in _by_horizon(other["runs"]).items()]
        seeds = sorted({r["seed"] for r in other["runs"]}, key=lambda s: (s != 2021, s))
        lines += ["", f"At horizons 192–720 the paper's patience of 3 sometimes stops at a poor early epoch (lr 0.005 makes "
                  f"the validation loss noisy); with `--patience {other['patience']}` (the record `{other['file']}`) seeds "
                  f"{' / '.join(map(str, seeds))} give test MSE {'; '.join(parts)}."]
    lines += ["", END]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
