"""Cost of the dropout masks, and of a baseline's training step with fast against reference masks.

    python benchmarks/dropout_masks.py                       # masks, then EncFormer 512 -> 720 steps
    python benchmarks/dropout_masks.py --no-step             # masks only (about a minute)
    git show <commit>:src/samovar/ops/attention.py > /tmp/old_attention.py
    python benchmarks/dropout_masks.py --baseline-attention /tmp/old_attention.py

Table 1, for each torch thread count: wall time of one mask of an attention layer of the
slowest baseline cell (``keep_mask`` against ``keep_mask_reference``: EncFormer at 512 -> 720
draws a (32, 8, 1232, 1232) mask per layer) and of the activation dropout of its MLP
(``dropout`` against ``dropout_reference`` on (32, 1232, 1024)), in ns per element; the two
forms give the same bits (``tests/test_ops_attention.py``). Table 2: wall time of one training
step of ``--model`` (its ETTh1 recipe's hyper-parameters; forward, backward, AdamW) with the
fast masks and with the reference ones patched in (and, with ``--baseline-attention``, the
blocked attention kernel of another version of ``ops/attention.py``). Every form runs
interleaved with the others, ``--repeats`` times round after one warm-up; medians are printed
with their ratio to the reference, so a change in the machine's load hits all of them.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from contextlib import contextmanager

import torch

import samovar.models._common as common
from samovar import models
from samovar.ops.dropout import dropout, dropout_reference, keep_mask, keep_mask_reference
from samovar.training.recipes import resolve_recipe


def median_seconds(forms: dict, repeats: int) -> dict[str, float]:
    """Each callable of `forms` once as a warm-up, then `repeats` times round; name -> median seconds."""
    times = {name: [] for name in forms}
    for _ in range(repeats + 1):
        for name, fn in forms.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t[1:]) for name, t in times.items()}


def mask_table(threads: list[int], repeats: int) -> None:
    attn_shape, act_shape = (32, 8, 1232, 1232), (32, 1232, 1024)
    x = torch.randn(act_shape)
    print("| threads | what | elements | reference ns/el | fast ns/el | reference / fast |")
    print("|---|---|---|---|---|---|")
    for n in threads:
        torch.set_num_threads(n)
        rows = [
            ("attention keep mask", attn_shape, lambda: keep_mask_reference(attn_shape, 0.1),
             lambda: keep_mask(attn_shape, 0.1)),
            ("activation dropout", act_shape, lambda: dropout_reference(x, 0.1), lambda: dropout(x, 0.1)),
        ]
        for what, shape, ref, fast in rows:
            t = median_seconds({"ref": ref, "fast": fast}, repeats)
            el = torch.Size(shape).numel()
            print(f"| {n} | {what} | {el:,} | {t['ref'] / el * 1e9:.2f} | {t['fast'] / el * 1e9:.2f} "
                  f"| {t['ref'] / t['fast']:.2f} |")


@contextmanager
def patched(**attrs):
    """Temporarily replace attributes of ``samovar.models._common`` (what the layers call)."""
    saved = {name: getattr(common, name) for name in attrs}
    for name, value in attrs.items():
        setattr(common, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(common, name, value)


def step_table(args) -> None:
    hyper = resolve_recipe(args.model, "ETTh1", args.horizon).model_kwargs
    torch.set_num_threads(args.step_threads)
    torch.manual_seed(0)
    model = models.get(args.model, lookback=args.lookback, horizon=args.horizon, channels=7, **hyper).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, y = torch.randn(args.batch, args.lookback, 7), torch.randn(args.batch, args.horizon, 7)

    def step():
        opt.zero_grad()
        model.training_loss(x, y).backward()
        opt.step()

    def with_reference(attention=None):
        def run():
            extra = {"attention": attention} if attention is not None else {}
            with patched(keep_mask=keep_mask_reference, dropout=dropout_reference, **extra):
                step()
        return run

    forms = {"reference masks": with_reference(), "fast masks": step}
    if args.baseline_attention:
        spec = importlib.util.spec_from_file_location("baseline_attention", args.baseline_attention)
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
        forms = {"reference masks, baseline kernel": with_reference(old.attention), **forms}
    t = median_seconds(forms, args.repeats)
    first = next(iter(t.values()))
    print(f"\n{args.model} {args.lookback} -> {args.horizon}, batch {args.batch}, {args.step_threads} thread(s), "
          f"{hyper or 'defaults'}")
    print("| form | s/step (median) | vs first |")
    print("|---|---|---|")
    for name, sec in t.items():
        print(f"| {name} | {sec:.2f} | {sec / first:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts of table 1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-step", action="store_true", help="skip table 2")
    parser.add_argument("--model", default="encformer", choices=models.available())
    parser.add_argument("--lookback", type=int, default=512)
    parser.add_argument("--horizon", type=int, default=720)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--step-threads", type=int, default=2)
    parser.add_argument("--baseline-attention", default=None,
                        help="another version of ops/attention.py whose attention() the reference row uses")
    args = parser.parse_args()
    mask_table(args.threads, args.repeats)
    if not args.no_step:
        step_table(args)


if __name__ == "__main__":
    main()
