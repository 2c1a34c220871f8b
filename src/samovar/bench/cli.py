"""``samovar bench``: run the grid, show its state, render the report, one DDP run.

    samovar bench run --models dlinear,samovar --datasets ETTh1,ETTh2 --horizons 96,192,336,720 --profile quick
    samovar bench cost --profile seed --datasets ETTh1                  # CPU-hours per cell, before running
    samovar bench run --profile seed --datasets ETTh1 --max-cell-hours 2
    samovar bench run --datasets ETTh1 --target OT                     # MS: every column in, OT scored
    samovar bench status
    samovar bench report --out docs/results/bench
    samovar bench ddp --model dlinear --dataset ETTh1 --horizon 96 --nproc 2
    samovar bench ddp --model dlinear --dataset ETTh1 --horizon 96 --target OT --calendar   # covariates as in train
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .._checks import positive_int
from ..console import (CALENDAR_HELP, DATE_FORMAT_HELP, DAYFIRST_HELP, DECIMAL_HELP, FUTURE_HELP, INPUT_ERRORS,
                       LOSS_HELP, PAST_HELP, QUANTILES_HELP, SEP_HELP, SET_HELP, TARGET_HELP, console, fail,
                       parse_inputs, parse_quantiles)

bench_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Benchmark grids: results database, resumable runs, ranked tables and plots.")

DB_HELP = "Results database file (default: $SAMOVAR_BENCH_DB or the user data directory's samovar/bench.db)."
# DLinear and the naive floor (no parameters, no training: they cost one pass over the evaluation windows)
DEFAULT_MODELS = "dlinear,naive,seasonal_naive,mean,drift"

def _open_db(path: Optional[Path], *, create: bool = True):
    """The results database at `path` (default: `default_db_path()`); create=False: a missing file is an error."""
    from .db import ResultsDB, default_db_path

    path = path or default_db_path()
    if not create and not path.exists():
        fail(f"no results database at {path}: run `samovar bench run` first, or pass the database with --db FILE")
    try:
        return ResultsDB(path)
    except (ValueError, RuntimeError, OSError) as exc:
        fail(str(exc))


MODELS_HELP = ("Comma-separated registered models, or 'all' (see `samovar models`); default: the naive floor every "
               "model has to beat and DLinear (profile seed: the models of the SAMoVAR authors' scripts).")
SEEDS_HELP = "Comma-separated seeds (several give mean ± std; default 2021, profile seed: 2024 as the scripts)."
PROFILE_HELP = ("'quick' (CPU-sized budget, labelled as such), 'paper' (published recipes), 'tuned' (the configurations "
                "`samovar tune` chose on validation, from --db) or 'seed' (the SAMoVAR authors' samovar.sh / baseline.sh, "
                "baselines at lookbacks 4096, 2048, 1024, 512).")
LOOKBACK_HELP = ("'paper' (the paper recipe's lookback for the dataset, else the model's default; profile seed: every "
                 "lookback of the authors' script), a number, or a "
                 "list chosen on validation MSE (profile seed: narrows the script's lookbacks).")

# The options `bench cost` and `bench run` share (a grid of cells, and where its data and database are; the
# database also for status and report), each declared once; defaults are given where used (the profile's differs).
ModelsOption = Annotated[Optional[str], typer.Option(help=MODELS_HELP)]
DatasetsOption = Annotated[str, typer.Option(help="Comma-separated registered datasets, 'synthetic', or file paths.")]
HorizonsOption = Annotated[str, typer.Option(help="Comma-separated forecast horizons.")]
SeedsOption = Annotated[Optional[str], typer.Option(help=SEEDS_HELP)]
ProfileOption = Annotated[str, typer.Option(help=PROFILE_HELP)]
LookbackOption = Annotated[str, typer.Option(help=LOOKBACK_HELP)]
DbOption = Annotated[Optional[Path], typer.Option(help=DB_HELP)]
BENCH_TARGET_HELP = ("The MS setting: every column is read, this one column forecast and scored (the others are past-only "
                     "covariates), as `samovar train --target COL`; part of each cell's identity. Default: M (every "
                     "column forecast and scored).")
TargetOption = Annotated[Optional[str], typer.Option(help=BENCH_TARGET_HELP)]
SepOption = Annotated[str, typer.Option(help=SEP_HELP.replace("files", "files among --datasets"))]
DecimalOption = Annotated[str, typer.Option(help=DECIMAL_HELP.replace("files", "files among --datasets"))]
DateFormatOption = Annotated[Optional[str], typer.Option(
    help=DATE_FORMAT_HELP.replace("the text dates", "the text dates of your files among --datasets"))]
DayfirstOption = Annotated[bool, typer.Option(
    "--dayfirst", help=DAYFIRST_HELP.replace("text dates", "the text dates of your files among --datasets"))]
DataDirOption = Annotated[Optional[Path], typer.Option(help="Directory with dataset files (else $SAMOVAR_DATA_DIR, cache).")]
GRID_DATASETS, GRID_HORIZONS = "ETTh1", "96,192,336,720"


def _plan(models: Optional[str], datasets: str, horizons: str, seeds: Optional[str], profile: str, lookback: str,
          max_epochs: Optional[int], max_steps: Optional[int], data_dir: Optional[Path], download: bool, tuned_db=None,
          target: Optional[str] = None, sep: str = ",", decimal: str = ".", date_format: Optional[str] = None,
          dayfirst: bool = False):
    """The grid's cells (bad options: one line and exit 2)."""
    from .. import models as registry
    from ..training.seed import SEED_SEED, seed_models
    from .grid import parse_list, plan

    if models is None:
        models = ",".join(seed_models()) if profile == "seed" else DEFAULT_MODELS
    if seeds is None:
        seeds = str(SEED_SEED) if profile == "seed" else "2021"
    try:
        model_list = registry.available() if models.strip().lower() == "all" else parse_list(models, "models")
        return plan(model_list, parse_list(datasets, "datasets"), parse_list(horizons, "horizons", int),
                    parse_list(seeds, "seeds", int), profile=profile, lookback=lookback, max_epochs=max_epochs,
                    max_steps_per_epoch=max_steps, data_dir=str(data_dir) if data_dir else None, download=download,
                    tuned_db=tuned_db, target=target, sep=sep, decimal=decimal, date_format=date_format,
                    dayfirst=dayfirst)
    except (ValueError, KeyError) as exc:
        fail(str(exc))


