"""Development measurement of the chunked linear-attention kernel: ratios and rates.

    python benchmarks/linear_attention_kernel.py                         # d=8 L=4096, d=32 L=1024 and 4096
    python benchmarks/linear_attention_kernel.py --cells 8:4096 --batch 56
    git show <commit>:src/samovar/ops/linear_attention.py > /tmp/old_la.py
    python benchmarks/linear_attention_kernel.py --baseline-module /tmp/old_la.py   # before/after

For each cell (head dim d, length L): forward+backward CPU time (``time.process_time``, so other
jobs on a shared machine disturb it less than wall time; one warm-up, then the median of
``--repeats`` passes) of ``linear_attention_chunked`` at its ``default_chunk_size(d)``, of the
materializing form (skipped above ``--max-materialized-gib``) and optionally of the chunked
kernel of another version of ``ops/linear_attention.py`` (``--baseline-module``). The forms run
interleaved in one process, pass by pass, so a change in the machine's load hits all of them.
The dense-matmul rate (2048², float32, same thread count) is measured in the same process
before and after each cell; GFLOP/s use the FLOP count of ``benchmarks/mixers.py``
(3·B·H·L·(2·64·2d + 4d²), the chunked algorithm at C = 64, whatever the chunk size).
Peak memory: as in ``benchmarks/mixers.py``, each form in a fresh child process, ``ru_maxrss``
after the passes minus its value once the inputs, one no-grad output and the output gradient
exist (VmHWM, which starts afresh in the child). Not the full benchmark (that is ``benchmarks/mixers.py``): a quick, repeatable check.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
GIB = 1024**3


def flops(B: int, H: int, L: int, d: int) -> float:
    return 3.0 * B * H * L * (2 * 64 * 2 * d + 4 * d * d)


def load_module(path: str | None):
    """samovar.ops.linear_attention, or the same file from another version (a path)."""
    if path is None:
        from samovar.ops import linear_attention

        return linear_attention
    spec = importlib.util.spec_from_file_location("baseline_linear_attention", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def form_fn(form: str, d: int, baseline: str | None):
    """The op for a form name: 'materialized', 'chunked' or 'baseline' (chunked of --baseline-module)."""
    module = load_module(baseline if form == "baseline" else None)
    if form == "materialized":
        return module.linear_attention_materialized, None
    chunk = module.default_chunk_size(d)
    return (lambda q, k, v: module.linear_attention_chunked(q, k, v, chunk_size=chunk)), chunk


def inputs(B: int, H: int, L: int, d: int):
    gen = torch.Generator().manual_seed(0)
    x = [torch.randn(B, H, L, d, generator=gen).requires_grad_() for _ in range(3)]
    return x, torch.randn(B, H, L, d, generator=gen)


def one_pass(fn, x, grad_out) -> float:
    for t in x:
        t.grad = None
    start = time.process_time()
    fn(*x).backward(grad_out)
    return time.process_time() - start


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.process_time()
        a @ b
        times.append(time.process_time() - start)
    return 2 * n**3 / min(times) / 1e9


def peak_rss() -> int:
    """This process's resident-set high-water mark in bytes: VmHWM of /proc/self/status (it
    starts afresh at exec, unlike ru_maxrss, which a child started from a big parent inherits)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_memory(spec: dict) -> dict:
    """Runs in a fresh process: peak bytes above the inputs for one form (see module doc)."""
    torch.set_num_threads(spec["threads"])
    B, H, L, d = spec["batch"], spec["heads"], spec["length"], spec["head_dim"]
    fn, _ = form_fn(spec["form"], d, spec["baseline"])
    x, grad_out = inputs(B, H, L, d)
    del grad_out
    with torch.no_grad():
        probe = fn(*x)
    grad_out = torch.randn_like(probe)
    del probe
    base = peak_rss()
    for _ in range(1 + spec["repeats"]):
        one_pass(fn, x, grad_out)
    return {"peak_bytes": peak_rss() - base}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="+", default=["8:4096", "32:1024", "32:4096"], help="head_dim:length pairs")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--baseline-module", help="another version's ops/linear_attention.py, measured as 'baseline'")
    p.add_argument("--max-materialized-gib", type=float, default=4.0, help="skip the materializing form above this")
    p.add_argument("--no-memory", action="store_true", help="times only")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child_memory(json.loads(args.child))))
        return
    if args.baseline_module and not Path(args.baseline_module).is_file():
        p.error(f"--baseline-module {args.baseline_module!r} is not a file")
    torch.set_num_threads(args.threads)
    B, H = args.batch, args.heads
    print(f"batch {B} × {H} heads, float32, {args.threads} thread(s), process time, median of {args.repeats} "
          "interleaved passes after one warm-up")
    print("| d | L | form | chunk | fwd+bwd | GFLOP/s (% of matmul) | peak above inputs | vs materializing (time, memory) |")
    print("|---|---|---|---|---|---|---|---|")
    for cell in args.cells:
        d, L = (int(v) for v in cell.split(":"))
        forms = ["materialized"] if 3 * B * H * L * d * d * 4 <= args.max_materialized_gib * GIB else []
        forms += (["baseline"] if args.baseline_module else []) + ["chunked"]
        roof = matmul_gflops()
        x, grad_out = inputs(B, H, L, d)
        fns = {f: form_fn(f, d, args.baseline_module) for f in forms}
        times: dict[str, list[float]] = {f: [] for f in forms}
        for i in range(1 + args.repeats):
            for f in forms:
                t = one_pass(fns[f][0], x, grad_out)
                if i:
                    times[f].append(t)
        del x, grad_out
        roof = max(roof, matmul_gflops())
        mem = {}
        if not args.no_memory:
            for f in forms:
                spec = dict(form=f, baseline=args.baseline_module, batch=B, heads=H, length=L, head_dim=d,
                            threads=args.threads, repeats=args.repeats)
                out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
                mem[f] = json.loads(out.stdout.strip().splitlines()[-1])["peak_bytes"] if out.returncode == 0 else None
        sec = {f: statistics.median(ts) for f, ts in times.items()}
        for f in forms:
            rate = flops(B, H, L, d) / sec[f] / 1e9
            m = mem.get(f)
            vs = ""
            if "materialized" in sec and f != "materialized":
                mm = mem.get("materialized")
                vs = f"{sec['materialized'] / sec[f]:.1f}×" + (f", {mm / m:.1f}×" if m and mm else "")
            print(f"| {d} | {L} | {f} | {fns[f][1] or '-'} | {sec[f] * 1e3:.0f} ms | {rate:.1f} ({100 * rate / roof:.0f}% of {roof:.0f}) "
                  f"| {f'{m / 2**20:.0f} MiB' if m is not None else '-'} | {vs} |", flush=True)


if __name__ == "__main__":
    main()
