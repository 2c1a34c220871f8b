"""SAMoVAR speed on CPU: training and inference throughput, peak memory.

    .venv/bin/python benchmarks/samovar_speed.py                  # the default table
    .venv/bin/python benchmarks/samovar_speed.py --models samovar,lintrans --steps 10

Every row runs in a fresh subprocess (so peak memory is that configuration's alone): the
model at ETTh1 width (7 channels) and batch 32, lookback/horizon 1024/96 and 4096/720, with
the chunked kernel (``samovar.ops.linear_attention_chunked``) and with the paper code's
materializing form (a (d, d) state per position), each in float32 and under bf16 autocast.
Columns: training windows/s (forward, next-segment loss, backward, clip, AdamW step), inference
windows/s (no grad, batch 256), CPU time per training step (process time: robust to other
jobs on the machine, unlike wall time), and peak training memory (growth of the process's
peak RSS over its size before the first step, measured before inference). Times are medians
over the timed steps after warm-up (``benchmarks/_timing.py``). The materialized/chunked ratio
is computed from rows of the same run. The time of a real ETTh1 epoch is in the reproduction
records (``benchmarks/reproduce_samovar.py``: ``train_seconds_per_epoch``, the trainer's own).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import measure  # noqa: E402

SHAPES = [(1024, 96), (4096, 720)]
CHANNELS, BATCH = 7, 32


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def measure_row(spec: dict) -> dict:
    """Run inside the subprocess: time `steps` training steps and inference batches of one config."""
    import torch

    from samovar import models
    from samovar.utils import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    lookback, horizon = spec["lookback"], spec["horizon"]
    model = models.get(spec["model"], lookback=lookback, horizon=horizon, channels=CHANNELS,
                       attention_kernel=spec["kernel"], bf16=spec["bf16"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    x, y = torch.randn(BATCH, lookback, CHANNELS), torch.randn(BATCH, horizon, CHANNELS)
    x_inf = torch.randn(256, lookback, CHANNELS)
    rss0 = _rss_kb()

    def train_step():
        loss = model.training_loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    model.train()
    step = measure({"train": train_step}, repeats=spec["steps"], warmup=2)["train"]
    cpu_step, wall_step = step.median("cpu"), step.median("wall")
    train_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before inference's larger batch
    model.eval()
    with torch.no_grad():
        infer = measure({"infer": lambda: model(x_inf)}, repeats=max(1, spec["steps"] // 4))["infer"]
    cpu_inf, wall_inf = infer.median("cpu"), infer.median("wall")
    return {**spec, "train_windows_per_s_cpu": BATCH / cpu_step, "train_windows_per_s_wall": BATCH / wall_step,
            "train_cpu_ms_per_step": 1000 * cpu_step, "infer_windows_per_s_cpu": 256 / cpu_inf,
            "infer_windows_per_s_wall": 256 / wall_inf, "peak_mb": max(0, train_peak_kb - rss0) / 1024,
            "estimated_etth1_epoch_cpu_s": 236 * cpu_step if (lookback, horizon) == (1024, 96) else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="samovar")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per row")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # subprocess mode: one measurement, printed as JSON
        spec = json.loads(args.worker)
        print(json.dumps(measure_row(spec)))
        return

    def run(spec: dict) -> dict:
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed for {spec}:\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        for lookback, horizon in SHAPES:
            for bf16 in (False, True):
                for kernel in ("chunked", "materialized"):
                    spec = {"model": name, "lookback": lookback, "horizon": horizon, "kernel": kernel, "bf16": bf16,
                            "steps": args.steps, "threads": args.threads}
                    rows.append(run(spec))
                    r = rows[-1]
                    print(f"  {name} {lookback}/{horizon} {kernel:12s} {'bf16' if bf16 else 'fp32'}: "
                          f"{r['train_cpu_ms_per_step']:.0f} ms CPU/step, peak {r['peak_mb']:.0f} MB", flush=True)
    header = ("| model | lookback/horizon | precision | kernel | train windows/s (CPU time) | train windows/s (wall) | "
              "CPU ms/step | infer windows/s (CPU time) | peak memory (MB) | materialized/chunked: time, memory |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = ""
        if r["kernel"] == "materialized":
            base = next(b for b in rows if b["kernel"] == "chunked" and all(b[k] == r[k] for k in ("model", "lookback", "bf16")))
            ratio = (f"{r['train_cpu_ms_per_step'] / base['train_cpu_ms_per_step']:.2f}x, "
                     f"{r['peak_mb'] / max(base['peak_mb'], 1e-9):.2f}x")
        lines.append(
            f"| {r['model']} | {r['lookback']}/{r['horizon']} | {'bf16' if r['bf16'] else 'fp32'} | {r['kernel']} | "
            f"{r['train_windows_per_s_cpu']:.0f} | {r['train_windows_per_s_wall']:.0f} | {r['train_cpu_ms_per_step']:.0f} | "
            f"{r['infer_windows_per_s_cpu']:.0f} | {r['peak_mb']:.0f} | {ratio} |"
        )
    load = os.getloadavg()
    lines += ["", f"threads {args.threads}; load average at the end {load[0]:.1f} on {os.cpu_count()} cores "
              "(wall times include the other jobs' share of the CPU)"]
    print("\n".join(lines))
    if args.json:
        from samovar.utils import write_json_atomic

        write_json_atomic(args.json, {"rows": rows, "loadavg": load})


if __name__ == "__main__":
    main()
