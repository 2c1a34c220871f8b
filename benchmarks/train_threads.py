"""Training-step time of a forecasting model per torch thread count.

Forward + backward + AdamW on random batches gathered from one random series, as the trainer
does; 7 channels. Thread counts are measured in turn, `--repeats` times round, and the median
of each is printed with its ratio to the first thread count (timings on a shared machine are
noisy: compare the ratios of one run). The model is built with the hyper-parameters of its
ETTh1 recipe (``resolve_recipe``: the paper's when it publishes one), else with its defaults.

    python benchmarks/train_threads.py                      # DLinear 336 -> 96, batch 32
    python benchmarks/train_threads.py --model encformer --lookback 512 --horizon 720 --steps 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from samovar import models
from samovar.training.recipes import resolve_recipe


def step_seconds(model: torch.nn.Module, opt: torch.optim.Optimizer, series: torch.Tensor, lookback: int,
                 horizon: int, batch: int, steps: int) -> float:
    """Mean seconds of one training step over `steps` steps; series: (time, channels)."""
    offsets = torch.arange(lookback + horizon)
    t0 = time.perf_counter()
    for _ in range(steps):
        windows = series[torch.randint(0, len(series) - len(offsets) + 1, (batch,))[:, None] + offsets]
        opt.zero_grad()
        model.training_loss(windows[:, :lookback], windows[:, lookback:]).backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dlinear", choices=models.available())
    parser.add_argument("--lookback", type=int, default=336)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=64, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per thread count (after one warm-up)")
    args = parser.parse_args()
    hyper = resolve_recipe(args.model, "ETTh1", args.horizon).model_kwargs
    series = torch.randn(9000, 7)
    runs = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = models.get(args.model, lookback=args.lookback, horizon=args.horizon, channels=7, **hyper).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        step_seconds(model, opt, series, args.lookback, args.horizon, args.batch, min(args.steps, 3))  # warm-up
        runs[threads] = (model, opt, [])
    for _ in range(args.repeats):
        for threads, (model, opt, times) in runs.items():
            torch.set_num_threads(threads)
            times.append(step_seconds(model, opt, series, args.lookback, args.horizon, args.batch, args.steps))
    print(f"{args.model} {args.lookback} -> {args.horizon}, batch {args.batch}, {hyper or 'defaults'}")
    print("| threads | ms/step (median) | min | max | vs first |")
    print("|---|---|---|---|---|")
    base = statistics.median(runs[args.threads[0]][2])
    for threads, (_, _, times) in runs.items():
        med = statistics.median(times)
        print(f"| {threads} | {med * 1e3:.1f} | {min(times) * 1e3:.1f} | {max(times) * 1e3:.1f} | {med / base:.2f} |")


if __name__ == "__main__":
    main()
