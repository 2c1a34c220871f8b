"""The seed-protocol deliverable: the SAMoVAR authors' scripts run as `samovar bench run --profile seed`,
exported as records and turned into docs/results/seed_protocol.md.

    samovar bench cost --profile seed --datasets ETTh1,ETTh2,ETTm1,Weather --db seed.db   # CPU-hours first
    samovar bench run --profile seed --datasets ETTh1,ETTh2,ETTm1,Weather --db seed.db [--max-cell-hours X]
    python benchmarks/seed_protocol.py --db seed.db     # export the records, then write the table
    python benchmarks/seed_protocol.py                  # the table from the committed records only

Export: one JSON record per seed-profile cell of the database (its latest row per model, dataset,
horizon, lookback and seed) in ``benchmarks/results/seed_protocol/<model>_<dataset>_H<h>_L<l>_s<seed>.json``
(atomic writes), with the key, status, reason, validation and test scores, epochs, CPU seconds, the
estimate of a cell N/A for its cost, and the cell's configuration; no run directory, data directory or
other absolute path. Table: ``samovar.bench.seed_report.markdown`` over the records, with the paper's
main-table numbers from ``benchmarks/results/seed_protocol/published.csv`` (a copy of the project's
seed table: dataset, model, MSE averaged over horizons 96/192/336/720, source).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from samovar.bench.reference import load_reference
from samovar.bench.seed_report import latest_rows, markdown
from samovar.utils import write_json_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "benchmarks" / "results" / "seed_protocol"
PUBLISHED = RECORDS / "published.csv"
TABLE = REPO / "docs" / "results" / "seed_protocol.md"

# Columns of a runs row kept in a record (everything else is machine-specific or bulky).
KEPT = ("model", "dataset", "horizon", "lookback", "seed", "profile", "code_version", "config_hash", "status", "reason",
        "val_mse", "val_mae", "test_mse", "test_mae", "test_mse_raw", "test_mae_raw", "test_windows", "epochs",
        "best_epoch", "train_seconds", "cpu_seconds", "threads", "device", "est_cpu_hours", "finished_at")
_ABSOLUTE = re.compile(r"(?<![\w.])/[^\s;,()'\"]+")


def without_paths(text: str | None) -> str | None:
    """`text` with every absolute path replaced by "<path>"."""
    return None if text is None else _ABSOLUTE.sub("<path>", text)


def record(row: dict) -> dict:
    """The committed record of one runs row."""
    out = {k: row.get(k) for k in KEPT}
    out["reason"] = without_paths(out["reason"])
    config = json.loads(row.get("config_json") or "{}")
    config.pop("data_dir", None)
    out["config"] = config
    return out


def export(db_path: Path, out_dir: Path = RECORDS) -> list[Path]:
    """Write one record per latest seed-profile cell of the database; returns the paths written."""
    from samovar.bench.db import ResultsDB

    if not db_path.is_file():
        sys.exit(f"error: no results database at {db_path}; run `samovar bench run --profile seed --db {db_path}` first")
    rows = ResultsDB(db_path).rows(profile="seed")
    written = []
    for (model, dataset, horizon, lookback, seed), row in sorted(latest_rows(rows).items()):
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in dataset)
        path = out_dir / f"{model}_{safe}_H{horizon}_L{lookback}_s{seed}.json"
        write_json_atomic(path, record(row))
        written.append(path)
    return written


def load_records(directory: Path = RECORDS) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


INTRO = ("Records: `benchmarks/results/seed_protocol/*.json` (exported from `samovar bench run --profile seed`; "
         "generator: `benchmarks/seed_protocol.py`). Recipes: `samovar train --recipe seed` "
         "(`src/samovar/training/seed.py`: samovar.sh for SAMoVAR, LinTrans, FixedVAR; baseline.sh for the baselines "
         "at lookbacks 4096/2048/1024/512). Published: `benchmarks/results/seed_protocol/published.csv`.")


def render(records: list[dict], published: Path = PUBLISHED) -> str:
    reference, _ = load_reference(published)
    return markdown(records, reference, intro=INTRO)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="Export the seed-profile cells of this results database first.")
    parser.add_argument("--records", type=Path, default=RECORDS, help="Directory of the records (default: committed).")
    parser.add_argument("--out", type=Path, default=TABLE, help="Markdown file to write.")
    args = parser.parse_args(argv)
    if args.db is not None:
        paths = export(args.db, args.records)
        print(f"exported {len(paths)} record(s) to {args.records}")
    records = load_records(args.records)
    write_text_atomic(args.out, render(records) + "\n")
    print(f"wrote {args.out} from {len(records)} record(s)")


if __name__ == "__main__":
    main()
