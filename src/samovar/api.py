"""``samovar.Forecaster``: fit / predict / backtest on pandas DataFrames, save / load.

    fc = Forecaster(model="dlinear", lookback=336, horizon=96, lr=0.005).fit(df)   # your data: refit on every row
    fc = Forecaster(model="samovar", horizon=96, recipe="paper").fit("ETTh1")   # the paper's recipe and lookback
    future = fc.predict(df)          # the `horizon` rows after the end of df, dates continued
    future = fc.predict(df, levels=[80, 95])   # plus <col>-lo-95, <col>-lo-80, <col>-hi-80, <col>-hi-95
    forecasts, per_cutoff, overall = fc.cross_validation(df, n_windows=5, refit=True)   # retrain at each cut-off
    fc.save("my-model"); fc = Forecaster.load("my-model")   # or a run directory of `samovar train`
    fc = Forecaster("dlinear", horizon=24, target="load", future=["temp_fc"], calendar=True).fit(df)
    future = fc.predict(df, future=future_df)   # future_df: the 24 next dates with column temp_fc

`fit` on your data (a DataFrame or a file) chooses the epochs on a validation tail and then
refits on every row (fit_mode="refit"); a registered benchmark is trained and tested by its
published protocol (fit_mode="holdout"); see `Forecaster.fit`.

A DataFrame has a ``date`` column or a DatetimeIndex (optional) and numeric columns;
predict returns the same columns indexed by the continued dates (``date``), or by
integer step numbers (``step``) when the data has no dates. Many series in long format
(``unique_id``, ``ds``, ``y``; names set by ``id_col=``, ``time_col=``, ``target_col=``) train one
global model and forecast in long format (docs/panels.md). Text dates are read as
``date_format=`` / ``dayfirst=`` say (day-first dates read without them are an error naming
them), and files written with another column separator or decimal mark (2023-01-01;1,5) as
``sep=`` / ``decimal=`` say (``sep=";", decimal=","``); a forecast input at another frequency than the training data is an error unless
``allow_freq_mismatch=True``. Prediction intervals are
split-conformal (``samovar.training.intervals``, calibrated by `fit`); a model trained with
``loss="quantile"`` adds its quantiles as ``<col>-q10``, ``<col>-q50``, ... columns.

Targets and covariates (docs/covariates.md): ``target=`` names the columns to forecast (default:
all); the other columns are past-only covariates (``past=`` chooses them, [] for none); ``future=``
names columns known over the horizon, whose values `predict` takes from ``future=`` (a frame);
``calendar=True`` adds calendar features of the dates. Forecasts and scores cover the targets only.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from ._checks import positive_int
from .training import TrainConfig
from .training import rundir as rd
from .training.intervals import check_levels
from .training.quantile import quantile_name
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
    and model_kwargs override the recipe's model hyper-parameters. date_format (e.g. "%d/%m/%Y"),
    dayfirst: how text dates are read, in `fit` and in every later input (recorded with the model).
    sep, decimal: the column separator and decimal mark of .csv/.txt files (pandas read_csv's; e.g. ";"
    and "," for 2023-01-01;1,5), in `fit` and in every later input file (recorded with the model).
    target (a column name or names; default every column), past (past-only covariate columns;
    default every other column, [] none), future (future-known covariate columns), calendar
    (calendar features of the dates): the role of each column (``samovar.data.covariates``).
    id_col, time_col, target_col: read the data as many series in long format with these columns
    (defaults "unique_id", "ds", "y"; without any of them a table with a ``unique_id`` column is read
    as long); short_series: "error" (default) or "drop" a series too short for a window in every
    split (listed in the data's notes). See docs/panels.md.
    ``config`` is the TrainConfig of the last fit (before a fit: the keywords over the defaults).
    """

    def __init__(self, model: str = "dlinear", lookback: int | None = None, horizon: int = 96, *,
                 model_kwargs: dict[str, Any] | None = None, data_dir: str | Path | None = None,
                 split: tuple[float, float, float] | None = None, fill: str = "error",
                 runs_dir: str | Path | None = None, recipe: str = "auto", date_format: str | None = None,
                 dayfirst: bool = False, target: Any = None, past: Any = None, future: Any = None,
                 calendar: bool = False, id_col: str | None = None, time_col: str | None = None,
                 target_col: str | None = None, short_series: str = "error", sep: str = ",", decimal: str = ".",
                 **train_options: Any) -> None:
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(train_options) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; training options are {sorted(known)} "
                             "(model hyper-parameters go in model_kwargs={...})")
        if recipe not in RECIPES:
            raise ValueError(f"recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
        from .training.runs import input_kinds
        from .training.modelspec import check_covariates

        self.inputs = {"target": target, "past": past, "future": future, "calendar": bool(calendar)}
        check_covariates(model, input_kinds(self.inputs))  # an unknown or retired name (e.g. "cats") fails here too
        self.model_name = model
        self.horizon = horizon
        if recipe == "seed":  # the authors' scripts train at their own lookbacks only (the first by default)
            from .training.seed import seed_lookbacks

            allowed = seed_lookbacks(model, horizon)
            if lookback is not None and int(lookback) not in allowed:
                raise ValueError(f"recipe 'seed' trains {model} at horizon {horizon} with lookback "
                                 f"{' / '.join(map(str, allowed))}; got lookback={lookback}")
            lookback = allowed[0] if lookback is None else lookback
        self.lookback = resolve_lookback(model, lookback, horizon)
        self.model_kwargs = dict(model_kwargs or {})
        self.recipe = recipe
        self.train_options = dict(train_options)
        self.config = TrainConfig(**train_options)  # checks the options now; fit applies the recipe under them
        self.recipe_used: Recipe | None = None
        self.data_dir, self.split, self.fill, self.runs_dir = data_dir, split, fill, runs_dir
        self.date_format, self.dayfirst = date_format, bool(dayfirst)
        from .data.io import csv_dialect

        self.sep, self.decimal = csv_dialect(sep, decimal)  # bad values fail here, before any fit
        from .data.panel import long_format_options

        self.long_format = long_format_options(id_col, time_col, target_col, short_series)
        self.run: LoadedRun | None = None
        self.result = None  # TrainResult of the last fit

    # ------------------------------------------------------------------ training

    def fit(self, data: pd.DataFrame | str | Path, *, fit_mode: str | None = None) -> "Forecaster":
        """Train on a DataFrame, a file path or a registered dataset name.

        fit_mode: how the rows are used (``samovar.training.runs.FIT_MODES``):
        "refit": early stopping on a validation tail (the train:val ratio of ``split``, default
        87.5% / 12.5%, no test split), then a fresh model trained on every row for the best epoch
        count of that first fit; the scaler is fit on every row; prediction intervals are those of
        the validation-stage model (its conformal radii on the validation tail). No test metrics.
        "epochs": ``epochs`` epochs on every row, no validation, no early stopping, no intervals.
        "holdout": train / val / test by ``split`` (default 70/10/20) or the published protocol,
        with ``test_metrics``: the model never sees the validation and test rows.
        None (default): "holdout" for a registered dataset name, "synthetic..." or a ``split`` with
        a test share, else "refit". ``run.config["fit"]`` records the mode and the rows each stage used.
        """
        from .training.runs import default_fit_mode

        mode = default_fit_mode(data, self.split) if fit_mode is None else fit_mode
        return self._fit(data, *self._training(data), fit_mode=mode)

    def _training(self, data: Any) -> tuple[TrainConfig, dict[str, Any], Recipe]:
        """(TrainConfig, model kwargs, Recipe) of a fit on `data`: the recipe resolved for it under the options."""
        return recipe_training(self.model_name, data, self.horizon, self.recipe, self.train_options, self.model_kwargs)

    def _fit(self, data: Any, config: TrainConfig, model_kwargs: dict[str, Any], recipe: Recipe,
             fit_mode: str) -> "Forecaster":
        source = str(data) if isinstance(data, (str, Path)) else "<DataFrame>"
        run_dir = None
        if self.runs_dir is not None:
            name = Path(source).name.split(".")[0] if isinstance(data, (str, Path)) else "dataframe"
            run_dir = rd.default_run_dir(self.runs_dir, self.model_name, name, self.lookback, self.horizon)
        result, prepared = fit_run(self.model_name, data, horizon=self.horizon, lookback=self.lookback,
                                   model_kwargs=model_kwargs, config=config, data_dir=self.data_dir,
                                   split=self.split, fill=self.fill, run_dir=run_dir, recipe=recipe, fit_mode=fit_mode,
                                   inputs=self.inputs, long_format=self.long_format, **self.read_options)
        from .data.panel import scaler_from_dict
        from .training.trainer import run_config

        self.config, self.recipe_used = config, recipe
        model_kwargs = fill_seasonal_period(self.model_name, model_kwargs, prepared.freq)  # as fit_run built it
        cfg = run_config(result.model, prepared, result.config, module_device(result.model),
                         model_kwargs, {"source": source, **self.read_options}, recipe.to_dict(), result.fit)
        self.result = result
        future_scaler = None if prepared.future_scaler is None else scaler_from_dict(prepared.future_scaler.to_dict())
        self.run = LoadedRun(model=result.model.eval(), scaler=scaler_from_dict(prepared.scaler.to_dict()), config=cfg,
                             intervals=result.calibration, future_scaler=future_scaler)
        return self

    @property
    def read_options(self) -> dict[str, Any]:
        """How this Forecaster reads its inputs: ``samovar.data.read_table``'s date_format and dayfirst (text
        dates), sep and decimal (.csv/.txt files)."""
        return {"date_format": self.date_format, "dayfirst": self.dayfirst, "sep": self.sep, "decimal": self.decimal}

    @property
    def test_metrics(self) -> dict[str, float] | None:
        """Metrics of the last fit on every test window (mse, mae on the scaled data; *_raw in data units);
        None after a fit without a test split (fit_mode "refit" or "epochs")."""
        return None if self.result is None else self.result.test_metrics

    def fitted_run(self) -> LoadedRun:
        """The fitted model's run (model, scaler, config, intervals); RuntimeError when not fitted yet."""
        if self.run is None:
            raise RuntimeError("this Forecaster is not fitted: call fit(df) or Forecaster.load(path) first")
        return self.run

    # ------------------------------------------------------------------ forecasting

    @property
    def panel(self) -> dict[str, Any] | None:
        """How the fitted model's long-format panel was read (id_col, time_col, target_col, series, ...), or
        None for a model of wide data."""
        return self.fitted_run().config["data"].get("panel")

    def _wide_input(self, df: Any) -> None:
        """ValueError when the model or `df` is a long-format panel: `df` is about to be read as wide data."""
        from .data.panel import long_format_of

        if self.panel is not None:
            names = self.panel
            raise ValueError(f"the model was trained on many series in long format (columns {names['id_col']}, "
                             f"{names['time_col']}, {names['target_col']}); give the input in that format")
        if long_format_of(df, self.long_format, self.sep) is not None:
            raise ValueError("the model was trained on wide data (one column per series) but the input is in long format "
                             "(it has a unique_id column or long-format names were given): give it as wide data, or train "
                             "on the long table")

    def input_table(self, df: pd.DataFrame | str | Path, fill: str = "error", allow_freq_mismatch: bool = False):
        """`df` read as this model's wide input (``samovar.data.read_table``): at the training frequency unless
        `allow_freq_mismatch`, its columns in the run's order, at least a lookback of rows; ValueError naming
        what is wrong otherwise."""
        from .data import read_table
        from .data.frequency import describe_step, same_frequency

        run = self.fitted_run()
        self._wide_input(df)
        table = read_table(df, fill=fill, **self.read_options)
        if not allow_freq_mismatch and table.freq and run.freq and not same_frequency(table.freq, run.freq):
            name = df if isinstance(df, (str, Path)) else "the input"
            raise ValueError(f"{name}: its dates are at frequency {table.freq!r} (a step of {describe_step(table.freq)}) but "
                             f"the model was trained on data at {run.freq!r} ({describe_step(run.freq)}): give the input at the "
                             "training frequency, or pass allow_freq_mismatch=True (command line: --allow-freq-mismatch) "
                             "to forecast anyway, with dates continued at the input's frequency")
        self._select(table)
        if len(table.values) < run.lookback:
            raise ValueError(f"the input has {len(table.values)} rows but the model needs the last {run.lookback} "
                             f"(its lookback) to forecast; give at least {run.lookback} rows")
        return table

    def _select(self, table) -> None:
        """Put `table`'s columns in the run's order, in place: the series channels (targets, then past-only
        covariates), then the future-known covariate columns; a missing column is a ValueError, and so is an
        unexpected one unless the run chose its columns' roles (target= ...), when other columns are dropped."""
        run = self.fitted_run()
        wanted = run.columns + list(run.inputs.future)
        if table.columns == wanted:
            return
        chosen = bool(run.config["data"].get("inputs"))
        if not set(wanted) <= set(table.columns) or (not chosen and sorted(table.columns) != sorted(wanted)):
            missing = [c for c in wanted if c not in table.columns]
            extra = [c for c in table.columns if c not in wanted]
            raise ValueError(f"the input's columns do not match the training columns {wanted}: "
                             f"missing {missing}, unexpected {extra}. To fix: give the input the columns the model "
                             "was trained on, under the same names (rename or add the missing ones"
                             + (", drop the unexpected ones)" if extra else ")"))
        order = [table.columns.index(c) for c in wanted]  # same columns, other order: reorder
        table.values, table.columns = table.values[:, order], wanted

    def _covariates(self, table, future: Any = None, fill: str = "error", extend: bool = False) -> np.ndarray | None:
        """(rows, F) scaled future-known covariates of `table` (in `_select` order); with `extend`,
        followed by the `horizon` rows after its end (user columns from `future`, a DataFrame or
        file; calendar features from the continued dates); None when the model reads none."""
        from .data.prepare import future_covariates

        run = self.fitted_run()
        inputs = run.inputs
        if future is not None and not inputs.future:
            raise ValueError("future covariates were given, but the model was trained without future-known covariate "
                             "columns (calendar features need none): drop future= / --future, or train with --future COL")
        if not inputs.future_channels:
            return None
        if inputs.calendar and table.dates is None:
            raise ValueError("the model reads calendar features, but the input has no dates: give a date column")
        n = len(run.columns)
        values, dates = table.values[:, n:], table.dates
        if extend:
            values, dates = self._future_rows(table, future, fill)
        return future_covariates(inputs, list(inputs.future), values, dates, run.future_scaler)

    def _future_rows(self, table, future: Any, fill: str) -> tuple[np.ndarray, pd.DatetimeIndex | None]:
        """`table`'s future covariate columns and dates, then the `horizon` rows after its end from `future`."""
        from .data import read_table

        run = self.fitted_run()
        H, cols = run.horizon, list(run.inputs.future)
        index = self._future_index(table, H)
        history = table.values[:, len(run.columns):]
        if not cols:  # calendar features only: the frame is not needed, the dates continue
            return history, None if table.dates is None else table.dates.append(index)
        frame = read_table(future, fill=fill, **self.read_options)
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"the future covariates lack column(s) {missing}: give the values of {', '.join(cols)} "
                             f"for the {H} rows after the input's end")
        values = frame.values[:, [frame.columns.index(c) for c in cols]]
        if table.dates is not None and frame.dates is not None:
            pos = frame.dates.get_indexer(index)
            if (pos < 0).any():
                absent = [str(d) for d in index[pos < 0]]
                raise ValueError(f"the future covariates lack {len(absent)} of the {H} dates after the input's end "
                                 f"({index[0]} .. {index[-1]}): missing {absent[0]}" + (f" .. {absent[-1]}" if len(absent) > 1 else ""))
            values = values[pos]
        elif len(values) < H:
            raise ValueError(f"the future covariates have {len(values)} rows; the model needs the {H} rows after the input's end")
        else:
            values = values[:H]
        dates = None if table.dates is None else table.dates.append(index)
        return np.concatenate([history, values.astype(history.dtype)]), dates

    @torch.no_grad()
    def _forecast(self, windows: np.ndarray, quantiles: bool = False, future: np.ndarray | None = None) -> np.ndarray:
        """windows: (N, lookback, C) raw values -> (N, horizon, C) raw forecasts (float64);
        quantiles: the quantile forecasts (N, horizon, C, Q) of a quantile model instead;
        future: (N, lookback + horizon, F) scaled future-known covariates, or None."""
        from .models.base import forecast

        run = self.fitted_run()
        device = module_device(run.model)
        scaled = np.ascontiguousarray(run.scaler.transform(windows.astype(np.float64)))  # layout-independent results
        x = torch.as_tensor(scaled, dtype=torch.float32, device=device)
        run.model.eval()
        if future is None:
            chunks = [(chunk, None) for chunk in x.split(256)]
        else:
            cov = torch.as_tensor(np.ascontiguousarray(future), dtype=torch.float32, device=device)
            chunks = list(zip(x.split(256), cov.split(256)))
        if quantiles:
            out = torch.cat([run.model.forward_quantiles(*([c] if f is None else [c, f])) for c, f in chunks])
            out = out.double().cpu().numpy()  # the scaler works on the last axis: put the channels there and back
            return run.scaler.inverse_transform(out.swapaxes(-1, -2)).swapaxes(-1, -2)
        out = torch.cat([forecast(run.model, c, f) for c, f in chunks]).double().cpu().numpy()
        return run.scaler.inverse_transform(out)

    @property
    def targets(self) -> list[str]:
        """The forecast columns of the fitted model (the first of its series channels)."""
        run = self.fitted_run()
        return list(run.inputs.targets)

    def _levels(self, levels: Any) -> tuple[int, ...]:
        """Requested interval levels, checked against the calibrated grid."""
        run = self.fitted_run()
        if run.intervals is None and (run.config.get("fit") or {}).get("mode") == "epochs":
            raise ValueError("this model has no prediction intervals: it was trained with fit_mode='epochs' on every row, "
                             "so no held-out windows were left to calibrate them on; fit with fit_mode='refit' (intervals "
                             "from its validation stage) or 'holdout' to get intervals")
        if run.intervals is None:
            raise ValueError(f"this model has no calibrated intervals ({rd.INTERVALS}); "
                             "compute them with `samovar calibrate RUN_DIR` or fit again")
        return check_levels(levels, run.intervals.levels)

    def _radii(self, levels: tuple[int, ...]) -> dict[int, np.ndarray]:
        """{level: interval radius (horizon, C) in data units}."""
        run = self.fitted_run()
        return {lv: run.intervals.radius(lv).double().numpy() * run.scaler.std[:len(self.targets)] for lv in levels}

    @staticmethod
    def _interval_columns(name: str, levels: tuple[int, ...]) -> list[tuple[str, int, int]]:
        """(column, level, sign) beside `name`, left to right ascending: lo of the widest level first."""
        order = sorted(levels)
        return [(f"{name}-lo-{lv}", lv, -1) for lv in reversed(order)] + [(f"{name}-hi-{lv}", lv, 1) for lv in order]

    @property
    def quantiles(self) -> tuple[float, ...] | None:
        """The quantile levels of a model trained with loss="quantile" (else None)."""
        return getattr(self.fitted_run().model, "quantiles", None)

    def _future_index(self, table, steps: int) -> pd.Index:
        run = self.fitted_run()
        if table.dates is None:
            n = len(table.values)
            return pd.RangeIndex(n, n + steps, name="step")
        freq = table.freq or run.freq
        if freq is None:
            raise ValueError("cannot continue the dates: their frequency could not be inferred from the input "
                             "(and the training data had none); give regularly spaced dates")
        return pd.date_range(table.dates[-1], periods=steps + 1, freq=freq)[1:].rename("date")

    def predict(self, df: pd.DataFrame | str | Path, *, levels: Any = None, fill: str = "error",
                allow_freq_mismatch: bool = False, future: pd.DataFrame | str | Path | None = None) -> pd.DataFrame:
        """Forecast the `horizon` rows after the end of `df` from its last `lookback` rows.

        future: for a model with future-known covariate columns, their values over the horizon (a
        DataFrame or file with those columns and, when `df` has dates, the `horizon` dates after its
        end); `df` holds their history. Calendar features need no frame. Only the target columns
        are forecast.

        Returns a DataFrame indexed by the continued dates (``date``, at the data's frequency) or
        by step numbers (``step``) for date-less data. Per training column: the forecast, then
        with `levels` (percent, e.g. [80, 95]) its conformal interval bounds ``<col>-lo-95``,
        ``<col>-lo-80``, ``<col>-hi-80``, ``<col>-hi-95`` (ascending left to right; ±inf where
        the calibration had too few windows for the level), then for a quantile model
        ``<col>-q10``, ``<col>-q50``, ... (`quantile_name`). An input whose dates are at another
        frequency than the training data's is a ValueError unless allow_freq_mismatch=True.

        A model trained on a long-format panel forecasts every series of `df` (long format, the training
        column names) from its own last `lookback` rows, each scaled by that series' training scaler, and
        returns long format: the id and time columns, then a column named after the model (e.g.
        ``dlinear``) and its ``<model>-lo-95`` ... ``<model>-hi-95`` and ``<model>-q10`` ... columns.
        """
        run = self.fitted_run()
        levels = () if levels is None else self._levels(levels)
        if self.panel is not None:
            return self._predict_panel(df, levels, fill, allow_freq_mismatch, future)
        table = self.input_table(df, fill, allow_freq_mismatch)
        if run.inputs.future and future is None:
            raise ValueError(f"the model reads future-known covariates {list(run.inputs.future)}: give their values for the "
                             f"{run.horizon} rows after the input's end (future= a DataFrame or file; command line: --future FILE)")
        window = table.values[None, -run.lookback:, :len(run.columns)]
        covariates = self._covariates(table, future, fill, extend=True)
        cov = None if covariates is None else covariates[None, len(table.values) - run.lookback:]
        forecast = self._forecast(window, future=cov)[0]
        radii = self._radii(levels)
        quantiles = self._forecast(window, quantiles=True, future=cov)[0] if self.quantiles else None
        columns: dict[str, np.ndarray] = {}
        for c, name in enumerate(self.targets):
            columns[name] = forecast[:, c]
            for column, level, sign in self._interval_columns(name, levels):
                columns[column] = forecast[:, c] + sign * radii[level][:, c]
            for k, q in enumerate(self.quantiles or ()):
                columns[f"{name}-{quantile_name(q)}"] = quantiles[:, c, k]
        return pd.DataFrame(columns, index=self._future_index(table, run.horizon))

    def _panel_input(self, df: Any, fill: str, allow_freq_mismatch: bool, short_series: str | None = None) -> Any:
        """`df` read as a long table with the run's column names and covariate columns (a `Panel`), checked
        against the run: the covariate columns present, the frequency the training data's (unless
        `allow_freq_mismatch`). short_series: the policy the panel carries (default: this Forecaster's)."""
        from .data.frequency import describe_step, same_frequency
        from .data.panel import LongFormat, read_panel

        run = self.fitted_run()
        inputs = run.inputs
        names = self.panel
        fmt = LongFormat(names["id_col"], names["time_col"], names["target_col"],
                         short_series or (self.long_format or {}).get("short_series", "error"))
        panel = read_panel(df, fmt, fill=fill, covariates=[*inputs.past, *inputs.future], **self.read_options)
        absent = [c for c in (*inputs.past, *inputs.future) if c not in panel.extra_columns]
        if absent:
            raise ValueError(f"the input lacks the covariate column(s) {absent} the model was trained with; give their "
                             f"values over each series' last {run.lookback} rows")
        if not allow_freq_mismatch and panel.freq and run.freq and not same_frequency(panel.freq, run.freq):
            raise ValueError(f"the input's series are at frequency {panel.freq!r} (a step of {describe_step(panel.freq)}) "
                             f"but the model was trained on {run.freq!r} ({describe_step(run.freq)}): give the input at "
                             "the training frequency, or pass allow_freq_mismatch=True (--allow-freq-mismatch)")
        return panel

    def _predict_panel(self, df: Any, levels: tuple[int, ...], fill: str, allow_freq_mismatch: bool,
                       future: Any = None) -> pd.DataFrame:
        """`predict` for a model of a long-format panel (see there)."""
        from .data.panel import future_panel_values

        run = self.fitted_run()
        inputs = run.inputs
        names = self.panel
        if future is not None and not inputs.future:
            raise ValueError("future covariates were given, but the model was trained without future-known covariate "
                             "columns (calendar features need none): drop future= / --future, or train with --future COL")
        if inputs.future and future is None:
            raise ValueError(f"the model reads future-known covariates {list(inputs.future)}: give their values at the "
                             f"{run.horizon} times after each series' last row (future= a long-format DataFrame or file "
                             f"with columns {names['id_col']}, {names['time_col']}, {', '.join(inputs.future)}; command "
                             "line: --future FILE)")
        panel = self._panel_input(df, fill, allow_freq_mismatch)
        fmt = panel.fmt
        L, H = run.lookback, run.horizon
        short = [(i, int(n)) for i, n in zip(panel.ids, panel.lengths) if n < L]
        if short:
            listed = ", ".join(f"{i!r} ({n} rows)" for i, n in short[:5]) + (" ..." if len(short) > 5 else "")
            raise ValueError(f"{len(short)} series of the input have fewer rows than the model's lookback {L}: {listed}; "
                             f"give each series at least its last {L} rows")
        series = run.scaler.index(panel.ids)
        rows = panel.offsets[1:, None] - L + np.arange(L)[None, :]  # (S, L): each series' last lookback rows
        last = panel.offsets[1:] - 1
        if panel.times is None:
            ahead = panel.steps[last][:, None] + np.arange(1, H + 1)[None, :]  # (S, H)
        else:
            freq = panel.freq or run.freq
            if freq is None:
                raise ValueError("cannot continue the dates: their frequency could not be inferred from the input "
                                 "(and the training data had none); give regularly spaced dates")
            ahead = np.stack([pd.date_range(panel.times[r], periods=H + 1, freq=freq)[1:].to_numpy() for r in last])
        coming = (future_panel_values(future, fmt, list(inputs.future), panel.ids, ahead, **self.read_options)
                  if inputs.future else None)
        out, x, cov = self._panel_point(panel, rows, series, ahead, coming)
        model_name = run.config["model"]["name"]
        std = run.scaler.std[series, 0]  # (S,)
        columns: dict[str, Any] = {fmt.id_col: np.repeat(panel.ids, H), fmt.time_col: ahead.reshape(-1),
                                   model_name: out.reshape(-1), **self._panel_bounds(out, std, levels)}
        if self.quantiles:
            q = self._scaled_forecast(x, quantiles=True, future=cov)[:, :, 0, :]  # (S, H, Q)
            q = q * std[:, None, None] + run.scaler.mean[series, 0][:, None, None]
            for k, level in enumerate(self.quantiles):
                columns[f"{model_name}-{quantile_name(level)}"] = q[:, :, k].reshape(-1)
        return pd.DataFrame(columns)

    def _panel_point(self, panel: Any, rows: np.ndarray, series: np.ndarray, ahead: np.ndarray,
                     coming: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Point forecasts of N windows of a panel: rows (N, lookback) of `panel` the windows read, series (N,)
        their series' positions in the run's scaler, ahead (N, horizon) the times forecast, coming (N, horizon,
        F) the raw future-known covariate values at those times (None without any). Returns the forecasts
        (N, horizon) in data units, and the model's scaled input and covariates (for quantile forecasts)."""
        run = self.fitted_run()
        values = np.concatenate([panel.values, panel.covariate_values(run.inputs.past)], axis=1)  # value, past-only
        x = run.scaler.transform(values[rows].astype(np.float64), series)  # (N, L, C), each series' own scale
        cov = self._panel_covariates(panel, rows, series, ahead, coming)
        forecast = self._scaled_forecast(x, future=cov)  # (N, H, C), each series' standardized scale
        return run.scaler.inverse_transform(forecast, series)[:, :, 0], x, cov  # the value column

    def _panel_radii(self, levels: tuple[int, ...], std: np.ndarray) -> dict[int, np.ndarray]:
        """{level: interval radius (N, horizon) in data units} of forecasts of series whose stds are `std` (N,)."""
        run = self.fitted_run()
        return {lv: run.intervals.radius(lv)[:, 0].double().numpy()[None, :] * std[:, None] for lv in levels}

    def _panel_bounds(self, out: np.ndarray, std: np.ndarray, levels: tuple[int, ...]) -> dict[str, np.ndarray]:
        """The interval columns (``<model>-lo-95`` ...) of panel forecasts `out` (N, horizon), flattened."""
        radii = self._panel_radii(levels, std)
        name = self.fitted_run().config["model"]["name"]
        return {column: (out + sign * radii[level]).reshape(-1) for column, level, sign in self._interval_columns(name, levels)}

    def _panel_covariates(self, panel: Any, rows: np.ndarray, series: np.ndarray, ahead: np.ndarray,
                          coming: np.ndarray | None) -> np.ndarray | None:
        """(N, lookback + horizon, F) future-known covariates of windows reading `rows` (N, lookback) and
        forecasting the times `ahead` (N, horizon): user columns from the panel's history and `coming` (N,
        horizon, F), scaled by each window's series' training scaler (`series`), then calendar features;
        None when the model reads none."""
        from .data.covariates import calendar_features

        run = self.fitted_run()
        inputs = run.inputs
        if not inputs.future_channels:
            return None
        parts = []
        if inputs.future:
            history = panel.covariate_values(inputs.future)[rows].astype(np.float64)  # (N, L, F)
            parts.append(run.future_scaler.transform(np.concatenate([history, coming], axis=1), series))
        if inputs.calendar:
            dates = np.concatenate([panel.time_labels(rows), ahead], axis=1)  # (N, L + H)
            features = calendar_features(pd.DatetimeIndex(dates.reshape(-1)), list(inputs.calendar))
            parts.append(features.reshape(*dates.shape, -1))
        return np.concatenate(parts, axis=-1).astype(np.float32)

    @torch.no_grad()
    def _scaled_forecast(self, x: np.ndarray, quantiles: bool = False, future: np.ndarray | None = None) -> np.ndarray:
        """x: (N, lookback, C) already standardised -> the model's (N, horizon, C) forecasts (quantiles:
        (N, horizon, C, Q)), still standardised, float64; future: (N, lookback + horizon, F) scaled
        future-known covariates, or None."""
        from .models.base import forecast

        run = self.fitted_run()
        device = module_device(run.model)
        t = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device)
        cov = None if future is None else torch.as_tensor(np.ascontiguousarray(future), dtype=torch.float32, device=device)
        chunks = zip(t.split(256), [None] * len(t.split(256)) if cov is None else cov.split(256))
        run.model.eval()
        if quantiles:
            out = [run.model.forward_quantiles(*([c] if f is None else [c, f])) for c, f in chunks]
        else:
            out = [forecast(run.model, c, f) for c, f in chunks]
        return torch.cat(out).double().cpu().numpy()

    def backtest(self, df: pd.DataFrame | str | Path, start: Any = None, end: Any = None, *,
                 stride: int | None = None, levels: Any = None, fill: str = "error",
                 allow_freq_mismatch: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Rolling forecasts whose targets all lie in rows [start, end] of `df` (dates or row numbers).

        Forecasts start at `start`, `start + stride`, ... (stride defaults to the horizon:
        back-to-back forecasts); each uses the `lookback` rows before it. Returns a long table
        (origin, date/step, step_ahead, then each column's forecast and ``<column>_actual``)
        and metrics over all forecast values (`point_metrics`: mse/mae on the model's standardized
        scale, mse_raw/mae_raw in data units) with ``forecasts``, their count. With `levels`
        (percent): each column's interval bounds (as in `predict`) after its forecast, and
        ``coverage-<level>`` (share of actuals inside) in the metrics. When `df` is the file the
        model was trained on, also train_rows_end (the first row after its training rows) and
        forecasts_on_train_rows (how many of the first forecasts have targets in those rows).
        allow_freq_mismatch: as in `predict`.

        A model of a long-format panel backtests every series of `df` (long format, the run's column
        names), each with its own rows: `start` and `end` are then times of the time column (dates, or
        integer steps when it holds integers) that every series shares, not row numbers. Each series is
        forecast from its first row at or after `start` (default and at the earliest: its first row with
        `lookback` rows before it), then every `stride` rows, while the targets lie at or before `end`
        (default: the series' last row). A series with no such forecast follows the short_series policy
        (an error naming it, or left out and listed in the metrics' ``excluded`` and ``notes``). The
        table: the id column, origin, the time column, step_ahead, the model's forecast (a column named
        after the model, as `predict` writes), its interval bounds with `levels`, and the actual value
        under the value column's name; series after series. Metrics pool every series (mse/mae on each
        series' own standardized scale) and add ``series``; when the model recorded the last date it
        trained or validated on (``last_seen``, over every series), ``forecasts_on_seen_rows`` counts the
        forecasts whose first target is at or before it: an upper bound on those scored on rows it saw.
        """
        run = self.fitted_run()
        levels = () if levels is None else self._levels(levels)
        stride = run.horizon if stride is None else positive_int("backtest stride", stride)
        if self.panel is not None:
            return self._panel_backtest(df, start, end, stride, levels, fill, allow_freq_mismatch)
        table = self.input_table(df, fill, allow_freq_mismatch)
        n, L, H = len(table.values), run.lookback, run.horizon
        first = self._row(table, start, default=L, what="backtest start")
        last = self._row(table, end, default=n - 1, what="backtest end")
        if first < L:
            raise ValueError(f"backtest start is row {first} but forecasting needs {L} rows of history before it; "
                             f"start at row {L} or later" + (f" ({table.dates[L]})" if table.dates is not None else ""))
        origins = np.arange(first, last - H + 2, stride)
        if len(origins) == 0:
            raise ValueError(f"rows {first}..{last} hold {last - first + 1} rows, fewer than one horizon ({H}); "
                             "widen the backtest range")
        frame, forecasts, actual = self._rolling(table, origins, levels)
        metrics = self._backtest_metrics(forecasts, actual, run.scaler.std[:len(self.targets)], self._radii(levels))
        train_end = run.train_rows_end(df)
        if train_end is not None:  # `df` is the training file: forecasts with targets in its training rows
            metrics.update(train_rows_end=train_end, forecasts_on_train_rows=int((origins < train_end).sum()))
        return frame, metrics

    @staticmethod
    def _backtest_metrics(forecasts: np.ndarray, actual: np.ndarray, std: np.ndarray,
                          radii: dict[int, np.ndarray]) -> dict[str, Any]:
        """`point_metrics` of a backtest's forecasts (N, horizon, ...) with ``forecasts`` (N) and, per interval
        level of `radii` (radius in data units, broadcast against the forecasts), ``coverage-<level>``."""
        metrics: dict[str, Any] = {**point_metrics(forecasts, actual, std), "forecasts": int(len(forecasts))}
        for level in sorted(radii):
            metrics[f"coverage-{level}"] = float(np.mean(np.abs(forecasts - actual) <= radii[level]))
        return metrics

    def _panel_backtest(self, df: Any, start: Any, end: Any, stride: int, levels: tuple[int, ...], fill: str,
                        allow_freq_mismatch: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
        """`backtest` of a model of a long-format panel (see there)."""
        from .data.panel import leave_out_short

        run = self.fitted_run()
        L, H = run.lookback, run.horizon
        panel = self._panel_input(df, fill, allow_freq_mismatch)
        first_time = self._panel_time(panel, start, "backtest start")
        last_time = self._panel_time(panel, end, "backtest end")
        local, short = {}, []
        for s, sid in enumerate(panel.ids):
            rows = panel.rows(s)
            times = panel.times[rows] if panel.times is not None else panel.steps[rows]
            first = L if first_time is None else max(L, int(times.searchsorted(first_time)))
            last = len(times) - 1 if last_time is None else int(times.searchsorted(last_time, side="right")) - 1
            local[sid] = np.arange(first, last - H + 2, stride)
            if not len(local[sid]):
                short.append((s, len(times)))
        span = f"{'the start' if start is None else start} .. {'the end' if end is None else end}"
        panel, excluded, note = leave_out_short(
            panel, short, f"a forecast of {H} steps from {L} rows of history with its targets in {span}",
            "widen the backtest range (start, end)")
        series = np.concatenate([np.full(len(local[sid]), s) for s, sid in enumerate(panel.ids)])
        origins = np.concatenate([panel.offsets[s] + local[sid] for s, sid in enumerate(panel.ids)])
        frame, forecasts, actual, std = self._panel_rolling(panel, origins, series, levels)
        metrics = {**self._backtest_metrics(forecasts, actual, std[:, None], self._panel_radii(levels, std)),
                   "series": len(panel.ids)}
        last_seen = run.config["data"].get("last_seen")
        if last_seen is not None and panel.times is not None:
            seen = pd.DatetimeIndex(panel.time_labels(origins)) <= pd.Timestamp(last_seen)
            metrics.update(last_seen=last_seen, forecasts_on_seen_rows=int(seen.sum()))
        if excluded:
            metrics.update(excluded=[{"id": i, "rows": n} for i, n in excluded], notes=[note])
        return frame, metrics

    @staticmethod
    def _panel_time(panel: Any, value: Any, what: str) -> Any:
        """A time of `panel`'s time column from None (None), a date, or an integer step (a panel with steps)."""
        if value is None:
            return None
        column = panel.fmt.time_col
        if panel.times is None:
            if not _is_row_number(value):
                raise ValueError(f"{what} {value!r}: the time column {column!r} holds integer steps; give a step")
            return int(value)
        if _is_row_number(value):
            raise ValueError(f"{what} {value!r} looks like a row number, but each series of a panel has rows of its own: "
                             f"give a date of the time column {column!r}, shared by every series")
        return _as_date(value, panel.times, f"{what} {value!r} is not a date (the time column {column!r} holds dates)")

    def _rolling(self, table, origins: np.ndarray,
                 levels: tuple[int, ...] = ()) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """A forecast from each origin row (first row forecast, from the `lookback` rows before it).

        Returns the long table (origin, date/step, step_ahead, each target column's forecast, its
        interval bounds at `levels` as in `predict`, and ``<column>_actual``) and the forecasts and
        actuals as (origins, horizon, targets) arrays. Future-known covariates over each horizon are
        read from `table` (their actual values).
        """
        run = self.fitted_run()
        L, H, C, T = run.lookback, run.horizon, len(run.columns), len(self.targets)
        self._select(table)
        covariates = self._covariates(table)
        cov = None if covariates is None else np.stack([covariates[o - L:o + H] for o in origins])
        forecasts = self._forecast(np.stack([table.values[o - L:o, :C] for o in origins]), future=cov)[..., :T]
        target_rows = origins[:, None] + np.arange(H)[None, :]
        actual = table.values[target_rows][..., :T].astype(np.float64)
        label = _row_labels(table)
        frame = pd.DataFrame({
            "origin": np.repeat(label(origins), H),
            "date" if table.dates is not None else "step": label(target_rows.reshape(-1)),
            "step_ahead": np.tile(np.arange(1, H + 1), len(origins)),
        })
        radii = self._radii(levels)
        for c, name in enumerate(self.targets):
            frame[name] = forecasts[:, :, c].reshape(-1)
            for column, level, sign in self._interval_columns(name, levels):
                frame[column] = (forecasts[:, :, c] + sign * radii[level][:, c]).reshape(-1)
            frame[f"{name}_actual"] = actual[:, :, c].reshape(-1)
        return frame, forecasts, actual

    def _panel_rolling(self, panel: Any, origins: np.ndarray, series: np.ndarray, levels: tuple[int, ...] = ()
                       ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """A forecast from each origin of a long-format `panel`: origins (N,) rows of the panel's concatenated
        arrays (the first row forecast, from the `lookback` rows of its series before it), series (N,) the
        position of each one's series in `panel`.

        Returns the long table (the id column, origin, the time column, step_ahead, the forecast under the
        model's name, its interval bounds at `levels` as in `predict`, the actual value under the value
        column's name), the forecasts and actuals (N, horizon) in data units, and the std (N,) of each
        forecast's series scaler. Future-known covariates over each horizon are read from `panel` (their
        actual values)."""
        run = self.fitted_run()
        L, H, fmt = run.lookback, run.horizon, panel.fmt
        name = run.config["model"]["name"]
        _forecast_column_free(name, fmt)
        scaled_as = run.scaler.index(panel.ids)[series]
        rows = origins[:, None] - L + np.arange(L)[None, :]
        targets = origins[:, None] + np.arange(H)[None, :]
        ahead = panel.time_labels(targets)
        coming = panel.covariate_values(run.inputs.future)[targets].astype(np.float64) if run.inputs.future else None
        forecast = self._panel_point(panel, rows, scaled_as, ahead, coming)[0]
        actual = panel.values[targets, 0].astype(np.float64)
        std = run.scaler.std[scaled_as, 0]
        frame = pd.DataFrame({fmt.id_col: np.repeat(np.asarray(panel.ids, dtype=object)[series], H),
                              "origin": np.repeat(panel.time_labels(origins), H), fmt.time_col: ahead.reshape(-1),
                              "step_ahead": np.tile(np.arange(1, H + 1), len(origins)), name: forecast.reshape(-1),
                              **self._panel_bounds(forecast, std, levels), fmt.target_col: actual.reshape(-1)})
        return frame, forecast, actual, std

    def cross_validation(self, df: pd.DataFrame | str | Path, *, n_windows: int, step: int | None = None,
                         refit: bool | int = False, reuse_fitted: bool = False, per_series: bool = False,
                         fill: str = "error", on_cutoff: Callable[[dict[str, Any]], None] | None = None,
                         allow_freq_mismatch: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
        """Rolling-origin cross-validation: forecasts from `n_windows` cut-offs at the end of `df`,
        each scored against the truth by a model trained only on rows before its cut-off.

        A cut-off is the first row forecast. The last leaves exactly one horizon after it, the
        others lie `step` rows apart before it (step defaults to the horizon: back-to-back
        horizons); each forecast reads the `lookback` rows before its cut-off. df: a DataFrame,
        a file path or a registered dataset name (its whole file).

        refit: False / 0 trains once, on the rows before the first cut-off, and forecasts every
        cut-off with that model; True / 1 retrains at every cut-off; K retrains at every K-th
        (cut-offs 0, K, 2K, ...). Every fit is a fresh model with this Forecaster's settings
        (model, lookback, horizon, model_kwargs, options, recipe resolved for `df`) trained on the
        values of the rows before its cut-off, split into train and validation (early stopping)
        by the train:val ratio of ``split`` (default 0.7:0.1, so 87.5% / 12.5%), no test split.
        This Forecaster's own fitted model is not used and not changed: where its training data
        ended is in general unknown. reuse_fitted=True (with refit=0) forecasts with it instead,
        only when its fit recorded the date of the last row it trained or validated on and the
        first cut-off comes after that date; otherwise ValueError.

        Returns (forecasts, per_cutoff, overall). forecasts: the long table of `backtest` with
        ``cutoff`` for ``origin``. per_cutoff: one row per cut-off with ``cutoff``, ``fitted``
        (a model was trained at this cut-off), ``fit_rows`` (rows before the cut-off of the
        fit that made the forecast; <NA> for a reused model) and `point_metrics` (mse, mae on the
        standardized scale of the scaler of the model that made the forecast; mse_raw, mae_raw in
        data units). overall: the same metrics over all forecast values, ``windows`` and ``fits``.
        on_cutoff: called with each per_cutoff row as a dict, in order (progress).
        allow_freq_mismatch: as in `predict` (the fitted model, reuse_fitted=True).

        Many series in long format (docs/panels.md) are cut per series: with n rows, a series' k-th
        cut-off (k = 0 .. n_windows - 1, oldest first) is its row n - horizon - step * (n_windows - 1 - k),
        counted within the series from 0, so every series' last cut-off leaves exactly one horizon of its
        own rows after it, whether or not the series end at the same time. Each fit trains on every
        series' rows before that series' cut-off (each split into train and validation within itself, and
        scaled on its own training rows, as `fit` does). A series too short for the lookback before its
        first cut-off and for the first fit follows the short_series policy: an error naming it, or
        ("drop") left out of every fit and forecast and listed in ``overall["excluded"]`` and
        ``overall["notes"]``. Covariates (past=, future=, calendar=) are read as `fit` reads them; a
        future-known column's values over each horizon are its actual values in `df`. Returns:
        forecasts: the id column, ``cutoff`` (that series' cut-off time), the time column, ``step_ahead``,
        the forecast in a column named after the model (as `predict` writes) and the actual value under
        the value column's name, sorted by series, then cut-off, then time. per_cutoff: one row per cut-off
        pooled over every series (metrics on each series' own standardized scale, and in data units; as
        every series has one horizon per cut-off, each pooled value is the mean of the series' values),
        with ``cutoff`` (the cut-off time of the series that ends last: every series' when they end
        together), ``fitted``, ``fit_rows`` (rows of all series the fit trained and validated on) and
        ``series``; with per_series=True instead one row per series and cut-off, the id column first,
        ``cutoff`` and ``fit_rows`` that series' own. overall: pooled over everything, with ``series``.
        """
        from .data import DataError, SplitProtocol, load_table
        from .data.prepare import source_format, validation_split
        from .data.splits import check_split_sizes

        n_windows = _count(n_windows, "n_windows (--windows)", 1, "give at least 1 cut-off")
        step = self.horizon if step is None else _count(step, "step (--step)", 1, "give the rows between cut-offs")
        every = _count(int(refit) if isinstance(refit, bool) else refit, "refit (--refit)", 0,
                       "give 0 (train once), 1 (retrain at every cut-off) or K (retrain every K cut-offs)")
        if reuse_fitted and every != 0:
            raise ValueError(f"reuse_fitted=True forecasts every cut-off with the fitted model; it cannot be combined "
                             f"with refit={refit!r}: pass refit=0, or reuse_fitted=False to retrain")
        split = validation_split(self.split)
        fmt = source_format(df, self.long_format, self.sep)
        if fmt is not None:
            return self._panel_cross_validation(df, fmt, n_windows, step, every, reuse_fitted, per_series, fill,
                                                on_cutoff, allow_freq_mismatch, split)
        if per_series:
            raise ValueError("per_series=True gives one row per series and cut-off of many series in long format; the "
                             "input is wide (one column per series), whose cut-offs score every column together")
        table = (self.input_table(df, fill, allow_freq_mismatch) if reuse_fitted
                 else load_table(df, data_dir=self.data_dir, fill=fill, **self.read_options))
        L, H, n = self.lookback, self.horizon, len(table.values)
        cutoffs = n - H - step * np.arange(n_windows - 1, -1, -1)
        first = int(cutoffs[0])
        what = f"{n_windows} cut-off(s) {step} rows apart, the last one horizon ({H} rows) before the end of {n} rows,"
        fix = "use fewer windows (n_windows, --windows), a smaller step (step, --step) or a longer series"
        if first < L:
            raise ValueError(f"{what} put the first cut-off at row {first}, but a forecast needs the {L} rows "
                             f"(lookback) before it; {fix}")
        if reuse_fitted:
            self._check_unseen(None if table.dates is None else table.dates[first])
        else:
            try:
                check_split_sizes(SplitProtocol("ratio", *split), first, L, H, "the fit before the first cut-off")
            except DataError as exc:
                raise ValueError(f"{what} leave only {first} rows to train on before the first: {exc} Or {fix}.") from None
            config, model_kwargs, recipe = self._training(df)
        values = pd.DataFrame(table.values, columns=table.columns)  # what the fits read: values, row numbers as index
        if self.inputs["calendar"] and table.dates is not None:  # and the dates, which calendar features come from
            values.index = table.dates
        model = self if reuse_fitted else None
        groups = self._fit_groups(n_windows, every, reuse_fitted)
        frames, forecasts, actuals, stds, rows = [], [], [], [], []
        for lo, hi, fitted in groups:
            if fitted:
                model = self._fold(split)
                model._fit(values.iloc[:int(cutoffs[lo])], config, model_kwargs, recipe, fit_mode="holdout")
            frame, forecast, actual = model._rolling(table, cutoffs[lo:hi])
            std = model.fitted_run().scaler.std[:len(model.targets)]
            frames.append(frame)
            for j in range(hi - lo):
                cut = int(cutoffs[lo + j])
                row = {"cutoff": cut if table.dates is None else table.dates[cut], "fitted": fitted and j == 0,
                       "fit_rows": pd.NA if reuse_fitted else int(cutoffs[lo]),
                       **point_metrics(forecast[j], actual[j], std)}
                rows.append(row)
                if on_cutoff is not None:
                    on_cutoff(row)
            forecasts.append(forecast)
            actuals.append(actual)
            stds.append(np.broadcast_to(std, (hi - lo, 1, len(std))))
        overall = {**point_metrics(np.concatenate(forecasts), np.concatenate(actuals), np.concatenate(stds)),
                   "windows": n_windows, "fits": sum(fitted for _, _, fitted in groups)}
        per_cutoff = pd.DataFrame(rows).astype({"fit_rows": "Int64"})
        return pd.concat(frames, ignore_index=True).rename(columns={"origin": "cutoff"}), per_cutoff, overall

    @staticmethod
    def _fit_groups(n_windows: int, every: int, reuse_fitted: bool) -> list[tuple[int, int, bool]]:
        """(lo, hi, fitted) per model of a cross-validation: cut-offs lo .. hi - 1 are forecast by one model,
        trained at cut-off lo when `fitted` (at every `every`-th cut-off from the first, once for 0, never
        when the fitted model is reused)."""
        starts = [] if reuse_fitted else list(range(0, n_windows, every or n_windows))
        bounds = [0, *starts[1:], n_windows]
        return [(lo, hi, lo in starts) for lo, hi in zip(bounds[:-1], bounds[1:])]

    def _fold(self, split: tuple[float, float, float], long_format: dict[str, str] | None = None) -> "Forecaster":
        """A fresh Forecaster for one fit of a cross-validation: this one's model, lookback, horizon, options,
        recipe and column roles, with `split` and (a panel) `long_format`'s column names."""
        return Forecaster(self.model_name, self.lookback, self.horizon, model_kwargs=self.model_kwargs,
                          data_dir=self.data_dir, split=split, recipe=self.recipe, **self.inputs,
                          **(long_format or {}), **self.train_options)

    def _panel_cross_validation(self, df: Any, fmt: Any, n_windows: int, step: int, every: int, reuse_fitted: bool,
                                per_series: bool, fill: str, on_cutoff: Callable[[dict[str, Any]], None] | None,
                                allow_freq_mismatch: bool, split: tuple[float, float, float]
                                ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
        """`cross_validation` of many series in long format (see there)."""
        from .data import SplitProtocol
        from .data.panel import column_list, fits_splits, leave_out_short, min_series_rows, read_panel

        L, H = self.lookback, self.horizon
        _forecast_column_free(self.model_name, fmt)  # before any fit
        if reuse_fitted:
            panel = self._panel_input(df, fill, allow_freq_mismatch, fmt.short_series)
        else:
            named = column_list(self.inputs["past"]) + column_list(self.inputs["future"])
            panel = read_panel(df, fmt, fill=fill, covariates=named, **self.read_options)
        back = step * np.arange(n_windows - 1, -1, -1)  # rows from each cut-off to the last one
        tail = H + int(back[0])  # rows from a series' first cut-off to its end
        protocol = SplitProtocol("ratio", *split)
        short = [(s, int(n)) for s, n in enumerate(panel.lengths)
                 if n - tail < L or not (reuse_fitted or fits_splits(protocol, int(n) - tail, L, H))]
        fit_need = L if reuse_fitted else min_series_rows(protocol, L, H)  # rows before the first cut-off
        need = f"each series needs at least {max(L, fit_need) + tail} rows here" if fit_need else "no series length fits"
        panel, excluded, note = leave_out_short(
            panel, short, f"{n_windows} cut-off(s) {step} rows apart, the last one horizon ({H} rows) before the "
            f"series' end, with the lookback ({L} rows) before the first"
            + ("" if reuse_fitted else f" and a fit on the rows before it (split {protocol.describe()})") + f" ({need})",
            "use fewer windows (n_windows, --windows), a smaller step (step, --step) or longer series")
        S, K, starts = len(panel.ids), n_windows, panel.offsets[:-1]
        before = (panel.lengths - H)[None, :] - back[:, None]  # (K, S): rows of each series before each cut-off
        cuts = starts[None, :] + before  # (K, S): the cut-off rows in the panel's arrays
        if reuse_fitted:
            self._check_unseen(None if panel.times is None else panel.times[cuts[0]].min())
        else:
            config, model_kwargs, recipe = self._training(df)
            history = panel.frame(named)  # what the fits read: every series' rows before its cut-off
            position = np.arange(len(panel.values)) - np.repeat(starts, panel.lengths)  # row within its series
        last = int(np.argmax(panel.time_labels(panel.offsets[1:] - 1)))  # the series that ends last
        model = self if reuse_fitted else None
        groups = self._fit_groups(n_windows, every, reuse_fitted)
        frames, forecasts, actuals, stds, pooled, by_series = [], [], [], [], [], []
        for lo, hi, fitted in groups:
            if fitted:
                model = self._fold(split, fmt.to_dict())
                model._fit(history[position < np.repeat(before[lo], panel.lengths)], config, model_kwargs, recipe,
                           fit_mode="holdout")
            frame, forecast, actual, std = model._panel_rolling(panel, cuts[lo:hi].reshape(-1),
                                                                np.tile(np.arange(S), hi - lo))
            frames.append(frame)
            for j, k in enumerate(range(lo, hi)):
                part = slice(j * S, (j + 1) * S)
                first = {"fitted": fitted and j == 0}
                row = {"cutoff": panel.time_of(cuts[k, last]), **first,
                       "fit_rows": pd.NA if reuse_fitted else int(before[lo].sum()), "series": S,
                       **point_metrics(forecast[part], actual[part], std[part, None])}
                pooled.append(row)
                if on_cutoff is not None:
                    on_cutoff(row)
                by_series += [{fmt.id_col: sid, "cutoff": panel.time_of(cuts[k, s]), **first,
                               "fit_rows": pd.NA if reuse_fitted else int(before[lo, s]),
                               **point_metrics(forecast[j * S + s], actual[j * S + s], std[j * S + s])}
                              for s, sid in enumerate(panel.ids)]
            forecasts.append(forecast)
            actuals.append(actual)
            stds.append(std[:, None])
        overall = {**point_metrics(np.concatenate(forecasts), np.concatenate(actuals), np.concatenate(stds)),
                   "windows": n_windows, "fits": sum(fitted for _, _, fitted in groups), "series": S}
        if excluded:
            overall.update(excluded=[{"id": i, "rows": n} for i, n in excluded], notes=[note])
        # series first (then cut-off, then time) as NeuralForecast orders its cross-validation
        order = (np.arange(K)[None, :, None] * S * H + np.arange(S)[:, None, None] * H + np.arange(H)).reshape(-1)
        table = pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)
        if per_series:
            per_cutoff = pd.DataFrame(by_series).iloc[(np.arange(K)[None, :] * S + np.arange(S)[:, None]).reshape(-1)]
        else:
            per_cutoff = pd.DataFrame(pooled)
        return (table.rename(columns={"origin": "cutoff"}),
                per_cutoff.reset_index(drop=True).astype({"fit_rows": "Int64"}), overall)

    def _check_unseen(self, first: pd.Timestamp | None) -> None:
        """Raise ValueError unless the time `first` (None: the input has no dates) is known to come after every
        row the fitted model saw."""
        last_seen = self.fitted_run().config["data"].get("last_seen")
        refit = "retrain at the cut-offs instead (refit=1 or K; command line: --refit 1)"
        if last_seen is None:
            raise ValueError("it is unknown where this model's training data ended (it was trained on data without "
                             f"dates, or before samovar recorded it), so scoring it could use rows it has seen; {refit}")
        if first is None:
            raise ValueError(f"the input has no dates, so its cut-offs cannot be placed after the model's training data "
                             f"(which ended at {last_seen}); give dates, or {refit}")
        if first <= pd.Timestamp(last_seen):
            raise ValueError(f"the model was trained and validated on data up to {last_seen}, which reaches past the "
                             f"first cut-off {first}: scoring it there would use rows it has seen; {refit}, "
                             f"or place the cut-offs after {last_seen} (fewer windows or a smaller step)")

    @staticmethod
    def _row(table, value: Any, *, default: int, what: str) -> int:
        """A row number from None (default), an int / digit string (row), or a date."""
        n = len(table.values)
        if value is None:
            return default
        if _is_row_number(value):
            row = int(value)
            row = row + n if row < 0 else row
            if not 0 <= row < n:
                raise ValueError(f"{what} row {value} is outside the input's {n} rows")
            return row
        if table.dates is None:
            raise ValueError(f"{what} {value!r} is a date but the input has no dates; give a row number")
        when = _as_date(value, table.dates, f"{what} {value!r} is neither a row number nor a date")
        pos = int(table.dates.searchsorted(when))  # first row at or after the date
        if pos >= n:
            raise ValueError(f"{what} {value} is after the input's last date {table.dates[-1]}")
        return pos

    # ------------------------------------------------------------------ save / load

    def save(self, path: str | Path) -> Path:
        """Write config.json, best.safetensors, scaler.json (and intervals.safetensors) to directory `path`."""
        run = self.fitted_run()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path / rd.CONFIG, run.config)
        rd.save_weights(path / rd.BEST, run.model)
        write_json_atomic(path / rd.SCALER, rd.scaler_record(run.scaler, run.future_scaler))
        if run.intervals is not None:
            run.intervals.save(path / rd.INTERVALS)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", *, date_format: str | None = None,
             dayfirst: bool | None = None, sep: str | None = None, decimal: str | None = None) -> "Forecaster":
        """Load a directory written by `save`, or a run directory of `samovar train`.

        date_format, dayfirst: how the text dates of later inputs are read; sep, decimal: the column separator
        and decimal mark of later input files (each by default as recorded at training).
        """
        from .training.runs import file_dialect

        run = load_run(path, device=device)
        d = run.config["data"]
        known = {f.name for f in fields(TrainConfig)}
        train_cfg = {k: v for k, v in run.config.get("train", {}).items() if k in known}
        fit = run.config.get("fit") or {}
        if "validation" in fit:  # a refit ran the best epoch count; later fits get the validation stage's budget
            train_cfg["epochs"] = fit["validation"]["max_epochs"]
        # every option and the model's kwargs were recorded after the recipe was applied: refit as recorded
        panel = d.get("panel") or {}
        inputs = run.inputs.options() if d.get("inputs") else {}
        fc = cls(run.config["model"]["name"], lookback=d["lookback"], horizon=d["horizon"],
                 model_kwargs=run.config["model"].get("kwargs") or {}, recipe="ltsf", **inputs,
                 **{k: panel[k] for k in ("id_col", "time_col", "target_col", "short_series") if k in panel},
                 date_format=date_format if date_format is not None else d.get("date_format"),
                 dayfirst=dayfirst if dayfirst is not None else bool(d.get("dayfirst", False)),
                 **{**file_dialect(d), **{k: v for k, v in (("sep", sep), ("decimal", decimal)) if v is not None}},
                 **train_cfg)
        fc.run = run
        return fc

    def __repr__(self) -> str:
        state = "fitted" if self.run is not None else "not fitted"
        return f"Forecaster(model={self.model_name!r}, lookback={self.lookback}, horizon={self.horizon}, {state})"


def point_metrics(forecast: np.ndarray, actual: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """MSE and MAE of point forecasts in the trainer's vocabulary: ``mse``, ``mae`` on the
    standardized scale (errors divided by `std`, the per-channel std of the scaler of the model
    that made each forecast, broadcast against the arrays), ``mse_raw``, ``mae_raw`` in data units.
    forecast, actual: (..., channels) in data units."""
    err = np.asarray(forecast, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    scaled = err / np.asarray(std, dtype=np.float64)
    return {"mse": float(np.mean(scaled**2)), "mae": float(np.mean(np.abs(scaled))),
            "mse_raw": float(np.mean(err**2)), "mae_raw": float(np.mean(np.abs(err)))}


def _row_labels(table) -> Callable[[np.ndarray], np.ndarray]:
    """Row numbers -> their dates, or the row numbers themselves for data without dates."""
    if table.dates is None:
        return lambda rows: np.asarray(rows)
    return lambda rows: np.asarray(table.dates[rows])


def _is_row_number(value: Any) -> bool:
    """An int or a string of digits (optionally negative): a row number, or an integer time step."""
    return isinstance(value, (int, np.integer)) or (isinstance(value, str) and value.strip().lstrip("-").isdigit())


def _as_date(value: Any, dates: pd.DatetimeIndex, error: str) -> pd.Timestamp:
    """`value` as a Timestamp, in the time zone of `dates` when it has none; ValueError(`error`) if it is no date."""
    try:
        when = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(error) from None
    return when.tz_localize(dates.tz) if dates.tz is not None and when.tz is None else when


def _count(value: Any, what: str, least: int, hint: str) -> int:
    """`value` as an int >= least, else ValueError naming `what` and `hint`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{what} must be an integer >= {least}, got {value!r}: {hint}")
    return int(value)


# ---------------------------------------------------------------------- plots (matplotlib, Agg)

MAX_PLOTTED_CHANNELS = 6


def plotted_columns(available: list[str], columns: Any = None, what: str = "column") -> tuple[list[str], str | None]:
    """(names to draw, note or None). columns: the names asked for (each must be in `available`), else
    all when at most MAX_PLOTTED_CHANNELS, else the first five and the last (the target "OT" in the
    benchmarks) for columns, the first six for series, with a one-line note saying how to choose."""
    available = [str(a) for a in available]
    if columns is not None:
        columns = [columns] if isinstance(columns, str) else [str(c) for c in columns]
        unknown = [c for c in columns if c not in available]
        if unknown or not columns:
            shown = ", ".join(available[:10]) + (f" and {len(available) - 10} more" if len(available) > 10 else "")
            raise ValueError(f"columns to plot (--columns): no {what} {', '.join(map(repr, unknown)) or 'given'}; "
                             f"the {what if what.endswith('s') else what + 's'} are {shown}")
        return list(dict.fromkeys(columns)), None
    if len(available) <= MAX_PLOTTED_CHANNELS:
        return available, None
    n = MAX_PLOTTED_CHANNELS
    chosen = available[: n - 1] + [available[-1]] if what == "column" else available[:n]
    return chosen, (f"drew {n} of {len(available)} {what}s ({', '.join(chosen)}); choose which with "
                    "--columns a,b (columns=[...] in Python)")


def check_plot_path(path: str | Path) -> None:
    """ValueError when matplotlib cannot write `path`'s format (its suffix; none: png), raised before a
    forecast or a fit, so a wrong suffix stops the command before any output is written."""
    suffix = Path(path).suffix.lstrip(".").lower()
    if not suffix:
        return
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    known = Figure().canvas.get_supported_filetypes()
    if suffix not in known:
        raise ValueError(f"--plot {path}: matplotlib cannot write .{suffix} files; give the plot one of the suffixes "
                         f"{', '.join(sorted(known))} (e.g. .png)")


def check_plot_columns(fc: Forecaster, data: Any, columns: Any, *, fill: str = "error") -> None:
    """ValueError (as `plotted_columns` words it) when `columns` names a column or series that a plot of
    `fc`'s forecasts of `data` cannot draw; called before a forecast or a cross-validation, so a misspelt
    name stops the command before any fit or output. The names: `data`'s series ids (long format), else
    the fitted model's targets, or before a fit the targets `fc`'s options choose among `data`'s columns."""
    if columns is None:
        return
    from .data.prepare import source_format

    fmt = source_format(data, fc.long_format, fc.sep)
    if fmt is not None:
        from .data.panel import read_panel

        available, what = read_panel(data, fmt, fill=fill, **fc.read_options).ids, "series"
    elif fc.run is not None:
        available, what = fc.targets, "column"
    else:
        from .data.covariates import resolve_inputs
        from .data.prepare import load_table

        table = load_table(data, data_dir=fc.data_dir, fill=fill, **fc.read_options)
        options = {k: v for k, v in fc.inputs.items() if k != "calendar"}
        available, what = list(resolve_inputs(table.columns, **options).targets), "column"
    plotted_columns(available, columns, what)


def _quantile_bands(forecast: pd.DataFrame, name: str) -> list[tuple[str, str]]:
    """(low, high) quantile columns of `name` (a quantile model's ``<name>-q10`` ...) for each level q below
    the median whose partner 1 - q is there too, outermost first: q10 with q90, then q25 with q75, ..."""
    found = {}
    for col in forecast.columns:
        suffix = col[len(name) + 2:] if col.startswith(f"{name}-q") else ""
        try:
            found[round(float(suffix), 6)] = col
        except ValueError:
            continue
    return [(found[q], found[round(100 - q, 6)]) for q in sorted(found) if q < 50 and round(100 - q, 6) in found]


def _draw_forecast(ax, history_x, history_y, future_x, forecast: pd.DataFrame, name: str) -> None:
    """History in grey, the forecast column `name` in red, each interval level found beside it as a band
    (and a quantile model's quantiles, q10 to q90 ..., as bands in blue)."""
    ax.plot(history_x, history_y, color="0.3", lw=1, label="history")
    levels = sorted(int(col.rsplit("-", 1)[1]) for col in forecast.columns if col.startswith(f"{name}-lo-"))
    for k, level in enumerate(reversed(levels)):  # widest first, drawn lightest
        ax.fill_between(future_x, forecast[f"{name}-lo-{level}"].to_numpy(), forecast[f"{name}-hi-{level}"].to_numpy(),
                        color="tab:red", lw=0, alpha=0.2 + 0.2 * k / max(1, len(levels) - 1), label=f"{level}% interval")
    bands = _quantile_bands(forecast, name)
    for k, (low, high) in enumerate(bands):  # outermost first, drawn lightest
        ax.fill_between(future_x, forecast[low].to_numpy(), forecast[high].to_numpy(), color="tab:blue", lw=0,
                        alpha=0.15 + 0.2 * k / max(1, len(bands) - 1),
                        label=f"{low[len(name) + 1:]}–{high[len(name) + 1:]} quantiles")
    ax.plot(future_x, forecast[name].to_numpy(), color="tab:red", lw=1.4, label="forecast")


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
                  *, fill: str = "error", allow_freq_mismatch: bool = False, columns: Any = None) -> str | None:
    """Draw the last rows of `data` (history) and `forecast` (from `predict`) per channel to `path`,
    with a shaded band for each interval level among the forecast's columns (wider: lighter).

    columns: the columns (wide data) or series ids (a long-format model) to draw; default: all, or at
    most MAX_PLOTTED_CHANNELS. Returns a one-line note when more exist than were drawn, else None.
    """
    run = fc.fitted_run()
    shown = max(run.lookback, 3 * run.horizon)
    if fc.panel is not None:
        return _plot_panel_forecast(fc, data, forecast, path, fill=fill, columns=columns, shown=shown)
    table = fc.input_table(data, fill, allow_freq_mismatch)
    index = table.dates if table.dates is not None else pd.RangeIndex(len(table.values))
    names, note = plotted_columns(fc.targets, columns)
    plt, fig, axes = _figure(len(names))
    for ax, name in zip(axes, names):
        c = run.columns.index(name)
        _draw_forecast(ax, index[-shown:], table.values[-shown:, c], forecast.index, forecast, name)
        ax.set_ylabel(name)
    axes[0].legend(loc="upper left")
    axes[0].set_title(f"{run.config['model']['name']}: {run.horizon}-step forecast from the last {run.lookback} rows")
    _save(plt, fig, path)
    return note


def _plot_panel_forecast(fc: Forecaster, data: Any, forecast: pd.DataFrame, path: str | Path, *, fill: str,
                         columns: Any, shown: int) -> str | None:
    """`plot_forecast` for a long-format model: one axis per series id."""
    from .data.panel import LongFormat, read_panel

    run = fc.fitted_run()
    names = fc.panel
    panel = read_panel(data, LongFormat(names["id_col"], names["time_col"], names["target_col"]), fill=fill, **fc.read_options)
    model = run.config["model"]["name"]
    ids = [i for i in pd.unique(forecast[names["id_col"]].astype(str)) if i in set(panel.ids)]
    chosen, note = plotted_columns(ids, columns, what="series")
    plt, fig, axes = _figure(len(chosen))
    for ax, sid in zip(axes, chosen):
        rows = panel.rows(panel.ids.index(sid))
        history = np.arange(rows.start, rows.stop)[-shown:]
        part = forecast[forecast[names["id_col"]].astype(str) == sid]
        _draw_forecast(ax, panel.time_labels(history), panel.values[history, 0], part[names["time_col"]].to_numpy(),
                       part, model)
        ax.set_ylabel(sid)
    axes[0].legend(loc="upper left")
    axes[0].set_title(f"{model}: {run.horizon}-step forecast of each series from its last {run.lookback} rows")
    _save(plt, fig, path)
    return note


def _forecast_column_free(name: str, fmt: Any) -> None:
    """ValueError when a panel's backtest table, whose forecasts go in a column named after the model, would
    already have a column of that name."""
    if name in (fmt.id_col, fmt.time_col, fmt.target_col, "origin", "cutoff", "step_ahead"):
        raise ValueError(f"the model's name {name!r} is also a column of the backtest table (the forecasts go in a "
                         f"column named after the model): rename the column {name!r} of the data")


def plot_backtest(fc: Forecaster, data: pd.DataFrame | str | Path, backtest: pd.DataFrame, path: str | Path,
                  *, fill: str = "error", columns: Any = None) -> str | None:
    """Draw the data around the forecast range, each rolling forecast and the actuals to `path`.
    columns: which columns (or series ids of a long-format panel) to draw (default: all, or at most
    MAX_PLOTTED_CHANNELS); returns a one-line note when more exist than were drawn, else None.

    backtest: the forecasts of `Forecaster.backtest` (grouped by ``origin``) or of
    `Forecaster.cross_validation` (grouped by ``cutoff``); `fc` gives the lookback and the model name.
    """
    from .data.prepare import source_format

    group = "cutoff" if "cutoff" in backtest.columns else "origin"
    fmt = source_format(data, fc.long_format, fc.sep)
    if fmt is None:
        shown, note = _wide_backtest_lines(fc, data, backtest, group, fill, columns)
    else:
        shown, note = _panel_backtest_lines(fc, data, backtest, group, fmt, fill, columns)
    plt, fig, axes = _figure(len(shown))
    for ax, (name, x, y, forecasts) in zip(axes, shown):
        ax.plot(x, y, color="0.3", lw=1, label="actual")
        for i, (fx, fy) in enumerate(forecasts):
            ax.plot(fx, fy, color="tab:red", lw=1.2, label="forecast" if i == 0 else None)
        ax.set_ylabel(name)
    axes[0].legend(loc="upper left")
    what = "cross-validation" if group == "cutoff" else "backtest"
    count = backtest[group].nunique() if fmt is None else backtest.groupby(fmt.id_col)[group].nunique().max()
    axes[0].set_title(f"{fc.model_name}: {what}, {count} forecasts of {fc.horizon} steps"
                      + ("" if fmt is None else " per series"))
    _save(plt, fig, path)
    return note


_Lines = list[tuple[str, Any, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]]


def _forecast_lines(backtest: pd.DataFrame, group: str, key: str, column: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(times, values) of each rolling forecast of `column` in a backtest table."""
    return [(part[key].to_numpy(), part[column].to_numpy()) for _, part in backtest.groupby(group, sort=False)]


def _wide_backtest_lines(fc: Forecaster, data: Any, backtest: pd.DataFrame, group: str, fill: str,
                         columns: Any) -> tuple[_Lines, str | None]:
    """Per column to draw: (name, times, actual values around the forecasts, the forecasts), and the note."""
    from .data import load_table

    table = load_table(data, data_dir=fc.data_dir, fill=fill, **fc.read_options)
    key = "date" if "date" in backtest.columns else "step"
    available = [c[: -len("_actual")] for c in backtest.columns if c.endswith("_actual")]
    index = table.dates if table.dates is not None else pd.RangeIndex(len(table.values))
    targets = pd.Index(backtest[key].to_numpy())
    first = int(index.get_indexer(targets[:1])[0])
    last = int(index.get_indexer(targets[-1:])[0])
    lo = max(0, first - fc.lookback)
    names, note = plotted_columns(available, columns)
    return [(name, index[lo:last + 1], table.values[lo:last + 1, table.columns.index(name)],
             _forecast_lines(backtest, group, key, name)) for name in names], note


def _panel_backtest_lines(fc: Forecaster, data: Any, backtest: pd.DataFrame, group: str, fmt: Any, fill: str,
                          columns: Any) -> tuple[_Lines, str | None]:
    """`_wide_backtest_lines` of a long-format panel: one entry per series id to draw."""
    from .data.panel import read_panel

    panel = read_panel(data, fmt, fill=fill, **fc.read_options)
    ids = backtest[fmt.id_col].astype(str)
    chosen, note = plotted_columns([i for i in pd.unique(ids) if i in set(panel.ids)], columns, what="series")
    shown = []
    for sid in chosen:
        part = backtest[ids == sid]
        rows = panel.rows(panel.ids.index(sid))
        times = pd.Index(panel.time_labels(np.arange(rows.start, rows.stop)))
        targets = times.get_indexer(part[fmt.time_col].to_numpy())
        lo, last = max(0, int(targets.min()) - fc.lookback), int(targets.max())
        shown.append((sid, times[lo:last + 1], panel.values[rows][lo:last + 1, 0],
                      _forecast_lines(part, group, fmt.time_col, fc.model_name)))
    return shown, note
