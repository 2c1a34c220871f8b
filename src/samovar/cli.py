"""The ``samovar`` command: train, evaluate, forecast, datasets, models.

    samovar train --model dlinear --dataset ETTh1 --horizon 96 --lr 0.005
    samovar train --model samovar --dataset ETTh1 --horizon 96      # the paper's recipe and lookback
    samovar train --model dlinear --dataset my.csv --fit-mode refit  # your data: validate, then refit on every row
    samovar train --model dlinear --dataset ETTh1 --target OT --calendar   # forecast OT from every column + calendar
    samovar evaluate runs/dlinear-ETTh1-L336-H96-20260101-120000
    samovar forecast RUN_DIR --input data.csv --output forecast.csv --plot forecast.png --levels 80,95
    samovar calibrate RUN_DIR --split val
    samovar backtest --model dlinear --dataset ETTh1 --horizon 96 --windows 5 --refit 1 --output cv.csv
    samovar tune --model samovar --dataset ETTh1 --horizon 96 --trials 20
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from .bench.cli import bench_app
from .console import (CALENDAR_HELP, DATE_FORMAT_HELP, DAYFIRST_HELP, DECIMAL_HELP, FUTURE_HELP, INPUT_ERRORS,
                      LOSS_HELP, PAST_HELP, QUANTILES_HELP, SEP_HELP, SET_HELP, TARGET_HELP, console, fail,
                      parse_inputs as _inputs, parse_numbers as _numbers, parse_quantiles as _quantiles,
                      parse_split as _split, warning_lines)
from .tasks.cli import task_app
from .training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from .tuning.cli import tune_app

MAX_PLOTTED = 6  # columns or series a plot draws unless --columns says which (samovar.api.MAX_PLOTTED_CHANNELS)

app = typer.Typer(add_completion=False, no_args_is_help=True, help="samovar: train and use time-series forecasting models.")
app.add_typer(task_app, name="task")  # samovar task ...
app.add_typer(bench_app, name="bench")  # samovar bench ...
app.add_typer(tune_app, name="tune")  # samovar tune ..., samovar tune report


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"samovar {version('samovar')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    show_version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print the installed samovar version and exit."),
) -> None:
    """samovar: train and use time-series forecasting models."""
    import warnings

    shown = warnings.showwarning
    warnings.showwarning = warning_lines()  # a data warning (filled values, irregular dates): one line, once
    ctx.call_on_close(lambda: setattr(warnings, "showwarning", shown))


def _metrics_table(title: str, metrics: dict[str, float]) -> Table:
    """Every point score of ``samovar.training.evaluate``: one row per scale (MASE is scale-free)."""
    columns = ("MSE", "MAE", "RMSE", "MAPE", "sMAPE", "WAPE", "MASE")
    table = Table(title=title)
    table.add_column("scale")
    for column in columns:
        table.add_column(column, justify="right")

    def cell(key: str) -> str:
        value = metrics.get(key)
        return "-" if value is None else f"{value:.4f}"

    table.add_row("standardized", cell("mse"), cell("mae"), cell("rmse"), "-", "-", "-", cell("mase"))
    if "mse_raw" in metrics:
        table.add_row("original", *(cell(f"{name.lower()}_raw") for name in columns[:-1]), cell("mase"))
    return table


def _betas(text: Optional[str]) -> tuple[float, float] | None:
    if text is None:
        return None
    return _numbers(text, 2, "--betas needs two numbers beta1,beta2, e.g. --betas 0.9,0.95")  # type: ignore[return-value]


FREQ_MISMATCH_HELP = "Forecast an input whose dates are at another frequency than the training data's (an error otherwise)."
ID_COL_HELP = "Long format (many series, one row per series and time): the series id column (default unique_id; a file with a unique_id column is read as long)."
TIME_COL_HELP = "Long format: the time column (default ds)."
TARGET_COL_HELP = "Long format: the value column (default y)."
COLUMNS_HELP = (f"With --plot: the forecast columns (wide data) or series ids (long format) to draw, e.g. a,b "
                f"(default: every target column, or at most {MAX_PLOTTED}: the first {MAX_PLOTTED - 1} and the last; "
                f"the first {MAX_PLOTTED} series).")
RUN_SEP_HELP = SEP_HELP.replace("(default: ',')", "(default: the run's)")
RUN_DECIMAL_HELP = DECIMAL_HELP.replace("(default: '.')", "(default: the run's)")
SHORT_SERIES_HELP = "Long format: error (default) | drop: leave out series too short for a window in every split, listing them."


def _levels(text: Optional[str]) -> tuple[float, ...] | None:
    if text is None:
        return None
    return _numbers(text, None, "--levels needs interval levels in percent, e.g. --levels 80,95")


# TrainConfig fields `samovar train` sets for every run, whatever the recipe: not recipe overrides.
RUN_FIELDS = ("device", "threads", "quiet")
TRAIN_FIELDS = frozenset(f.name for f in fields(TrainConfig))


def ltsf_default(name: str) -> str:
    """TrainConfig's default of field `name` (the ltsf recipe's value) as `samovar train` takes it."""
    value = getattr(TrainConfig, name)
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _recipe_field(name: str, what: str) -> Any:
    """The option overriding TrainConfig.<name>: None keeps the recipe's value; the help names the ltsf one."""
    return typer.Option(None, help=f"{what} (default: the recipe's; ltsf: {ltsf_default(name)}).")


