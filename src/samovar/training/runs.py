"""Whole runs by name: build a model, prepare data, train into a run directory, reload a run.

This is what ``samovar train`` / ``evaluate`` and ``samovar.Forecaster`` are built on; the
plain ``train(model, data, config)`` in trainer.py is the lower-level entry point.
"""

from __future__ import annotations

import ast
import inspect
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from .._checks import positive_int
from .. import models
from ..models.base import ForecastModel
from ..utils import module_device, seed_everything, usable_device
from . import rundir as rd
from .config import TrainConfig
from .intervals import DEFAULT_SCORE_LEVELS, Calibration, calibrate, check_split, coverage_scores
from .metrics import evaluate, mase_scale, quantile_scores
from .modelspec import check_covariates, model_class, model_options
from .quantile import QuantileForecaster
from .recipes import Recipe, recipe_dataset_name, resolve_recipe
from .trainer import TrainResult, train


def resolve_lookback(name: str, lookback: int | None, horizon: int) -> int:
    """`lookback`, or the model's published default for this horizon."""
    horizon = positive_int("horizon", horizon)
    if lookback is None:
        lookback = model_class(name).default_lookback(horizon)
        if lookback is None:
            raise ValueError(f"model {name!r} has no default lookback; pass one (--lookback N)")
    return positive_int("lookback", lookback)


