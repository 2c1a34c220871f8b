"""Per-token cost of text generation: recurrent step vs nanoGPT's full-forward loop.

For each mixer, an (untrained) 4-layer, 128-wide language model generates ``--tokens`` tokens
after a one-token prompt, once with ``method="step"`` and once with ``method="window"`` (a full
forward pass over the whole sequence per token); prints milliseconds per token over the first
and the last quarter of the generated tokens. One thread.

    python benchmarks/tasks_generation.py --tokens 512 --mixers gla mamba softmax_attention
"""

from __future__ import annotations

import argparse
import time

import torch

from samovar.tasks.backbone import LanguageModel
from samovar.tasks.generate import _sample


@torch.no_grad()
def per_token_ms(model: LanguageModel, tokens: int, method: str) -> list[float]:
    """Milliseconds spent on each generated token (greedy)."""
    idx = torch.zeros(1, 1, dtype=torch.long)
    times = []
    if method == "step":
        state = model.init_state(1)
        logits, state = model.step(idx[:, 0], state)
        for _ in range(tokens):
            t0 = time.perf_counter()
            nxt = _sample(logits, 0, None, None)
            logits, state = model.step(nxt, state)
            times.append((time.perf_counter() - t0) * 1e3)
    else:
        for _ in range(tokens):
            t0 = time.perf_counter()
            nxt = _sample(model(idx)[:, -1], 0, None, None)
            idx = torch.cat([idx, nxt.unsqueeze(1)], dim=1)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--mixers", nargs="+", default=["gla", "mamba", "linear_attention", "softmax_attention"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    q = args.tokens // 4
    print(f"| mixer | method | ms/token, tokens 1-{q} | ms/token, tokens {args.tokens - q + 1}-{args.tokens} |")
    print("|---|---|---|---|")
    for mixer in args.mixers:
        torch.manual_seed(0)
        model = LanguageModel(mixer, vocab_size=65, dim=128, layers=4, heads=4, positional="none").eval()
        for method in ("step", "window"):
            t = per_token_ms(model, args.tokens, method)
            print(f"| {mixer} | {method} | {sum(t[:q]) / q:.2f} | {sum(t[-q:]) / q:.2f} |", flush=True)


if __name__ == "__main__":
    main()