LTSF_HELP = (f"ltsf ({TrainConfig.optimizer}, lr {ltsf_default('lr')}, {TrainConfig.schedule}, {TrainConfig.epochs} epochs, "
             f"patience {TrainConfig.patience})")


@app.command()
def train(
    ctx: typer.Context,
    model: str = typer.Option("dlinear", help="Registered model name (see `samovar models`)."),
    dataset: str = typer.Option("ETTh1", help="Registered dataset name, 'synthetic', or a CSV/NPZ file path."),
    horizon: int = typer.Option(96, help="Steps to forecast."),
    lookback: Optional[int] = typer.Option(None, help="Input steps (default: the paper recipe's lookback for the dataset, else the model's published default)."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the dataset files (else $SAMOVAR_DATA_DIR, cache, download)."),
    recipe: str = typer.Option("auto", help="auto (the model's published recipe when it has one for the dataset, else ltsf) "
                               f"| paper | {LTSF_HELP} | seed (the SAMoVAR authors' "
                               "samovar.sh / baseline.sh; baselines: --lookback 4096, 2048, 1024 or 512, default the first "
                               "that fits). The options below override single fields."),
    epochs: Optional[int] = _recipe_field("epochs", "Maximum epochs"),
    batch_size: Optional[int] = _recipe_field("batch_size", "Windows per batch"),
    lr: Optional[float] = _recipe_field("lr", "Learning rate"),
    schedule: Optional[str] = _recipe_field("schedule", " | ".join(SCHEDULES)),
    optimizer: Optional[str] = _recipe_field("optimizer", " | ".join(OPTIMIZERS)),
    betas: Optional[str] = _recipe_field("betas", "Adam/AdamW beta1,beta2, e.g. 0.9,0.95"),
    weight_decay: Optional[float] = _recipe_field("weight_decay", "AdamW/Adam weight decay"),
    patience: Optional[int] = _recipe_field("patience", "Early-stopping patience in epochs, 0: never stop early"),
    grad_clip: Optional[float] = _recipe_field("grad_clip", "Clip the gradient norm to this value, 0: no clipping"),
    accumulate: Optional[int] = _recipe_field("accumulate", "Micro-batches per optimizer step"),
    seed: Optional[int] = _recipe_field("seed", "Seed of the model init, shuffling and dropout"),
    device: str = typer.Option(TrainConfig.device, help="auto | cpu | cuda | mps."),
    threads: int = typer.Option(TrainConfig.threads, help="torch threads (1 is fastest for small models on few cores)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run directories are created."),
    resume: Optional[Path] = typer.Option(None, help="Resume this run directory from its checkpoint (other options are taken from it)."),
    quiet: bool = typer.Option(TrainConfig.quiet, "--quiet", "-q", help="No progress display."),
    fill: str = typer.Option("error", help="Missing values: error | interpolate."),
    split: Optional[str] = typer.Option(None, help="Train,val,test shares for your own files, e.g. 0.7,0.1,0.2 "
                                        "(with --fit-mode refit: train,val of the validation stage, test 0)."),
    fit_mode: Optional[str] = typer.Option(None, help="refit: early stopping on a validation tail, then a refit on every "
                                           "row for the best epoch count | epochs: --epochs epochs on every row, no "
                                           "validation | holdout: train/val/test with test metrics. Default: holdout "
                                           "for registered datasets, 'synthetic' or a --split with a test share, else refit."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    loss: Optional[str] = typer.Option(None, help=LOSS_HELP),
    quantiles: Optional[str] = typer.Option(None, help=QUANTILES_HELP),
    date_format: Optional[str] = typer.Option(None, help=DATE_FORMAT_HELP),
    dayfirst: bool = typer.Option(False, "--dayfirst", help=DAYFIRST_HELP),
    sep: str = typer.Option(",", help=SEP_HELP),
    decimal: str = typer.Option(".", help=DECIMAL_HELP),
    target: Optional[list[str]] = typer.Option(None, help=TARGET_HELP),
    past: Optional[list[str]] = typer.Option(None, help=PAST_HELP),
    future: Optional[list[str]] = typer.Option(None, help=FUTURE_HELP),
    calendar: bool = typer.Option(False, "--calendar", help=CALENDAR_HELP),
    id_col: Optional[str] = typer.Option(None, help=ID_COL_HELP),
    time_col: Optional[str] = typer.Option(None, help=TIME_COL_HELP),
    target_col: Optional[str] = typer.Option(None, help=TARGET_COL_HELP),
    short_series: str = typer.Option("error", help=SHORT_SERIES_HELP),
) -> None:
    """Train a model and write a run directory (holdout: with its metrics on every test window).

    Without options the model's published recipe is used (e.g. SAMoVAR: AdamW, linear one-cycle,
    100 epochs, patience 12) and its published lookback for the horizon. On your own files the
    final model trains on every row (--fit-mode refit); on registered benchmarks it is tested.
    """
    from .training import rundir as rd
    from .models import model_class
    from .training.rundir import default_run_dir
    from .training.modelspec import check_covariates
    from .training.runs import (check_fit_mode, data_kinds, default_fit_mode, fit_run, input_kinds, parse_set_options,
                                prepare_source, recipe_training, resolve_lookback, resume_run, stage_split)

    from .data.panel import long_format_options
    from .utils import usable_device

    inputs = _inputs(target, past, future, calendar)
    try:
        usable_device(device)  # before any data is read or line printed
        long_format = long_format_options(id_col, time_col, target_col, short_series)
        if resume is not None:
            resumed = _resume_line(ctx, resume)  # before the run: its epochs done; a foreign directory fails here
            result, data = resume_run(resume, quiet=quiet, device=device if device != "auto" else None, data_dir=data_dir)
            console.print(resumed, highlight=False, soft_wrap=True)
        else:
            given_lookback = lookback
            # every option named after a TrainConfig field overrides the recipe's value (None: keeps it)
            given = {name: value for name, value in ctx.params.items() if name in TRAIN_FIELDS and name not in RUN_FIELDS}
            given.update(betas=_betas(betas), quantiles=_quantiles(quantiles))
            overrides = {k: v for k, v in given.items() if v is not None}
            if overrides.get("grad_clip") == 0:
                overrides["grad_clip"] = None
            overrides.update(device=device, threads=threads, quiet=quiet)
            config, kwargs, rec = recipe_training(model, dataset, horizon, recipe, overrides, parse_set_options(set_))
            if rec.name == "seed" and given_lookback is not None:  # one of the script's lookbacks, else an error
                from .training.seed import seed_lookback

                seed_lookback(model, dataset, horizon, given_lookback)
            published = rec.lookback if rec.name in ("paper", "seed") and given_lookback is None else None
            lookback = resolve_lookback(model, published or given_lookback, horizon)
            mode = default_fit_mode(dataset, _split(split)) if fit_mode is None else fit_mode
            check_fit_mode(mode, dataset, _split(split))
            check_covariates(model, input_kinds(inputs))
            data = prepare_source(dataset, lookback, horizon, data_dir, stage_split(mode, _split(split)), fill,
                                  date_format, dayfirst, inputs, long_format, sep=sep, decimal=decimal)  # data errors first
            check_covariates(model, data_kinds(data))  # e.g. the past-only covariates --target implies
            where = ("given" if given_lookback is not None else "the recipe's" if published
                     else f"the model's default for horizon {horizon}")
            if model_class(model).trainable:
                changed = sorted(k for k in overrides if k in given)
                console.print(f"recipe: {rec.label}" + (f", overridden: {', '.join(changed)}" if changed else "")
                              + f"; {config.optimizer} lr {config.lr:g}, {config.schedule}, {config.epochs} epochs, "
                              f"batch {config.batch_size}, patience {config.patience}; lookback {lookback} ({where}); "
                              f"fit mode {mode}", highlight=False, soft_wrap=True)
                for note in rec.notes:
                    console.print(f"  note: {note}", highlight=False, soft_wrap=True)
            else:
                console.print(f"{model} has nothing to train (no recipe); lookback {lookback} ({where}); fit mode {mode}",
                              highlight=False)
            name = Path(dataset).name.split(".")[0] if Path(dataset).suffix else dataset
            run_dir = default_run_dir(runs_dir, model.lower(), name, lookback, horizon)
            result, data = fit_run(model, dataset, horizon=horizon, lookback=lookback, model_kwargs=kwargs, config=config,
                                   data_dir=data_dir, split=_split(split), fill=fill, run_dir=run_dir, recipe=rec, data=data,
                                   fit_mode=mode, date_format=date_format, dayfirst=dayfirst, inputs=inputs,
                                   long_format=long_format, sep=sep, decimal=decimal)
    except INPUT_ERRORS as exc:
        fail(str(exc))
        return
    console.print(f"{data!r}", highlight=False)
    for note in data.notes if hasattr(data, "excluded") else ():  # a panel's notes: left-out series, carried columns
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    roles = _roles_line(data.inputs, data.columns)
    if roles is not None:
        console.print(roles, highlight=False, soft_wrap=True)
    fit = result.fit or {"mode": "holdout"}
    stage = fit.get("validation")
    if stage is not None:  # refit: the validation stage chose the epochs
        console.print(f"validation stage: best epoch {stage['best_epoch']} of {stage['epochs_run']} run, best val MSE "
                      f"{stage['best_val_mse']:.4f}{', stopped early' if stage['stopped_early'] else ''}, "
                      f"{stage['seconds']:.1f}s (rows {_rows(stage['rows'])}); refit on every row (rows {_rows(fit['rows'])}): "
                      f"{result.epochs_run} epochs, {result.seconds:.1f}s", highlight=False, soft_wrap=True)
    elif not result.model.trainable:
        val = "" if fit["mode"] == "epochs" else f": val MSE {result.best_val_mse:.4f}"
        console.print(f"nothing to train ({result.model.name} has no parameters){val}, {result.seconds:.1f}s", highlight=False)
    elif fit["mode"] == "epochs":
        console.print(f"epochs run: {result.epochs_run} on every row (rows {_rows(fit['rows'])}, no validation), "
                      f"{result.seconds:.1f}s", highlight=False)
    else:
        console.print(f"epochs run: {result.epochs_run} (best epoch {result.best_epoch}, best val MSE {result.best_val_mse:.4f}"
                      f"{', stopped early' if result.stopped_early else ''}), {result.seconds:.1f}s", highlight=False)
    if result.test_metrics is not None:
        console.print(_metrics_table(f"test ({result.test_metrics['windows']} windows)", result.test_metrics))
    if result.calibration is not None:
        by = " of the validation-stage model" if stage is not None else ""
        console.print(f"prediction intervals calibrated on {result.calibration.windows} validation windows{by} "
                      f"({rd.INTERVALS})", highlight=False)
    elif fit["mode"] == "epochs":
        console.print("no prediction intervals: fit mode epochs leaves no held-out windows to calibrate them on",
                      highlight=False)
    console.print(f"run directory: {result.run_dir}", highlight=False, soft_wrap=True)


def _roles_line(roles, columns: list[str]) -> str | None:
    """The line naming the role of each column ("targets: OT; past-only covariates: ...") in the MS and S
    settings and with covariates (docs/covariates.md); None in the M setting of several columns, where every
    column is a target (the data line's channel count says so). The S setting, one target and no
    covariates, is named too: a one-column file or --target COL --past none."""
    if roles.is_default(columns) and len(roles.targets) > 1:
        return None
    return (f"targets: {', '.join(roles.targets)}; past-only covariates: {', '.join(roles.past) or 'none'}; "
            f"future-known covariates: {', '.join([*roles.future, *roles.calendar]) or 'none'}")


def _rows(rows: dict[str, Any]) -> str:
    """{"train": [0, 700], "val": [652, 800]} -> "train 0..699, val 652..799"; a panel's
    {"train": {"series": 300, "rows": 7000, ...}} -> "train 7000 rows of 300 series"."""
    return ", ".join(f"{name} {part['rows']} rows of {part['series']} series" if isinstance(part, dict)
                     else f"{name} {part[0]}..{part[1] - 1}" for name, part in rows.items())


# What `train --resume` takes from the command line; every other option comes from the run's config.json.
RESUME_OPTIONS = frozenset({"resume", "quiet", "device", "data_dir"})


def _resume_line(ctx: typer.Context, run_dir: Path) -> str:
    """`train --resume`'s line naming what it continued: the run's recorded model, data, recipe, fit mode
    and the epochs it had done. Options given beside --resume are not applied: a warning names them
    (they used to be dropped silently, so `--model patchtst --resume <a dlinear run>` trained DLinear)."""
    import warnings

    from .training import rundir as rd
    from .training.runs import read_run_config, refit_resumes_in_refit

    validation = run_dir / rd.VALIDATION_RUN  # a fit mode "refit" run: its options are its validation stage's
    refit = (validation / rd.CONFIG).exists()
    cfg = read_run_config(validation if refit else run_dir)  # a missing or foreign directory: one error line
    flags = {p.name: p.opts[0] for p in ctx.command.params}
    given = [flags[name] for name in ctx.params if name not in RESUME_OPTIONS  # typer vendors click: compare names
             and getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"]
    if given:
        warnings.warn(f"--resume continues {run_dir} with the options it was started with; not applied: "
                      f"{', '.join(given)}", stacklevel=2)

    def after(stage_dir: Path, stage_cfg: dict[str, Any]) -> str:
        metrics = stage_dir / rd.METRICS
        done = len(rd.read_jsonl(metrics)) if metrics.exists() else 0
        return f"after epoch {done} of {stage_cfg['train']['epochs']}"

    if not refit:
        at = after(run_dir, cfg)
    elif refit_resumes_in_refit(run_dir):
        at = f"in its refit stage {after(run_dir, read_run_config(run_dir))}"
    elif (validation / rd.INTERVALS).exists():  # written as the validation stage ends: only the refit is left
        at = f"after its validation stage ({after(validation, cfg).removeprefix('after ')}), before the refit"
    else:
        at = f"in its validation stage {after(validation, cfg)}"
    data, recipe = cfg["data"], (cfg.get("recipe") or {}).get("name")
    return (f"resumed {run_dir} {at}: {cfg['model']['name']} on "
            f"{data.get('source', data.get('name'))}{f', recipe {recipe}' if recipe else ''}, lookback {data['lookback']}, "
            f"horizon {data['horizon']}, fit mode {(cfg.get('fit') or {}).get('mode', 'holdout')}")


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `samovar train`."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the dataset files."),
    device: str = typer.Option("auto"),
) -> None:
    """Recompute the test scores of a run's best weights on every test window: every point score, and
    the coverage and width of its prediction intervals (and CRPS / pinball of a quantile model)."""
    from .training.runs import score_run

    try:
        scores = score_run(run_dir, data_dir=data_dir, device=device)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        fail(str(exc))
        return
    console.print(_metrics_table(f"test ({scores['point']['windows']} windows) of {run_dir}", scores["point"]))
    if scores["intervals"]:
        console.print(_intervals_table(scores["intervals"]))
    if scores["quantiles"]:
        console.print(_quantiles_table(scores["quantiles"]))


def _intervals_table(rows: list[dict[str, Any]]) -> Table:
    first = rows[0]
    table = Table(title=f"conformal intervals on {first['split']} ({first['windows']} windows; calibrated on "
                        f"{first['calibration_windows']} {first['calibration_split']} windows)")
    for col in ("level", "coverage", "mean width (standardized)", "mean width (original)"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(f"{row['level']}%", f"{row['coverage']:.3f}", f"{row['width']:.4f}",
                      f"{row['width_raw']:.4f}" if "width_raw" in row else "-")
    return table


def _quantiles_table(scores: dict[str, Any]) -> Table:
    table = Table(title=f"quantile forecasts ({scores['windows']} windows, standardized): "
                        f"CRPS {scores['crps']:.4f}, pinball {scores['pinball']:.4f}")
    table.add_column("quantile", justify="right")
    table.add_column("share of targets below", justify="right")
    for q, share in scores["below"].items():
        table.add_row(f"{q:g}", f"{share:.3f}")
    for level, share in scores["coverage"].items():
        table.add_row(f"{level}% central", f"{share:.3f} inside")
    return table


@app.command()
def calibrate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `samovar train`."),
    split: str = typer.Option("val", help="Windows to calibrate on: val (default) | train | test."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the dataset files."),
    device: str = typer.Option("auto"),
) -> None:
    """(Re)compute the split-conformal prediction intervals of a run on every window of a split."""
    from .training import rundir as rd
    from .training.runs import calibrate_run

    try:
        cal = calibrate_run(run_dir, split=split, data_dir=data_dir, device=device)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        fail(str(exc))
        return
    table = Table(title=f"interval radius (standardized), {cal.windows} {split} windows")
    for col in ("level", "mean radius", "min", "max"):
        table.add_column(col, justify="right")
    for level in (50, 80, 90, 95, 99):
        r = cal.radius(level)
        table.add_row(f"{level}%", f"{float(r.mean()):.4f}", f"{float(r.min()):.4f}", f"{float(r.max()):.4f}")
    console.print(table)
    _note_infinite(cal, cal.levels)
    console.print(f"written to {Path(run_dir) / rd.INTERVALS}", highlight=False, soft_wrap=True)


def _note_infinite(cal, levels) -> None:
    """Say which levels have infinite radii (too few calibration windows)."""
    infinite = cal.infinite_levels(levels)
    if infinite:
        console.print(f"note: {cal.windows} calibration windows are too few for level(s) {', '.join(map(str, infinite))}: "
                      f"their radius is infinite (rank ceil((n+1)p) > n); highest finite level: {cal.max_finite_level}",
                      highlight=False, soft_wrap=True)


@app.command()
def forecast(
    run_dir: Path = typer.Argument(..., help="A run directory of `samovar train` (or a saved Forecaster)."),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="CSV with the training columns (and optionally a "
                                         "date column); default: the file the run trained on."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write the forecast (or the backtest) to."),
    plot: Optional[Path] = typer.Option(None, help="Also draw history, forecast and known truth to this image."),
    backtest_start: Optional[str] = typer.Option(None, help="Backtest instead: first forecast row or date."),
    backtest_end: Optional[str] = typer.Option(None, help="Last row or date a backtest forecast may reach (default: the end)."),
    backtest_stride: Optional[int] = typer.Option(None, help="Rows between backtest forecasts (default: the horizon)."),
    fill: str = typer.Option("error", help="Missing values in the input: error | interpolate."),
    levels: Optional[str] = typer.Option(None, help="Conformal prediction intervals at these levels in percent, "
                                         "e.g. 80,95: adds <col>-lo-95, <col>-lo-80, <col>-hi-80, <col>-hi-95."),
    date_format: Optional[str] = typer.Option(None, help=DATE_FORMAT_HELP.replace("inferred", "the run's")),
    dayfirst: bool = typer.Option(False, "--dayfirst", help=DAYFIRST_HELP + " (default: as the run was trained)"),
    sep: Optional[str] = typer.Option(None, help=RUN_SEP_HELP),
    decimal: Optional[str] = typer.Option(None, help=RUN_DECIMAL_HELP),
    allow_freq_mismatch: bool = typer.Option(False, "--allow-freq-mismatch", help=FREQ_MISMATCH_HELP),
    columns: Optional[str] = typer.Option(None, help=COLUMNS_HELP),
    future: Optional[Path] = typer.Option(None, "--future", help="CSV with the run's future-known covariate columns "
                                          "for the horizon rows after the end of --input (a model trained with --future)."),
    short_series: Optional[str] = typer.Option(None, help="A long-format run's backtest: error | drop: leave out series "
                                               "with no forecast in the range, listing them (default: the run's)."),
) -> None:
    """Forecast the horizon after the end of --input, or backtest over a range of it.

    A run trained on a long-format file (many series) forecasts every series of a long --input and
    writes long format: id, time, the model's forecast (and interval) columns. Its backtest takes
    --backtest-start / --backtest-end as times (dates or integer steps) shared by every series.
    """
    from .api import Forecaster
    from .data import DataError
    from .utils import write_text_atomic

    try:
        fc = Forecaster.load(run_dir, date_format=date_format, dayfirst=dayfirst or None, sep=sep, decimal=decimal)
        _set_short_series(fc, short_series)
        chosen = _levels(levels)
        if input is None:  # as NeuralForecast's predict() without a frame: after the end of the training data
            input = _trained_file(fc)
            console.print(f"input: {input}, the file the run trained on", highlight=False, soft_wrap=True)
        if plot is not None:
            from .api import check_plot_columns, check_plot_path

            check_plot_path(plot)
            check_plot_columns(fc, input, _plotted(columns), fill=fill)  # before any output is written
        if backtest_start is None and backtest_end is None:
            frame = fc.predict(input, levels=chosen, fill=fill, allow_freq_mismatch=allow_freq_mismatch, future=future)
            panel = fc.panel
            write_text_atomic(output, frame.to_csv(index=panel is None))
            if panel is None:
                console.print(f"forecast of {len(frame)} steps ({frame.index[0]} .. {frame.index[-1]}) written to {output}",
                              highlight=False)
            else:
                times = frame[panel["time_col"]]
                console.print(f"forecast of {fc.horizon} steps for {frame[panel['id_col']].nunique()} series "
                              f"({times.min()} .. {times.max()}) written to {output}", highlight=False)
            metrics = None
        else:
            if future is not None:
                fail("--future is for a forecast after the end of --input; a backtest reads the covariates from --input")
            frame, metrics = fc.backtest(input, backtest_start, backtest_end, stride=backtest_stride, levels=chosen,
                                         fill=fill, allow_freq_mismatch=allow_freq_mismatch)
            write_text_atomic(output, frame.to_csv(index=False))
            of = f" of {metrics['series']} series" if "series" in metrics else ""
            console.print(f"backtest: {metrics['forecasts']} forecasts{of} written to {output}", highlight=False)
            _print_notes(metrics)
            if metrics.get("forecasts_on_seen_rows"):
                console.print(f"[yellow]warning: {metrics['forecasts_on_seen_rows']} forecasts start at or before "
                              f"{metrics['last_seen']}, the last time the model trained or validated on (in any series), "
                              "so their errors may be optimistic; start after it (--backtest-start) for held-out errors, "
                              "or cross-validate (samovar backtest)[/]", highlight=False, soft_wrap=True)
            if metrics.get("forecasts_on_train_rows"):
                console.print(f"[yellow]warning: the first {metrics['forecasts_on_train_rows']} forecasts' targets lie in "
                              f"rows the model trained on (before row {metrics['train_rows_end']} of {input}), so their "
                              f"errors are optimistic; start at row {metrics['train_rows_end']} or later for held-out errors[/]",
                              highlight=False, soft_wrap=True)
            console.print(_metrics_table("backtest", metrics))
            for key in (k for k in metrics if k.startswith("coverage-")):
                console.print(f"{key.split('-')[1]}% interval coverage: {metrics[key]:.3f}", highlight=False)
        if chosen is not None:  # valid levels: predict / backtest checked them
            _note_infinite(fc.run.intervals, [int(v) for v in chosen])
        if plot is not None:
            from .api import plot_backtest, plot_forecast

            chosen_columns = _plotted(columns)
            if metrics is None:
                note = plot_forecast(fc, input, frame, plot, fill=fill, allow_freq_mismatch=allow_freq_mismatch,
                                     columns=chosen_columns)
            else:
                note = plot_backtest(fc, input, frame, plot, fill=fill, columns=chosen_columns)
            console.print(f"plot written to {plot}" + (f"; {note}" if note else ""), highlight=False, soft_wrap=True)
    except (DataError, ValueError, FileNotFoundError, KeyError) as exc:
        fail(str(exc))


def _trained_file(fc) -> Path:
    """The data file a run trained on (config.json: data.location, else data.source), for `forecast` without --input."""
    data = fc.run.config.get("data", {})
    for key in ("location", "source"):
        value = data.get(key)
        if isinstance(value, str) and Path(value).is_file():
            return Path(value)
    raise ValueError(f"give the data to forecast from with --input CSV: the run did not train on a file found here "
                     f"(its data: {data.get('source') or data.get('name')})")


@app.command()
def backtest(
    run_dir: Optional[Path] = typer.Argument(None, help="A run directory of `samovar train` (or a saved Forecaster): its "
                                             "model and settings; refits reuse them. Else give --model and --dataset."),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="With RUN_DIR: CSV with the run's columns (and dates)."),
    model: Optional[str] = typer.Option(None, help="Without RUN_DIR: the registered model to train at the cut-offs."),
    dataset: Optional[str] = typer.Option(None, help="Without RUN_DIR: registered dataset name (its whole file), "
                                          "'synthetic', or a CSV/NPZ path."),
    horizon: Optional[int] = typer.Option(None, help="Without RUN_DIR: steps to forecast (default 96)."),
    lookback: Optional[int] = typer.Option(None, help="Without RUN_DIR: input steps (default: the model's published lookback)."),
    windows: int = typer.Option(5, help="Number of cut-offs; the last leaves exactly one horizon of data after it."),
    step: Optional[int] = typer.Option(None, help="Rows between cut-offs (default: the horizon, back-to-back forecasts)."),
    refit: int = typer.Option(0, help="0: one model for every cut-off: without RUN_DIR it is trained on the rows before the "
                              "first cut-off; with RUN_DIR it is the run's own model, used only if the run recorded the date "
                              "its training and validation data ended and the first cut-off comes after it (so it is "
                              "scored on rows it never saw), else this is refused: use --refit. 1: train a fresh model "
                              "on the rows before every cut-off; K: at every K-th cut-off (K >= --windows: once, at the "
                              "first, with the run's settings)."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write the forecasts next to the actual values to."),
    plot: Optional[Path] = typer.Option(None, help="Also draw the forecasts of every cut-off against the truth to this image."),
    recipe: Optional[str] = typer.Option(None, help="Without RUN_DIR: auto | paper | ltsf, as for `samovar train` (default auto)."),
    epochs: Optional[int] = typer.Option(None, help="Maximum epochs of each fit (default: the recipe's, or the run's)."),
    batch_size: Optional[int] = typer.Option(None, help="Windows per batch (default: the recipe's, or the run's)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default: the recipe's, or the run's)."),
    patience: Optional[int] = typer.Option(None, help="Early-stopping patience in epochs (default: the recipe's, or the run's)."),
    seed: Optional[int] = typer.Option(None, help="Seed of each fit (default: the recipe's, or the run's)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Without RUN_DIR: model hyper-parameter key=value (repeatable)."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the dataset files."),
    fill: str = typer.Option("error", help="Missing values: error | interpolate."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps."),
    threads: int = typer.Option(1, help="torch threads."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress (no line per cut-off, no training bars)."),
    date_format: Optional[str] = typer.Option(None, help=DATE_FORMAT_HELP),
    dayfirst: bool = typer.Option(False, "--dayfirst", help=DAYFIRST_HELP),
    sep: Optional[str] = typer.Option(None, help=RUN_SEP_HELP.replace("the run's", "with RUN_DIR the run's, else ','")),
    decimal: Optional[str] = typer.Option(None, help=RUN_DECIMAL_HELP.replace("the run's",
                                                                              "with RUN_DIR the run's, else '.'")),
    allow_freq_mismatch: bool = typer.Option(False, "--allow-freq-mismatch", help="With RUN_DIR and --refit 0: "
                                             + FREQ_MISMATCH_HELP),
    target: Optional[list[str]] = typer.Option(None, help="Without RUN_DIR: " + TARGET_HELP),
    past: Optional[list[str]] = typer.Option(None, help="Without RUN_DIR: " + PAST_HELP),
    future: Optional[list[str]] = typer.Option(None, help="Without RUN_DIR: " + FUTURE_HELP.split(", whose")[0]
                                               + " (its values are read from the data)."),
    calendar: bool = typer.Option(False, "--calendar", help="Without RUN_DIR: " + CALENDAR_HELP),
    id_col: Optional[str] = typer.Option(None, help="Without RUN_DIR: " + ID_COL_HELP),
    time_col: Optional[str] = typer.Option(None, help="Without RUN_DIR: " + TIME_COL_HELP),
    target_col: Optional[str] = typer.Option(None, help="Without RUN_DIR: " + TARGET_COL_HELP),
    short_series: Optional[str] = typer.Option(None, help="Long format: error (default; with RUN_DIR: the run's) | "
                                               "drop: leave out series too short for the cut-offs, listing them."),
    columns: Optional[str] = typer.Option(None, help=COLUMNS_HELP),
) -> None:
    """Rolling-origin cross-validation: forecast from --windows cut-offs at the end of the data, each
    with a model trained only on the rows before its cut-off (see --refit), and score them.

    Unlike the test metrics of `samovar train` (one model, every stride-1 window of a fixed test
    split), this retrains at the cut-offs and scores a few non-overlapping horizons. Many series in
    long format (--id-col ..., or a unique_id column) are cut at the end of each series; the CSV is
    long: id, cutoff, time, step_ahead, the forecast (a column named after the model), the actual value.
    """
    from .api import Forecaster, plot_backtest
    from .data import DataError
    from .training.runs import parse_set_options
    from .utils import write_text_atomic

    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience, "seed": seed}
    overrides = {k: v for k, v in given.items() if v is not None} | {"device": device, "threads": threads, "quiet": quiet}
    try:
        if run_dir is not None:
            fixed = [name for name, value in (("--model", model), ("--dataset", dataset), ("--horizon", horizon),
                     ("--lookback", lookback), ("--recipe", recipe), ("--set", set_), ("--target", target),
                     ("--past", past), ("--future", future), ("--calendar", calendar), ("--id-col", id_col),
                     ("--time-col", time_col), ("--target-col", target_col)) if value]
            if fixed or input is None:
                fail("with RUN_DIR the model, lookback, horizon and recipe are the run's and the data is --input CSV: "
                     + (f"drop {', '.join(fixed)}" if fixed else "add --input CSV")
                     + " (or drop RUN_DIR to train --model on --dataset)")
            fc = Forecaster.load(run_dir, date_format=date_format, dayfirst=dayfirst or None, sep=sep, decimal=decimal)
            _set_short_series(fc, short_series)
            fc.train_options.update(overrides)
            fc.data_dir, source = data_dir, input
        else:
            if model is None or dataset is None or input is not None:
                fail("without RUN_DIR give --model and --dataset (a registered name, 'synthetic' or a CSV path); "
                     "--input is for a run's data")
            from .data.prepare import refuse_file_options

            # as samovar train: options for your own files are refused for a registered dataset or synthetic
            refuse_file_options(dataset, sep="," if sep is None else sep, decimal="." if decimal is None else decimal,
                                date_format=date_format, dayfirst=dayfirst)
            fc = Forecaster(model, lookback=lookback, horizon=96 if horizon is None else horizon,
                            model_kwargs=parse_set_options(set_), data_dir=data_dir, recipe=recipe or "auto",
                            date_format=date_format, dayfirst=dayfirst, **_inputs(target, past, future, calendar),
                            id_col=id_col, time_col=time_col, target_col=target_col,
                            short_series=short_series or "error", sep="," if sep is None else sep,
                            decimal="." if decimal is None else decimal,
                            **overrides)
            source = dataset

        run_model = run_dir is not None and refit == 0
        if plot is not None:
            from .api import check_plot_columns, check_plot_path

            check_plot_path(plot)
            check_plot_columns(fc, source, _plotted(columns), fill=fill)  # before any fit

        def progress(row: dict[str, Any]) -> None:
            of = f" of {row['series']} series" if "series" in row else ""
            how = _model_used(row, run_model) + (f" on {row['fit_rows']} rows{of}" if row["fitted"] else "")
            console.print(f"cut-off {row['cutoff']}: {how}, mse {row['mse']:.4f}, mae {row['mae']:.4f}", highlight=False)

        frame, per_cutoff, overall = fc.cross_validation(source, n_windows=windows, step=step, refit=refit,
                                                         reuse_fitted=run_model, fill=fill,
                                                         on_cutoff=None if quiet else progress,
                                                         allow_freq_mismatch=allow_freq_mismatch)
        write_text_atomic(output, frame.to_csv(index=False))
        each = f" from the end of each of {overall['series']} series" if "series" in overall else ""
        console.print(f"{fc.model_name}, lookback {fc.lookback}, horizon {fc.horizon}: {windows} cut-offs{each}, "
                      f"{overall['fits']} fit(s); forecasts written to {output}", highlight=False, soft_wrap=True)
        _print_notes(overall)
        console.print(_cutoff_table(per_cutoff, overall, run_model))
        if plot is not None:
            note = plot_backtest(fc, source, frame, plot, fill=fill, columns=_plotted(columns))
            console.print(f"plot written to {plot}" + (f"; {note}" if note else ""), highlight=False, soft_wrap=True)
    except (DataError, ValueError, FileNotFoundError, KeyError, FloatingPointError) as exc:
        fail(str(exc))


def _plotted(columns: Optional[str]) -> list[str] | None:
    """--columns a,b as a list of names (None: not given)."""
    return [c.strip() for c in columns.split(",") if c.strip()] if columns else None


def _set_short_series(fc, short_series: Optional[str]) -> None:
    """--short-series over a loaded run's policy (a long-format run only)."""
    if short_series is None:
        return
    if fc.long_format is None:
        fail("--short-series is for runs on many series in long format; this run was trained on wide data")
    fc.long_format = {**fc.long_format, "short_series": short_series}


def _print_notes(metrics: dict[str, Any]) -> None:
    """A panel's notes of a backtest or cross-validation (series left out by --short-series drop)."""
    for note in metrics.get("notes", ()):
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _model_used(row: dict[str, Any], run_model: bool) -> str:
    return "run's model" if run_model else "fitted" if row["fitted"] else "reused"


def _cutoff_table(per_cutoff, overall: dict[str, float], run_model: bool) -> Table:
    """Metrics per cut-off and over all of them: standardized (each forecasting model's scaler) and original scale."""
    table = Table(title="cross-validation")
    for col in ("cut-off", "model", "MSE", "MAE", "MSE raw", "MAE raw"):
        table.add_column(col, justify="left" if col in ("cut-off", "model") else "right")

    def numbers(metrics: dict[str, Any]) -> list[str]:
        return [f"{metrics[k]:.4f}" for k in ("mse", "mae", "mse_raw", "mae_raw")]

    for row in per_cutoff.to_dict("records"):
        table.add_row(str(row["cutoff"]), _model_used(row, run_model), *numbers(row))
    table.add_row("overall", f"{overall['fits']} fit(s)", *numbers(overall), style="bold")
    return table


@app.command()
def datasets(data_dir: Optional[Path] = typer.Option(None, help="Also look for files here.")) -> None:
    """List the registered datasets and whether their files are available."""
    from .data import dataset_table

    frame = dataset_table(data_dir)
    shown = [c for c in ("name", "channels", "rows", "freq", "train_rows", "val_rows", "test_rows", "available", "location")
             if c in frame.columns]
    table = Table(title="datasets")
    for col in shown:
        table.add_column(col, overflow="fold")
    for _, row in frame.iterrows():
        table.add_row(*(_cell(row[c]) for c in shown))
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    return str(value)


@app.command()
def models() -> None:
    """List the registered forecasting models and their options."""
    from . import models as registry
    from .training.runs import model_options

    table = Table(title="models")
    for col in ("name", "default lookback (H=96)", "covariates", "options", "description"):
        table.add_column(col, overflow="fold")
    for name in registry.available():
        cls = registry.model_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        lookback = cls.default_lookback(96)
        options = ", ".join(f"{k}={v!r}" for k, v in model_options(name).items())
        table.add_row(name, "-" if lookback is None else str(lookback), ", ".join(cls.covariates), options,
                      doc[0] if doc else "")
    console.print(table)


if __name__ == "__main__":
    app()
