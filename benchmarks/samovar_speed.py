"""SAMoVAR speed on CPU: training and inference throughput, peak memory, seconds per ETTh1 epoch.

    .venv/bin/python benchmarks/samovar_speed.py                  # the default table
    .venv/bin/python benchmarks/samovar_speed.py --models samovar,lintrans --steps 10 --no-epoch

Every row runs in a fresh subprocess (so peak memory is that configuration's alone): the
model at ETTh1 width (7 channels) and batch 32, lookback/horizon 1024/96 and 4096/720, with
the chunked kernel (``samovar.ops.linear_attention_chunked``) and with the paper code's
materializing form (a (d, d) state per position), each in float32 and under bf16 autocast.
Columns: training windows/s (forward, next-segment loss, backward, AdamW step), inference
windows/s (no grad, batch 256), CPU time per training step (process time: robust to other
jobs on the machine, unlike wall time), and peak training memory (growth of the process's
peak RSS over its size before the first step, measured before inference). The materialized/chunked ratio is computed from rows
of the same run. Finally one real training epoch on ETTh1 at 1024/96 with the authors' batch
size (236 steps, the reproduction script's loop) is timed, if the data file is present.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

SHAPES = [(1024, 96), (4096, 720)]
CHANNELS, BATCH = 7, 32


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def measure(spec: dict) -> dict:
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
    for _ in range(2):
        train_step()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(spec["steps"]):
        train_step()
    cpu_step = (time.process_time() - cpu0) / spec["steps"]
    wall_step = (time.perf_counter() - wall0) / spec["steps"]
    train_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before inference's larger batch
    model.eval()
    with torch.no_grad():
        model(x_inf)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        reps = max(1, spec["steps"] // 4)
        for _ in range(reps):
            model(x_inf)
        cpu_inf = (time.process_time() - cpu0) / reps
        wall_inf = (time.perf_counter() - wall0) / reps
    return {**spec, "train_windows_per_s_cpu": BATCH / cpu_step, "train_windows_per_s_wall": BATCH / wall_step,
            "train_cpu_ms_per_step": 1000 * cpu_step, "infer_windows_per_s_cpu": 256 / cpu_inf,
            "infer_windows_per_s_wall": 256 / wall_inf, "peak_mb": max(0, train_peak_kb - rss0) / 1024,
            "estimated_etth1_epoch_cpu_s": 236 * cpu_step if (lookback, horizon) == (1024, 96) else None}


def measure_epoch(threads: int, data_dir: str | None) -> dict | None:
    """One real ETTh1 1024/96 training epoch (236 steps of batch 32), float32 and bf16."""
    import math

    import torch

    from samovar import models
    from samovar.data import prepare_data
    from samovar.utils import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(threads)
    try:
        data = prepare_data("ETTh1", lookback=1024, horizon=96, data_dir=data_dir)
    except Exception as err:  # no data here: say so and skip the row
        print(f"ETTh1 epoch skipped: {err}", file=sys.stderr)
        return None
    out = {}
    for bf16 in (False, True):
        torch.manual_seed(2024)
        model = models.get("samovar", lookback=1024, horizon=96, channels=data.channels, bf16=bf16)
        opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
        gen = torch.Generator().manual_seed(2024)
        n = len(data.train)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        model.train()
        for idx in torch.randperm(n, generator=gen).split(32):
            bx, by = data.train.batch(idx)
            loss = model.training_loss(bx, by)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        out["bf16" if bf16 else "fp32"] = {"steps": math.ceil(n / 32), "cpu_s": time.process_time() - cpu0,
                                           "wall_s": time.perf_counter() - wall0}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="samovar")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per row")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-epoch", dest="epoch", action="store_false", help="skip the real ETTh1 epoch")
    parser.add_argument("--data-dir", default=os.environ.get("SAMOVAR_DATA_DIR"))
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # subprocess mode: one measurement, printed as JSON
        spec = json.loads(args.worker)
        print(json.dumps(measure_epoch(spec["threads"], spec["data_dir"]) if spec.get("epoch") else measure(spec)))
        return

    def run(spec: dict) -> dict | None:
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
    epoch = run({"epoch": True, "threads": args.threads, "data_dir": args.data_dir}) if args.epoch else None
    if epoch:
        lines += ["", "| ETTh1 1024/96 training epoch (batch 32, chunked) | steps | CPU seconds | wall seconds |", "|---|---|---|---|"]
        lines += [f"| samovar {k} | {v['steps']} | {v['cpu_s']:.1f} | {v['wall_s']:.1f} |" for k, v in epoch.items()]
    load = os.getloadavg()
    lines += ["", f"threads {args.threads}; load average at the end {load[0]:.1f} on {os.cpu_count()} cores "
              "(wall times include the other jobs' share of the CPU)"]
    print("\n".join(lines))
    if args.json:
        from samovar.utils import write_json_atomic

        write_json_atomic(args.json, {"rows": rows, "epoch": epoch, "loadavg": load})


if __name__ == "__main__":
    main()
