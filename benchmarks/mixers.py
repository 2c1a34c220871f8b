"""Speed and memory of the sequence mixers: forward + backward at the op level.

    python benchmarks/mixers.py run                   # the full grid; writes a JSON record, then the tables
    python benchmarks/mixers.py run --quick           # a small smoke run
    python benchmarks/mixers.py run --lengths 1024 4096 --head-dims 32 --mixers linear_attention sdpa
    python benchmarks/mixers.py table [RECORD]        # docs/results/mixers.md + the README block, from a record

Every cell (mixer × head dim × length) runs in a fresh child process: inputs
``(batch, heads, length, head_dim)`` in float32, ``torch.set_num_threads(threads)``, one
warm-up, then ``--repeats`` forward+backward passes, each timed on the wall clock and on the
process's CPU clock. Peak memory is the child's ``ru_maxrss`` high-water mark minus its value
once the inputs exist (so it counts activations, outputs and gradients, not the inputs). Cells
whose predicted memory exceeds ``--max-gib`` (or 80% of the memory available at that moment)
are recorded as skipped and never run; so are cells predicted to take longer than
``--max-seconds`` per pass (from the nearest measured length and the mixer's complexity).
Mixers outside ``--every-length`` are measured at ``--main-length`` only.

Rows: every mixer in the ``samovar.layers`` registry, at the op level when the benchmark knows
its op (else the whole layer with dim = heads × head_dim, marked "layer"), plus the
SAMoVAR-paper materializing form of linear attention and causal softmax SDPA.
Also: the machine's dense-matmul rate (the roofline), achieved GFLOP/s for the attention-like
ops, and the recurrent step time at two positions.

The record (``benchmarks/results/mixers/<UTC start>.json``) holds the conditions (command, code
version, torch, threads, nice, CPU model, load average at start and end, matmul rate, batch,
repeats) and every pass of every cell and step on both clocks; ``table`` turns it into
docs/results/mixers.md (medians with their min–max spread, ratios, the target check) and the
block between the mixer-table markers of README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block as _replace  # noqa: E402
from _records import cpu_model, load_averages  # noqa: E402
from _timing import measure  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results" / "mixers.md"
RECORDS = REPO / "benchmarks" / "results" / "mixers"
BYTES = 4  # float32
GIB = 1024**3
REFERENCE_CHUNK = 64  # the FLOP count of linear attention uses the chunked algorithm at C = 64


# --------------------------------------------------------------------------- the mixers at op level


@dataclass
class Case:
    """One benchmark row: ``build(B, H, L, d)`` returns (fn, inputs) where fn(*inputs) is the op."""

    name: str
    build: Callable
    memory: Callable[[int, int, int, int], float]  # predicted peak bytes above the inputs
    complexity: int = 1  # time ∝ L^complexity
    flops: Callable[[int, int, int, int], float] | None = None
    level: str = "op"


def _rand(*shape, requires_grad=True):
    return torch.randn(*shape).requires_grad_(requires_grad)


def _qkv(B, H, L, d):
    return [_rand(B, H, L, d) for _ in range(3)]


def linear_flops(B, H, L, d):
    """Forward+backward = 3 × forward; forward per head and position: 2·C·(d_k + d_v) for the
    masked intra-chunk matmuls and 4·d_k·d_v for the state update and readout (C = 64)."""
    return 3.0 * B * H * L * (2 * REFERENCE_CHUNK * 2 * d + 4 * d * d)


def sdpa_flops(B, H, L, d):
    """Forward+backward = 3 × forward; forward = the causal half of 2·L²·(d_k + d_v) per head."""
    return 3.0 * B * H * L * L * 2 * d


def build_linear_attention(B, H, L, d):
    from samovar.ops.linear_attention import default_chunk_size, linear_attention_chunked

    chunk = default_chunk_size(d)
    return (lambda q, k, v: linear_attention_chunked(q, k, v, chunk_size=chunk)), _qkv(B, H, L, d)


def build_materialized(B, H, L, d):
    from samovar.ops.linear_attention import linear_attention_materialized

    return linear_attention_materialized, _qkv(B, H, L, d)


def build_retnet(B, H, L, d):
    from samovar.layers.retnet import retnet_log_decays
    from samovar.ops.decay import retention_chunked

    log_decay = retnet_log_decays(H)
    return (lambda q, k, v: retention_chunked(q, k, v, log_decay)), _qkv(B, H, L, d)


def build_gla(B, H, L, d):
    from samovar.ops.decay import gla_chunked

    log_decay = (F.logsigmoid(torch.randn(B, H, L, d)) / 16).requires_grad_()
    return (lambda q, k, v, g: gla_chunked(q, k, v, g)), [*_qkv(B, H, L, d), log_decay]


def build_deltanet(B, H, L, d):
    from samovar.ops.delta import deltanet_chunked

    q, k, v = _qkv(B, H, L, d)
    k = F.normalize(k.detach(), dim=-1).requires_grad_()
    beta = torch.rand(B, H, L).requires_grad_()
    return deltanet_chunked, [q, k, v, beta]


def build_sdpa(B, H, L, d):
    return (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)), _qkv(B, H, L, d)


def build_mamba(B, H, L, d):
    """Mamba's selective scan over H·d channels with d_state 16 (the layer's default)."""
    from samovar.ops.ssm import s4d_real_init, selective_scan_chunked

    D, N = H * d, 16
    A = -torch.exp(s4d_real_init(D, N))
    u = _rand(B, L, D)
    delta = F.softplus(torch.randn(B, L, D) - 4).requires_grad_()
    Bm, Cm = _rand(B, L, N), _rand(B, L, N)
    skip = torch.ones(D)
    return (lambda u, delta, Bm, Cm: selective_scan_chunked(u, delta, A, Bm, Cm, skip)), [u, delta, Bm, Cm]


def build_s4d(B, H, L, d):
    """S4D's FFT convolution over H·d channels with d_state 64 (the layer's default)."""
    from samovar.layers.s4d import S4D
    from samovar.ops.ssm import s4d_fft

    layer = S4D(dim=H * d)
    log_dt, A, C = (t.detach() for t in layer._ssm())
    return (lambda u: s4d_fft(u, log_dt, A, C)), [_rand(B, L, H * d)]


def build_mingru(B, H, L, d):
    from samovar.ops.minrnn import mingru_parallel

    return mingru_parallel, [_rand(B, L, H * d), _rand(B, L, H * d)]


def build_minlstm(B, H, L, d):
    from samovar.ops.minrnn import minlstm_parallel

    return minlstm_parallel, [_rand(B, L, H * d) for _ in range(3)]


def build_layer(name):
    """Fallback for a registered mixer the benchmark has no op adapter for: the whole layer."""

    def build(B, H, L, d):
        from samovar import layers

        layer = layers.get(name, dim=H * d, heads=H)
        return layer, [_rand(B, L, H * d)]

    return build


def _mem(per_position_floats):
    """Predicted bytes for per-(batch, head, position) float counts as a function of d."""
    return lambda B, H, L, d: BYTES * B * H * L * per_position_floats(d)


# Predicted peak memory above the inputs, in floats per (batch, head, position), fitted to
# measurements at L = 1024 (d = 8 and 32) with a margin; only used to skip cells that cannot fit.
KNOWN: dict[str, Case] = {
    "linear_attention": Case("linear_attention", build_linear_attention, _mem(lambda d: 6 * d + 48), flops=linear_flops),
    "retnet": Case("retnet", build_retnet, _mem(lambda d: 6 * d + 80), flops=linear_flops),
    "gla": Case("gla", build_gla, _mem(lambda d: 8 * d + 160), flops=linear_flops),
    "deltanet": Case("deltanet", build_deltanet, _mem(lambda d: 7 * d + 200), flops=linear_flops),
    "mamba": Case("mamba", build_mamba, _mem(lambda d: 6 * d + 40)),
    "s4d": Case("s4d", build_s4d, _mem(lambda d: 8 * d + 180)),
    "mingru": Case("mingru", build_mingru, _mem(lambda d: 10 * d + 180)),
    "minlstm": Case("minlstm", build_minlstm, _mem(lambda d: 14 * d + 150)),
}
MATERIALIZED = Case("materialized", build_materialized, _mem(lambda d: 4 * d * d + 4 * d), flops=linear_flops)
SDPA = Case("sdpa", build_sdpa, _mem(lambda d: 8 * d + 150), complexity=2, flops=sdpa_flops)


def all_cases() -> list[Case]:
    """The materializing reference, every registered mixer (op level when known), then SDPA.
    The registry's softmax_attention is SDPA, so it is the SDPA row."""
    from samovar import layers

    cases = [MATERIALIZED]
    for name in layers.available():
        if name == "softmax_attention":
            continue
        cases.append(KNOWN.get(name) or Case(name, build_layer(name), _mem(lambda d: 32 * d), level="layer"))
    cases.append(SDPA)
    return cases


