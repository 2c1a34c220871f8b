"""Training-step time of DLinear (lookback 336, horizon 96, 7 channels, batch 32) per torch thread count.

Forward + backward + Adam on random index batches gathered from one tensor, as the trainer does.
    python benchmarks/train_threads.py [--threads 1 2] [--steps 256]
"""

from __future__ import annotations

import argparse
import time

import torch

from samovar.models import get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=256)
    args = parser.parse_args()
    series = torch.randn(9000, 7)
    offsets = torch.arange(336 + 96)
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = get("dlinear", lookback=336, horizon=96, channels=7)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for repeat in range(2):  # the first pass warms up
            t0 = time.perf_counter()
            for _ in range(args.steps):
                windows = series[torch.randint(0, 8000, (32,))[:, None] + offsets]
                opt.zero_grad()
                model.training_loss(windows[:, :336], windows[:, 336:]).backward()
                opt.step()
            seconds = time.perf_counter() - t0
        print(f"{threads} thread(s): {seconds / args.steps * 1e3:.2f} ms/step")


if __name__ == "__main__":
    main()
