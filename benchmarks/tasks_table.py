"""Print a markdown table of finished language-model task runs (results.json + config.json of each run directory).

    python benchmarks/tasks_table.py runs/tasks/shakespeare-*
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(run_dir: Path) -> str:
    cfg = json.loads((run_dir / "config.json").read_text())
    res = json.loads((run_dir / "results.json").read_text())
    train_seconds = res["train_seconds_this_call"]
    if cfg["task"]["kind"] != "lm":
        raise SystemExit(f"{run_dir} is a classification run; this table is for language models")
    value = (f"{res['val_loss_est']:.4f} | {res['val_loss']:.4f} | "
             + (f"{res['val_bpc']:.3f}" if "val_bpc" in res else f"{res['val_ppl']:.1f}"))
    return (f"| {cfg['model']['mixer']} | {cfg['parameters']:,} | {value} | {train_seconds / 60:.1f} | "
            f"{res['wall_seconds_this_call'] / 60:.1f} | {res['peak_mem_mb']:.0f} | {res['budget']} |")


def main(paths: list[str]) -> None:
    print("| mixer | parameters | val loss (nanoGPT 20-batch estimate) | val loss (exact, every validation target) | "
          "bits/char or ppl (exact) | train min | wall min | peak RSS MB | budget |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in paths:
        run_dir = Path(p)
        if (run_dir / "results.json").exists():
            print(row(run_dir))


if __name__ == "__main__":
    main(sys.argv[1:])
