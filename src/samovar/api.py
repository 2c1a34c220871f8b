"""``samovar.Forecaster``: fit / predict / backtest on pandas DataFrames, save / load.

    fc = Forecaster(model="dlinear", lookback=336, horizon=96, lr=0.005).fit(df)
    fc = Forecaster(model="samovar", horizon=96, recipe="paper").fit("ETTh1")   # the paper's recipe and lookback
    future = fc.predict(df)          # the `horizon` rows after the end of df, dates continued
    fc.save("my-model"); fc = Forecaster.load("my-model")   # or a run directory of `samovar train`

A DataFrame has a ``date`` column or a DatetimeIndex (optional) and numeric columns;
predict returns the same columns indexed by the continued dates (``date``), or by
integer step numbers (``step``) when the data has no dates.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .training import TrainConfig
from .training import rundir as rd
from .training.recipes import RECIPES, Recipe
from .training.runs import LoadedRun, fill_seasonal_period, fit_run, load_run, recipe_training, resolve_lookback
from .utils import module_device, write_json_atomic


class Forecaster:
    """A forecasting model with its scaler and column names.

    model: a registered model name (``samovar.models.available()``); lookback defaults to the
    model's published value for this horizon. model_kwargs: the model's hyper-parameters.
    recipe: "auto" (default: the model's published recipe when it has one for the data,
    else the LTSF defaults), "paper" (error if there is none) or "ltsf"; resolved in `fit`
    (it can depend on the dataset) and kept in ``recipe_used``. runs_dir: if given, `fit`
    writes a full run directory there. Other keywords are `TrainConfig` options (lr, epochs,
    batch_size, patience, seed, device, quiet, ...); each overrides that field of the recipe,
    and model_kwargs override the recipe's model hyper-parameters.
    ``config`` is the TrainConfig of the last fit (before a fit: the keywords over the defaults).
    """

    def __init__(self, model: str = "dlinear", lookback: int | None = None, horizon: int = 96, *,
                 model_kwargs: dict[str, Any] | None = None, data_dir: str | Path | None = None,
                 split: tuple[float, float, float] | None = None, fill: str = "error",
                 runs_dir: str | Path | None = None, recipe: str = "auto", **train_options: Any) -> None:
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(train_options) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; training options are {sorted(known)} "
                             "(model hyper-parameters go in model_kwargs={...})")
        if recipe not in RECIPES:
            raise ValueError(f"recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
        self.model_name = model
        self.horizon = horizon
        self.lookback = resolve_lookback(model, lookback, horizon)
        self.model_kwargs = dict(model_kwargs or {})
        self.recipe = recipe
        self.train_options = dict(train_options)
        self.config = TrainConfig(**train_options)  # checks the options now; fit applies the recipe under them
        self.recipe_used: Recipe | None = None
        self.data_dir, self.split, self.fill, self.runs_dir = data_dir, split, fill, runs_dir
        self.run: LoadedRun | None = None
        self.result = None  # TrainResult of the last fit

    # ------------------------------------------------------------------ training

    def fit(self, data: pd.DataFrame | str | Path) -> "Forecaster":
        """Train on a DataFrame, a file path or a registered dataset name (split train/val/test)."""
        from .data import Scaler

        source = str(data) if isinstance(data, (str, Path)) else "<DataFrame>"
        config, model_kwargs, recipe = recipe_training(self.model_name, data, self.horizon, self.recipe,
                                                       self.train_options, self.model_kwargs)
        run_dir = None
        if self.runs_dir is not None:
            name = Path(source).name.split(".")[0] if isinstance(data, (str, Path)) else "dataframe"
            run_dir = rd.default_run_dir(self.runs_dir, self.model_name, name, self.lookback, self.horizon)
        result, prepared = fit_run(self.model_name, data, horizon=self.horizon, lookback=self.lookback,
                                   model_kwargs=model_kwargs, config=config, data_dir=self.data_dir,
                                   split=self.split, fill=self.fill, run_dir=run_dir, recipe=recipe)
        from .training.trainer import run_config

        self.config, self.recipe_used = config, recipe
        model_kwargs = fill_seasonal_period(self.model_name, model_kwargs, prepared.freq)  # as fit_run built it
        cfg = run_config(result.model, prepared, config, module_device(result.model),
                         model_kwargs, {"source": source}, recipe.to_dict())
        self.result = result
        self.run = LoadedRun(model=result.model.eval(), scaler=Scaler.from_dict(prepared.scaler.to_dict()), config=cfg)
        return self

    @property
    def test_metrics(self) -> dict[str, float] | None:
        """Metrics of the last fit on every test window (mse, mae on the scaled data; *_raw in data units)."""
        return None if self.result is None else self.result.test_metrics

    def _need_fit(self) -> LoadedRun:
        if self.run is None:
            raise RuntimeError("this Forecaster is not fitted: call fit(df) or Forecaster.load(path) first")
        return self.run

    # ------------------------------------------------------------------ forecasting

    def _table(self, df: pd.DataFrame | str | Path, fill: str):
        from .data import read_table

        run = self._need_fit()
        table = read_table(df, fill=fill)
        if table.columns != run.columns:
            if sorted(table.columns) == sorted(run.columns):  # same columns, other order: reorder
                order = [table.columns.index(c) for c in run.columns]
                table.values, table.columns = table.values[:, order], list(run.columns)
            else:
                missing = [c for c in run.columns if c not in table.columns]
                extra = [c for c in table.columns if c not in run.columns]
                raise ValueError(f"the input's columns do not match the training columns {run.columns}: "
                                 f"missing {missing}, unexpected {extra}")
        if len(table.values) < run.lookback:
            raise ValueError(f"the input has {len(table.values)} rows but the model needs the last {run.lookback} "
                             f"(its lookback) to forecast; give at least {run.lookback} rows")
        return table

    @torch.no_grad()
    def _forecast(self, windows: np.ndarray) -> np.ndarray:
        """windows: (N, lookback, C) raw values -> (N, horizon, C) raw forecasts (float64)."""
        run = self._need_fit()
        device = module_device(run.model)
        scaled = np.ascontiguousarray(run.scaler.transform(windows.astype(np.float64)))  # layout-independent results
        x = torch.as_tensor(scaled, dtype=torch.float32, device=device)
        run.model.eval()
        out = torch.cat([run.model(chunk) for chunk in x.split(256)])
        return run.scaler.inverse_transform(out.double().cpu().numpy())

    def _future_index(self, table, steps: int) -> pd.Index:
        run = self._need_fit()
        if table.dates is None:
            n = len(table.values)
            return pd.RangeIndex(n, n + steps, name="step")
        freq = table.freq or run.freq
        if freq is None:
            raise ValueError("cannot continue the dates: their frequency could not be inferred from the input "
                             "(and the training data had none); give regularly spaced dates")
        return pd.date_range(table.dates[-1], periods=steps + 1, freq=freq)[1:].rename("date")

    def predict(self, df: pd.DataFrame | str | Path, *, fill: str = "error") -> pd.DataFrame:
        """Forecast the `horizon` rows after the end of `df` from its last `lookback` rows.

        Returns a DataFrame with the training columns, indexed by the continued dates
        (``date``, at the data's frequency) or by step numbers (``step``) for date-less data.
        """
        run = self._need_fit()
        table = self._table(df, fill)
        forecast = self._forecast(table.values[None, -run.lookback:])[0]
        return pd.DataFrame(forecast, index=self._future_index(table, run.horizon), columns=run.columns)

    def backtest(self, df: pd.DataFrame | str | Path, start: Any = None, end: Any = None, *,
                 stride: int | None = None, fill: str = "error") -> tuple[pd.DataFrame, dict[str, float]]:
        """Rolling forecasts whose targets all lie in rows [start, end] of `df` (dates or row numbers).

        Forecasts start at `start`, `start + stride`, ... (stride defaults to the horizon:
        back-to-back forecasts); each uses the `lookback` rows before it. Returns a long table
        (origin, date/step, step_ahead, then each column's forecast and ``<column>_actual``)
        and metrics over all forecast values: mse/mae in data units and mse_scaled/mae_scaled.
        """
        run = self._need_fit()
        table = self._table(df, fill)
        n, L, H = len(table.values), run.lookback, run.horizon
        first = self._row(table, start, default=L, what="backtest start")
        last = self._row(table, end, default=n - 1, what="backtest end")
        stride = H if stride is None else int(stride)
        if stride < 1:
            raise ValueError(f"backtest stride must be a positive integer, got {stride}")
        if first < L:
            raise ValueError(f"backtest start is row {first} but forecasting needs {L} rows of history before it; "
                             f"start at row {L} or later" + (f" ({table.dates[L]})" if table.dates is not None else ""))
        origins = np.arange(first, last - H + 2, stride)
        if len(origins) == 0:
            raise ValueError(f"rows {first}..{last} hold {last - first + 1} rows, fewer than one horizon ({H}); "
                             "widen the backtest range")
        windows = np.stack([table.values[o - L:o] for o in origins])
        forecasts = self._forecast(windows)  # (N, H, C)
        target_rows = origins[:, None] + np.arange(H)[None, :]
        actual = table.values[target_rows].astype(np.float64)
        err = forecasts - actual
        scaled_err = err / run.scaler.std
        metrics = {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err))),
                   "mse_scaled": float(np.mean(scaled_err**2)), "mae_scaled": float(np.mean(np.abs(scaled_err))),
                   "forecasts": int(len(origins))}
        label = (lambda rows: table.dates[rows]) if table.dates is not None else (lambda rows: rows)
        frame = pd.DataFrame({
            "origin": np.repeat(np.asarray(label(origins)), H),
            "date" if table.dates is not None else "step": np.asarray(label(target_rows.reshape(-1))),
            "step_ahead": np.tile(np.arange(1, H + 1), len(origins)),
        })
        for c, name in enumerate(run.columns):
            frame[name] = forecasts[:, :, c].reshape(-1)
            frame[f"{name}_actual"] = actual[:, :, c].reshape(-1)
        return frame, metrics

    @staticmethod
    def _row(table, value: Any, *, default: int, what: str) -> int:
        """A row number from None (default), an int / digit string (row), or a date."""
        n = len(table.values)
        if value is None:
            return default
        if isinstance(value, (int, np.integer)) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            row = int(value)
            row = row + n if row < 0 else row
            if not 0 <= row < n:
                raise ValueError(f"{what} row {value} is outside the input's {n} rows")
            return row
        if table.dates is None:
            raise ValueError(f"{what} {value!r} is a date but the input has no dates; give a row number")
        try:
            when = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ValueError(f"{what} {value!r} is neither a row number nor a date") from None
        if table.dates.tz is not None and when.tz is None:
            when = when.tz_localize(table.dates.tz)
        pos = int(table.dates.searchsorted(when))  # first row at or after the date
        if pos >= n:
            raise ValueError(f"{what} {value} is after the input's last date {table.dates[-1]}")
        return pos

    # ------------------------------------------------------------------ save / load

    def save(self, path: str | Path) -> Path:
        """Write config.json, best.safetensors and scaler.json to directory `path`."""
        run = self._need_fit()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path / rd.CONFIG, run.config)
        rd.save_weights(path / rd.BEST, run.model)
        write_json_atomic(path / rd.SCALER, run.scaler.to_dict())
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "Forecaster":
        """Load a directory written by `save`, or a run directory of `samovar train`."""
        run = load_run(path, device=device)
        d = run.config["data"]
        known = {f.name for f in fields(TrainConfig)}
        train_cfg = {k: v for k, v in run.config.get("train", {}).items() if k in known}
        # every option and the model's kwargs were recorded after the recipe was applied: refit as recorded
        fc = cls(run.config["model"]["name"], lookback=d["lookback"], horizon=d["horizon"],
                 model_kwargs=run.config["model"].get("kwargs") or {}, recipe="ltsf", **train_cfg)
        fc.run = run
        return fc

    def __repr__(self) -> str:
        state = "fitted" if self.run is not None else "not fitted"
        return f"Forecaster(model={self.model_name!r}, lookback={self.lookback}, horizon={self.horizon}, {state})"


# ---------------------------------------------------------------------- plots (matplotlib, Agg)

MAX_PLOTTED_CHANNELS = 4


def _plotted_columns(columns: list[str]) -> list[str]:
    """All columns if few, else the first three and the last (the target "OT" in the benchmarks)."""
    if len(columns) <= MAX_PLOTTED_CHANNELS:
        return list(columns)
    return list(columns[: MAX_PLOTTED_CHANNELS - 1]) + [columns[-1]]


def _figure(n: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n), sharex=True, squeeze=False)
    return plt, fig, axes[:, 0]


def _save(plt, fig, path: str | Path) -> None:
    from .utils import atomic_path

    fig.autofmt_xdate()  # slanted date labels do not overlap
    fig.tight_layout()
    suffix = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=110)
    plt.close(fig)


def plot_forecast(fc: Forecaster, data: pd.DataFrame | str | Path, forecast: pd.DataFrame, path: str | Path,
                  *, fill: str = "error") -> None:
    """Draw the last rows of `data` (history) and `forecast` (from `predict`) per channel to `path`."""
    table = fc._table(data, fill)
    run = fc._need_fit()
    shown = max(run.lookback, 3 * run.horizon)
    index = table.dates if table.dates is not None else pd.RangeIndex(len(table.values))
    plt, fig, axes = _figure(len(_plotted_columns(run.columns)))
    for ax, name in zip(axes, _plotted_columns(run.columns)):
        c = run.columns.index(name)
        ax.plot(index[-shown:], table.values[-shown:, c], color="0.3", lw=1, label="history")
        ax.plot(forecast.index, forecast[name].to_numpy(), color="tab:red", lw=1.4, label="forecast")
        ax.set_ylabel(name)
    axes[0].legend(loc="upper left")
    axes[0].set_title(f"{run.config['model']['name']}: {run.horizon}-step forecast from the last {run.lookback} rows")
    _save(plt, fig, path)


def plot_backtest(fc: Forecaster, data: pd.DataFrame | str | Path, backtest: pd.DataFrame, path: str | Path,
                  *, fill: str = "error") -> None:
    """Draw the data around the backtest range, each rolling forecast and the actuals to `path`."""
    table = fc._table(data, fill)
    run = fc._need_fit()
    key = "date" if "date" in backtest.columns else "step"
    index = table.dates if table.dates is not None else pd.RangeIndex(len(table.values))
    targets = pd.Index(backtest[key].to_numpy())
    first = int(index.get_indexer(targets[:1])[0])
    last = int(index.get_indexer(targets[-1:])[0])
    lo = max(0, first - run.lookback)
    plt, fig, axes = _figure(len(_plotted_columns(run.columns)))
    for ax, name in zip(axes, _plotted_columns(run.columns)):
        c = run.columns.index(name)
        ax.plot(index[lo:last + 1], table.values[lo:last + 1, c], color="0.3", lw=1, label="actual")
        for i, (_, part) in enumerate(backtest.groupby("origin", sort=False)):
            ax.plot(part[key].to_numpy(), part[name].to_numpy(), color="tab:red", lw=1.2,
                    label="forecast" if i == 0 else None)
        ax.set_ylabel(name)
    axes[0].legend(loc="upper left")
    axes[0].set_title(f"{run.config['model']['name']}: backtest, {backtest['origin'].nunique()} forecasts of {run.horizon} steps")
    _save(plt, fig, path)
