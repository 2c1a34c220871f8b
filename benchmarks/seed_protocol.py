"""The seed-protocol deliverable: the SAMoVAR authors' scripts run as `samovar bench run --profile seed`,
exported as records and turned into docs/results/seed_protocol.md.

    samovar bench cost --profile seed --datasets ETTh1,ETTh2,ETTm1,Weather --db seed.db   # CPU-hours first
    samovar bench run --profile seed --datasets ETTh1,ETTh2,ETTm1,Weather --db seed.db [--max-cell-hours X]
    python benchmarks/seed_protocol.py --db seed.db     # export the records, then write the table
    python benchmarks/seed_protocol.py                  # the table from the committed records only

Export: one JSON record per seed-profile cell of the database (its latest row per model, dataset,
horizon, lookback and seed; a cell still running has none) in ``benchmarks/results/seed_protocol/<model>_<dataset>_H<h>_L<l>_s<seed>.json``
(atomic writes), with the key, status, reason, validation and test scores, epochs, CPU seconds, the
estimate of a cell N/A for its cost, and the cell's configuration; no run directory, data directory or
other absolute path. Table: ``samovar.bench.seed_report.markdown`` over the records, with the paper's
main-table numbers from ``benchmarks/results/seed_protocol/published.csv`` (a copy of the project's
seed table: dataset, model, MSE averaged over horizons 96/192/336/720, source). SAMoVAR, LinTrans and
FixedVAR cells without a record here are taken from ``benchmarks/results/samovar/`` (the paper-recipe
reproduction, which is samovar.sh; ``family_records`` checks each one's settings against the script's).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from samovar.bench.reference import load_reference
from samovar.bench.seed_report import answer, latest_rows, markdown, select
from samovar.utils import write_json_atomic, write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "benchmarks" / "results" / "seed_protocol"
PUBLISHED = RECORDS / "published.csv"
FAMILY = REPO / "benchmarks" / "results" / "samovar"  # samovar.sh runs (benchmarks/reproduce_samovar.py)
TABLE = REPO / "docs" / "results" / "seed_protocol.md"
README = REPO / "README.md"
README_BEGIN = "<!-- seed-protocol:begin (python benchmarks/seed_protocol.py) -->"
README_END = "<!-- seed-protocol:end -->"

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
    from samovar.bench.report import row_target

    if not db_path.is_file():
        sys.exit(f"error: no results database at {db_path}; run `samovar bench run --profile seed --db {db_path}` first")
    rows = [r for r in ResultsDB(db_path).rows(profile="seed") if row_target(r["config_json"]) is None]  # M cells
    written = []
    for (model, dataset, horizon, lookback, seed), row in sorted(latest_rows(rows).items()):
        if row["status"] == "running":  # no result yet; a record would outlive the process (the table: "no record yet")
            continue
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in dataset)
        path = out_dir / f"{model}_{safe}_H{horizon}_L{lookback}_s{seed}.json"
        write_json_atomic(path, record(row))
        written.append(path)
    return written


def load_records(directory: Path = RECORDS) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


# samovar.sh's settings a shared record must have (its lookback is checked against the script's too).
_SAMOVAR_SH_KEYS = ("epochs", "batch_size", "accumulate", "lr", "optimizer", "betas", "weight_decay", "patience",
                    "grad_clip", "seed", "onecycle_pct_start", "onecycle_div_factor", "drop_last")


def family_records(directory: Path = FAMILY) -> list[dict]:
    """The samovar.sh cells (SAMoVAR, LinTrans, FixedVAR) as seed-protocol records, from the paper-recipe
    reproduction's records: samovar.sh is those models' paper recipe, so the protocol shares those runs
    (bf16 autocast, as the script's --use_amp) instead of repeating them. A record whose settings differ
    from samovar.sh's is a ValueError naming the setting."""
    from samovar.training.seed import seed_lookbacks, seed_training_config

    out = []
    for path in sorted(directory.glob("*.json")):
        rec = json.loads(path.read_text())
        script = seed_training_config(rec["model"], rec["dataset"], rec["horizon"])
        norm = lambda v: json.loads(json.dumps(v))  # tuples and lists compare equal
        recipe = {"onecycle_div_factor": rec["recipe"].get("div_factor"), **rec["recipe"]}  # older records' name
        wrong = [k for k in _SAMOVAR_SH_KEYS if k in script and norm(recipe.get(k)) != norm(script[k])]
        if rec["lookback"] not in seed_lookbacks(rec["model"], rec["horizon"]):
            wrong.append("lookback")
        if wrong:
            raise ValueError(f"{path}: not samovar.sh's run ({', '.join(wrong)} differ); rerun it with "
                             "benchmarks/reproduce_samovar.py or `samovar bench run --profile seed`")
        out.append({
            "model": rec["model"], "dataset": rec["dataset"], "horizon": rec["horizon"], "lookback": rec["lookback"],
            "seed": rec["recipe"]["seed"], "profile": "seed", "status": "done", "reason": None,
            "val_mse": rec["val_mse"], "val_mae": None, "test_mse": rec["test"]["mse"], "test_mae": rec["test"]["mae"],
            "test_windows": rec["test"]["windows"], "epochs": rec["epochs_run"], "best_epoch": rec["best_epoch"],
            "threads": rec.get("threads"), "est_cpu_hours": None, "finished_at": None,
            "shared_from": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name,
        })
    return out


def with_family(records: list[dict], family: list[dict]) -> list[dict]:
    """`records` plus the shared samovar.sh cells whose (model, dataset, horizon, lookback, seed) has no record."""
    key = lambda r: (r["model"], r["dataset"], int(r["horizon"]), int(r["lookback"]), int(r["seed"]))
    have = {key(r) for r in records}
    return records + [r for r in family if key(r) not in have]


INTRO = ("Records: `benchmarks/results/seed_protocol/*.json` (exported from `samovar bench run --profile seed`; "
         "generator: `benchmarks/seed_protocol.py`). Recipes: `samovar train --recipe seed` "
         "(`src/samovar/training/seed.py`: samovar.sh for SAMoVAR, LinTrans, FixedVAR; baseline.sh for the baselines "
         "at lookbacks 4096/2048/1024/512). SAMoVAR, LinTrans and FixedVAR rows are shared with the paper-recipe "
         "reproduction (`benchmarks/results/samovar/*.json`, `benchmarks/reproduce_samovar.py`): samovar.sh is their "
         "paper recipe, run there with bf16 autocast as the script's --use_amp, at its one lookback per horizon, so "
         "for them the two selections are the same run. A lookback \"N/A over the cost cap\" was not trained here: "
         "`samovar bench cost` estimated it above `--max-cell-hours 3` from timed optimizer steps (one thread, on the "
         "2-core machine of the session that ran the command, often while other runs shared it, so the estimates lean "
         "high; these machines' speed differed between sessions, so a lookback near the cap may be N/A here and within "
         "it on a faster machine); the same command without the cap trains it on a bigger machine. Published: "
         "`benchmarks/results/seed_protocol/published.csv`.")


def render(records: list[dict], published: Path = PUBLISHED) -> str:
    reference, _ = load_reference(published)
    return markdown(records, reference, intro=INTRO)


def readme_block(records: list[dict], published: Path = PUBLISHED) -> str:
    """The README's summary: the computed answer per dataset, pointing to the full tables."""
    reference, _ = load_reference(published)
    return "\n".join([
        README_BEGIN,
        "### The seed table's protocol: input length chosen on validation vs on test",
        "",
        "`samovar bench run --profile seed` (the SAMoVAR authors' samovar.sh / baseline.sh, baselines at input lengths "
        "4096/2048/1024/512, seed 2024), then `python benchmarks/seed_protocol.py --db <db>` (generated block; the "
        "per-horizon tables, the ranking and what is still missing in "
        "[docs/results/seed_protocol.md](docs/results/seed_protocol.md)). Averages over horizons 96–720, test MSE:",
        "",
        *answer(select(records), reference),
        "",
        README_END,
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="Export the seed-profile cells of this results database first.")
    parser.add_argument("--records", type=Path, default=RECORDS, help="Directory of the records (default: committed).")
    parser.add_argument("--out", type=Path, default=TABLE, help="Markdown file to write.")
    parser.add_argument("--readme", type=Path, default=README,
                        help="README whose seed-protocol block is replaced (default: the repository's).")
    parser.add_argument("--no-readme", dest="readme", action="store_const", const=None, help="Leave the README alone.")
    args = parser.parse_args(argv)
    if args.db is not None:
        paths = export(args.db, args.records)
        print(f"exported {len(paths)} record(s) to {args.records}")
    records = with_family(load_records(args.records), family_records())
    write_text_atomic(args.out, render(records) + "\n")
    print(f"wrote {args.out} from {len(records)} record(s)")
    if args.readme is not None:
        text = replace_block(args.readme.read_text(), README_BEGIN, README_END, readme_block(records), str(args.readme),
                             error=SystemExit)
        write_text_atomic(args.readme, text)
        print(f"updated the seed-protocol block of {args.readme}")


if __name__ == "__main__":
    main()
