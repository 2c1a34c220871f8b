"""Speed and memory of the sequence mixers: forward + backward at the op level.

    python benchmarks/mixers.py                       # the full grid (several minutes)
    python benchmarks/mixers.py --quick               # a small smoke run
    python benchmarks/mixers.py --lengths 1024 4096 --head-dims 32 --mixers linear_attention sdpa

Every cell (mixer × head dim × length) runs in a fresh child process: inputs
``(batch=56, heads=8, length, head_dim)`` in float32, ``torch.set_num_threads(2)``, one
warm-up, then the median of ``--repeats`` forward+backward passes. Peak memory is the child's
``ru_maxrss`` high-water mark minus its value once the inputs exist (so it counts activations,
outputs and gradients, not the inputs). Cells whose predicted memory exceeds ``--max-gib`` are
shown as "OOM (needs X GB)" and never run (so are cells above 80% of the memory the machine
has available at that moment); cells predicted to take longer than
``--max-seconds`` per pass (from the previous length and the mixer's complexity) are skipped.

Rows: every mixer in the ``samovar.layers`` registry, at the op level when the benchmark knows
its op (else the whole layer with dim = heads × head_dim, marked "layer"), plus the
SAMoVAR-paper materializing form of linear attention and causal softmax SDPA.
Also: the machine's dense-matmul rate (the roofline), achieved GFLOP/s for the attention-like
ops, and the recurrent step time at two positions. Results go to docs/results/mixers.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import measure  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results" / "mixers.md"
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
    return {"seconds": timing.median(), "runs": timing.repeats, "peak_bytes": max(rss_bytes() - baseline, 0)}


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

            result[str(mark)] = measure({"step": step}, repeats=spec["window"], warmup=0)["step"].median()
            t += spec["window"]
    return result


# --------------------------------------------------------------------------- parent


def child(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["killed"])[-1]
        return {"error": f"failed (exit {proc.returncode}): {tail[:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def matmul_gflops(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Dense float32 matmul rate on this machine with `threads` threads (the roofline)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / measure({"matmul": lambda: a @ b}, repeats=repeats)["matmul"].median() / 1e9


def available_bytes() -> float:
    """MemAvailable from /proc/meminfo (inf when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def hardware() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs visible, torch {torch.__version__}, Python {platform.python_version()}"


def fmt_cell(r: dict | None, flops: float | None, roof: float) -> str:
    if r is None:
        return "—"
    if "skip" in r:
        return r["skip"]
    if "error" in r:
        return r["error"]
    text = f"{r['seconds']:.3g} s · {r['peak_bytes'] / GIB:.2f} GiB"
    if flops:
        rate = flops / r["seconds"] / 1e9
        text += f" · {rate:.1f} GF/s ({100 * rate / roof:.0f}%)"
    return text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    p.add_argument("--head-dims", type=int, nargs="+", default=[8, 32])
    p.add_argument("--batch", type=int, default=56)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--mixers", nargs="+", default=None, help="subset of rows (names as printed)")
    p.add_argument("--max-gib", type=float, default=20.0, help="skip cells predicted to need more memory")
    p.add_argument("--max-seconds", type=float, default=90.0, help="skip cells predicted to take longer per pass")
    p.add_argument("--budget-minutes", type=float, default=45.0, help="stop starting new cells after this long")
    p.add_argument("--step-positions", type=int, nargs="*", default=[1024, 16384])
    p.add_argument("--step-window", type=int, default=64)
    p.add_argument("--step-timeout", type=float, default=150.0)
    p.add_argument("--step-batch", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="lengths 256 1024, batch 8, 1 repeat, no step timing")
    p.add_argument("--output", type=Path, default=RESULTS)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--child-step", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        print(json.dumps(run_cell(json.loads(args.child))))
        return
    if args.child_step:
        print(json.dumps(run_step_cell(json.loads(args.child_step))))
        return
    if args.quick:
        args.lengths, args.batch, args.repeats, args.step_positions = [256, 1024], 8, 1, []

    from rich.console import Console
    from rich.table import Table

    from samovar.utils import write_text_atomic

    console = Console()
    cases = all_cases()
    if args.mixers:
        unknown = set(args.mixers) - {c.name for c in cases}
        if unknown:
            p.error(f"unknown mixers {sorted(unknown)}; choose from {[c.name for c in cases]}")
        cases = [c for c in cases if c.name in args.mixers]
    command = "python benchmarks/mixers.py " + " ".join(sys.argv[1:] if argv is None else argv)
    roof_start = matmul_gflops(args.threads)
    console.print(f"[bold]{hardware()}[/]; dense matmul (2048², float32, {args.threads} threads): {roof_start:.1f} GFLOP/s")

    # Lengths in order of importance (the targets sit at 4096, then 1024 and 16384), so a time
    # budget cuts the least informative cells; a cell's time guess uses the nearest measured length.
    order = sorted(args.lengths, key=lambda L: (abs(math.log(L / 4096)), L))
    results: dict[tuple[str, int, int], dict] = {}
    measured: dict[tuple[str, int], list[tuple[int, dict]]] = {}
    started = time.perf_counter()
    load_start = os.getloadavg()
    for L in order:
        for d in args.head_dims:
            for case in cases:
                need = case.memory(args.batch, args.heads, L, d)
                done = measured.get((case.name, d), [])
                guess = None
                if done:
                    L0, r0 = min(done, key=lambda item: abs(math.log(item[0] / L)))
                    guess = r0["seconds"] * (L / L0) ** case.complexity
                free = available_bytes()
                if need > args.max_gib * GIB:
                    r = {"skip": f"OOM (needs {need / 1e9:.0f} GB)"}
                elif need > 0.8 * free:  # the machine is shared: never push others out of memory
                    r = {"skip": f"not run (needs {need / 1e9:.0f} GB, {free / 1e9:.0f} GB available)"}
                elif guess is not None and guess > args.max_seconds:
                    r = {"skip": f"skipped (~{guess:.0f} s/pass predicted)"}
                elif time.perf_counter() - started > 60 * args.budget_minutes:
                    r = {"skip": "not run (time budget)"}
                else:
                    spec = dict(mixer=case.name, batch=args.batch, heads=args.heads, length=L, head_dim=d,
                                threads=args.threads, repeats=args.repeats, max_seconds=args.max_seconds)
                    r = child(spec, timeout=args.max_seconds * (args.repeats + 2) + 120)
                    if "seconds" in r:
                        measured.setdefault((case.name, d), []).append((L, r))
                results[(case.name, d, L)] = r
                flops = case.flops(args.batch, args.heads, L, d) if case.flops else None
                console.print(f"d={d:<3} L={L:<6} {case.name:<18} {fmt_cell(r, flops, roof_start)}")

    steps: dict[str, dict] = {}
    if args.step_positions:
        from samovar import layers

        d = max(args.head_dims)
        for name in layers.available():
            if args.mixers and name not in args.mixers and not (name == "softmax_attention" and "sdpa" in args.mixers):
                continue
            spec = dict(mixer=name, batch=args.step_batch, heads=args.heads, dim=args.heads * d, threads=1,
                        positions=args.step_positions, window=args.step_window)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child-step", json.dumps(spec)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.step_timeout)
                steps[name] = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr[-200:]}
            except subprocess.TimeoutExpired:
                steps[name] = {"error": f"timed out after {args.step_timeout:.0f} s"}
            console.print(f"step {name}: {steps[name]}")
    roof_end = matmul_gflops(args.threads)
    roof = max(roof_start, roof_end)
    load_end = os.getloadavg()
    elapsed = (time.perf_counter() - started) / 60

    # ---- tables
    lines = [
        "# Mixer benchmark: forward + backward, op level",
        "",
        f"Command: `{command}`  ",
        f"Hardware: {hardware()}; `torch.set_num_threads({args.threads})`.  ",
        f"Dense-matmul roofline (2048×2048 float32, {args.threads} threads): {roof_start:.1f} GFLOP/s at the start, "
        f"{roof_end:.1f} at the end; percentages use {roof:.1f}.  ",
        f"Load average (1/5/15 min) at the start {'/'.join(f'{x:.1f}' for x in load_start)}, at the end "
        f"{'/'.join(f'{x:.1f}' for x in load_end)} on {os.cpu_count()} CPUs (other work on the machine slows every row); "
        f"the run took {elapsed:.0f} min.  ",
        f"Inputs: batch {args.batch}, {args.heads} heads, float32; median of {args.repeats} passes after one warm-up "
        f"(a cell whose warm-up took over {args.max_seconds / 2:.0f} s reports that single pass).",
        "",
        "Cell: time per forward+backward · peak memory above the inputs (child-process ru_maxrss) · "
        "achieved GFLOP/s (% of the matmul roofline).",
        f"FLOPs: linear-attention family = 3·B·H·L·(2·{REFERENCE_CHUNK}·(d_k+d_v) + 4·d_k·d_v) (the chunked "
        f"algorithm at C = {REFERENCE_CHUNK}, the same count for every chunk size and form, so the rate is "
        "comparable across rows); SDPA = 3·B·H·L²·(d_k+d_v) (causal half). Other rows: time and memory only.",
        "Rows mamba/s4d/mingru/minlstm run their ops with H·d channels (d_state 16 / 64).",
        "",
    ]
    for d in args.head_dims:
        table = Table(title=f"head dim {d}")
        table.add_column("mixer")
        header = "| mixer | " + " | ".join(f"L={L}" for L in sorted(args.lengths)) + " |"
        lines += [f"## Head dim {d}", "", header, "|" + "---|" * (len(args.lengths) + 1)]
        for L in sorted(args.lengths):
            table.add_column(f"L={L}")
        for case in cases:
            cells = []
            for L in sorted(args.lengths):
                flops = case.flops(args.batch, args.heads, L, d) if case.flops else None
                cells.append(fmt_cell(results.get((case.name, d, L)), flops, roof))
            label = case.name + (" (layer)" if case.level == "layer" else "")
            table.add_row(label, *cells)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        console.print(table)
        lines.append("")
    if steps:
        lines += [f"## Recurrent step (layer level, batch {args.step_batch}, dim {args.heads}×{max(args.head_dims)}, "
                  f"{args.heads} heads, no grad, 1 thread; median of {args.step_window} steps after stepping "
                  "through every earlier position)", "",
                  "| mixer | " + " | ".join(f"step at t={t}" for t in args.step_positions) + " | ratio |",
                  "|" + "---|" * (len(args.step_positions) + 2)]
        for name, r in steps.items():
            if "error" in r:
                lines.append(f"| {name} | {r['error']} |")
                continue
            vals = [r[str(t)] for t in sorted(args.step_positions)]
            lines.append(f"| {name} | " + " | ".join(f"{v * 1e3:.3f} ms" for v in vals) + f" | {vals[-1] / vals[0]:.2f} |")
        lines.append("")
    lines += targets(results, steps, roof, args)
    text = "\n".join(lines) + "\n"
    write_text_atomic(args.output, text)
    console.print("\n".join(targets(results, steps, roof, args)))
    console.print(f"written to {args.output}")


