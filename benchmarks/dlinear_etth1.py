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
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from samovar.data import WindowSet
from samovar.training import TrainConfig, evaluate
from samovar.training.runs import fit_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import timed_call  # noqa: E402

PAPER = {96: (0.375, 0.399), 192: (0.405, 0.416), 336: (0.439, 0.443), 720: (0.472, 0.490)}  # (MSE, MAE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2021, 1, 2, 3, 4])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience (the paper: 3)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"DLinear on ETTh1, lookback 336, lr 0.005, batch 32, <=10 epochs, patience {args.patience}; torch {torch.__version__}, "
          f"{args.threads} thread(s)\n")
    header = f"{'H':>4} {'seed':>5} {'epochs':>6} {'best':>4} {'test MSE':>9} {'test MAE':>9} {'MSE drop_last':>13} {'windows':>8} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    summary = {}
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
            print(f"{horizon:>4} {seed:>5} {result.epochs_run:>6} {result.best_epoch:>4} {m['mse']:>9.4f} {m['mae']:>9.4f} "
                  f"{dropped_mse:>13.4f} {m['windows']:>8} {seconds:>8.1f}", flush=True)
        summary[horizon] = rows

    print("\nsummary (mean +- std over seeds)")
    print(f"{'H':>4} {'test MSE':>16} {'test MAE':>16} {'paper MSE':>9} {'paper MAE':>9} {'MSE drop_last':>13} {'s/run':>6}")
    for horizon, rows in summary.items():
        cols = list(zip(*rows))
        sd = (lambda v: statistics.stdev(v)) if len(rows) > 1 else (lambda v: 0.0)
        print(f"{horizon:>4} {statistics.mean(cols[0]):>9.4f} +- {sd(cols[0]):.4f} {statistics.mean(cols[1]):>9.4f} +- {sd(cols[1]):.4f}"
              f" {PAPER.get(horizon, ('-', '-'))[0]:>9} {PAPER.get(horizon, ('-', '-'))[1]:>9}"
              f" {statistics.mean(cols[2]):>13.4f} {statistics.mean(cols[3]):>6.1f}")


if __name__ == "__main__":
    main()
