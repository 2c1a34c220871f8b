"""Calendar features as future-known covariates: DLinear and SAMoVAR on ETTh1, target OT (TSLib's
MS setting: every column read, OT forecast and scored), with and without ``--calendar``.

    SAMOVAR_DATA_DIR=../shared/data python benchmarks/covariates.py run --seeds 2021,2022 --epochs 10
    python benchmarks/covariates.py table          # docs/results/covariates.md from the records only

`run` trains each cell (model x calendar off/on x seed) with `samovar train` and the model's
published recipe (DLinear: LTSF-Linear's ETTh1 script; SAMoVAR: the authors' recipe and lookback),
``--epochs`` capping the recipe's epochs when given, on one thread, into ``--out`` (default
``~/.cache/samovar/covariate-runs``, outside the checkout): a finished cell is skipped, a killed one
resumes from its checkpoint. Each finished cell's record, with its command and scores on every test
window of OT, is ``<results>/<cell>.json`` (default ``benchmarks/results/covariates/``; records hold
no absolute paths). `table` writes ``docs/results/covariates.md`` from the records alone.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probabilistic import _fmt, git_commit, run_dir_of, train_cell  # noqa: E402  (the house helpers of benchmark records)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "covariates"
TABLE = REPO / "docs" / "results" / "covariates.md"
RUNS = Path.home() / ".cache" / "samovar" / "covariate-runs"
DATASET, TARGET, HORIZON = "ETTh1", "OT", 96
MODELS = ("dlinear", "samovar")
SEEDS = (2021,)


def cell_name(model: str, calendar: bool, seed: int, epochs: int | None) -> str:
    cap = f"-e{epochs}" if epochs else ""
    return f"{model}-{DATASET}-{TARGET}-H{HORIZON}-{'calendar' if calendar else 'plain'}-s{seed}{cap}"


def train_command(model: str, calendar: bool, seed: int, epochs: int | None, runs_dir: Path) -> list[str]:
    return ["samovar", "train", "--model", model, "--dataset", DATASET, "--horizon", str(HORIZON), "--target", TARGET,
            *(["--calendar"] if calendar else []), "--seed", str(seed), *(["--epochs", str(epochs)] if epochs else []),
            "--runs-dir", str(runs_dir), "--quiet", "--threads", "1", "--device", "cpu"]


def cells(models: tuple[str, ...], seeds: tuple[int, ...], epochs: int | None) -> list[tuple[str, bool, int, int | None]]:
    return [(m, cal, s, epochs) for m in models for s in seeds for cal in (False, True)]


def record(model: str, calendar: bool, seed: int, epochs: int | None, run: Path) -> dict[str, Any]:
    """The record of a finished run: its command (runs directory as RUNS), inputs and test scores of OT."""
    from samovar.training import rundir as rd
    from samovar.training.runs import read_run_config

    config = read_run_config(run)
    history = rd.read_jsonl(run / rd.METRICS) if (run / rd.METRICS).exists() else []
    best = min(history, key=lambda e: e["val_mse"]) if history else None
    name = cell_name(model, calendar, seed, epochs)
    return {
        "cell": name, "model": model, "dataset": DATASET, "target": TARGET, "horizon": HORIZON,
        "calendar": calendar, "seed": seed, "epochs_cap": epochs,
        "lookback": config["data"]["lookback"],
        "inputs": config["data"].get("inputs"),
        "command": shlex.join(train_command(model, calendar, seed, epochs, Path("RUNS") / name)),
        "recipe": (config.get("recipe") or {}).get("label"),
        "epochs_run": len(history), "best_epoch": best["epoch"] if best else None,
        "val_mse": best["val_mse"] if best else None,
        "train_seconds": round(sum(e["seconds"] for e in history), 1),
        "test": rd.read_json(run / rd.TEST_METRICS),
        "code_version": git_commit(),
    }


def run(out: Path, results: Path, todo: list[tuple[str, bool, int, int | None]]) -> None:
    """Train each cell (skip finished ones, resume killed ones) and write its record."""
    from samovar.utils import write_json_atomic

    for model, calendar, seed, epochs in todo:
        name = cell_name(model, calendar, seed, epochs)
        train_cell(out, name, train_command(model, calendar, seed, epochs, out / name))
        found = run_dir_of(out, name)
        rec = record(model, calendar, seed, epochs, found)
        write_json_atomic(results / f"{name}.json", rec)
        print(f"recorded {name}: test MSE {rec['test']['mse']:.4f}, MAE {rec['test']['mae']:.4f}", flush=True)


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return _fmt(values[0])
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def verdict(plain: list[float], calendar: list[float]) -> tuple[str, float, float]:
    """'helps' / 'hurts' / 'tie': the mean change of calendar over plain against the seeds' spread
    (the larger of the two sample std; a difference within it is a tie, as is any single-seed pair)."""
    diff = statistics.mean(calendar) - statistics.mean(plain)
    if len(plain) < 2 or len(calendar) < 2:
        return "tie (one seed: no spread to judge by)", diff, float("nan")
    spread = max(statistics.stdev(plain), statistics.stdev(calendar))
    if abs(diff) <= spread:
        return "tie", diff, spread
    return ("helps" if diff < 0 else "hurts"), diff, spread


def answer(groups: dict[tuple, list[dict[str, Any]]]) -> list[str]:
    """One sentence per (model, lookback, epochs cap) with both a plain and a calendar group."""
    out = []
    pairs: dict[tuple, dict[bool, list[dict[str, Any]]]] = {}
    for (order, model, lookback, cap, calendar), rows in groups.items():
        pairs.setdefault((order, model, lookback, cap), {})[bool(calendar)] = rows
    for (_, model, lookback, cap), both in sorted(pairs.items()):
        if set(both) != {False, True}:
            continue
        test = verdict([r["test"]["mse"] for r in both[False]], [r["test"]["mse"] for r in both[True]])
        val = verdict([r["val_mse"] for r in both[False]], [r["val_mse"] for r in both[True]])
        cap_text = f", epochs capped at {cap}" if cap else ""
        word = {"helps": "helps", "hurts": "hurts", "tie": "is a tie"}
        out.append(f"{model} (lookback {lookback}{cap_text}): adding the calendar features "
                   f"**{word.get(test[0], test[0])}** on test (test MSE {test[1]:+.4f}, seeds' spread {test[2]:.4f}); "
                   f"on validation it {word.get(val[0], val[0])} (val MSE {val[1]:+.4f}), so a choice made on "
                   f"validation would {'add' if val[0] == 'helps' else 'not add'} them.")
    return out


def write_table(results: Path = RESULTS, out: Path = TABLE) -> str:
    """docs/results/covariates.md from the records in `results` (nothing else is read)."""
    from samovar.utils import write_text_atomic

    records = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    lines = [
        f"# Calendar features as future-known covariates ({DATASET}, target {TARGET}, horizon {HORIZON})",
        "",
        "Generated by `python benchmarks/covariates.py table` from `benchmarks/results/covariates/*.json`; do not",
        "edit by hand. Each cell is one run of the `samovar train` command in its record: every ETTh1 column is",
        f"read, only {TARGET} is forecast and scored (TSLib's MS setting); `--calendar` adds the hour of day, day of",
        "week, day of month and day of year of every lookback and horizon row (docs/covariates.md). MSE and MAE:",
        f"every test window of {TARGET}, standardized scale (mean ± sd over seeds when there are several).",
        "",
        "| model | lookback | epochs cap | calendar | seeds | test MSE | test MAE | val MSE | epochs run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((MODELS.index(r["model"]) if r["model"] in MODELS else 99, r["model"], r["lookback"],
                           r["epochs_cap"] or 0, r["calendar"]), []).append(r)
    for (_, model, lookback, cap, calendar), rows in sorted(groups.items()):
        lines.append(
            f"| {model} | {lookback} | {cap or 'recipe'} | {'yes' if calendar else 'no'} | "
            f"{', '.join(str(r['seed']) for r in rows)} | {_mean_sd([r['test']['mse'] for r in rows])} | "
            f"{_mean_sd([r['test']['mae'] for r in rows])} | {_mean_sd([r['val_mse'] for r in rows if r['val_mse'] is not None])} | "
            f"{', '.join(str(r['epochs_run']) for r in rows)} |")
    if not records:
        lines += ["", "No records yet: run `python benchmarks/covariates.py run`."]
    else:
        lines += ["", "**Does the calendar help?** (computed from the records above)", ""]
        lines += [f"* {line}" for line in answer(groups)]
    text = "\n".join(lines) + "\n"
    write_text_atomic(out, text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("run", "table"))
    parser.add_argument("--out", type=Path, default=RUNS, help="Where the cells' run directories go (outside the repo).")
    parser.add_argument("--results", type=Path, default=RESULTS, help="Where the records go.")
    parser.add_argument("--table", type=Path, default=TABLE, help="The generated table.")
    parser.add_argument("--models", default=",".join(MODELS), help="Comma-separated models (default: dlinear,samovar).")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="Comma-separated seeds.")
    parser.add_argument("--epochs", type=int, default=None, help="Cap on the recipe's epochs (default: the recipe's).")
    args = parser.parse_args(argv)
    if args.action == "run":
        todo = cells(tuple(args.models.split(",")), tuple(int(s) for s in args.seeds.split(",")), args.epochs)
        run(args.out.expanduser(), args.results, todo)
    print(write_table(args.results, args.table))


if __name__ == "__main__":
    main()
