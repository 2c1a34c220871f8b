"""The ``samovar`` command: train, evaluate, forecast, datasets, models.

    samovar train --model dlinear --dataset ETTh1 --horizon 96 --lr 0.005
    samovar train --model samovar --dataset ETTh1 --horizon 96      # the paper's recipe and lookback
    samovar evaluate runs/dlinear-ETTh1-L336-H96-20260101-120000
    samovar forecast RUN_DIR --input data.csv --output forecast.csv --plot forecast.png
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from .bench.cli import bench_app
from .console import console, fail
from .tasks.cli import task_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="samovar: train and use time-series forecasting models.")
app.add_typer(task_app, name="task")  # samovar task ...
app.add_typer(bench_app, name="bench")  # samovar bench ...


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


def _numbers(text: str, count: int, what: str) -> tuple[float, ...]:
    """Parse `count` numbers separated by commas, spaces or slashes; else fail with `what` as the hint."""
    parts = [p for p in text.replace(",", " ").replace("/", " ").split() if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count:
        fail(f"{text!r}: {what}")
    return values


def _split(text: Optional[str]) -> tuple[float, float, float] | None:
    if text is None:
        return None
    return _numbers(text, 3, "--split needs three shares train,val,test, e.g. --split 0.7,0.1,0.2")  # type: ignore[return-value]


def _betas(text: Optional[str]) -> tuple[float, float] | None:
    if text is None:
        return None
    return _numbers(text, 2, "--betas needs two numbers beta1,beta2, e.g. --betas 0.9,0.95")  # type: ignore[return-value]


@app.command()
def train(
    model: str = typer.Option("dlinear", help="Registered model name (see `samovar models`)."),
    dataset: str = typer.Option("ETTh1", help="Registered dataset name, 'synthetic', or a CSV/NPZ file path."),
    horizon: int = typer.Option(96, help="Steps to forecast."),
    lookback: Optional[int] = typer.Option(None, help="Input steps (default: the model's published lookback)."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the dataset files (else $SAMOVAR_DATA_DIR, cache, download)."),
    recipe: str = typer.Option("auto", help="auto (the model's published recipe when it has one for the dataset, else ltsf) "
                               "| paper | ltsf (Adam, lr 1e-4, type1, 10 epochs, patience 3). The options below override single fields."),
    epochs: Optional[int] = typer.Option(None, help="Maximum epochs (default: the recipe's; ltsf: 10)."),
    batch_size: Optional[int] = typer.Option(None, help="Windows per batch (default: the recipe's; ltsf: 32)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default: the recipe's; ltsf: 1e-4) (DLinear's ETTh1 runs use 0.005)."),
    schedule: Optional[str] = typer.Option(None, help="type1 | type2 | type3 | type2_cats | type3_fits | constant | cosine | onecycle (default: the recipe's; ltsf: type1)."),
    optimizer: Optional[str] = typer.Option(None, help="adam | adamw (default: the recipe's; ltsf: adam)."),
    betas: Optional[str] = typer.Option(None, help="Adam/AdamW beta1,beta2, e.g. 0.9,0.95 (default: the recipe's; ltsf: 0.9,0.999)."),
    weight_decay: Optional[float] = typer.Option(None, help="AdamW/Adam weight decay (default: the recipe's; ltsf: 0)."),
    patience: Optional[int] = typer.Option(None, help="Early-stopping patience in epochs, 0: never stop early (default: the recipe's; ltsf: 3)."),
    grad_clip: Optional[float] = typer.Option(None, help="Clip the gradient norm to this value, 0: no clipping (default: the recipe's; ltsf: none)."),
    accumulate: Optional[int] = typer.Option(None, help="Micro-batches per optimizer step (default: the recipe's; ltsf: 1)."),
    seed: Optional[int] = typer.Option(None, help="Seed of the model init, shuffling and dropout (default: the recipe's; ltsf: 2021)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps."),
    threads: int = typer.Option(1, help="torch threads (1 is fastest for small models on few cores)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run directories are created."),
    resume: Optional[Path] = typer.Option(None, help="Resume this run directory from its checkpoint (other options are taken from it)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    fill: str = typer.Option("error", help="Missing values: error | interpolate."),
    split: Optional[str] = typer.Option(None, help="Train,val,test shares for your own files, e.g. 0.7,0.1,0.2."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Model hyper-parameter key=value (repeatable; over the recipe's)."),
) -> None:
    """Train a model, evaluate it on every test window and write a run directory.

    Without options the model's published recipe is used (e.g. SAMoVAR: AdamW, linear one-cycle,
    100 epochs, patience 12) and its published lookback for the horizon.
    """
    from .models import model_class
    from .training.rundir import default_run_dir
    from .training.runs import fit_run, parse_set_options, recipe_training, resolve_lookback, resume_run

    try:
        if resume is not None:
            result, data = resume_run(resume, quiet=quiet, device=device if device != "auto" else None, data_dir=data_dir)
        else:
            given_lookback = lookback
            lookback = resolve_lookback(model, lookback, horizon)
            given = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "schedule": schedule, "optimizer": optimizer,
                     "betas": _betas(betas), "weight_decay": weight_decay, "patience": patience,
                     "grad_clip": grad_clip, "accumulate": accumulate, "seed": seed}
            overrides = {k: v for k, v in given.items() if v is not None}
            if overrides.get("grad_clip") == 0:
                overrides["grad_clip"] = None
            overrides.update(device=device, threads=threads, quiet=quiet)
            config, kwargs, rec = recipe_training(model, dataset, horizon, recipe, overrides, parse_set_options(set_))
            where = "given" if given_lookback is not None else f"the model's default for horizon {horizon}"
            if model_class(model).trainable:
                changed = sorted(k for k in overrides if k in given)
                console.print(f"recipe: {rec.label}" + (f", overridden: {', '.join(changed)}" if changed else "")
                              + f"; {config.optimizer} lr {config.lr:g}, {config.schedule}, {config.epochs} epochs, "
                              f"batch {config.batch_size}, patience {config.patience}; lookback {lookback} ({where})",
                              highlight=False, soft_wrap=True)
                for note in rec.notes:
                    console.print(f"  note: {note}", highlight=False, soft_wrap=True)
            else:
                console.print(f"{model} has nothing to train (no recipe); lookback {lookback} ({where})", highlight=False)
            name = Path(dataset).name.split(".")[0] if Path(dataset).suffix else dataset
            run_dir = default_run_dir(runs_dir, model.lower(), name, lookback, horizon)
            result, data = fit_run(model, dataset, horizon=horizon, lookback=lookback, model_kwargs=kwargs, config=config,
                                   data_dir=data_dir, split=_split(split), fill=fill, run_dir=run_dir, recipe=rec)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, FloatingPointError) as exc:
        fail(str(exc))
        return
    console.print(f"{data!r}", highlight=False)
    if result.model.trainable:
        console.print(f"epochs run: {result.epochs_run} (best epoch {result.best_epoch}, best val MSE {result.best_val_mse:.4f}"
                      f"{', stopped early' if result.stopped_early else ''}), {result.seconds:.1f}s", highlight=False)
    else:
        console.print(f"nothing to train ({result.model.name} has no parameters): val MSE {result.best_val_mse:.4f}, "
                      f"{result.seconds:.1f}s", highlight=False)
    if result.test_metrics is not None:
        console.print(_metrics_table(f"test ({result.test_metrics['windows']} windows)", result.test_metrics))
    console.print(f"run directory: {result.run_dir}", highlight=False, soft_wrap=True)


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `samovar train`."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the dataset files."),
    device: str = typer.Option("auto"),
) -> None:
    """Recompute the test metrics of a run's best weights on every test window."""
    from .training.runs import evaluate_run

    try:
        metrics = evaluate_run(run_dir, data_dir=data_dir, device=device)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        fail(str(exc))
        return
    console.print(_metrics_table(f"test ({metrics['windows']} windows) of {run_dir}", metrics))


