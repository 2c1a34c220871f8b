"""``samovar tune``: search a model's hyper-parameters on validation, then score the best on the test split.

    samovar tune --model samovar --dataset ETTh1 --horizon 96 --trials 20
    samovar tune --model dlinear --dataset ETTh1 --sampler grid --space lookback --seeds 3 --plots plots/
    samovar tune --model dlinear --dataset my.csv --split 0.7,0.1,0.2 --workers 2
    samovar tune report --out plots/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..console import DATE_FORMAT_HELP, DAYFIRST_HELP, DECIMAL_HELP, SEP_HELP, console, fail

tune_app = typer.Typer(add_completion=False, help="Hyper-parameter search on Optuna (validation only; the test split "
                       "is read once, by the final runs of the best configuration).")

DB_HELP = "Results database (default: $SAMOVAR_BENCH_DB or the user data directory's samovar/bench.db)."


def _entry(entry) -> str:
    if isinstance(entry, (list, tuple)):
        return "{" + ", ".join(map(str, entry)) + "}"
    return f"[{entry['low']:g}, {entry['high']:g}]" + (" log" if entry.get("log") else "")


def _pm(mean: float, std: float) -> str:
    return f"{mean:.4f}" + ("" if std != std else f" ± {std:.4f}")  # std is NaN for one run


@tune_app.callback(invoke_without_command=True)
def tune(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, help="Registered model to tune (see `samovar models`)."),
    dataset: str = typer.Option("ETTh1", help="Registered dataset, 'synthetic', or a CSV/NPZ file path."),
    horizon: int = typer.Option(96, help="Steps to forecast."),
    lookback: Optional[int] = typer.Option(None, help="Lookback of trial 0 (the published recipe), also the one used "
                                           "when lookback is not searched (default: the model's published one)."),
    trials: int = typer.Option(20, help="Trials in the study, trial 0 (the published recipe) included; "
                               "a resumed study runs only the missing ones. Grid: at most this many grid points."),
    sampler: str = typer.Option("tpe", help="tpe | random | grid (every combination of --space's listed values)."),
    space: Optional[str] = typer.Option(None, help="Comma-separated keys of the model's search space to search, e.g. "
                                        "lookback or lookback,train.lr (default: all); the rest stay at the published "
                                        "recipe. `--dry-run` lists the keys."),
    seeds: int = typer.Option(3, help="Final runs of the best configuration (seeds: the recipe's, +1, ...); 0: none."),
    workers: int = typer.Option(1, help="Local worker processes sharing the study (one torch thread each by default)."),
    storage: Optional[str] = typer.Option(None, help="Optuna storage URL (any SQLAlchemy URL, e.g. "
                                          "postgresql://user@host/db, to share a study across machines); default: "
                                          "sqlite optuna.db beside the results database."),
    study: Optional[str] = typer.Option(None, help="Study name (default: model-dataset-H<horizon>-<hash of the search "
                                        "settings and of any --sep, --decimal, --date-format, --dayfirst>, so the "
                                        "same command resumes the same study)."),
    timeout: Optional[float] = typer.Option(None, help="Stop starting trials after this many seconds (per worker)."),
    epochs: Optional[int] = typer.Option(None, help="Cap on the epochs of every trial and final run."),
    pruner: str = typer.Option("median", help="median | hyperband | none (pruning on each epoch's validation MSE)."),
    db: Optional[Path] = typer.Option(None, help=DB_HELP),
    runs_dir: Optional[Path] = typer.Option(None, help="Where the final runs' directories go (default: runs/tune "
                                            "beside the results database)."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the dataset files."),
    split: Optional[str] = typer.Option(None, help="Train,val,test shares for your own files, e.g. 0.7,0.1,0.2."),
    fill: str = typer.Option("error", help="Missing values: error | interpolate."),
    sep: str = typer.Option(",", help=SEP_HELP),
    decimal: str = typer.Option(".", help=DECIMAL_HELP),
    date_format: Optional[str] = typer.Option(None, help=DATE_FORMAT_HELP),
    dayfirst: bool = typer.Option(False, "--dayfirst", help=DAYFIRST_HELP),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps."),
    threads: int = typer.Option(1, help="torch threads per worker."),
    sampler_seed: Optional[int] = typer.Option(None, help="Seed of the sampler (worker k uses seed + k)."),
    plots: Optional[Path] = typer.Option(None, help="Write the lookback curve and the optimisation history here."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No line per trial."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the recipe, search space and study; run nothing."),
) -> None:
    """Tune --model on --dataset at --horizon: trial 0 is the published recipe, trials see train and
    validation windows only, the best configuration is retrained with --seeds seeds and scored on
    every test window (mean ± std). Every trial and final run is recorded in the results database."""
    if ctx.invoked_subcommand is not None:
        return
    if model is None:
        fail("give --model (see `samovar models`), e.g. samovar tune --model dlinear --dataset ETTh1; "
             "or `samovar tune report`")
    from ..console import parse_split as _split
    from ..data import DataError
    from .search import format_params, grid_points, plan_tune, run_plan

    try:
        plan = plan_tune(model, dataset, horizon, trials=trials, sampler=sampler,
                         space=[k.strip() for k in space.split(",") if k.strip()] if space else None, seeds=seeds,
                         workers=workers, storage=storage, study=study, timeout=timeout, epochs=epochs, pruner=pruner,
                         db=db, runs_dir=runs_dir, data_dir=data_dir, split=_split(split), fill=fill, device=device,
                         threads=threads, sampler_seed=sampler_seed, quiet=quiet, lookback=lookback, sep=sep,
                         decimal=decimal, date_format=date_format, dayfirst=dayfirst)
    except (DataError, ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        fail(str(exc))
        return
    size = f", {len(grid_points(plan.space, plan.published))} grid points" if plan.sampler == "grid" else ""
    from sqlalchemy.engine import make_url

    shown = make_url(plan.storage).render_as_string(hide_password=True)
    console.print(f"study {plan.study} ({shown}); results database {plan.db}", highlight=False, soft_wrap=True)
    console.print(f"recipe: {plan.recipe.label}; sampler {plan.sampler}{size}, pruner {plan.pruner}, {plan.trials} "
                  f"trials, {plan.workers} worker(s), {plan.seeds} final seed(s)", highlight=False, soft_wrap=True)
    for key, entry in plan.space.items():
        console.print(f"  {key:<22} {_entry(entry):<40} published: {plan.published[key]!r}", highlight=False,
                      soft_wrap=True)
    for note in plan.notes:
        console.print(f"  note: {note}", highlight=False, soft_wrap=True)
    if dry_run:
        return
    try:
        result = run_plan(plan, plots)
    except (DataError, ValueError, KeyError, FileNotFoundError, RuntimeError, FloatingPointError) as exc:
        fail(str(exc))
        return
    console.print("trials: " + ", ".join(f"{k} {v}" for k, v in sorted(result.states.items())), highlight=False)
    published = "n/a" if result.published_val_mse is None else f"{result.published_val_mse:.5f}"
    console.print(f"best: trial {result.best_number}, val mse {result.best_val_mse:.5f} (published recipe: "
                  f"{published}); {format_params(result.best_params)}", highlight=False, soft_wrap=True)
    if result.final is not None:
        f = result.final
        table = Table(title=f"test: best configuration, {f['runs']} seed(s) x {f['test_windows']} windows")
        for col in ("scale", "MSE", "MAE"):
            table.add_column(col, justify="left" if col == "scale" else "right")
        table.add_row("standardized", _pm(f["test_mse"], f["test_mse_std"]), _pm(f["test_mae"], f["test_mae_std"]))
        table.add_row("original", _pm(f["test_mse_raw"], f["test_mse_raw_std"]),
                      _pm(f["test_mae_raw"], f["test_mae_raw_std"]))
        console.print(table)
    for path in result.plots:
        console.print(f"plot written to {path}", highlight=False)


@tune_app.command()
def report(
    db: Optional[Path] = typer.Option(None, help=DB_HELP),
    study: Optional[str] = typer.Option(None, help="Only this study (default: every study in the database)."),
    out: Path = typer.Option(Path("tune-report"), help="Directory for lookback_curve.png, history-<study>.png "
                             "and comparison.md."),
) -> None:
    """The recorded trials and final runs of tune studies as a table, and their plots; with bench cells in the
    database also the paper | tuned | oracle test MSE table (comparison.md)."""
    from ..bench.db import ResultsDB
    from .plots import write_plots
    from ..utils import write_text_atomic
    from .compare import comparison, comparison_markdown
    from .search import final_summary, format_params

    try:
        database = ResultsDB(db)
        paths = write_plots(database, out, study=study)
    except (ValueError, RuntimeError, OSError) as exc:
        fail(str(exc))
        return
    table = Table(title=f"tune trials in {database.path}")
    for col in ("study", "trial", "state", "parameters", "val MSE", "epochs", "wall s", "CPU s", "peak MB"):
        table.add_column(col, justify="left" if col in ("study", "state", "parameters") else "right")
    for r in database.tune_rows(study=study):
        number = str(r["number"]) if r["kind"] == "trial" else f"final seed {r['number']}"
        val = "" if r["val_mse"] is None else f"{r['val_mse']:.5f}"
        state = r["state"] if r["kind"] == "trial" else f"test mse {r['test_mse']:.5f}"
        table.add_row(r["study"], number, state, format_params(json.loads(r["params_json"])), val, str(r["epochs"]),
                      f"{r['wall_seconds']:.1f}", f"{r['cpu_seconds']:.1f}", f"{r['peak_mem_mb']:.0f}")
    console.print(table)
    finals: dict[tuple[str, str], list[int]] = {}
    for r in database.tune_rows(study=study, kind="final", state="complete"):
        finals.setdefault((r["study"], r["config_hash"]), []).append(r["number"])
    for (name, chash), seeds in finals.items():
        f = final_summary(database, name, chash, seeds)
        console.print(f"{name}: configuration {chash}, {f['runs']} seed(s): test mse "
                      f"{_pm(f['test_mse'], f['test_mse_std'])}, mae {_pm(f['test_mae'], f['test_mae_std'])}",
                      highlight=False, soft_wrap=True)
    if database.rows(status="done"):  # bench cells too: paper | tuned | oracle
        text = comparison_markdown(comparison(database))
        write_text_atomic(out / "comparison.md", "Test MSE (standardized), mean ± std over seeds\n\n" + text + "\n")
        console.print(text, highlight=False, soft_wrap=True)
        paths.append(out / "comparison.md")
    for path in paths:
        console.print(f"written: {path}", highlight=False)
