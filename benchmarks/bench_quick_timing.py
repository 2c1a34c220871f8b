"""Per-cell cost of `samovar bench run --profile quick` for every registered model (ETTh1, one horizon, 1 thread).

Measures CPU time (time.process_time, robust to other processes sharing the machine) of
  step: one optimizer step at the cell's recipe batch size (mean of `--steps` steps after one warm-up step)
  val:  one pass over every validation window;  test: one pass over every test window
and estimates a quick cell as epochs * steps_per_epoch * step + epochs * val + test
(the quick profile validates after every epoch and tests once; early stopping cannot
trigger within 3 epochs at patience >= 3). Prints a Markdown table.

    python benchmarks/bench_quick_timing.py --horizon 96 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import time

import torch

from samovar import models
from samovar.bench.grid import plan
from samovar.bench.runner import cap_training_windows
from samovar.data import prepare_data
from samovar.training.config import learning_rate
from samovar.training.metrics import evaluate
from samovar.training.runs import build_model
from samovar.training.trainer import _batch_plan, _make_optimizer


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="ETTh1")
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--models", default=",".join(models.available()))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"| model | lookback | batch | params | step s | val pass s | test pass s | steps/epoch | est. quick cell s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        (cell,) = plan([name], [args.dataset], [args.horizon], [2021], profile="quick", data_dir=args.data_dir)
        if cell.na_reason:
            print(f"| {name} | {cell.lookback} | N/A: {cell.na_reason.splitlines()[0]} |")
            continue
        data = prepare_data(cell.dataset, lookback=cell.lookback, horizon=cell.horizon, data_dir=args.data_dir)
        config = cell.train_config(threads=1, quiet=True)
        capped, _ = cap_training_windows(data, cell)
        _, steps_per_epoch = _batch_plan(len(capped.train), config)
        net = build_model(name, cell.lookback, cell.horizon, data.channels, cell.model_kwargs, seed=1)
        opt = _make_optimizer(net, config)
        batch = config.batch_size * config.accumulate
        x, y = data.train.batch(torch.arange(batch))

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            net.training_loss(x, y).backward()
            opt.step()

        step()  # warm-up
        t_step = cpu(lambda: [step() for _ in range(args.steps)]) / args.steps
        t_val = cpu(lambda: evaluate(net, data.val, batch_size=config.eval_batch_size))
        t_test = cpu(lambda: evaluate(net, data.test, batch_size=config.eval_batch_size))
        est = config.epochs * steps_per_epoch * t_step + config.epochs * t_val + t_test
        print(f"| {name} | {cell.lookback} | {batch} | {net.num_parameters():,} | {t_step:.3f} | {t_val:.1f} | {t_test:.1f} "
              f"| {steps_per_epoch} x {config.epochs} | {est:.0f} |", flush=True)


if __name__ == "__main__":
    main()
