"""First numbers on a GPU: a SAMoVAR training step and chunked linear attention vs causal SDPA.

    python benchmarks/gpu_check.py              # on a CUDA machine (make gpu-check runs it after the cuda tests)
    python benchmarks/gpu_check.py --device cpu --quick --output /tmp/gpu_check.json   # a dry run of the script

Without a CUDA device (and without ``--device cpu``) it prints one line and exits with status 2.

Measured, each as the median wall time of ``--repeats`` passes after ``--warmup`` passes, with
``torch.cuda.synchronize()`` before the clock is read at both ends of every pass; peak memory is
``torch.cuda.max_memory_allocated`` over the passes (reset before each row):

* SAMoVAR training step at the paper's ETTh1 shape (lookback 1024, horizon 96, 7 channels,
  d_model 64, heads 8, layers 3), batch 32 of random data, AdamW, gradient clipping at 1.0, as
  the trainer does it: zero_grad, forward + loss (``training_loss``), backward, unscale, clip,
  optimizer step, scaler update. Rows: float32 (``amp=False``); float16 autocast + GradScaler (the
  trainer's CUDA default); and the paper's ``bf16=True`` model inside that (bfloat16 matmuls).
* Causal attention forward + backward at batch 1, 8 heads, head dim 64, sequence lengths 4096
  and 16384: ``samovar.ops.linear_attention_chunked`` (float32, chunk 64) and PyTorch's
  ``scaled_dot_product_attention(is_causal=True)`` (softmax attention, float32 and float16).
  An out-of-memory row is recorded as such.

The table is printed and written as JSON to ``benchmarks/results/gpu_check.json`` (``--output``)
with the device name, torch and CUDA versions and the date, so the first GPU run records its numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import measure  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "gpu_check.json"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, warmup: int, repeats: int) -> dict:
    """Median / min seconds of fn() over `repeats` passes after `warmup`, and the peak memory."""
    for _ in range(warmup):
        fn()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timing = measure({"pass": fn}, repeats=repeats, warmup=0, sync=lambda: sync(device))["pass"]
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"median_ms": 1e3 * timing.median(), "min_ms": 1e3 * timing.min(), "repeats": repeats,
            "peak_mib": peak}


def guarded(label: str, run) -> dict:
    """run() -> a result row, or an "oom" row when the device runs out of memory."""
    try:
        return run()
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
        return {"error": "out of memory"}


# --------------------------------------------------------------------------- SAMoVAR step


def samovar_step_rows(device: torch.device, args) -> list[dict]:
    from samovar import models

    lookback, horizon, channels, batch = (96, 24, 7, 4) if args.quick else (1024, 96, 7, 32)
    rows = []
    variants = [("float32", False, False), ("float16 autocast + GradScaler", True, False),
                ("bf16=True model + float16 autocast", True, True)]
    for label, amp, bf16 in variants:
        if bf16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            rows.append({"variant": label, "error": "no bfloat16 on this device"})
            continue
        amp = amp and device.type == "cuda"  # as the trainer: float16 autocast only on CUDA

        def run(amp=amp, bf16=bf16, label=label):
            torch.manual_seed(0)
            model = models.get("samovar", lookback=lookback, horizon=horizon, channels=channels, bf16=bf16).to(device)
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
            scaler = torch.amp.GradScaler("cuda", enabled=amp)
            x = torch.randn(batch, lookback, channels, device=device)
            y = torch.randn(batch, horizon, channels, device=device)

            def step():
                opt.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                    loss = model.training_loss(x, y)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(opt)
                scaler.update()

            return {"variant": label, "amp_float16": amp, "bf16": bf16, "lookback": lookback, "horizon": horizon, "channels": channels, "batch": batch,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    **timed(step, device, args.warmup, args.repeats)}

        rows.append(guarded(label, run) | {"variant": label})
    return rows


# --------------------------------------------------------------------------- attention


def attention_rows(device: torch.device, args) -> list[dict]:
    from samovar.ops.linear_attention import linear_attention_chunked

    batch, heads, d = 1, 8, 64
    forms = [("linear_attention_chunked", torch.float32,
              lambda q, k, v: linear_attention_chunked(q, k, v, chunk_size=64)),
             ("sdpa causal", torch.float32, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))]
    if device.type == "cuda":
        forms.append(("sdpa causal", torch.float16,
                      lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)))
    rows = []
    for length in args.lengths:
        for name, dtype, fn in forms:
            def run(length=length, dtype=dtype, fn=fn):
                gen = torch.Generator(device="cpu").manual_seed(0)
                # unit-norm rows keep the unnormalized linear attention's sums in range
                q, k, v = (F.normalize(torch.randn(batch, heads, length, d, generator=gen), dim=-1)
                           .to(device, dtype).requires_grad_() for _ in range(3))
                grad = torch.randn(batch, heads, length, d, generator=gen).to(device, dtype)

                def pass_():
                    for t in (q, k, v):
                        t.grad = None
                    fn(q, k, v).backward(grad)

                return timed(pass_, device, args.warmup, args.repeats)

            row = {"form": name, "dtype": str(dtype).replace("torch.", ""), "length": length, "batch": batch,
                   "heads": heads, "head_dim": d}
            rows.append(row | guarded(name, run))
    return rows


# --------------------------------------------------------------------------- report


def fmt(row: dict, key: str) -> str:
    val = row.get(key)
    return "-" if val is None else f"{val:.2f}" if isinstance(val, float) else str(val)


def table(result: dict) -> str:
    lines = [f"gpu_check on {result['device_name']} (torch {result['torch']}, CUDA {result['cuda']}), "
             f"median of {result['settings']['repeats']} after {result['settings']['warmup']} warm-up passes", "",
             "SAMoVAR training step (lookback/horizon/channels, batch)",
             f"{'variant':40s} {'shape':>16s} {'median ms':>10s} {'min ms':>10s} {'peak MiB':>10s}"]
    for r in result["samovar_step"]:
        shape = f"{r.get('lookback', '-')}/{r.get('horizon', '-')}/{r.get('channels', '-')}, {r.get('batch', '-')}"
        lines.append(f"{r['variant']:40s} {shape:>16s} {fmt(r, 'median_ms'):>10s} {fmt(r, 'min_ms'):>10s} "
                     f"{fmt(r, 'peak_mib'):>10s}" + (f"  {r['error']}" if "error" in r else ""))
    lines += ["", "Causal attention forward + backward (batch 1, 8 heads, head dim 64)",
              f"{'form':26s} {'dtype':>8s} {'length':>7s} {'median ms':>10s} {'min ms':>10s} {'peak MiB':>10s}"]
    for r in result["attention"]:
        lines.append(f"{r['form']:26s} {r['dtype']:>8s} {r['length']:>7d} {fmt(r, 'median_ms'):>10s} "
                     f"{fmt(r, 'min_ms'):>10s} {fmt(r, 'peak_mib'):>10s}" + (f"  {r['error']}" if "error" in r else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a dry run of the script")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--quick", action="store_true", help="a small SAMoVAR shape (for a dry run)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device (torch.cuda.is_available() is False); nothing measured", file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.cuda.set_device(device)
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "settings": {"repeats": args.repeats, "warmup": args.warmup, "lengths": args.lengths, "quick": args.quick,
                     "tf32_matmul": torch.backends.cuda.matmul.allow_tf32},
    }
    result["samovar_step"] = samovar_step_rows(device, args)
    result["attention"] = attention_rows(device, args)
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