# --------------------------------------------------------------------------- child process: one cell


def rss_bytes() -> int:
    """This process's peak resident set size so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_cell(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    case = {c.name: c for c in all_cases()}[spec["mixer"]]
    B, H, L, d = spec["batch"], spec["heads"], spec["length"], spec["head_dim"]
    fn, inputs = case.build(B, H, L, d)
    with torch.no_grad():
        probe = fn(*inputs)
    grad_out = torch.randn_like(probe)
    del probe
    baseline = rss_bytes()

    def forward_backward() -> None:
        for t in inputs:
            t.grad = None
        fn(*inputs).backward(grad_out)

    # very slow (over half the per-pass limit): the warm-up is the measurement
    timing = measure({"pass": forward_backward}, repeats=spec["repeats"], slow=spec["max_seconds"] / 2)["pass"]
    return {"wall": list(timing.wall), "cpu": list(timing.cpu), "peak_bytes": max(rss_bytes() - baseline, 0)}


def run_step_cell(spec: dict) -> dict:
    """Median time of one recurrent step at each of ``positions`` (layer level, no grad).

    The layer really steps through every earlier position (from a zero state), so the state
    at the timed positions is the state a streaming user would have.
    """
    from samovar import layers

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    layer = layers.get(spec["mixer"], dim=spec["dim"], heads=spec["heads"]).eval()
    x = torch.randn(spec["batch"], spec["dim"])
    state = layer.init_state(spec["batch"])
    result, t = {}, 0
    with torch.no_grad():
        for mark in sorted(spec["positions"]):
            while t < mark:
                _, state = layer.step(x, state)
                t += 1
            def step() -> None:
                nonlocal state
                _, state = layer.step(x, state)

            timing = measure({"step": step}, repeats=spec["window"], warmup=0)["step"]
            result[str(mark)] = {"wall": list(timing.wall), "cpu": list(timing.cpu)}
            t += spec["window"]
    return result


# --------------------------------------------------------------------------- parent: measuring


def child(spec: dict, timeout: float, flag: str = "--child") -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), flag, json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["killed"])[-1]
        return {"error": f"failed (exit {proc.returncode}): {tail[:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def matmul_gflops(threads: int, n: int = 2048, repeats: int = 5) -> list[float]:
    """Dense float32 matmul rate (GFLOP/s) of each of `repeats` passes with `threads` threads (the roofline)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    return [2 * n**3 / s / 1e9 for s in measure({"matmul": lambda: a @ b}, repeats=repeats)["matmul"].wall]


