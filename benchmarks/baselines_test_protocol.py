"""Our baseline cells scored the way their authors' test loaders score them.

Several baseline repositories inherit a test ``DataLoader(shuffle=False, drop_last=True)`` with
the training batch size: the last, partial batch of test windows, the windows at the end of
the test period, is never scored. Our numbers (``benchmarks/reproduce_baselines.py``) use every
test window. This script re-scores each finished cell's best weights on the windows such a
loader keeps, the first ``floor(N / batch) * batch``, so a gap to a paper can be split into
protocol and model. It is a diagnostic: nothing is chosen with it. The headline numbers stay
the every-window ones.

Which loaders drop (read in the authors' code):
- PatchTST: ``PatchTST_supervised/data_provider/data_factory.py``, test batch = ``--batch_size``
  (read in forks of yuqinie98/PatchTST; the upstream file was not in the store searched).
- CATS (Kim et al.): ``data/data_factory.py`` of dongbeank/CATS, the same.
- iTransformer: test batch 1 (``data_provider/data_factory.py``), so nothing is dropped.
- FITS: the authors' published numbers are after their fix (every window).

Needs the cells' run directories (``benchmarks/runs/baselines/<cell>/``, git-ignored) and the
data; writes ``docs/results/baselines_test_protocol.md``.

    SAMOVAR_DATA_DIR=../shared/data python benchmarks/baselines_test_protocol.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from samovar.data import prepare_data
from samovar.training import rundir as rd
from samovar.training.metrics import evaluate
from samovar.training.runs import load_run
from samovar.utils import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "baselines"
RUNS = REPO / "benchmarks" / "runs" / "baselines"
OUT = REPO / "docs" / "results" / "baselines_test_protocol.md"

# models whose authors' test loader drops the last partial batch of the training batch size
DROPS_LAST_TEST_BATCH = {"patchtst": True, "cats_xattn": True, "itransformer": False, "fits": False}


class FirstWindows:
    """The first `n` windows of a window set, in order (what a drop_last loader scores)."""

    def __init__(self, windows, n: int):
        if not 0 < n <= len(windows):
            raise ValueError(f"cannot keep {n} of {len(windows)} windows")
        self.windows, self.n = windows, n

    def __len__(self) -> int:
        return self.n

    def batch(self, idx: torch.Tensor):
        return self.windows.batch(idx)


def kept_windows(n: int, batch_size: int) -> int:
    """Windows a ``DataLoader(drop_last=True)`` of this batch size scores out of `n`."""
    kept = (n // batch_size) * batch_size
    if kept == 0:
        raise ValueError(f"a drop_last loader of batch {batch_size} scores none of {n} windows")
    return kept


def rescore(record: dict, runs_root: Path, data_dir: str | None) -> dict | None:
    """Every-window and authors'-loader test MSE/MAE of one finished cell; None without its run dir."""
    run_dir = runs_root / Path(record["run_dir"]).name if record.get("run_dir") else None
    if run_dir is None or not (run_dir / rd.BEST).exists():
        return None
    run = load_run(run_dir)
    data = prepare_data(record["dataset"], lookback=record["lookback"], horizon=record["horizon"], data_dir=data_dir)
    full = evaluate(run.model, data.test, batch_size=512)
    if abs(full["mse"] - record["test"]["mse"]) > 1e-5:
        raise RuntimeError(f"{run_dir}: its best weights give test MSE {full['mse']:.6f}, the record says "
                           f"{record['test']['mse']:.6f}; the run directory is not this record's")
    batch = record["recipe"]["batch_size"]
    kept = kept_windows(len(data.test), batch)
    part = evaluate(run.model, FirstWindows(data.test, kept), batch_size=512)
    return {"full": full, "kept": part, "batch": batch, "windows": len(data.test), "kept_windows": kept}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("SAMOVAR_DATA_DIR"))
    parser.add_argument("--runs-root", type=Path, default=RUNS)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from reproduce_baselines import paper_numbers

    rows, skipped = [], []
    records = [(path, json.loads(path.read_text())) for path in RESULTS.glob("*.json")]
    for path, record in sorted(records, key=lambda pr: (pr[1]["model"], pr[1].get("setting", ""), pr[1]["horizon"])):
        if not DROPS_LAST_TEST_BATCH.get(record["model"]):
            continue
        scored = rescore(record, args.runs_root, args.data_dir)
        if scored is None:
            skipped.append(path.stem)
            continue
        p_mse, p_mae = paper_numbers(record["model"], record["setting"], record["horizon"])
        full, kept = scored["full"], scored["kept"]
        label = record["model"] if record["setting"] == "paper" else f"{record['model']} ({record['setting']})"
        rows.append(
            f"| {label} | {record['horizon']} | {scored['batch']} | {scored['kept_windows']}/{scored['windows']} | "
            f"{full['mse']:.4f} / {full['mae']:.4f} | {kept['mse']:.4f} / {kept['mae']:.4f} | "
            f"{p_mse:.3f} / {p_mae:.3f} | {full['mse'] - p_mse:+.3f} | {kept['mse'] - p_mse:+.3f} |")
        print(rows[-1], flush=True)
    lines = [
        "# Baseline test scores under the authors' drop-last test loader",
        "",
        "Generated by `benchmarks/baselines_test_protocol.py`. PatchTST's and Kim et al.'s CATS's published code scores the "
        "test split with `DataLoader(shuffle=False, drop_last=True)` at the training batch size, so the windows "
        "of the last partial batch (the end of the test period) are never scored. Each row re-scores the cell's "
        "best weights (the ones `docs/results/baselines.md` reports) on the windows that loader keeps. A "
        "diagnostic only: the headline numbers are the every-window ones, and nothing was chosen with these.",
        "",
        "| model (script) | horizon | test batch | windows scored | every window MSE / MAE | authors' loader MSE / MAE "
        "| paper MSE / MAE | Δ every window | Δ authors' loader |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if skipped:
        lines += ["No run directory here for: " + ", ".join(skipped), ""]
    write_text_atomic(OUT, "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