def targets(results, steps, roof, args) -> list[str]:
    """The issue's targets, checked against this run (missing cells are reported as such)."""

    def sec(name, d, L):
        r = results.get((name, d, L), {})
        return r.get("seconds")

    def mem(name, d, L):
        return results.get((name, d, L), {}).get("peak_bytes")

    out = ["## Targets (this run)", ""]

    def check(label, ok, detail):
        mark = "n/a" if ok is None else ("PASS" if ok else "MISS")
        out.append(f"- {mark}: {label} — {detail}")

    la, mat = "linear_attention", "materialized"
    a, b = sec(la, 8, 4096), sec(mat, 8, 4096)
    ma, mb = mem(la, 8, 4096), mem(mat, 8, 4096)
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
            rate = linear_flops(args.batch, args.heads, L, 32) / s / 1e9
            check(f"d=32, L={L}: ≥ 20% of the matmul roofline", rate >= 0.2 * roof, f"{rate:.1f} GF/s = {100 * rate / roof:.0f}%")
    names = sorted({n for (n, _, _) in results if n not in ("sdpa", "materialized")})
    for d in args.head_dims:
        a, b = sec(la, d, 4096), sec(la, d, 16384)
        if a and b:
            check(f"d={d}: linear scaling, time(16384) ≤ 4.4 × time(4096)", b <= 4.4 * a, f"{b / a:.2f}×")
        sd = sec("sdpa", d, 4096)
        for n in names:
            s = sec(n, d, 4096)
            if s and sd:
                check(f"d={d}, L=4096: {n} faster than causal SDPA", s < sd, f"{s:.2f} s vs {sd:.2f} s")
            a, b = sec(n, d, 4096), sec(n, d, 16384)
            if n != la and a and b:
                out.append(f"- info: d={d} {n} time(16384)/time(4096) = {b / a:.2f}")
    for name, r in steps.items():
        if "error" not in r and len(r) >= 2:
            vals = [r[k] for k in sorted(r, key=int)]
            note = "softmax attention's KV cache grows with t (expected)" if name == "softmax_attention" else "state of fixed size"
            check(f"step cost independent of position: {name}", (vals[-1] / vals[0] < 1.5) if name != "softmax_attention" else None,
                  f"t={min(r, key=int)}: {vals[0] * 1e3:.3f} ms, t={max(r, key=int)}: {vals[-1] * 1e3:.3f} ms ({note})")
    return out


if __name__ == "__main__":
    main()
