"""CPU cost of `samovar bench run --profile quick`: one cell in detail, or the whole grid (--grid).

Everything is CPU time (time.process_time, 1 torch thread), so other processes sharing the
machine do not inflate it. Measured per cell:

  step   one optimizer step at the cell's recipe batch size (median of `--steps` steps after one
         warm-up step, `benchmarks/_timing.py`; each step gathers its batch from random training
         windows, as the trainer does)
  eval   forecast + metrics per window at the evaluation batch size (the test-style pass: scaled
         and original-scale metrics), on the first `--eval-windows` windows of the test split
  data   prepare_data (reading and scaling the file)

and a cell is estimated as

  data + epochs * steps_per_epoch * step + epochs * val_windows * eval + test_windows * eval

(the quick profile validates after every epoch and tests once over EVERY window; early stopping
cannot trigger when epochs <= patience, so this is the cell's cost, not a bound). The grid adds
`--overhead` per cell for the spawned worker process (interpreter, imports, database and
run-directory writes; measured by --grid once in a child process that runs a negligible cell).

    # one cell per model (full passes over val and test)
    python benchmarks/bench_quick_timing.py --dataset ETTh1 --horizon 96 --data-dir ../shared/data
    # the whole deliverable grid, per-model and total CPU-minutes (short measurements, extrapolated)
    python benchmarks/bench_quick_timing.py --grid --data-dir ../shared/data [--max-epochs 1 --max-steps 50]

--grid measures per (model, dataset, lookback) the smallest and the largest horizon that model
trains at that lookback, interpolates the step and per-window costs linearly in the horizon
between them (heads and CATS's queries grow with the horizon), and applies them with each
cell's own window counts and step count. A model whose cost does not depend on the dataset beyond its window counts (the
encoder Transformer: one token per time step, channels only enter its embedding) can be
measured on one dataset with --shared-cost transformer.

--grid --record PATH writes the run as a JSON record (atomic): the conditions (torch and Python
versions, threads, nice level, CPU model, load average at the start and the end, UTC start, minutes,
the code's commit, a --note on the machine's load), every measurement with each timed step on both
clocks, and every cell's estimate. --table PATH measures nothing and rewrites the block of
docs/bench.md generated from such a record.
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
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from samovar import models
from samovar.bench.grid import plan
from samovar.bench.runner import cap_training_windows
from samovar.data import WindowSet, prepare_data
from samovar.training.metrics import evaluate
from samovar.training.runs import build_model
from samovar.training.trainer import _batch_plan, _make_optimizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import rewrite_block  # noqa: E402
from _records import add_measure_record_options, cpu_model, git_commit, load_averages, load_record  # noqa: E402
from _timing import measure, timed_call  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "bench.md"
BEGIN = "<!-- quick-budget:begin (python benchmarks/bench_quick_timing.py --table RECORD) -->"
END = "<!-- quick-budget:end -->"

DELIVERABLE = dict(datasets="ETTh1,ETTh2,ETTm1,Weather,Exchange,ILI", horizons="96,192,336,720")


def first_windows(windows: WindowSet, k: int) -> WindowSet:
    """The first k windows of a split as a WindowSet of their own (same rows, same tensor)."""
    k = min(k, len(windows))
    return WindowSet(windows.data, windows.start, windows.start + k + windows.lookback + windows.horizon - 1,
                     windows.lookback, windows.horizon, windows.name)


def measure_cell(cell, *, steps: int, eval_windows: int | None, data_dir: str | None) -> dict:
    """CPU seconds of data loading, one step, and one eval window (or full passes if eval_windows is None)."""
    data, loading = timed_call(lambda: prepare_data(cell.dataset, lookback=cell.lookback, horizon=cell.horizon,
                                                    data_dir=data_dir))
    config = cell.train_config(threads=1, quiet=True)
    capped, _ = cap_training_windows(data, cell)
    _, steps_per_epoch = _batch_plan(len(capped.train), config)
    net = build_model(cell.model, cell.lookback, cell.horizon, data.channels, cell.model_kwargs, seed=1)
    opt = _make_optimizer(net, config)
    batch = config.batch_size * config.accumulate
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        x, y = data.train.batch(torch.randint(len(data.train), (batch,), generator=gen))
        opt.zero_grad(set_to_none=True)
        net.training_loss(x, y).backward()
        opt.step()

    net.train()
    timing = measure({"step": step}, repeats=steps)["step"]
    t_step = timing.median("cpu")
    out = {"model": cell.model, "dataset": cell.dataset, "horizon": cell.horizon, "lookback": cell.lookback,
           "channels": data.channels, "batch": batch, "params": net.num_parameters(), "epochs": config.epochs,
           "steps_per_epoch": steps_per_epoch, "eval_batch": config.eval_batch_size,
           "eval_batch_config": config.eval_batch_size, "data_s": loading.median("cpu"),
           "step_s": t_step, "step_cpu_s": list(timing.cpu), "step_wall_s": list(timing.wall),
           "train_windows": len(data.train), "val_windows": len(data.val),
           "test_windows": len(data.test)}
    if eval_windows is None:  # full passes
        out["val_pass_s"] = timed_call(lambda: evaluate(net, data.val, batch_size=config.eval_batch_size))[1].median("cpu")
        out["test_pass_s"] = timed_call(lambda: evaluate(net, data.test, batch_size=config.eval_batch_size,
                                                         scaler=data.scaler, raw_values=data.values))[1].median("cpu")
        out["eval_window_s"] = (out["val_pass_s"] + out["test_pass_s"]) / (len(data.val) + len(data.test))
    else:
        part = first_windows(data.test, eval_windows)
        batch_size = min(config.eval_batch_size, len(part))
        out["eval_batch"] = batch_size  # the batch size actually timed
        evaluate(net, first_windows(part, min(8, len(part))), batch_size=batch_size)  # warm-up
        _, t = timed_call(lambda: evaluate(net, part, batch_size=batch_size, scaler=data.scaler, raw_values=data.values))
        out["eval_window_s"] = t.median("cpu") / len(part)
        out["eval_measured_windows"] = len(part)
    return out


def interpolate(lo: dict, hi: dict, horizon: int) -> dict:
    """Step and per-window costs at `horizon`, linear between the measurements at two horizons."""
    if hi["horizon"] == lo["horizon"]:
        return lo
    w = (horizon - lo["horizon"]) / (hi["horizon"] - lo["horizon"])
    return {**lo, **{k: (1 - w) * lo[k] + w * hi[k] for k in ("step_s", "eval_window_s", "data_s")}}


def cell_cost(m: dict, *, val_windows: int, test_windows: int, steps_per_epoch: int, epochs: int) -> dict:
    train = epochs * steps_per_epoch * m["step_s"]
    val = epochs * val_windows * m["eval_window_s"]
    test = test_windows * m["eval_window_s"]
    return {"data": m["data_s"], "train": train, "val": val, "test": test, "total": m["data_s"] + train + val + test}


def process_overhead() -> float:
    """CPU seconds a bench worker process spends besides a cell's data/training/evaluation: a fresh
    interpreter that imports the CLI and runs one cell through the worker entry point (claim, run
    directory, checkpoint, forecast sample, database writes) on a cell whose own compute is negligible
    (DLinear on the synthetic set, one step)."""
    code = (
        "import sys, tempfile, samovar.cli\n"
        "from samovar.bench.db import ResultsDB\n"
        "from samovar.bench.grid import plan\n"
        "from samovar.bench.runner import _worker\n"
        "d = tempfile.mkdtemp()\n"
        "(cell,) = plan(['dlinear'], ['synthetic'], [24], [1], profile='quick', max_steps_per_epoch=1, lookback='48')\n"
        "_worker(cell, d + '/o.db', {'runs_root': d + '/runs', 'threads': 1, 'code_version': 'overhead'})\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def one_cell_table(args) -> None:
    print("| model | lookback | batch | params | step CPU s | val pass CPU s | test pass CPU s | steps/epoch | est. quick cell CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        (cell,) = plan([name], [args.dataset], [args.horizon], [2021], profile="quick", data_dir=args.data_dir,
                       max_epochs=args.max_epochs, max_steps_per_epoch=args.max_steps,
                       overrides={"eval_batch_size": args.eval_batch_size} if args.eval_batch_size else None)
        if cell.na_reason:
            print(f"| {name} | {cell.lookback} | N/A: {cell.na_reason.splitlines()[0]} |")
            continue
        m = measure_cell(cell, steps=args.steps, eval_windows=None, data_dir=args.data_dir)
        c = cell_cost(m, val_windows=m["val_windows"], test_windows=m["test_windows"],
                      steps_per_epoch=m["steps_per_epoch"], epochs=m["epochs"])
        print(f"| {name} | {cell.lookback} | {m['batch']} | {m['params']:,} | {m['step_s']:.3f} | {m['val_pass_s']:.1f} "
              f"| {m['test_pass_s']:.1f} | {m['steps_per_epoch']} x {m['epochs']} | {c['total']:.0f} |", flush=True)


def grid_table(args, argv: list[str]) -> None:
    started, t0, load0, commit = datetime.now(timezone.utc), time.monotonic(), os.getloadavg(), git_commit()
    names = models.available() if args.models == "all" else args.models.split(",")
    cells = plan(names, args.datasets.split(","), [int(h) for h in args.horizons.split(",")], [2021], profile="quick",
                 lookback=args.lookback, data_dir=args.data_dir, max_epochs=args.max_epochs, max_steps_per_epoch=args.max_steps,
                 overrides={"eval_batch_size": args.eval_batch_size} if args.eval_batch_size else None)
    live = [c for c in cells if c.na_reason is None]
    shared = set(filter(None, (args.shared_cost or "").split(",")))
    # measurements per (model, dataset, lookback) -- per (model, lookback) for shared-cost models
    groups: dict[tuple, list] = defaultdict(list)
    for c in live:
        groups[(c.model, None if c.model in shared else c.dataset, c.lookback)].append(c)
    overhead = process_overhead() if args.overhead is None else args.overhead
    print(f"# {len(cells)} cells, {len(cells) - len(live)} N/A, {len(live)} to run; {len(groups)} measurements; "
          f"per-cell process overhead {overhead:.1f} CPU s", flush=True)
    measured: dict[tuple, dict] = {}
    if args.reuse:  # step and per-window costs do not depend on the epoch/step caps: re-estimate without measuring
        with open(args.reuse) as fh:
            for m in json.load(fh)["measured"]:
                measured[tuple(m["key"])] = m
    spent = time.process_time()
    for key, group in groups.items():
        for horizon in sorted({min(c.horizon for c in group), max(c.horizon for c in group)}):
            probe = max((c for c in group if c.horizon == horizon), key=lambda c: c.dataset)
            old = measured.get(key + (horizon,))
            if old is not None and old["eval_batch_config"] == probe.train_config().eval_batch_size:
                continue
            m = measure_cell(probe, steps=args.steps, eval_windows=args.eval_windows, data_dir=args.data_dir)
            m["key"] = list(key + (horizon,))
            measured[key + (horizon,)] = m
            print(f"#   measured {probe.label()}: step {m['step_s']:.3f} s (batch {m['batch']}), "
                  f"eval {1e3 * m['eval_window_s']:.2f} ms/window (batch {m['eval_batch']}), data {m['data_s']:.2f} s",
                  flush=True)
    print(f"# measuring took {time.process_time() - spent:.0f} CPU s", flush=True)
    rows = []
    for key, group in groups.items():
        lo, hi = min(c.horizon for c in group), max(c.horizon for c in group)
        for c in group:
            m = interpolate(measured[key + (lo,)], measured[key + (hi,)], c.horizon)
            # the cell's own window counts (cheap: no model, no training)
            config = c.train_config()
            data, loading = timed_call(lambda: prepare_data(c.dataset, lookback=c.lookback, horizon=c.horizon,  # noqa: B023
                                                            data_dir=args.data_dir))
            t_data = loading.median("cpu")
            capped, _ = cap_training_windows(data, c)
            _, steps = _batch_plan(len(capped.train), config)
            cost = cell_cost(m, val_windows=len(data.val), test_windows=len(data.test), steps_per_epoch=steps,
                             epochs=config.epochs)
            cost["total"] += t_data - cost["data"]
            cost["data"] = t_data
            rows.append({"model": c.model, "dataset": c.dataset, "horizon": c.horizon, "lookback": c.lookback,
                         "steps": steps, "epochs": config.epochs, "val_windows": len(data.val),
                         "test_windows": len(data.test), **cost, "total": cost["total"] + overhead})
    print()
    print("\n".join(cost_tables(rows, [c.dataset for c in cells])))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"overhead_s": overhead, "measured": list(measured.values()), "cells": rows,
                       "args": vars(args)}, fh, indent=1)
    if args.record:
        from samovar.utils import write_json_atomic

        write_json_atomic(args.record, {
            "benchmark": "bench_quick_timing.py", "command": "python benchmarks/bench_quick_timing.py " + " ".join(_portable(argv)),
            "commit": commit, "note": args.note,
            "conditions": {"torch": torch.__version__, "python": platform.python_version(), "threads": 1,
                           "nice": os.nice(0), "cpu_model": cpu_model(), "logical_cpus": os.cpu_count(),
                           "load_average_start": list(load0), "load_average_end": list(os.getloadavg()),
                           "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "minutes": round((time.monotonic() - t0) / 60, 2), "steps": args.steps,
                           "eval_windows": args.eval_windows, "datasets": args.datasets.split(","),
                           "horizons": [int(h) for h in args.horizons.split(",")], "max_epochs": args.max_epochs,
                           "max_steps": args.max_steps, "clock": "time.process_time (cpu), time.perf_counter (wall)"},
            "grid": {"cells": len(cells), "na": len(cells) - len(live), "datasets": list(dict.fromkeys(c.dataset for c in cells))},
            "overhead_s": overhead, "measured": list(measured.values()), "cells": rows})
        print(f"record: {args.record}")


def cost_tables(rows: list[dict], datasets: list[str]) -> list[str]:
    """Per-model CPU-minutes (train, validation, test, other, total) and per-dataset totals of the estimated cells."""
    names = sorted({r["model"] for r in rows})
    lines = ["| model | cells | train CPU min | val CPU min | test CPU min | other CPU min | total CPU min |",
             "|---|---|---|---|---|---|---|"]
    total = defaultdict(float)
    for name in names:
        mine = [r for r in rows if r["model"] == name]
        s = {k: sum(r[k] for r in mine) / 60 for k in ("train", "val", "test", "total")}
        s["other"] = s["total"] - s["train"] - s["val"] - s["test"]
        for k, v in s.items():
            total[k] += v
        lines.append(f"| {name} | {len(mine)} | {s['train']:.1f} | {s['val']:.1f} | {s['test']:.1f} | {s['other']:.1f} "
                     f"| {s['total']:.1f} |")
    lines += [f"| **all** | {len(rows)} | {total['train']:.1f} | {total['val']:.1f} | {total['test']:.1f} | "
              f"{total['other']:.1f} | **{total['total']:.1f}** |", ""]
    lines += ["| dataset | " + " | ".join(names) + " | all |", "|---|" + "---|" * (len(names) + 1)]
    for dataset in dict.fromkeys(datasets):
        per = [sum(r["total"] for r in rows if r["dataset"] == dataset and r["model"] == name) / 60 for name in names]
        lines.append(f"| {dataset} | " + " | ".join(f"{v:.1f}" for v in per) + f" | {sum(per):.1f} |")
    return lines


def _portable(argv: list[str]) -> list[str]:
    """`argv` as a record keeps it: the data directory (a path of this machine) as $SAMOVAR_DATA_DIR, and
    --record, --note (kept apart in the record) left out."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in ("--record", "--note"):
            skip = True
            continue
        out.append("$SAMOVAR_DATA_DIR" if i > 0 and argv[i - 1] == "--data-dir" else arg)
    return out