def _check_cost_options(threads: int, repeats: int, assume_best_epoch: int) -> None:
    try:
        for name, value in (("threads", threads), ("repeats", repeats), ("assume-best-epoch", assume_best_epoch)):
            positive_int(f"--{name}", value)
    except ValueError as exc:
        fail(str(exc))


@bench_app.command()
def cost(
    models: ModelsOption = None,
    datasets: DatasetsOption = GRID_DATASETS,
    horizons: HorizonsOption = GRID_HORIZONS,
    seeds: SeedsOption = None,
    profile: ProfileOption = "seed",
    lookback: LookbackOption = "paper",
    max_epochs: Optional[int] = typer.Option(None, help="Cap on epochs (as for bench run)."),
    max_steps: Optional[int] = typer.Option(None, help="Cap on optimizer steps per epoch (as for bench run)."),
    db: DbOption = None,
    data_dir: DataDirOption = None,
    threads: int = typer.Option(1, help="Torch threads of the timed steps (CPU-hours count every thread)."),
    repeats: int = typer.Option(2, help="Timed optimizer steps per probe size (after one untimed step)."),
    assume_best_epoch: int = typer.Option(10, help="Best epoch assumed for the expected epochs: min(epochs, this + patience)."),
    remeasure: bool = typer.Option(False, "--remeasure", help="Time the cells again even when the database has an estimate."),
    target: TargetOption = None,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
    date_format: DateFormatOption = None,
    dayfirst: DayfirstOption = False,
) -> None:
    """Estimate each cell's CPU-hours from a few timed optimizer steps (recorded in the database for bench run)."""
    from .cost import cell_estimate
    from .db import code_version
    from .grid import setting_label

    _check_cost_options(threads, repeats, assume_best_epoch)
    cells = _plan(models, datasets, horizons, seeds, profile, lookback, max_epochs, max_steps, data_dir, False,
                  target=target, sep=sep, decimal=decimal, date_format=date_format, dayfirst=dayfirst)
    database = _open_db(db)
    version, cache = code_version(), {}
    table = Table("model", "dataset", "H", "L", "step CPU s", "steps/epoch", "eval ms/window", "epochs (exp/max)",
                  "CPU-h expected", "CPU-h max", title=f"cost estimates, profile {profile}, setting {setting_label(target)} ({database.path})")
    total = total_max = 0.0
    for cell in cells:
        if cell.na_reason:
            table.add_row(cell.model, cell.dataset, str(cell.horizon), str(cell.lookback), "N/A", "", "", "", "",
                          cell.na_reason.splitlines()[0][:60])
            continue
        try:
            est, _ = cell_estimate(cell, database, version, remeasure=remeasure, threads=threads, repeats=repeats,
                                   assume_best_epoch=assume_best_epoch, cache=cache)
        except (ValueError, RuntimeError) as exc:
            fail(f"{cell.label()}: {exc}")
        total, total_max = total + est["est_cpu_hours"], total_max + est["max_cpu_hours"]
        table.add_row(cell.model, cell.dataset, str(cell.horizon), str(cell.lookback), f"{est['step_cpu_seconds']:.3g}",
                      str(est["steps_per_epoch"]), f"{1000 * est['eval_cpu_seconds_per_window']:.3g}",
                      f"{est['expected_epochs']}/{est['max_epochs']}", f"{est['est_cpu_hours']:.3g}",
                      f"{est['max_cpu_hours']:.3g}")
    console.print(table)
    console.print(f"total: {total:.1f} CPU-hours expected (best epoch {assume_best_epoch} + patience), "
                  f"{total_max:.1f} if every epoch runs; {threads} thread(s) per timed step", highlight=False, soft_wrap=True)


