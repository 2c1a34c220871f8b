"""Whole runs by name: build a model, prepare data, train into a run directory, reload a run.

This is what ``samovar train`` / ``evaluate`` and ``samovar.Forecaster`` are built on; the
plain ``train(model, data, config)`` in trainer.py is the lower-level entry point.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from .. import models
from ..models.base import ForecastModel
from ..utils import resolve_device, seed_everything
from . import rundir as rd
from .config import TrainConfig
from .metrics import evaluate
from .recipes import Recipe, recipe_dataset_name, resolve_recipe
from .trainer import TrainResult, train


def model_options(name: str) -> dict[str, Any]:
    """The model's own keyword hyper-parameters and their defaults (lookback/horizon/channels excluded)."""
    cls = _model_class(name)
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items()
            if k not in ("self", "lookback", "horizon", "channels") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _model_class(name: str) -> type[ForecastModel]:
    try:
        return models.model_class(name)
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(models.available())}") from None


def resolve_lookback(name: str, lookback: int | None, horizon: int) -> int:
    """`lookback`, or the model's published default for this horizon."""
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    if lookback is None:
        lookback = _model_class(name).default_lookback(int(horizon))
        if lookback is None:
            raise ValueError(f"model {name!r} has no default lookback; pass one (--lookback N)")
    if isinstance(lookback, bool) or int(lookback) != lookback or lookback < 1:
        raise ValueError(f"lookback must be a positive integer, got {lookback!r}")
    return int(lookback)


def build_model(name: str, lookback: int, horizon: int, channels: int, kwargs: dict[str, Any] | None = None,
                seed: int | None = None) -> ForecastModel:
    """Seed (if given), then construct registered model `name`; unknown options are named."""
    kwargs = dict(kwargs or {})
    options = model_options(name)
    unknown = sorted(set(kwargs) - set(options))
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(_model_class(name).__init__).parameters.values()):
        raise ValueError(f"model {name!r} has no option(s) {unknown}; its options: "
                         + (", ".join(f"{k}={v!r}" for k, v in options.items()) or "none"))
    if seed is not None:
        seed_everything(seed)
    try:
        return models.get(name, lookback=lookback, horizon=horizon, channels=channels, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot build model {name!r} with {kwargs}: {exc}") from exc


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


def _prepare(source: Any, lookback: int, horizon: int, data_dir=None, split=None, fill: str = "error"):
    from ..data import prepare_data  # imported here: the data layer pulls in pandas/pooch

    return prepare_data(source, lookback=lookback, horizon=horizon, data_dir=data_dir, split=split, fill=fill)


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
    evaluate_test: bool = True,
) -> tuple[TrainResult, Any]:
    """Prepare `source`, build `model` (seeded with config.seed), train; returns (result, data).

    recipe: the `Recipe` config and model_kwargs came from (`recipe_training`), recorded in config.json.
    resume: continue the run in `run_dir` from its checkpoint (the trainer refuses other training options).
    evaluate_test: False leaves the test split unread (a hyper-parameter search's trials).
    """
    config = config or TrainConfig()
    lookback = resolve_lookback(model, lookback, horizon)
    _model_class(model)  # unknown model: fail before loading data
    data = _prepare(source, lookback, horizon, data_dir, split, fill)
    net = build_model(model, lookback, horizon, data.channels, model_kwargs, seed=config.seed)
    if isinstance(source, (str, Path)) and Path(source).suffix and Path(source).expanduser().is_file():
        source = str(Path(source).expanduser().resolve())  # a file: absolute, so the run can be re-evaluated anywhere
    source_info = {
        "source": source if isinstance(source, (str, Path)) else f"<{type(source).__name__}>",
        "location": data.source,
        "data_dir": str(data_dir) if data_dir is not None else None,
        "split": list(split) if split is not None else None,
        "fill": fill,
        "protocol": data.protocol,
    }
    result = train(net, data, config, run_dir, resume=resume, model_kwargs=dict(model_kwargs or {}),
                   data_source=source_info, on_epoch_end=on_epoch_end,
                   recipe=recipe.to_dict() if recipe is not None else None, evaluate_test=evaluate_test)
    return result, data


def resume_run(run_dir: str | Path, *, quiet: bool | None = None, device: str | None = None,
               data_dir: str | Path | None = None) -> tuple[TrainResult, Any]:
    """Continue the run in `run_dir` from its checkpoint with its recorded model, data and options."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    train_cfg = cfg["train"] | ({"quiet": quiet} if quiet is not None else {}) | ({"device": device} if device else {})
    config = TrainConfig.from_dict(train_cfg)
    data = _rebuild_data(cfg, data_dir)
    net = build_model(cfg["model"]["name"], data.lookback, data.horizon, data.channels, cfg["model"]["kwargs"], seed=config.seed)
    result = train(net, data, config, run_dir, resume=True)
    return result, data


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / rd.CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no {rd.CONFIG}); pass the directory `samovar train` printed")
    return rd.read_json(path)


def _rebuild_data(cfg: dict[str, Any], data_dir=None):
    d = cfg["data"]
    source = d.get("source")
    if not source or source.startswith("<"):
        raise ValueError(f"this run was trained on an in-memory {source or 'table'}; its data cannot be reloaded "
                         "from the run directory (train from a file or a dataset name to evaluate later)")
    split = tuple(d["split"]) if d.get("split") else None
    return _prepare(source, d["lookback"], d["horizon"], data_dir or d.get("data_dir"), split, d.get("fill", "error"))


@dataclass
class LoadedRun:
    """A trained model with what is needed to use it: scaler, columns, frequency, config."""

    model: ForecastModel
    scaler: Any
    config: dict[str, Any]

    @property
    def columns(self) -> list[str]:
        return list(self.config["data"]["columns"])

    @property
    def lookback(self) -> int:
        return int(self.config["data"]["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.config["data"]["horizon"])

    @property
    def freq(self) -> str | None:
        return self.config["data"].get("freq")


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Load config.json + best.safetensors + scaler.json from a run (or saved Forecaster) directory."""
    from ..data import Scaler

    path = Path(path)
    cfg = read_run_config(path)
    for name in (rd.BEST, rd.SCALER):
        if not (path / name).exists():
            raise FileNotFoundError(f"{path} has no {name}: the run has not finished an epoch yet, or files were removed")
    d = cfg["data"]
    net = build_model(cfg["model"]["name"], d["lookback"], d["horizon"], d["channels"], cfg["model"].get("kwargs"))
    net.load_state_dict(rd.load_weights(path / rd.BEST))
    net.to(resolve_device(device)).eval()
    return LoadedRun(model=net, scaler=Scaler.from_dict(rd.read_json(path / rd.SCALER)), config=cfg)


def evaluate_run(run_dir: str | Path, *, data_dir: str | Path | None = None, device: str = "auto",
                 batch_size: int = 256) -> dict[str, float]:
    """Recompute the test metrics of a run's best weights on its recorded data."""
    run = load_run(run_dir, device=device)
    data = _rebuild_data(run.config, data_dir)
    if data.columns != run.columns:
        raise ValueError(f"the data's columns {data.columns} differ from the run's {run.columns}")
    dev = next(run.model.parameters()).device
    return evaluate(run.model, data.test, batch_size=batch_size, device=dev, scaler=data.scaler, raw_values=data.values)