def table(record: dict, source: str) -> str:
    """The docs/bench.md block (markers included) of one --grid --record file."""
    c = record["conditions"]
    loaded = max(c["load_average_start"][0], c["load_average_end"][0]) >= 0.5 * c["logical_cpus"]
    grid = record["grid"]
    lines = [
        BEGIN,
        f"Generated by `python benchmarks/bench_quick_timing.py --table {source}` from the record "
        f"[`{source}`](../{source}) (every measurement, each timed step and every cell's estimate are in it); "
        "do not edit by hand.",
        "",
        f"Command: `{record['command']}` (commit {record['commit']}, started {c['started_utc']}, {c['minutes']:.0f} min "
        f"of wall time). {c['cpu_model']}, {c['logical_cpus']} logical CPUs, torch {c['torch']}, Python {c['python']}, "
        f"1 torch thread, nice {c['nice']}. {grid['cells']} cells on {', '.join(grid['datasets'])}, {grid['na']} of them "
        f"N/A; per-cell process overhead {record['overhead_s']:.1f} CPU s (measured once in a child process). "
        f"Load average (1/5/15 min) {load_averages(c['load_average_start'])} at the start, {load_averages(c['load_average_end'])} at the end"
        + (" — **the machine was loaded**: other jobs shared its cores, so even CPU times are somewhat inflated."
           if loaded else ".")
        + (f" {record['note']}" if record.get("note") else ""),
        "",
        "Estimated CPU-minutes of the cells that train:",
        "",
        *cost_tables(record["cells"], grid["datasets"]),
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", action="store_true", help="estimate the whole grid (default: the deliverable's)")
    parser.add_argument("--dataset", default="ETTh1", help="one-cell mode")
    parser.add_argument("--horizon", type=int, default=96, help="one-cell mode")
    parser.add_argument("--datasets", default=DELIVERABLE["datasets"], help="--grid")
    parser.add_argument("--horizons", default=DELIVERABLE["horizons"], help="--grid")
    parser.add_argument("--models", default="all")
    parser.add_argument("--max-epochs", type=int, default=None, help="as `bench run --max-epochs` (default: the quick profile's)")
    parser.add_argument("--max-steps", type=int, default=None, help="as `bench run --max-steps`")
    parser.add_argument("--lookback", default="paper", help="--grid: lookback policy, as `bench run --lookback`")
    parser.add_argument("--eval-batch-size", type=int, default=None, help="override the cells' evaluation batch size")
    parser.add_argument("--steps", type=int, default=2, help="measured optimizer steps per measurement (after a warm-up)")
    parser.add_argument("--eval-windows", type=int, default=256, help="--grid: test windows timed per measurement")
    parser.add_argument("--shared-cost", default="transformer", help="--grid: models measured on one dataset only")
    parser.add_argument("--overhead", type=float, default=None, help="--grid: per-cell process overhead in CPU s (default: measure)")
    parser.add_argument("--json", default=None, help="--grid: also write every measurement and cell estimate here")
    parser.add_argument("--reuse", default=None, help="--grid: take measurements from an earlier --json file (same "
                        "eval batch size) and measure only what it lacks; e.g. to estimate other --max-epochs/--max-steps")
    parser.add_argument("--data-dir", default=None)
    add_measure_record_options(
        parser, record="--grid: write the run as a JSON record (conditions, every measurement, every cell)",
        table="measure nothing: rewrite the docs/bench.md block from this --grid --record file", doc=DOC)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.table is not None:
        record, source = load_record(args.table, "--grid --record")
        block = table(record, source)
        rewrite_block(args.doc, BEGIN, END, block)
        return
    if args.record is not None and not args.grid:
        parser.error("--record writes a --grid run; add --grid")
    torch.set_num_threads(1)
    if args.models == "all" and not args.grid:
        args.models = ",".join(models.available())
    grid_table(args, argv) if args.grid else one_cell_table(args)


if __name__ == "__main__":
    main()