def available_bytes() -> float:
    """MemAvailable from /proc/meminfo (inf when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def code_version() -> str:
    try:
        from samovar.bench.db import code_version as version

        return version()
    except Exception:  # the benchmark still runs from a source tree without the package's git metadata
        return "unknown"


def _quote(arg: str) -> str:
    """An argument as a POSIX shell reads it back (double quotes for plain prose, else shlex's quoting)."""
    if shlex.quote(arg) == arg:
        return arg
    return f'"{arg}"' if not any(c in arg for c in '"$`\\!') else shlex.quote(arg)


def measure_all(args, cases: list[Case], log: Callable[[str], None]) -> dict:
    """Run every cell and the recurrent steps; return the record (see the module docstring)."""
    started_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    version = code_version()  # the code that runs, before anything can change the checkout
    load_start = list(os.getloadavg())
    roof_start = matmul_gflops(args.threads)
    log(f"{cpu_model()}; dense matmul (2048², float32, {args.threads} threads): {statistics.median(roof_start):.1f} GFLOP/s")
    every = set(args.every_length or [c.name for c in cases])
    # Lengths in order of importance (the main length first, then the nearest), so a time budget
    # cuts the least informative cells; a cell's time guess uses the nearest measured length.
    order = sorted(args.lengths, key=lambda L: (abs(math.log(L / args.main_length)), L))
    cells: list[dict] = []
    measured: dict[tuple[str, int], list[tuple[int, float]]] = {}
    started = time.perf_counter()
    for L in order:
        for d in args.head_dims:
            for case in cases:
                if L != args.main_length and case.name not in every:
                    continue
                need = case.memory(args.batch, args.heads, L, d)
                done = measured.get((case.name, d), [])
                guess = None
                if done:
                    L0, s0 = min(done, key=lambda item: abs(math.log(item[0] / L)))
                    guess = s0 * (L / L0) ** case.complexity
                free = available_bytes()
                cell = dict(mixer=case.name, level=case.level, head_dim=d, length=L, predicted_bytes=need,
                            flops=case.flops(args.batch, args.heads, L, d) if case.flops else None)
                if need > args.max_gib * GIB:
                    cell.update(status="skipped", reason=f"OOM (needs {need / 1e9:.0f} GB, limit {args.max_gib:g} GiB)")
                elif need > 0.8 * free:  # the machine is shared: never push others out of memory
                    cell.update(status="skipped", reason=f"not run (needs {need / 1e9:.0f} GB, {free / 1e9:.0f} GB available)")
                elif guess is not None and guess > args.max_seconds:
                    cell.update(status="skipped", reason=f"skipped (~{guess:.0f} s/pass predicted)")
                elif time.perf_counter() - started > 60 * args.budget_minutes:
                    cell.update(status="skipped", reason="not run (time budget)")
                else:
                    spec = dict(mixer=case.name, batch=args.batch, heads=args.heads, length=L, head_dim=d,
                                threads=args.threads, repeats=args.repeats, max_seconds=args.max_seconds)
                    r = child(spec, timeout=args.max_seconds * (args.repeats + 2) + 120)
                    if "error" in r:
                        cell.update(status="error", reason=r["error"])
                    else:
                        cell.update(status="measured", **r)
                        measured.setdefault((case.name, d), []).append((L, statistics.median(r["wall"])))
                cells.append(cell)
                log(f"d={d:<3} L={L:<6} {case.name:<18} {_cell_text(cell, args.clock, None)}")

    steps: dict[str, dict] = {}
    if args.step_positions:
        from samovar import layers

        d = max(args.head_dims)
        for name in layers.available():
            if args.mixers and name not in args.mixers and not (name == "softmax_attention" and "sdpa" in args.mixers):
                continue
            spec = dict(mixer=name, batch=args.step_batch, heads=args.heads, dim=args.heads * d, threads=1,
                        positions=args.step_positions, window=args.step_window)
            steps[name] = child(spec, timeout=args.step_timeout, flag="--child-step")
            log(f"step {name}: " + ("error" if "error" in steps[name] else "done"))
    roof_end = matmul_gflops(args.threads)
    return {
        "benchmark": "mixers.py",
        "format": 1,
        "command": args.command,
        "code_version": version,
        "note": args.note,
        "conditions": {
            "torch": torch.__version__, "python": platform.python_version(), "cpu_model": cpu_model(),
            "logical_cpus": os.cpu_count(), "threads": args.threads, "nice": os.nice(0),
            "started_utc": started_utc, "minutes": round((time.perf_counter() - started) / 60, 2),
            "load_average_start": load_start, "load_average_end": list(os.getloadavg()),
            "matmul_gflops_start": roof_start, "matmul_gflops_end": roof_end,
            "batch": args.batch, "heads": args.heads, "dtype": "float32", "warmup": 1, "repeats": args.repeats,
            "slow_seconds": args.max_seconds / 2, "max_seconds": args.max_seconds, "max_gib": args.max_gib,
            "main_length": args.main_length, "clock": args.clock,
        },
        "cells": cells,
        "steps": {"batch": args.step_batch, "heads": args.heads, "dim": args.heads * max(args.head_dims), "threads": 1,
                  "window": args.step_window, "positions": sorted(args.step_positions), "mixers": steps},
    }


# --------------------------------------------------------------------------- record -> tables


def _median(cell_or_step: dict, clock: str) -> float:
    return statistics.median(cell_or_step[clock])


def roofline(record: dict) -> float:
    c = record["conditions"]
    return max(statistics.median(c["matmul_gflops_start"]), statistics.median(c["matmul_gflops_end"]))


def _cell_text(cell: dict | None, clock: str, roof: float | None) -> str:
    if cell is None:
        return "—"
    if cell["status"] != "measured":
        return cell["reason"]
    times = cell[clock]
    text = f"{statistics.median(times):.3g} s"
    if len(times) > 1:
        text += f" ({min(times):.3g}–{max(times):.3g})"
    text += f" · {cell['peak_bytes'] / GIB:.2f} GiB"
    if cell.get("flops") and roof:
        rate = cell["flops"] / statistics.median(times) / 1e9
        text += f" · {rate:.1f} GF/s ({100 * rate / roof:.0f}%)"
    return text


def _cells(record: dict) -> dict[tuple[str, int, int], dict]:
    return {(c["mixer"], c["head_dim"], c["length"]): c for c in record["cells"]}


def _sec(record: dict, name: str, d: int, L: int) -> float | None:
    c = _cells(record).get((name, d, L))
    return _median(c, record["conditions"]["clock"]) if c and c["status"] == "measured" else None


def _mem(record: dict, name: str, d: int, L: int) -> float | None:
    c = _cells(record).get((name, d, L))
    return c["peak_bytes"] if c and c["status"] == "measured" else None


def conditions_text(record: dict, source: str) -> list[str]:
    c = record["conditions"]
    clock = {"cpu": "CPU time of the child process (`time.process_time`, less disturbed by other jobs than wall time)",
             "wall": "wall time (`time.perf_counter`)"}[c["clock"]]
    loaded = c["load_average_start"][0] >= 0.5 * c["logical_cpus"] or c["load_average_end"][0] >= 0.5 * c["logical_cpus"]
    lines = [
        f"Generated by `python benchmarks/mixers.py table` from [`{source}`](../../{source}) (every pass of every "
        "cell is in the record); do not edit by hand.",
        "",
        f"Command: `{record['command']}` (code {record['code_version']}, started {c['started_utc']}, "
        f"{c['minutes']:.0f} min).  ",
        f"Machine: {c['cpu_model']}, {c['logical_cpus']} logical CPUs, torch {c['torch']}, Python {c['python']}; "
        f"`torch.set_num_threads({c['threads']})`, nice {c['nice']}.  ",
        f"Load average (1/5/15 min): {load_averages(c['load_average_start'])} at the start, {load_averages(c['load_average_end'])} at the end"
        + (" — **the machine was loaded**: other jobs shared its cores, so absolute times are inflated and only the "
           "ratios between cells of this one run are meaningful." if loaded else "."),
    ]
    if record.get("note"):
        lines[-1] += f" {record['note']}"
    lines[-1] += "  "
    lines += [
        f"Dense-matmul roofline (2048² float32, {c['threads']} thread(s), median of 5 passes): "
        f"{statistics.median(c['matmul_gflops_start']):.1f} GFLOP/s at the start, "
        f"{statistics.median(c['matmul_gflops_end']):.1f} at the end; percentages use {roofline(record):.1f}.  ",
        f"Inputs: batch {c['batch']}, {c['heads']} heads, {c['dtype']}; each cell in a fresh child process, "
        f"{c['warmup']} warm-up pass, then {c['repeats']} timed forward+backward passes (a cell whose warm-up took over "
        f"{c['slow_seconds']:.0f} s reports that single pass).",
        "",
        f"Cell: median {clock} per forward+backward, (min–max over the passes) · peak memory above the inputs "
        "(child-process ru_maxrss) · achieved GFLOP/s (% of the matmul roofline).",
        f"FLOPs: linear-attention family = 3·B·H·L·(2·{REFERENCE_CHUNK}·(d_k+d_v) + 4·d_k·d_v) (the chunked "
        f"algorithm at C = {REFERENCE_CHUNK}, the same count for every chunk size and form, so the rate is "
        "comparable across rows); SDPA = 3·B·H·L²·(d_k+d_v) (causal half). Other rows: time and memory only. "
        "Rows mamba/s4d/mingru/minlstm run their ops with H·d channels (d_state 16 / 64).",
        "",
    ]
    return lines


def grid_tables(record: dict) -> list[str]:
    clock, roof = record["conditions"]["clock"], roofline(record)
    cells = _cells(record)
    order = list(dict.fromkeys(c["mixer"] for c in record["cells"]))
    levels = {c["mixer"]: c["level"] for c in record["cells"]}
    out = []
    for d in sorted({c["head_dim"] for c in record["cells"]}):
        lengths = sorted({c["length"] for c in record["cells"] if c["head_dim"] == d})
        out += [f"## Head dim {d}", "", "| mixer | " + " | ".join(f"L={L}" for L in lengths) + " |",
                "|" + "---|" * (len(lengths) + 1)]
        for name in order:
            row = [_cell_text(cells.get((name, d, L)), clock, roof) for L in lengths]
            out.append(f"| {name}{' (layer)' if levels[name] == 'layer' else ''} | " + " | ".join(row) + " |")
        out.append("")
    return out


def step_table(record: dict) -> list[str]:
    s, clock = record["steps"], record["conditions"]["clock"]
    if not s["mixers"]:
        return []
    pos = s["positions"]
    out = [f"## Recurrent step (layer level, batch {s['batch']}, dim {s['dim']}, {s['heads']} heads, no grad, "
           f"{s['threads']} thread; median of {s['window']} steps after stepping through every earlier position)", "",
           "| mixer | " + " | ".join(f"step at t={t}" for t in pos) + " | ratio |", "|" + "---|" * (len(pos) + 2)]
    for name, r in s["mixers"].items():
        if "error" in r:
            out.append(f"| {name} | {r['error']} |" + " |" * len(pos))
            continue
        vals = [_median(r[str(t)], clock) for t in pos]
        out.append(f"| {name} | " + " | ".join(f"{v * 1e3:.3f} ms" for v in vals) + f" | {vals[-1] / vals[0]:.2f} |")
    return out + [""]


def targets(record: dict) -> list[str]:
    """The mixer issue's targets, checked against this record (missing cells are reported as such)."""
    c = record["conditions"]
    roof, clock = roofline(record), c["clock"]
    sec = lambda n, d, L: _sec(record, n, d, L)  # noqa: E731
    mem = lambda n, d, L: _mem(record, n, d, L)  # noqa: E731
    out = ["## Targets (this record)", "",
           f"The targets were set for batch 56 × 8 heads; this record's batch is {c['batch']}, where the "
           "memory ratio includes a fixed ~40 MiB that a process's first large backward allocates.", ""]

    def check(label, ok, detail):
        out.append(f"- {'n/a' if ok is None else ('PASS' if ok else 'MISS')}: {label} — {detail}")

    la, mat = "linear_attention", "materialized"
    a, b, ma, mb = sec(la, 8, 4096), sec(mat, 8, 4096), mem(la, 8, 4096), mem(mat, 8, 4096)
    if a and b and ma and mb:
        check("d=8, L=4096: chunked ≥ 3× faster and ≥ 5× less memory than materializing", b / a >= 3 and mb / ma >= 5,
              f"{b / a:.1f}× faster, {mb / ma:.1f}× less memory")
    else:
        check("d=8, L=4096 chunked vs materializing", None, "cells missing")
    a, b = sec(la, 32, 1024), sec(mat, 32, 1024)
    check("d=32, L=1024: chunked ≥ 15× faster than materializing", (b / a >= 15) if a and b else None,
          f"{b / a:.1f}×" if a and b else "cells missing")
    for L in (4096, 16384):
        m = mem(la, 32, L)
        check(f"d=32, L={L}: chunked runs well under 24 GiB", (m < 20 * GIB) if m else None,
              f"{m / GIB:.2f} GiB above the inputs" if m else "cell missing")
    for L in (4096, 16384):
        s = sec(la, 32, L)
        if s:
            rate = linear_flops(c["batch"], c["heads"], L, 32) / s / 1e9
            check(f"d=32, L={L}: ≥ 20% of the matmul roofline", rate >= 0.2 * roof, f"{rate:.1f} GF/s = {100 * rate / roof:.0f}%")
    names = list(dict.fromkeys(x["mixer"] for x in record["cells"] if x["mixer"] not in ("sdpa", mat)))
    for d in sorted({x["head_dim"] for x in record["cells"]}):
        a, b = sec(la, d, 4096), sec(la, d, 16384)
        if a and b:
            check(f"d={d}: linear scaling, time(16384) ≤ 4.4 × time(4096)", b <= 4.4 * a, f"{b / a:.2f}×")
        sd = sec("sdpa", d, 4096)
        for n in names:
            s = sec(n, d, 4096)
            if s and sd:
                check(f"d={d}, L=4096: {n} faster than causal SDPA", s < sd, f"{s:.3g} s vs {sd:.3g} s ({sd / s:.1f}×)")
    for name, r in record["steps"]["mixers"].items():
        if "error" not in r and len(r) >= 2:
            pos = record["steps"]["positions"]
            v0, v1 = _median(r[str(pos[0])], clock), _median(r[str(pos[-1])], clock)
            fixed = name != "softmax_attention"
            check(f"step cost independent of position: {name}", (v1 / v0 < 1.5) if fixed else None,
                  f"t={pos[0]}: {v0 * 1e3:.3f} ms, t={pos[-1]}: {v1 * 1e3:.3f} ms "
                  f"({'state of fixed size' if fixed else 'the KV cache grows with t (expected)'})")
    return out + [""]


README_BEGIN, README_END = "<!-- mixers-table:begin (python benchmarks/mixers.py table) -->", "<!-- mixers-table:end -->"
LABELS = {"linear_attention": "linear attention (chunked)", "materialized": "materializing form (the SAMoVAR authors' code)",
          "retnet": "RetNet", "gla": "GLA", "deltanet": "DeltaNet", "s4d": "S4D", "mingru": "minGRU", "minlstm": "minLSTM",
          "mamba": "Mamba-style selective scan", "sdpa": "causal softmax SDPA"}


def readme_block(record: dict, source: str) -> list[str]:
    """The README's summary: every mixer at the main length, both head dims, time relative to SDPA."""
    c = record["conditions"]
    L = c["main_length"]
    dims = sorted({x["head_dim"] for x in record["cells"]})
    loaded = c["load_average_start"][0] >= 0.5 * c["logical_cpus"]
    out = [README_BEGIN,
           f"`python benchmarks/mixers.py run` (the record `{source}`; its command and conditions are in "
           f"[docs/results/mixers.md](docs/results/mixers.md)): forward + backward at L = {L}, batch {c['batch']} × {c['heads']} heads, float32, "
           f"{c['threads']} thread(s), median of {c['repeats']} passes ({'CPU' if c['clock'] == 'cpu' else 'wall'} time); "
           f"load average {c['load_average_start'][0]:.1f} at the start"
           + (" (a loaded machine: compare rows, not absolute times)" if loaded else "")
           + ". Full tables, spreads, other lengths and the target check are on that page.", "",
           "| mixer | " + " | ".join(f"head dim {d}: time · memory (SDPA's time ÷ this)" for d in dims) + " |",
           "|" + "---|" * (len(dims) + 1)]
    for name in dict.fromkeys(x["mixer"] for x in record["cells"]):
        row = []
        for d in dims:
            s, m, sd = _sec(record, name, d, L), _mem(record, name, d, L), _sec(record, "sdpa", d, L)
            cell = _cells(record).get((name, d, L))
            if s is None:
                row.append(cell["reason"] if cell else "—")
            else:
                row.append(f"{s:.3g} s · {m / GIB:.2f} GiB" + (f" ({sd / s:.1f}×)" if sd and name != "sdpa" else ""))
        out.append(f"| {LABELS.get(name, name)} | " + " | ".join(row) + " |")
    return out + [README_END]


def render(record: dict, source: str) -> str:
    lines = ["# Mixer benchmark: forward + backward, op level", ""]
    lines += conditions_text(record, source)
    lines += grid_tables(record) + step_table(record) + targets(record)
    return "\n".join(lines).rstrip() + "\n"


def replace_block(text: str, block: list[str], where: str) -> str:
    return _replace(text, README_BEGIN, README_END, "\n".join(block), where, error=SystemExit)


def newest_record() -> Path:
    records = sorted(RECORDS.glob("*.json"))
    if not records:
        raise SystemExit(f"no record in {RECORDS.relative_to(REPO)}: run `python benchmarks/mixers.py run` first")
    return max(records, key=lambda p: json.loads(p.read_text())["conditions"]["started_utc"])


def write_tables(record_path: Path, output: Path, readme: Path | None) -> None:
    from samovar.utils import write_text_atomic

    try:
        record = json.loads(record_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"cannot read the record {record_path}: {exc}; give a JSON file written by `mixers.py run`")
    source = record_path.resolve().relative_to(REPO).as_posix() if record_path.resolve().is_relative_to(REPO) else record_path.name
    write_text_atomic(output, render(record, source))
    if readme is not None:
        write_text_atomic(readme, replace_block(readme.read_text(), readme_block(record, source), str(readme)))


# --------------------------------------------------------------------------- command line


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--child"]:
        print(json.dumps(run_cell(json.loads(argv[1]))))
        return
    if argv[:1] == ["--child-step"]:
        print(json.dumps(run_step_cell(json.loads(argv[1]))))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command_name", required=True)
    r = sub.add_parser("run", help="measure, write the JSON record, then the tables")
    r.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    r.add_argument("--main-length", type=int, default=4096, help="the length every mixer is measured at")
    r.add_argument("--every-length", nargs="*", default=None,
                   help="mixers measured at every --lengths value (default: all); the others only at --main-length")
    r.add_argument("--head-dims", type=int, nargs="+", default=[8, 32])
    r.add_argument("--batch", type=int, default=56)
    r.add_argument("--heads", type=int, default=8)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="the clock the tables show (both are recorded)")
    r.add_argument("--mixers", nargs="+", default=None, help="subset of rows (names as printed)")
    r.add_argument("--max-gib", type=float, default=20.0, help="skip cells predicted to need more memory")
    r.add_argument("--max-seconds", type=float, default=90.0, help="skip cells predicted to take longer per pass")
    r.add_argument("--budget-minutes", type=float, default=45.0, help="stop starting new cells after this long")
    r.add_argument("--step-positions", type=int, nargs="*", default=[1024, 16384])
    r.add_argument("--step-window", type=int, default=64)
    r.add_argument("--step-timeout", type=float, default=150.0)
    r.add_argument("--step-batch", type=int, default=1)
    r.add_argument("--quick", action="store_true", help="lengths 256 1024, batch 8, 1 repeat, no step timing")
    r.add_argument("--note", default="", help="a sentence about the conditions, kept in the record and the doc")
    r.add_argument("--record", type=Path, default=None, help=f"default: {RECORDS.relative_to(REPO)}/<UTC start>.json")
    r.add_argument("--output", type=Path, default=RESULTS)
    r.add_argument("--readme", type=Path, default=None, help="also rewrite this file's mixer-table block")
    t = sub.add_parser("table", help="regenerate the doc (and the README block) from a record")
    t.add_argument("record", type=Path, nargs="?", default=None, help="default: the newest record in benchmarks/results/mixers/")
    t.add_argument("--output", type=Path, default=RESULTS)
    t.add_argument("--readme", type=Path, default=REPO / "README.md", help="file with the mixer-table block")
    t.add_argument("--no-readme", action="store_true")
    args = p.parse_args(argv)

    if args.command_name == "table":
        write_tables(args.record or newest_record(), args.output, None if args.no_readme else args.readme)
        print(f"written {args.output}" + ("" if args.no_readme else f" and the block in {args.readme}"))
        return

    from samovar.utils import write_json_atomic

    if args.quick:
        args.lengths, args.batch, args.repeats, args.step_positions = [256, 1024], 8, 1, []
        args.main_length = 1024
    if args.main_length not in args.lengths:
        p.error(f"--main-length {args.main_length} is not among --lengths {args.lengths}")
    cases = all_cases()
    if args.mixers:
        unknown = set(args.mixers) - {c.name for c in cases}
        if unknown:
            p.error(f"unknown mixers {sorted(unknown)}; choose from {[c.name for c in cases]}")
        cases = [c for c in cases if c.name in args.mixers]
    args.command = "python benchmarks/mixers.py " + " ".join(_quote(a) for a in argv)
    record = measure_all(args, cases, print)
    path = args.record or RECORDS / (record["conditions"]["started_utc"].replace(":", "") + ".json")
    write_json_atomic(path, record)
    write_tables(path, args.output, args.readme)
    print("\n".join(targets(record)))
    print(f"record {path}, tables {args.output}")


if __name__ == "__main__":
    main()