@app.command()
def forecast(
    run_dir: Path = typer.Argument(..., help="A run directory of `samovar train` (or a saved Forecaster)."),
    input: Path = typer.Option(..., "--input", "-i", help="CSV with the training columns (and optionally a date column)."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write the forecast (or the backtest) to."),
    plot: Optional[Path] = typer.Option(None, help="Also draw history, forecast and known truth to this image."),
    backtest_start: Optional[str] = typer.Option(None, help="Backtest instead: first forecast row or date."),
    backtest_end: Optional[str] = typer.Option(None, help="Last row or date a backtest forecast may reach (default: the end)."),
    backtest_stride: Optional[int] = typer.Option(None, help="Rows between backtest forecasts (default: the horizon)."),
    fill: str = typer.Option("error", help="Missing values in the input: error | interpolate."),
) -> None:
    """Forecast the horizon after the end of --input, or backtest over a range of it."""
    from .api import Forecaster
    from .data import DataError
    from .utils import write_text_atomic

    try:
        fc = Forecaster.load(run_dir)
        if backtest_start is None and backtest_end is None:
            frame = fc.predict(input, fill=fill)
            write_text_atomic(output, frame.to_csv())
            console.print(f"forecast of {len(frame)} steps ({frame.index[0]} .. {frame.index[-1]}) written to {output}",
                          highlight=False)
            metrics = None
        else:
            frame, metrics = fc.backtest(input, backtest_start, backtest_end, stride=backtest_stride, fill=fill)
            write_text_atomic(output, frame.to_csv(index=False))
            console.print(f"backtest: {metrics['forecasts']} forecasts written to {output}", highlight=False)
            table = Table(title="backtest")
            for col in ("scale", "MSE", "MAE"):
                table.add_column(col, justify="right" if col != "scale" else "left")
            table.add_row("original", f"{metrics['mse']:.4f}", f"{metrics['mae']:.4f}")
            table.add_row("standardized", f"{metrics['mse_scaled']:.4f}", f"{metrics['mae_scaled']:.4f}")
            console.print(table)
        if plot is not None:
            from .api import plot_backtest, plot_forecast

            if metrics is None:
                plot_forecast(fc, input, frame, plot, fill=fill)
            else:
                plot_backtest(fc, input, frame, plot, fill=fill)
            console.print(f"plot written to {plot}", highlight=False)
    except (DataError, ValueError, FileNotFoundError, KeyError) as exc:
        fail(str(exc))


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
    for col in ("name", "default lookback (H=96)", "options", "description"):
        table.add_column(col, overflow="fold")
    for name in registry.available():
        cls = registry.model_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        lookback = cls.default_lookback(96)
        options = ", ".join(f"{k}={v!r}" for k, v in model_options(name).items())
        table.add_row(name, "-" if lookback is None else str(lookback), options, doc[0] if doc else "")
    console.print(table)


if __name__ == "__main__":
    app()