@bench_app.command()
def run(
    models: ModelsOption = None,
    datasets: DatasetsOption = GRID_DATASETS,
    horizons: HorizonsOption = GRID_HORIZONS,
    seeds: SeedsOption = None,
    profile: ProfileOption = "quick",
    lookback: LookbackOption = "paper",
    max_epochs: Optional[int] = typer.Option(None, help="Cap on epochs (quick default: 1)."),
    max_steps: Optional[int] = typer.Option(None, help="Cap on optimizer steps per epoch (quick default: 50)."),
    max_cell_hours: Optional[float] = typer.Option(None, help="Cells whose estimated CPU-hours (samovar bench cost; "
                                                   "measured first where the database has none) exceed this are N/A, "
                                                   "with the estimate. Default: no cap."),
    assume_best_epoch: int = typer.Option(10, help="With --max-cell-hours: the best epoch the estimate assumes."),
    db: DbOption = None,
    runs_root: Optional[Path] = typer.Option(None, help="Where run directories go (default: runs/ beside the database)."),
    data_dir: DataDirOption = None,
    download: bool = typer.Option(False, help="Download registered datasets that are absent (else those cells are N/A)."),
    executor: str = typer.Option("local", help="'local' (worker processes), 'ray' (Ray cluster) or 'inline'."),
    workers: Optional[int] = typer.Option(None, help="Parallel cells (default: the number of cores)."),
    threads: Optional[int] = typer.Option(None, help="Torch threads per cell (default: cores // workers)."),
    device: str = typer.Option("auto", help="'auto', 'cpu', 'cuda', 'cuda:1', 'mps'."),
    resume: bool = typer.Option(False, "--resume", help="Pick up cells left 'running' by a killed run (from their checkpoints)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run failed cells again."),
    ray_address: Optional[str] = typer.Option(None, help="Ray cluster address (default: $RAY_ADDRESS or a local instance)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the cells (and N/A reasons) without running."),
    target: TargetOption = None,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
    date_format: DateFormatOption = None,
    dayfirst: DayfirstOption = False,
) -> None:
    """Run every (model, dataset, horizon, lookback, seed) cell not finished yet; results go to the database."""
    from .grid import budget_of, quick_label, setting_label
    from .runner import run_grid

    tuned_db = _open_db(db) if profile == "tuned" else None
    cells = _plan(models, datasets, horizons, seeds, profile, lookback, max_epochs, max_steps, data_dir, download,
                  tuned_db, target, sep, decimal, date_format, dayfirst)
    if max_cell_hours is not None:
        if max_cell_hours <= 0:
            fail(f"--max-cell-hours must be positive, got {max_cell_hours}")
        _check_cost_options(1, 1, assume_best_epoch)
        _cap_cells(cells, _open_db(db), max_cell_hours, assume_best_epoch)
    na = sum(c.na_reason is not None for c in cells)
    console.print(f"[bold]{len(cells)} cells[/] ({na} N/A), profile "
                  + (f"[yellow]{quick_label(*budget_of(cells))}[/]" if profile == "quick" else f"[bold]{profile}[/]")
                  + f"; setting [bold]{setting_label(target)}[/]", soft_wrap=True)  # one line: no wrap at the console width
    if dry_run:
        table = Table("cell", "recipe", "N/A reason / notes")
        for c in cells:
            table.add_row(c.label(), c.recipe, (c.na_reason or "; ".join(c.notes)).splitlines()[0] if (c.na_reason or c.notes) else "")
        console.print(table)
        return
    database = _open_db(db)
    console.print(f"database: {database.path}")
    started = time.perf_counter()
    colors = {"done": "green", "failed": "red", "na": "yellow", "skipped": "dim"}

    def show(label: str, status: str, message: str) -> None:
        console.print(f"[{colors.get(status, 'white')}]{status:>7}[/] {label}  {message.splitlines()[0] if message else ''}", highlight=False,
                      soft_wrap=True)

    try:
        counts = run_grid(cells, database, executor=executor, workers=workers, threads=threads, runs_root=runs_root,
                          device=device, retry_failed=retry_failed, resume=resume, ray_address=ray_address, on_result=show)
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))
    console.print(f"finished in {time.perf_counter() - started:.1f}s: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if counts.get("failed"):
        raise typer.Exit(code=1)


def _cap_cells(cells, database, cap: float, assume_best_epoch: int) -> None:
    """Mark the cells whose estimated CPU-hours exceed `cap` N/A with their estimate (finished cells are left alone)."""
    from .cost import cell_estimate, over_cap_reason
    from .db import code_version

    version, cache = code_version(), {}
    for cell in cells:
        if cell.na_reason:
            continue
        row = database.get(cell.key(version))
        if row is not None and row["status"] == "done":
            continue
        try:
            est, measured = cell_estimate(cell, database, version, assume_best_epoch=assume_best_epoch, cache=cache)
        except (ValueError, RuntimeError) as exc:
            fail(f"{cell.label()}: cost estimate failed: {exc}")
        if est["est_cpu_hours"] > cap:
            cell.na_reason = over_cap_reason(est["est_cpu_hours"], cap, est["max_cpu_hours"])
            cell.est_cpu_hours = float(est["est_cpu_hours"])
        console.print(f"  cost {cell.label()}: {est['est_cpu_hours']:.3g} CPU-hours expected"
                      + (" (measured now)" if measured else "") + (" > cap: N/A" if cell.na_reason else ""),
                      highlight=False)


@bench_app.command()
def status(db: DbOption = None,
           show: str = typer.Option("", help="Also list the cells with this status (failed, running, na).")) -> None:
    """Counts of cells per status; with --show failed, the failed cells and their errors."""
    from .grid import setting_label
    from .report import row_target

    database = _open_db(db, create=False)
    console.print(f"{database.path}: " + (", ".join(f"{k} {v}" for k, v in sorted(database.counts().items())) or "empty"))
    by_setting: dict[tuple[str, str], dict[str, int]] = {}
    for r in database.rows():
        counts = by_setting.setdefault((r["profile"], setting_label(row_target(r["config_json"]))), {})
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    for (prof, setting), counts in sorted(by_setting.items()):
        console.print(f"  profile {prof}, setting {setting}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                      highlight=False)
    if show:
        table = Table("model", "dataset", "H", "L", "seed", "profile", "setting", "reason")
        for r in database.rows(status=show):
            table.add_row(r["model"], r["dataset"], str(r["horizon"]), str(r["lookback"]), str(r["seed"]), r["profile"],
                          setting_label(row_target(r["config_json"])),
                          (r["reason"] or "").splitlines()[0] if r["reason"] else "")
        console.print(table)


@bench_app.command()
def report(
    db: DbOption = None,
    out: Path = typer.Option(Path("bench-report"), help="Directory for report.md, results.csv, report.html and plots."),
    profile: Optional[str] = typer.Option(None, help="Profile to report (needed when the database holds several)."),
    models: Optional[str] = typer.Option(None, help="Only these models (comma-separated)."),
    datasets: Optional[str] = typer.Option(None, help="Only these datasets (comma-separated)."),
    reference: Optional[Path] = typer.Option(None, help="CSV dataset,model,mse[,source] of published numbers (shown, never ranked)."),
    task: Optional[str] = typer.Option(None, help="Table downstream-task results instead (a task name, or 'all')."),
    title: Optional[str] = typer.Option(None, help="Report title."),
    metric: Optional[str] = typer.Option(None, help="Rank on this recorded test score: mse, mae, rmse, mse_raw, mae_raw, "
                                         "rmse_raw, mape_raw, smape_raw, wape_raw, mase (default: MSE and MAE, as the papers)."),
    target: Optional[str] = typer.Option(None, help="Setting to report: a target column (MS cells run with --target "
                                         "COL) or 'none' (M); needed when the database holds several."),
) -> None:
    """Render the paper-style table (best bold, runner-up underlined, AvgRank, #Top1), per-horizon tables and plots."""
    from .grid import parse_list
    from .reference import load_reference
    from .report import Report, task_table

    database = _open_db(db, create=False)
    if profile == "seed":
        _seed_report(database, out, models, datasets, reference, title, target)
        return
    if task is not None:
        text = task_table(database, None if task == "all" else task)
        out.mkdir(parents=True, exist_ok=True)
        from ..utils import write_text_atomic

        write_text_atomic(out / "tasks.md", text + "\n")
        console.print(text)
        return
    try:
        ref, label = load_reference(reference)
        rep = Report(database, profile=profile, models=parse_list(models, "models") if models else None,
                     datasets=parse_list(datasets, "datasets") if datasets else None, reference=ref, reference_label=label,
                     metric=metric, target=target)
        paths = rep.write(out, title)
    except ValueError as exc:
        fail(str(exc))
    console.print(rep.markdown(title or rep.default_title()).split("## Per horizon")[0], soft_wrap=True)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))