def build_model(name: str, lookback: int, horizon: int, channels: int, kwargs: dict[str, Any] | None = None,
                seed: int | None = None, quantiles: tuple[float, ...] | None = None, targets: int | None = None,
                future_channels: int = 0) -> ForecastModel:
    """Seed (if given), then construct registered model `name`; unknown options are named.

    quantiles: wrap the model in a `QuantileForecaster` with these levels (``TrainConfig.quantiles``
    of a ``loss="quantile"`` run); the base model is built first, so its init does not depend on it.
    targets: the number of target channels (the first ones; None: all; the rest are past-only covariates,
    which a model whose ``covariates`` lack "past" refuses); future_channels: the number of future-known
    covariates (a model whose ``covariates`` lack "future" refuses them).
    """
    kwargs = dict(kwargs or {})
    options = model_options(name)
    unknown = sorted(set(kwargs) - set(options))
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(model_class(name).__init__).parameters.values()):
        raise ValueError(f"model {name!r} has no option(s) {unknown}; its options: "
                         + (", ".join(f"{k}={v!r}" for k, v in options.items()) or "none"))
    if targets is not None and targets < channels:  # the channels after the targets are past-only covariates
        check_covariates(name, ["past"])
    if future_channels:
        check_covariates(name, ["future"])
        kwargs["future_channels"] = int(future_channels)
    if seed is not None:
        seed_everything(seed)
    try:
        net = models.get(name, lookback=lookback, horizon=horizon, channels=channels, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot build model {name!r} with {kwargs}: {exc}") from exc
    if targets is not None:
        net.use_targets(targets)
    return QuantileForecaster(net, quantiles) if quantiles else net


def fill_seasonal_period(name: str, kwargs: dict[str, Any] | None, freq: str | None) -> dict[str, Any]:
    """`kwargs`, with ``period`` taken from the data's frequency when model `name` has a ``period``
    option left at None (``samovar.data.frequency.seasonal_period``), so the run records the period used."""
    kwargs = dict(kwargs or {})
    options = model_options(name)
    if "period" not in options or kwargs.get("period", options["period"]) is not None:
        return kwargs
    from ..data.frequency import seasonal_period

    period = seasonal_period(freq)
    if period is None:
        where = f"the data's frequency {freq!r} has no calendar season" if freq else "the data has no known frequency"
        raise ValueError(f"model {name!r} needs a seasonal period and {where}; "
                         "give one (--set period=24 on the command line, model_kwargs={'period': 24} in Python)")
    return {**kwargs, "period": period}


def parse_set_options(items: list[str] | None) -> dict[str, Any]:
    """``["individual=true", "kernel_size=25", "mixer=gla"]`` -> {"individual": True, "kernel_size": 25, "mixer": "gla"}.

    Values are read as Python/JSON literals (numbers, true/false/True/False, null/None, lists);
    anything else stays a string.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"bad --set {item!r}: expected key=value with a Python identifier as key, e.g. --set individual=true")
        if key in out:
            raise ValueError(f"--set {key}=... given twice")
        text = text.strip()
        lowered = {"true": True, "false": False, "null": None, "none": None}
        if text.lower() in lowered:
            out[key] = lowered[text.lower()]
            continue
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


def recipe_training(model: str, source: Any, horizon: int, recipe: str = "auto",
                    overrides: dict[str, Any] | None = None,
                    model_kwargs: dict[str, Any] | None = None,
                    recipe_options: dict[str, Any] | None = None) -> tuple[TrainConfig, dict[str, Any], Recipe]:
    """(TrainConfig, model kwargs, Recipe) for training `model` on `source` with a named recipe.

    TrainConfig = its defaults, then the recipe's options, then `overrides` (explicit options win,
    one field at a time); model kwargs = the recipe's, then `model_kwargs`. recipe: "auto"
    (the model's published recipe when it has one for this dataset, else the LTSF defaults),
    "paper" or "ltsf" (``samovar.training.recipes.resolve_recipe``). recipe_options: keyword
    arguments of the model's ``paper_training_config`` (e.g. FITS ``{"script": "fin"}``).
    """
    rec = resolve_recipe(model, recipe_dataset_name(source), horizon, recipe, recipe_options)
    config = TrainConfig(**{**rec.train, **(overrides or {})})
    return config, {**rec.model_kwargs, **(model_kwargs or {})}, rec


# How a fit uses the rows of the data (``fit_run(fit_mode=...)``, ``samovar train --fit-mode``):
#   refit    a validation tail for early stopping (train:val of `split`, no test), then a fresh model
#            trained on every row for the best epoch count of that first fit (the default for your data)
#   epochs   a fixed number of epochs (TrainConfig.epochs) on every row, no validation, no intervals
#   holdout  train / val / test by `split` or the published protocol, with test metrics (the default
#            for registered benchmarks and the built-in synthetic series)
FIT_MODES = ("refit", "epochs", "holdout")


def _is_benchmark(source: Any) -> bool:
    """A registered dataset name or the built-in synthetic series (a fixed protocol, not a user's data)."""
    from ..data.registry import find_spec
    from ..data.synthetic import parse_synthetic_source

    return isinstance(source, str) and (find_spec(source) is not None or parse_synthetic_source(source) is not None)


def default_fit_mode(source: Any, split=None) -> str:
    """"holdout" for a registered benchmark, the built-in synthetic series or a `split` with a test
    share (a test split was asked for); else "refit" (your data: the final model trains on every row)."""
    asks_for_test = split is not None and len(split) == 3 and float(split[2]) > 0
    return "holdout" if _is_benchmark(source) or asks_for_test else "refit"


def check_fit_mode(fit_mode: str, source: Any, split=None) -> None:
    """ValueError naming the fix when `fit_mode` cannot be used with `source` and `split`."""
    from ..data.registry import find_spec

    if fit_mode not in FIT_MODES:
        raise ValueError(f"fit mode {fit_mode!r}: choose one of {', '.join(FIT_MODES)}")
    if fit_mode == "holdout":
        return
    spec = find_spec(source) if isinstance(source, str) else None
    if spec is not None:
        raise ValueError(f"{spec.name} is a registered benchmark, trained and tested by its published protocol; fit mode "
                         f"{fit_mode!r} is for your own data: use fit mode 'holdout', or pass the file path instead of the name")
    if split is None or len(split) != 3:
        return  # no split, or a malformed one that prepare_data explains
    _, val, test = (float(x) for x in split)
    if test > 0:
        raise ValueError(f"fit mode {fit_mode!r} trains the final model on every row, so there is no test split, but "
                         f"split={tuple(split)} has a test share: give test 0 (e.g. split=(0.9, 0.1, 0)) or use fit mode "
                         "'holdout' for test metrics")
    if fit_mode == "refit" and val <= 0:
        raise ValueError(f"fit mode 'refit' chooses the number of epochs on a validation tail, but split={tuple(split)} "
                         "has no validation share: give one (e.g. split=(0.9, 0.1, 0)), or use fit mode 'epochs' to train "
                         "a fixed number of epochs on every row without validation")
    if fit_mode == "epochs" and val > 0:
        raise ValueError(f"fit mode 'epochs' trains on every row without validation, so split={tuple(split)} has no use: "
                         "drop it, or use fit mode 'refit' to choose the epochs on a validation tail")


def stage_split(fit_mode: str, split=None):
    """The split of the first (or only) training stage of `fit_mode`: the data `fit_run` prepares first."""
    from ..data.prepare import ALL_ROWS, validation_split

    return {"holdout": split, "epochs": ALL_ROWS, "refit": validation_split(split)}[fit_mode]


def prepare_source(source: Any, lookback: int, horizon: int, data_dir=None, split=None, fill: str = "error",
                   date_format: str | None = None, dayfirst: bool = False, inputs: dict[str, Any] | None = None,
                   long_format=None, sep: str = ",", decimal: str = "."):
    """`source` as the train/val/test windows a run trains on (``samovar.data.prepare_data``);
    inputs: its target / past / future / calendar keywords (the role of each column); long_format:
    read it as many series in long format (``samovar.data.panel.LongFormat`` or its dict); sep, decimal:
    the column separator and decimal mark of a .csv/.txt file."""
    from ..data import prepare_data  # imported here: the data layer pulls in pandas/pooch

    return prepare_data(source, lookback=lookback, horizon=horizon, data_dir=data_dir, split=split, fill=fill,
                        date_format=date_format, dayfirst=dayfirst, long_format=long_format, sep=sep, decimal=decimal,
                        **(inputs or {}))


def data_kinds(data: Any) -> list[str]:
    """The covariate kinds prepared data carries: "past" if channels follow its targets, "future" if it has
    future-known covariates (what build_model checks the model against)."""
    return ([*(["past"] if data.target_channels < data.channels else []),
             *(["future"] if getattr(data, "future_channels", 0) else [])])


def input_kinds(inputs: dict[str, Any] | None) -> list[str]:
    """The covariate kinds that input options ask for explicitly: "past" for past-only columns, "future" for
    future columns or calendar features. (The past-only covariates --target implies, every other column, are
    known once the data is read: build_model checks them.)"""
    inputs = inputs or {}
    return ([*(["past"] if inputs.get("past") else []),
             *(["future"] if inputs.get("future") or inputs.get("calendar") else [])])


def fit_run(
    model: str,
    source: Any,
    *,
    horizon: int,
    lookback: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
    config: TrainConfig | None = None,
    data_dir: str | Path | None = None,
    split: tuple[float, float, float] | None = None,
    fill: str = "error",
    run_dir: str | Path | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    recipe: Recipe | None = None,
    resume: bool = False,
    data: Any = None,
    fit_mode: str = "holdout",
    date_format: str | None = None,
    dayfirst: bool = False,
    evaluate_test: bool = True,
    inputs: dict[str, Any] | None = None,
    long_format: Any = None,
    sep: str = ",",
    decimal: str = ".",
) -> tuple[TrainResult, Any]:
    """Prepare `source`, build `model` (seeded with config.seed), train; returns (result, data).

    fit_mode (FIT_MODES): "holdout" trains on the train split, stops early on val and reports test
    metrics; "epochs" trains config.epochs epochs on every row (no validation, no intervals);
    "refit" first trains as "holdout" with the train:val ratio of `split` and no test split (in
    ``run_dir/validation`` when run_dir is given), then trains a fresh model (same seed) on every
    row for that fit's best epoch count; its scaler is fit on every row and its intervals are the
    validation-stage model's (conformal radii on its validation windows, moved to the final scaler).
    The result and `data` are the final model's; ``result.fit`` (config.json's "fit") records the
    mode and the rows each stage trained on. `default_fit_mode` gives the mode for a source.
    recipe: the `Recipe` config and model_kwargs came from (`recipe_training`), recorded in config.json.
    resume: continue the run in `run_dir` from its checkpoint (the trainer refuses other training options);
    a "refit" run continues the stage it was in: its validation stage (then the refit), or, once the refit
    has a checkpoint, the refit alone, with the validation stage's result and radii as recorded.
    data: `source` already prepared with these options and ``stage_split(fit_mode, split)``, so it is not loaded twice.
    on_epoch_end: called after every epoch of every stage (a "refit" adds ``stage``: "validation" / "refit").
    date_format, dayfirst: how text dates are read (``prepare_data``), recorded for reading inputs later.
    sep, decimal: the column separator and decimal mark of a .csv/.txt `source` (``prepare_data``), recorded
    as well: later inputs and re-evaluations read files as the training file was read.
    evaluate_test: False leaves the test split unread (a hyper-parameter search's trials).
    inputs: ``prepare_data``'s target / past / future / calendar keywords (recorded in config.json).
    long_format: read `source` as many series in long format (``samovar.data.panel.LongFormat`` or its
    dict; a source with a ``unique_id`` column is read so without it); recorded in config.json.
    """
    config = config or TrainConfig()
    lookback = resolve_lookback(model, lookback, horizon)
    check_covariates(model, input_kinds(inputs))  # unknown model or unsupported inputs: fail before loading data
    check_fit_mode(fit_mode, source, split)
    first_split = stage_split(fit_mode, split)
    from ..data.io import csv_dialect

    sep, decimal = csv_dialect(sep, decimal)  # as recorded: "tab" is "\t"
    if data is None:
        data = prepare_source(source, lookback, horizon, data_dir, first_split, fill, date_format, dayfirst, inputs,
                              long_format, sep, decimal)
    long_format = _long_format_used(data)
    model_kwargs = fill_seasonal_period(model, model_kwargs, data.freq)
    given_source = source  # the refit reads it as given, so a data warning repeats word for word (shown once)
    if isinstance(source, (str, Path)) and Path(source).suffix and Path(source).expanduser().is_file():
        source = str(Path(source).expanduser().resolve())  # a file: absolute, so the run can be re-evaluated anywhere

    def stage(stage_data, stage_split_used, stage_config, stage_dir, fit, validate=True, stage_name=None,
              stage_resume=resume):
        source_info = {
            "source": source if isinstance(source, (str, Path)) else f"<{type(source).__name__}>",
            "location": _absolute_if_file(stage_data.source),
            "data_dir": str(data_dir) if data_dir is not None else None,
            "split": list(stage_split_used) if stage_split_used is not None else None,
            "fill": fill,
            "date_format": date_format,
            "dayfirst": dayfirst,
            "sep": sep,
            "decimal": decimal,
            "protocol": stage_data.protocol,
            **({"long_format": long_format} if long_format is not None else {}),
        }
        net = build_model(model, lookback, horizon, stage_data.channels, model_kwargs, seed=config.seed,
                          quantiles=config.quantiles, targets=stage_data.target_channels,
                          future_channels=stage_data.future_channels)
        report = on_epoch_end if on_epoch_end is None or stage_name is None else (
            lambda row: on_epoch_end({**row, "stage": stage_name, "last": row["last"] and stage_name == "refit"}))
        return train(net, stage_data, stage_config, stage_dir, resume=stage_resume, model_kwargs=dict(model_kwargs or {}),
                     data_source=source_info, on_epoch_end=report, validate=validate, fit=fit,
                     recipe=recipe.to_dict() if recipe is not None else None, evaluate_test=evaluate_test)

    if fit_mode != "refit":
        fit = {"mode": fit_mode, "rows": _stage_rows(data)}
        return stage(data, first_split, config, run_dir, fit, validate=fit_mode == "holdout"), data
    from ..data.prepare import ALL_ROWS

    run_dir = Path(run_dir) if run_dir is not None else None
    validation_dir = run_dir / rd.VALIDATION_RUN if run_dir else None
    refit_started = resume and run_dir is not None and refit_resumes_in_refit(run_dir)
    if refit_started:  # the validation stage finished: its result is recorded in the refit's config.json, its radii beside it
        rd.load_resume_checkpoint(validation_dir, config.to_dict(), defaults=TrainConfig().to_dict())  # same options
        with rd.reading(run_dir / rd.CONFIG):
            validation = rd.read_json(run_dir / rd.CONFIG)["fit"]["validation"]
        with rd.reading(validation_dir / rd.INTERVALS):
            calibration = Calibration.load(validation_dir / rd.INTERVALS)
    else:
        first = stage(data, first_split, config, validation_dir,
                      {"mode": "refit", "stage": "validation", "rows": _stage_rows(data)}, stage_name="validation")
        validation = {"run": rd.VALIDATION_RUN if run_dir else None, "rows": _stage_rows(data), "max_epochs": config.epochs,
                      "best_epoch": first.best_epoch, "epochs_run": first.epochs_run, "best_val_mse": first.best_val_mse,
                      "stopped_early": first.stopped_early, "seconds": first.seconds}
        calibration = first.calibration
    full = prepare_source(given_source, lookback, horizon, data_dir, ALL_ROWS, fill, date_format, dayfirst, inputs,
                          long_format, sep, decimal)
    epochs = max(validation["best_epoch"], 1)
    fit = {"mode": "refit", "stage": "refit", "rows": _stage_rows(full), "epochs": epochs, "validation": validation,
           "intervals": "conformal radii of the validation-stage model on its validation windows"}
    result = stage(full, ALL_ROWS, replace(config, epochs=epochs), run_dir, fit, validate=False, stage_name="refit",
                   stage_resume=refit_started)
    # a panel's radii are in units of each series' own std, kept as they are by the refit's per-series scalers
    result.calibration = (calibration if long_format is not None
                          else calibration.rescaled((data.scaler.std / full.scaler.std)[:data.target_channels]))
    if run_dir is not None:
        result.calibration.save(run_dir / rd.INTERVALS)
    return result, full


def _absolute_if_file(location: str) -> str:
    """Where a stage's data was read (``ForecastData.source``), a file as an absolute path, as ``source`` is recorded."""
    return str(Path(location).resolve()) if location and Path(location).is_file() else location


def _long_format_used(data: Any) -> dict[str, Any] | None:
    """The long-format columns a panel was read with (None for wide data)."""
    fmt = getattr(data, "long_format", None)
    return None if fmt is None else fmt.to_dict()


def _stage_rows(data: Any) -> dict[str, Any]:
    """Rows [start, end) each split of a stage's data read (history included), for the splits with windows;
    for a panel, each split's series, own rows and windows (``PanelData.stage_rows``)."""
    if hasattr(data, "stage_rows"):
        return data.stage_rows()
    return {name: list(data.split_rows[name]) for name in ("train", "val", "test") if len(getattr(data, name))}


def refit_resumes_in_refit(run_dir: str | Path) -> bool:
    """Whether resuming the fit mode "refit" run in `run_dir` continues its refit stage (it has a checkpoint:
    the validation stage's recorded result is used) rather than its validation stage (then the refit)."""
    return (Path(run_dir) / rd.CHECKPOINT).exists()


def resume_run(run_dir: str | Path, *, quiet: bool | None = None, device: str | None = None,
               data_dir: str | Path | None = None) -> tuple[TrainResult, Any]:
    """Continue the run in `run_dir` from its checkpoint with its recorded model, data and options
    (a fit mode "refit" run: the stage it was in, then the refit, `fit_run`)."""
    run_dir = Path(run_dir)
    # a refit run's options are its validation stage's (the refit's epochs are the count that stage chose);
    # until the refit starts, its validation stage is all there is
    stages = [d for d in (run_dir / rd.VALIDATION_RUN, run_dir) if (d / rd.CONFIG).exists()] or [run_dir]
    configs = [read_run_config(d) for d in stages]
    for stage_dir, stage_cfg in zip(stages, configs):
        read_scalers(stage_dir, stage_cfg)  # never read by training, but by every later use of the run: a damaged one stops here
        for name in (rd.BEST, rd.INTERVALS):  # likewise: a finished run is not re-read by resuming, a later use reads them
            if (stage_dir / name).exists():
                rd.load_tensors(stage_dir / name)
    cfg = configs[0]
    train_cfg = cfg["train"] | ({"quiet": quiet} if quiet is not None else {}) | ({"device": device} if device else {})
    config = TrainConfig.from_dict(train_cfg)
    fit = cfg.get("fit") or {}
    mode = fit.get("mode", "holdout")
    if mode == "refit" and stages[0] == run_dir:  # no validation stage beneath
        if fit.get("stage") == "validation":
            raise ValueError(f"{run_dir} is the validation stage of the fit mode 'refit' run in {run_dir.parent}; "
                             f"resume that directory: samovar train --resume {run_dir.parent}")
        raise FileNotFoundError(f"{run_dir} has no {rd.VALIDATION_RUN}/{rd.CONFIG} (its validation stage): restore it "
                                "from a copy, or train the run again")
    options = _recorded_data_options(cfg, data_dir)
    data = prepare_source(**options)
    if mode == "refit":  # `data`: the validation stage's as it recorded them, so fit_run does not prepare them again
        recipe = Recipe(**cfg["recipe"]) if cfg.get("recipe") else None
        return fit_run(cfg["model"]["name"], options.pop("source"), **options, model_kwargs=cfg["model"]["kwargs"],
                       config=config, run_dir=run_dir, recipe=recipe, resume=True, data=data, fit_mode="refit")
    net = build_model(cfg["model"]["name"], data.lookback, data.horizon, data.channels, cfg["model"]["kwargs"],
                      seed=config.seed, quantiles=config.quantiles, targets=data.target_channels,
                      future_channels=data.future_channels)
    result = train(net, data, config, run_dir, resume=True, validate=mode != "epochs", fit=cfg.get("fit"))
    return result, data


# The entries of config.json a run is rebuilt from: (section, key).
RUN_CONFIG_ENTRIES = (("model", "name"), ("data", "lookback"), ("data", "horizon"), ("data", "channels"))


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """config.json of a forecasting run; a missing or damaged file is an error naming it."""
    path = Path(run_dir) / rd.CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no {rd.CONFIG}); pass the directory `samovar train` printed")
    cfg = rd.read_json(path)
    if isinstance(cfg, dict) and "task" in cfg:
        raise ValueError(f"{run_dir} is a task run (written by `samovar task run`), not a forecasting run: "
                         f"use `samovar task evaluate {run_dir}`, or `samovar task generate {run_dir}` for a language model")
    with rd.reading(path):
        if not isinstance(cfg, dict):
            raise ValueError(f"a JSON object expected, found {type(cfg).__name__}")
        for section, key in RUN_CONFIG_ENTRIES:
            if not isinstance(cfg.get(section), dict) or key not in cfg[section]:
                raise ValueError(f"no entry {section}.{key}")
    name, note = models.stored_model_name(str(cfg["model"]["name"]))
    if note is not None:  # a run written before a rename: its weights are the renamed model's (models.STORED_NAMES)
        warnings.warn(f"{run_dir}: {note}", stacklevel=2)
        cfg["model"] = cfg["model"] | {"name": name, "renamed_from": cfg["model"]["name"]}
    return cfg


def read_scalers(run_dir: str | Path, cfg: dict[str, Any]) -> tuple[Any, Any]:
    """(series scaler, future covariates' scaler or None) of a run's scaler.json (`cfg`: its config.json);
    a file that cannot be read, or whose scalers do not fit the run's channels, is a RunFileError naming it."""
    from ..data.panel import scaler_from_dict

    path = Path(run_dir) / rd.SCALER
    record = rd.read_json(path)
    inputs = run_inputs(cfg)
    with rd.reading(path):
        future = scaler_from_dict(record["future"]) if inputs.future else None
        scaler = scaler_from_dict(record)  # per channel, or per series for a long-format panel
        expected = (("series", scaler, cfg["data"]["channels"]), ("future covariate", future, len(inputs.future)))
        for what, fitted, want in expected:
            if fitted is not None and fitted.channels != want:
                raise ValueError(f"a {what} scaler of {fitted.channels} channel(s), the run has {want}")
    return scaler, future


def run_inputs(cfg: dict[str, Any]):
    """The `Inputs` (role of each column) a run recorded in config.json (every column a target when it has none)."""
    from ..data.covariates import Inputs

    return Inputs.from_record(cfg["data"])


def _recorded_data_options(cfg: dict[str, Any], data_dir=None) -> dict[str, Any]:
    """The `prepare_source` keywords a run's data was prepared with, from its config.json (`cfg`)."""
    from ..data.prepare import builtin_name

    d = cfg["data"]
    source = d.get("source")
    if not source or source.startswith("<"):
        raise ValueError(f"this run was trained on an in-memory {source or 'table'}; its data cannot be reloaded "
                         "from the run directory (train from a file or a dataset name to evaluate later)")
    # date options recorded for a registered dataset or "synthetic" (accepted, unused, before prepare_data
    # refused them) never applied to it: left out, so the run's data is rebuilt as it was read
    dates = ({"date_format": None, "dayfirst": False} if builtin_name(source) is not None
             else {"date_format": d.get("date_format"), "dayfirst": bool(d.get("dayfirst", False))})
    return {"source": source, "lookback": d["lookback"], "horizon": d["horizon"],
            "data_dir": data_dir or d.get("data_dir"), "split": tuple(d["split"]) if d.get("split") else None,
            "fill": d.get("fill", "error"), **dates,
            "inputs": run_inputs(cfg).options() if d.get("inputs") else None, "long_format": d.get("long_format"),
            **file_dialect(d)}


def _rebuild_data(cfg: dict[str, Any], data_dir=None):
    return prepare_source(**_recorded_data_options(cfg, data_dir))


def file_dialect(data_record: dict[str, Any]) -> dict[str, str]:
    """The sep and decimal a run read its file with (config.json's "data"; runs before they were recorded: a
    comma-separated file with decimal points)."""
    return {"sep": data_record.get("sep") or ",", "decimal": data_record.get("decimal") or "."}


def rebuild_run_data(run: "LoadedRun", data_dir: str | Path | None = None):
    """The data a loaded run was trained on, rebuilt from its config (same columns, else ValueError)."""
    data = _rebuild_data(run.config, data_dir)
    if data.columns != run.columns:
        raise ValueError(f"the data's columns {data.columns} differ from the run's {run.columns}")
    return data


@dataclass
class LoadedRun:
    """A trained model with what is needed to use it: scaler, columns, frequency, config, and the
    conformal interval radii when the run has them."""

    model: ForecastModel
    scaler: Any
    config: dict[str, Any]
    intervals: Calibration | None = None
    future_scaler: Any = None  # the scaler of the future-known covariate columns (None without any)

    @property
    def columns(self) -> list[str]:
        """The series channels the model reads: the targets, then the past-only covariates."""
        return list(self.config["data"]["columns"])

    @property
    def inputs(self):
        """The role of each column (``samovar.data.covariates.Inputs``)."""
        return run_inputs(self.config)

    @property
    def lookback(self) -> int:
        return int(self.config["data"]["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.config["data"]["horizon"])

    @property
    def freq(self) -> str | None:
        return self.config["data"].get("freq")

    def train_rows_end(self, source: Any) -> int | None:
        """End (exclusive) of the rows the model trained on, when `source` is the file it was trained on
        (config.json's data source or location); None for other inputs or when config.json does not say."""
        d = self.config["data"]
        end = (d.get("split_rows") or {}).get("train", [None, None])[1]
        if end is None or not isinstance(source, (str, Path)) or not Path(source).expanduser().is_file():
            return None
        trained_on = [Path(p) for p in (d.get("source"), d.get("location")) if isinstance(p, str) and Path(p).is_file()]
        return int(end) if any(p.samefile(Path(source).expanduser()) for p in trained_on) else None


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Load config.json + best.safetensors + scaler.json (+ intervals.safetensors if there) from a run
    (or saved Forecaster) directory; a ``loss="quantile"`` run is rebuilt with its quantile head."""
    path = Path(path)
    cfg = read_run_config(path)
    for name in (rd.BEST, rd.SCALER):
        if not (path / name).exists():
            raise FileNotFoundError(f"{path} has no {name}: the run has not finished an epoch yet, or files were removed")
    d = cfg["data"]
    train_cfg = cfg.get("train", {})
    quantiles = train_cfg.get("quantiles") if train_cfg.get("loss") == "quantile" else None
    inputs = run_inputs(cfg)
    net = build_model(cfg["model"]["name"], d["lookback"], d["horizon"], d["channels"], cfg["model"].get("kwargs"),
                      quantiles=quantiles, targets=len(inputs.targets), future_channels=inputs.future_channels)
    weights = rd.load_weights(path / rd.BEST)
    with rd.reading(path / rd.BEST):
        net.load_state_dict(weights)
    net.to(usable_device(device)).eval()
    scaler, future_scaler = read_scalers(path, cfg)
    intervals = None
    if (path / rd.INTERVALS).exists():
        with rd.reading(path / rd.INTERVALS):
            intervals = Calibration.load(path / rd.INTERVALS)
    return LoadedRun(model=net, scaler=scaler, config=cfg, intervals=intervals, future_scaler=future_scaler)


def evaluate_run(run_dir: str | Path, *, split: str = "test", data_dir: str | Path | None = None, device: str = "auto",
                 batch_size: int = 256) -> dict[str, float]:
    """Recompute every point score of a run's best weights on every window of `split` (default: test)."""
    run, data = _run_and_data(run_dir, data_dir, device)
    _check_held_out(run, run_dir, check_split(split), "evaluate")
    return _point_scores(run, data, split, batch_size)


def _point_scores(run: LoadedRun, data: Any, split: str, batch_size: int) -> dict[str, float]:
    return evaluate(run.model, getattr(data, check_split(split)), batch_size=batch_size, device=module_device(run.model),
                    scaler=data.scaler, raw_values=data.values, mase_scale=mase_scale(data))


def calibrate_run(run_dir: str | Path, *, split: str = "val", data_dir: str | Path | None = None,
                  device: str = "auto", batch_size: int = 256) -> Calibration:
    """(Re)compute the intervals of a run directory on its recorded data and write ``intervals.safetensors``."""
    run, data = _run_and_data(run_dir, data_dir, device)
    _check_held_out(run, run_dir, check_split(split), "calibrate")
    dev = module_device(run.model)
    calibration = calibrate(run.model, getattr(data, check_split(split)), split=split, batch_size=batch_size, device=dev)
    calibration.save(Path(run_dir) / rd.INTERVALS)
    return calibration


def interval_scores(run_dir: str | Path, *, split: str = "test", levels: Iterable[int] = DEFAULT_SCORE_LEVELS,
                    data_dir: str | Path | None = None, device: str = "auto",
                    batch_size: int = 256) -> list[dict[str, Any]]:
    """Coverage and width per level of a calibrated run's intervals over every window of `split`.

    Rows as `coverage_scores` (both scales), plus ``split``, ``calibration_split`` and
    ``calibration_windows``. The run needs ``intervals.safetensors`` (`samovar calibrate RUN_DIR`).
    """
    run, data = _run_and_data(run_dir, data_dir, device)
    if run.intervals is None:
        raise FileNotFoundError(f"{run_dir} has no {rd.INTERVALS}; compute it with `samovar calibrate {run_dir}`")
    return _interval_rows(run, data, split, levels, batch_size)


def _interval_rows(run: LoadedRun, data: Any, split: str, levels: Iterable[int], batch_size: int) -> list[dict[str, Any]]:
    """`coverage_scores` of the run's calibrated intervals on `split`, with where they were calibrated."""
    rows = coverage_scores(run.model, getattr(data, check_split(split)), run.intervals, levels, batch_size=batch_size,
                           device=module_device(run.model), scaler=data.scaler, raw_values=data.values)
    extra = {"split": split, "calibration_split": run.intervals.split, "calibration_windows": run.intervals.windows}
    return [{**row, **extra} for row in rows]


def _check_held_out(run: LoadedRun, run_dir: str | Path, split: str, what: str) -> None:
    """ValueError naming the fix when a run trained on every row (fit mode refit / epochs) has no `split` windows."""
    mode = (run.config.get("fit") or {}).get("mode", "holdout")
    if mode == "holdout" or split == "train":
        return
    intervals = "; its intervals were calibrated by its validation stage" if mode == "refit" else ""
    raise ValueError(f"{run_dir} was trained with fit mode {mode!r} on every row, so it has no held-out {split} windows "
                     f"to {what} on{intervals}: train with --fit-mode holdout for test metrics, or score it on later "
                     "data with `samovar forecast RUN_DIR --input LATER.csv --backtest-start ...`")


def _run_and_data(run_dir: str | Path, data_dir: str | Path | None, device: str):
    run = load_run(run_dir, device=device)
    return run, rebuild_run_data(run, data_dir)


def probabilistic_scores(run_dir: str | Path, *, split: str = "test", levels: Iterable[int] = DEFAULT_SCORE_LEVELS,
                         data_dir: str | Path | None = None, device: str = "auto",
                         batch_size: int = 256) -> dict[str, Any]:
    """The probabilistic scores a run supports on every window of `split`: ``intervals`` (the rows of
    `interval_scores`, when the run has calibrated intervals) and ``quantiles`` (`quantile_scores`,
    for a model trained with loss="quantile"); each None where the run has no such forecast."""
    run, data = _run_and_data(run_dir, data_dir, device)
    return _probabilistic_scores(run, data, split, levels, batch_size)


def _probabilistic_scores(run: LoadedRun, data: Any, split: str, levels: Iterable[int],
                          batch_size: int) -> dict[str, Any]:
    intervals = _interval_rows(run, data, split, levels, batch_size) if run.intervals is not None else None
    quantiles = None
    if getattr(run.model, "quantiles", None):
        quantiles = quantile_scores(run.model, getattr(data, check_split(split)), batch_size=batch_size,
                                    device=module_device(run.model))
    return {"intervals": intervals, "quantiles": quantiles}


def score_run(run_dir: str | Path, *, split: str = "test", levels: Iterable[int] = DEFAULT_SCORE_LEVELS,
              data_dir: str | Path | None = None, device: str = "auto", batch_size: int = 256) -> dict[str, Any]:
    """Every score of a run on `split` from one load of the run and its data: ``point`` (`evaluate_run`),
    ``intervals`` and ``quantiles`` (`probabilistic_scores`)."""
    run, data = _run_and_data(run_dir, data_dir, device)
    _check_held_out(run, run_dir, check_split(split), "evaluate")
    return {"point": _point_scores(run, data, split, batch_size),
            **_probabilistic_scores(run, data, split, levels, batch_size)}
