"""What `make train` prints, recorded: DLinear on ETTh1 (lookback 336, horizon 96) through `samovar train`.

    SAMOVAR_DATA_DIR=../shared/data python benchmarks/make_train.py --record benchmarks/results/make_train.json
    python benchmarks/make_train.py --table benchmarks/results/make_train.json   # the docs/training.md block

Two runs, each the CLI in a child process exactly as the Makefile calls it (one thread), into a
temporary runs directory: the default recipe (``--recipe auto``: DLinear's published ETTh1 recipe,
what `make train` trains) and the generic LTSF recipe (``--recipe ltsf``). The record keeps each
run's command, epochs, best epoch, test metrics (``test_metrics.json`` of its run directory) and the
child's wall and CPU seconds, with the conditions (torch, date, commit, load average).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import rewrite_block  # noqa: E402
from _records import git_commit, load_record, parse_record_or_table, record_or_table_parser  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "training.md"
BEGIN = "<!-- make-train:begin (python benchmarks/make_train.py --table RECORD) -->"
END = "<!-- make-train:end -->"
COMMAND = ["train", "--model", "dlinear", "--dataset", "ETTh1", "--lookback", "336", "--horizon", "96"]
RECIPES = ("auto", "ltsf")


def run_one(recipe: str, runs_dir: Path, data_dir: str | None) -> dict:
    args = [*COMMAND, "--runs-dir", str(runs_dir / recipe)] + ([] if recipe == "auto" else ["--recipe", recipe])
    if data_dir:
        args += ["--data-dir", data_dir]
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "samovar", *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"error: samovar {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    (run_dir,) = [p.parent for p in (runs_dir / recipe).rglob("test_metrics.json")]
    test = json.loads((run_dir / "test_metrics.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    config = json.loads((run_dir / "config.json").read_text())
    shown = [a for a in args if a not in ("--runs-dir", str(runs_dir / recipe), "--data-dir", data_dir)]
    return {"recipe": recipe, "command": "samovar " + " ".join(shown), "epochs_run": len(rows),
            "best_epoch": test.get("best_epoch"), "val_mse": [r["val_mse"] for r in rows],
            "test": {k: test[k] for k in ("mse", "mae", "mse_raw", "mae_raw", "windows") if k in test},
            "train_config": config.get("train"), "wall_seconds": round(wall, 1),
            "cpu_seconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1)}


def block(record: dict, source: str) -> str:
    """The docs/training.md paragraph (markers included) of one record."""
    runs = {r["recipe"]: r for r in record["runs"]}
    auto, ltsf = runs["auto"], runs["ltsf"]
    c = record["conditions"]

    def said(r: dict) -> str:
        t, cfg = r["test"], r["train_config"] or {}
        return (f"lr {cfg.get('lr'):g}, {r['epochs_run']} epochs (best epoch {r['best_epoch']}), test MSE "
                f"{t['mse']:.4f} / MAE {t['mae']:.4f} (original scale {t['mse_raw']:.3f} / {t['mae_raw']:.3f}), "
                f"{r['wall_seconds']:.1f} s wall ({r['cpu_seconds']:.1f} s CPU)")

    return "\n".join([
        BEGIN,
        f"`make train` runs `{auto['command']}`, which takes DLinear's published ETTh1 recipe (`--recipe auto`): "
        f"{said(auto)}. With the generic LTSF recipe (`--recipe ltsf`): {said(ltsf)}. Measured "
        f"{c['started_utc'][:10]} at commit {record['commit']} (torch {c['torch']}, 1 thread, load average "
        f"{c['load_average_start'][0]:.1f} on {c['logical_cpus']} cores"
        + (": other jobs shared the machine, so wall times are inflated" if c["load_average_start"][0] >= 1 else "")
        + f"); the record is [`{source}`](../{source}) (`benchmarks/make_train.py`).",
        END,
    ])


def main(argv: list[str] | None = None) -> None:
    parser = record_or_table_parser(__doc__.split("\n")[0], record="train both runs and write the record here",
                                    table="train nothing: rewrite the docs/training.md block from this record", doc=DOC)
    args = parse_record_or_table(parser, argv)
    from samovar.utils import write_json_atomic

    if args.record is not None:
        import torch

        started, load0, commit = datetime.now(timezone.utc), os.getloadavg(), git_commit()
        with tempfile.TemporaryDirectory() as tmp:
            runs = [run_one(recipe, Path(tmp), args.data_dir) for recipe in RECIPES]
        write_json_atomic(args.record, {
            "benchmark": "make_train.py", "commit": commit,
            "conditions": {"torch": torch.__version__, "python": platform.python_version(), "threads": 1,
                           "nice": os.nice(0), "logical_cpus": os.cpu_count(), "load_average_start": list(load0),
                           "load_average_end": list(os.getloadavg()), "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "runs": runs})
        print(f"record: {args.record}")
    if args.table is not None:
        record, source = load_record(args.table, "--record")
        text = block(record, source)
        rewrite_block(args.doc, BEGIN, END, text)


if __name__ == "__main__":
    main()