def _seed_report(database, out: Path, models: Optional[str], datasets: Optional[str], reference: Optional[Path],
                 title: Optional[str], target: Optional[str] = None) -> None:
    """`bench report --profile seed`: lookback chosen on validation vs on test, beside the published numbers."""
    from ..utils import write_text_atomic
    from .grid import canonical_dataset, parse_list
    from .reference import load_reference
    from .report import select_setting
    from .seed_report import markdown

    try:
        ref, _ = load_reference(reference)
        wanted_models = {m.lower() for m in parse_list(models, "models")} if models else None
        wanted_data = {canonical_dataset(d) for d in parse_list(datasets, "datasets")} if datasets else None
        rows, chosen = select_setting(database.rows(profile="seed"), target, f"{database.path}, profile seed")
        rows = [r for r in rows if (wanted_models is None or r["model"] in wanted_models)
                and (wanted_data is None or r["dataset"] in wanted_data)]
        if title is None and chosen:
            title = f"Seed protocol, setting MS (target {chosen}): lookback chosen on validation vs on test"
        text = markdown(rows, ref, **({"title": title} if title else {}))
    except ValueError as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "seed_report.md", text + "\n")
    console.print(text, soft_wrap=True, highlight=False, markup=False)
    console.print(f"wrote {out / 'seed_report.md'}")


