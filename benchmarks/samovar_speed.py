"""SAMoVAR speed on CPU: training and inference throughput, peak memory.

    .venv/bin/python benchmarks/samovar_speed.py                  # the default table
    .venv/bin/python benchmarks/samovar_speed.py --models samovar,lintrans --steps 10
    .venv/bin/python benchmarks/samovar_speed.py --record benchmarks/results/samovar_speed/DATE.json --note "..."
    .venv/bin/python benchmarks/samovar_speed.py --table benchmarks/results/samovar_speed/DATE.json  # docs/samovar.md block

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

``--record PATH`` writes the run as a JSON record (atomic): the conditions (torch and Python
versions, threads, nice level, CPU model, load average at the start and the end, UTC start,
minutes, the code's commit) and, per row, every timed pass on both clocks beside the medians.
``--table PATH`` writes nothing but the block of ``docs/samovar.md`` generated from such a record.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import rewrite_block  # noqa: E402
from _records import add_measure_record_options, cpu_model, git_commit, load_averages, load_record  # noqa: E402
from _timing import measure  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "samovar.md"
BEGIN = "<!-- samovar-speed:begin (python benchmarks/samovar_speed.py --table RECORD) -->"
END = "<!-- samovar-speed:end -->"

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
    return {**spec, "train_cpu_s": list(step.cpu), "train_wall_s": list(step.wall), "infer_cpu_s": list(infer.cpu),
            "infer_wall_s": list(infer.wall), "train_windows_per_s_cpu": BATCH / cpu_step, "train_windows_per_s_wall": BATCH / wall_step,
            "train_cpu_ms_per_step": 1000 * cpu_step, "infer_windows_per_s_cpu": 256 / cpu_inf,
            "infer_windows_per_s_wall": 256 / wall_inf, "peak_mb": max(0, train_peak_kb - rss0) / 1024,
            "estimated_etth1_epoch_cpu_s": 236 * cpu_step if (lookback, horizon) == (1024, 96) else None}


def rows_table(rows: list[dict]) -> list[str]:
    """The markdown table of measured rows (medians; materialized/chunked ratios within the same run)."""
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
    return lines



def table(record: dict, source: str) -> str:
    """The docs/samovar.md block (markers included) of one --record file."""
    c = record["conditions"]
    loaded = max(c["load_average_start"][0], c["load_average_end"][0]) >= 0.5 * c["logical_cpus"]
    repeats = {len(r["train_cpu_s"]) for r in record["rows"]}
    infer = {len(r["infer_cpu_s"]) for r in record["rows"]}
    cpu_ms = [r["train_cpu_ms_per_step"] for r in record["rows"]]
    spread = max(max(r["train_cpu_s"]) / min(r["train_cpu_s"]) for r in record["rows"])
    lines = [
        BEGIN,
        f"Generated by `python benchmarks/samovar_speed.py --table {source}` from the record "
        f"[`{source}`](../{source}) (every timed pass is in it); do not edit by hand.",
        "",
        f"Command: `{record['command']}` (commit {record['commit']}, started {c['started_utc']}, {c['minutes']:.0f} min). "
        f"{c['cpu_model']}, {c['logical_cpus']} logical CPUs, torch {c['torch']}, Python {c['python']}, "
        f"{c['threads']} torch thread, nice {c['nice']}. Medians of {'/'.join(map(str, sorted(repeats)))} timed training "
        f"steps after 2 warm-up steps, {'/'.join(map(str, sorted(infer)))} inference batches of 256. "
        f"Load average (1/5/15 min) {load_averages(c['load_average_start'])} at the start, {load_averages(c['load_average_end'])} at the end"
        + (" — **the machine was loaded**: other jobs shared its cores, so wall times are inflated and CPU times "
           "somewhat too; compare rows of this run, not absolute numbers." if loaded else ".")
        + (f" {record['note']}" if record.get("note") else ""),
        "",
        *rows_table(record["rows"]),
        "",
        f"CPU ms per training step range from {min(cpu_ms):.0f} to {max(cpu_ms):.0f}; within a row the slowest timed "
        f"step took up to {spread:.2f}x the fastest.",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="samovar")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per row")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    add_measure_record_options(parser, record="write the run as a JSON record (conditions, every timed pass, medians)",
                               table="measure nothing: rewrite the docs/samovar.md block from this record", doc=DOC)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # subprocess mode: one measurement, printed as JSON
        spec = json.loads(args.worker)
        print(json.dumps(measure_row(spec)))
        return
    if args.table is not None:
        record, source = load_record(args.table, "--record")
        block = table(record, source)
        rewrite_block(args.doc, BEGIN, END, block)
        return

    def run(spec: dict) -> dict:
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed for {spec}:\n{proc.stderr}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    started, t0, load0, commit = datetime.now(timezone.utc), time.monotonic(), os.getloadavg(), git_commit()
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
    lines = rows_table(rows)
    load = os.getloadavg()
    lines += ["", f"threads {args.threads}; load average at the end {load[0]:.1f} on {os.cpu_count()} cores "
              "(wall times include the other jobs' share of the CPU)"]
    print("\n".join(lines))
    from samovar.utils import write_json_atomic

    if args.json:
        write_json_atomic(args.json, {"rows": rows, "loadavg": load})
    if args.record is not None:
        import torch

        command = " ".join(["python benchmarks/samovar_speed.py", f"--models {args.models}", f"--steps {args.steps}",
                            f"--threads {args.threads}"])
        write_json_atomic(args.record, {
            "benchmark": "samovar_speed.py", "command": command, "commit": commit, "note": args.note,
            "conditions": {"torch": torch.__version__, "python": platform.python_version(), "threads": args.threads,
                           "nice": os.nice(0), "cpu_model": cpu_model(), "logical_cpus": os.cpu_count(),
                           "load_average_start": list(load0), "load_average_end": list(load),
                           "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "minutes": round((time.monotonic() - t0) / 60, 2), "batch": BATCH, "channels": CHANNELS,
                           "clock": "medians of time.process_time (cpu) and time.perf_counter (wall) per pass"},
            "rows": rows})
        print(f"record: {args.record}")


if __name__ == "__main__":
    main()