@bench_app.command()
def ddp(
    model: str = typer.Option("dlinear", help="Registered model."),
    dataset: str = typer.Option("ETTh1", help="Dataset name or file."),
    horizon: int = typer.Option(96),
    lookback: Optional[int] = typer.Option(None, help="Default: the model's published lookback."),
    nproc: int = typer.Option(2, help="Processes on this machine (ignored under torchrun, which sets the world)."),
    backend: str = typer.Option("auto", help="'auto' (nccl on CUDA, else gloo), 'gloo' or 'nccl'."),
    epochs: int = typer.Option(10),
    batch_size: int = typer.Option(32, help="Global batch size (split evenly across processes)."),
    lr: float = typer.Option(1e-4),
    seed: int = typer.Option(2021),
    max_steps: Optional[int] = typer.Option(None, help="Cap on optimizer steps per epoch."),
    data_dir: Optional[Path] = typer.Option(None),
    run_dir: Optional[Path] = typer.Option(None, help="Run directory written by rank 0."),
    db: Optional[Path] = typer.Option(None, help="Also record the result in this results database."),
    target: Optional[list[str]] = typer.Option(None, help=TARGET_HELP),
    past: Optional[list[str]] = typer.Option(None, help=PAST_HELP),
    future: Optional[list[str]] = typer.Option(None, help=FUTURE_HELP),
    calendar: bool = typer.Option(False, "--calendar", help=CALENDAR_HELP),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    loss: Optional[str] = typer.Option(None, help=LOSS_HELP),
    quantiles: Optional[str] = typer.Option(None, help=QUANTILES_HELP),
    sep: str = typer.Option(",", help=SEP_HELP),
    decimal: str = typer.Option(".", help=DECIMAL_HELP),
    date_format: Optional[str] = typer.Option(None, help=DATE_FORMAT_HELP),
    dayfirst: bool = typer.Option(False, "--dayfirst", help=DAYFIRST_HELP),
) -> None:
    """One large run over several processes/GPUs/machines with DistributedDataParallel (same metrics as one process)."""
    from ..training.runs import parse_set_options
    from .ddp import DDPSpec, first_line, launch

    inputs = {k: v for k, v in parse_inputs(target, past, future, calendar).items() if v not in (None, False)}
    options = {k: v for k, v in (("loss", loss), ("quantiles", parse_quantiles(quantiles))) if v is not None}
    try:
        model_kwargs = parse_set_options(set_)
        from ..data.io import csv_dialect
        from ..data.prepare import refuse_file_options

        sep, decimal = csv_dialect(sep, decimal)  # before any process starts
        refuse_file_options(dataset, sep=sep, decimal=decimal, date_format=date_format, dayfirst=dayfirst)
    except ValueError as exc:
        fail(str(exc))
    spec = DDPSpec(model=model, dataset=dataset, horizon=horizon, lookback=lookback, epochs=epochs, batch_size=batch_size,
                   lr=lr, seed=seed, max_steps_per_epoch=max_steps, data_dir=str(data_dir) if data_dir else None,
                   run_dir=str(run_dir) if run_dir else None, backend=backend, db=str(db) if db else None,
                   inputs=inputs, model_kwargs=model_kwargs, train_options=options, sep=sep, decimal=decimal,
                   date_format=date_format, dayfirst=dayfirst)
    try:
        metrics = launch(spec, nproc)
    except INPUT_ERRORS as exc:  # as samovar train: bad options or data, a run that diverged
        fail(_rank_says(exc) + str(exc))
    except Exception as exc:  # a rank failed otherwise (the model, the process group): a training failure
        fail(f"the DDP run failed: {_rank_says(exc)}{type(exc).__name__}: {first_line(exc)} (samovar train with the "
             "same options shows the full traceback)", code=1)
    if metrics is not None:
        console.print(f"test mse {metrics['mse']:.6f}  mae {metrics['mae']:.6f}  (world size {metrics['world_size']})")


def _rank_says(exc: BaseException) -> str:
    """'rank R: ' for the error of the rank that failed first (launch raises it in every rank), else ''."""
    from .ddp import failed_rank

    rank = failed_rank(exc)
    return "" if rank is None else f"rank {rank}: "
