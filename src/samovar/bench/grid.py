"""The benchmark grid: cells, budget profiles, lookback policy, training recipes, N/A detection.

A *cell* is one training run: (model, dataset, horizon, lookback, seed) under a profile, in one
setting: "M" (every column forecast and scored, the default) or "MS" (``target``: every column read,
that one forecast and scored, the rest past-only covariates; ``samovar train --target COL``).

Profiles:
  paper  the model's published recipe (``Model.paper_training_config(dataset[, horizon])``
         when the model has one and it covers the dataset), else the common LTSF recipe
         (``TrainConfig()`` defaults); what was used and what could not be expressed is
         recorded in the cell's notes.
  quick  the same recipe on a CPU-sized budget: at most QUICK_EPOCHS epochs and at most
         QUICK_STEPS optimizer steps per epoch (an evenly spaced subset of the training
         windows, shifted every epoch), evaluated QUICK_EVAL_BATCH windows at a time.
         Validation and test always use every window.
  tuned  the configuration `samovar tune` chose on validation (``tuning.tuned_recipe``: the best
         recorded search trial for the model, dataset and horizon; for a user file, of that very file
         read with the same --sep/--decimal/--date-format/--dayfirst) with its lookback; N/A where
         no tune trial is recorded.
  seed   the SAMoVAR authors' scripts exactly (``training/seed.py``): samovar.sh for SAMoVAR,
         LinTrans and FixedVAR at its one lookback per horizon, baseline.sh for the baselines at
         each of its lookbacks 4096, 2048, 1024 and 512 (every one a cell; the seed report picks
         one on validation and shows the test-picked "oracle" beside it). N/A where the scripts
         have no setting for the dataset. ``--lookback`` may only narrow the script's lookbacks.

Lookback policy: "paper" (the paper recipe's lookback for the dataset, as ``samovar train`` uses
it, else ``Model.default_lookback(horizon)``), a fixed number ("336"), or a
list ("96,336,720"): every listed lookback is trained and the report keeps, per
(model, dataset, horizon, seed), the one with the lowest *validation* MSE (never test).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .._checks import positive_int
from ..training.config import EPOCH_SCHEDULES, TrainConfig, epoch_learning_rate
from ..training.recipes import Recipe, resolve_recipe, seed_recipe
from .db import config_hash

PROFILES = ("paper", "quick", "tuned", "seed")
# The quick budget: sized so the deliverable grid (9 models x 6 datasets x 4 horizons) costs a few
# CPU-hours, not days. The costs are measured by benchmarks/bench_quick_timing.py --grid --record; the
# records are in benchmarks/results/bench_quick_timing/ and docs/bench.md ("The quick budget of the
# deliverable grid") is generated from them. One epoch: every further epoch costs another pass over
# every validation window, which for most cells costs more than that epoch's training steps.
QUICK_EPOCHS = 1
QUICK_STEPS = 50
QUICK_EVAL_BATCH = 64  # speed only (the numbers do not depend on it): on 1 CPU thread smaller batches evaluate faster (docs/bench.md)
# TrainConfig options that do not change results (never hashed, set per executor).
RESULT_FREE = ("quiet", "device", "threads", "eval_batch_size", "seed")
FALLBACK_LOOKBACK = 96


def setting_label(target: str | None) -> str:
    """"M" (every column forecast and scored) or "MS (target OT)"."""
    return f"MS (target {target})" if target else "M"


def check_target(target: str | None) -> str | None:
    """One column name (surrounding spaces dropped), or None for M; a list or an empty name is a ValueError."""
    if target is None:
        return None
    name = str(target).strip()
    if not name or "," in name:
        raise ValueError(f"--target {target!r}: give one column name (the MS setting forecasts and scores one column)")
    return name


def quick_label(epochs: int, steps: int) -> str:
    """The words every quick-profile output carries (CLI, report)."""
    return (f"quick — a CPU-sized budget, NOT the papers' settings: at most {epochs} epoch(s) of at most {steps} "
            "optimizer steps (evenly spaced training windows); validation and test use every window")


def budget_of(cells: list["Cell"]) -> tuple[int, int]:
    """(largest epoch count, largest step cap) of the cells (the defaults when none is set)."""
    epochs = [int(c.train.get("epochs", TrainConfig.epochs)) for c in cells]
    steps = [c.max_steps_per_epoch for c in cells if c.max_steps_per_epoch]
    return max(epochs or [QUICK_EPOCHS]), max(steps or [QUICK_STEPS])


@dataclass
class Cell:
    """One run of the grid, fully resolved (picklable; sent to worker processes)."""

    model: str
    dataset: str
    horizon: int
    lookback: int
    seed: int
    profile: str
    train: dict[str, Any]  # TrainConfig keyword arguments (seed excluded)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    max_steps_per_epoch: int | None = None
    recipe: str = ""
    notes: list[str] = field(default_factory=list)
    data_dir: str | None = None
    na_reason: str | None = None
    est_cpu_hours: float | None = None  # the cost estimate of a cell N/A for exceeding --max-cell-hours
    target: str | None = None  # MS: the one column forecast and scored (None: M, every column)
    sep: str = ","  # how the cell's CSV file is written (a user file; registered ones are always ",", ".")
    decimal: str = "."
    date_format: str | None = None  # how the text dates of the cell's file are read (a user file)
    dayfirst: bool = False

    def config(self) -> dict[str, Any]:
        """Everything that changes the result besides the key columns; hashed into the key.

        An MS cell adds its "target", a file read with another sep, decimal, date_format or dayfirst those; an
        M cell of a comma-separated file read with the default date options has no such entry, so its hash is
        what it always was."""
        train = {k: v for k, v in self.train.items() if k not in RESULT_FREE}
        return {"profile": self.profile, "train": train, "model_kwargs": self.model_kwargs,
                "max_steps_per_epoch": self.max_steps_per_epoch, "recipe": self.recipe,
                **({"target": self.target} if self.target else {}), **self.dialect()}

    def dialect(self) -> dict[str, Any]:
        """The ``prepare_data`` sep / decimal / date_format / dayfirst keywords of the cell's file where they are
        not the defaults."""
        from ..data.io import reading_options

        return reading_options(self.sep, self.decimal, self.date_format, self.dayfirst)

    def inputs(self) -> dict[str, Any]:
        """The ``prepare_data`` keywords of the cell's setting, as `samovar train --target COL` passes them,
        and of how its file is read (--sep, --decimal, --date-format, --dayfirst)."""
        return {**({"target": [self.target]} if self.target else {}), **self.dialect()}

    def key(self, code_version: str) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "horizon": self.horizon, "lookback": self.lookback,
                "seed": self.seed, "code_version": code_version, "config_hash": config_hash(self.config())}

    def train_config(self, **overrides: Any) -> TrainConfig:
        return TrainConfig(**{**self.train, "seed": self.seed, **overrides})

    def label(self) -> str:
        return (f"{self.model}/{self.dataset}/H{self.horizon}/L{self.lookback}/seed{self.seed}"
                + (f"/MS-{self.target}" if self.target else ""))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- parsing


def parse_list(text: str | list | tuple, what: str, cast=str) -> list:
    """"a,b c" -> [a, b, c] (cast each); an empty list is an error naming `what`."""
    items = text if isinstance(text, (list, tuple)) else str(text).replace(",", " ").split()
    try:
        out = [cast(i) for i in items if str(i).strip()]
    except ValueError:
        raise ValueError(f"--{what} {text!r}: expected a comma-separated list of {cast.__name__}s") from None
    if not out:
        raise ValueError(f"--{what} is empty; give at least one value")
    if cast is int and any(v < 1 for v in out) and what != "seeds":
        raise ValueError(f"--{what} {text!r}: values must be positive integers")
    return list(dict.fromkeys(out))  # order kept, duplicates dropped


def lookbacks_for(policy: str | int, model_cls: type, horizon: int,
                  published: int | None = None) -> tuple[list[int], str | None]:
    """(candidate lookbacks, note) for a policy: "paper", "336" or "96,336,720".

    "paper": `published` (the paper recipe's lookback for the cell's dataset, as `samovar train`
    uses it) when given, else ``Model.default_lookback(horizon)``."""
    text = str(policy).strip().lower()
    if text == "paper":
        lookback = published or model_cls.default_lookback(int(horizon))
        if lookback is None:
            return [FALLBACK_LOOKBACK], f"no published lookback for this horizon; used {FALLBACK_LOOKBACK}"
        return [int(lookback)], None
    values = parse_list(text, "lookback", int)
    note = None if len(values) == 1 else f"lookback chosen on validation MSE among {values}"
    return values, note


# ----------------------------------------------------------------------------- recipes


def cell_recipe(recipe: Recipe) -> tuple[dict, dict, str, list[str]]:
    """(TrainConfig kwargs, model kwargs, recipe label, notes) of a grid cell trained with `recipe`.

    The paper and quick profiles pass ``samovar.training.recipes.resolve_recipe(model, dataset,
    horizon, "auto")``, the one `samovar train` uses (the grid has no recipe logic of its own: where
    ``--recipe paper`` resolves, the cell gets the same recipe; where it is refused, the cell falls
    back to the LTSF recipe with the stated reason in its notes). The options the grid sets itself
    (RESULT_FREE: seed, device, threads, ...) are left out. Whatever the trainer cannot express is
    named in the notes, never silently dropped.
    """
    train = {k: v for k, v in recipe.train.items() if k not in RESULT_FREE}
    return train, dict(recipe.model_kwargs), recipe.label, list(recipe.notes)


# ----------------------------------------------------------------------------- N/A detection


def canonical_dataset(name: str) -> str:
    """Registered names in their registry spelling ("etth1" -> "ETTh1"); anything else unchanged."""
    from ..data.registry import find_spec

    spec = find_spec(name)
    return spec.name if spec is not None else name


def na_reason(dataset: str, lookback: int, horizon: int, data_dir: str | None = None, download: bool = False,
              sep: str = ",", decimal: str = ".", date_format: str | None = None, dayfirst: bool = False) -> str | None:
    """Why the cell cannot exist (dataset file absent, a split without a full window), or None; sep, decimal:
    how a user's CSV file is written, date_format, dayfirst: how its text dates are read."""
    from ..data import DataError, prepare_data
    from ..data.io import find_local, search_locations
    from ..data.registry import find_spec
    from ..data.splits import check_split_sizes

    spec = find_spec(dataset)
    if spec is None:
        try:  # synthetic or a user file: load it (the data layer checks every split)
            prepare_data(dataset, lookback=lookback, horizon=horizon, data_dir=data_dir, sep=sep, decimal=decimal,
                         date_format=date_format, dayfirst=dayfirst)
        except DataError as exc:
            return str(exc)
        return None
    if not download and find_local(spec, data_dir) is None:
        where = "; ".join(str(path) for _, path in search_locations(data_dir))
        return f"dataset {spec.name} is not available locally (looked in {where}); pass --data-dir or --download"
    try:
        check_split_sizes(spec.protocol, spec.rows, lookback, horizon, spec.name)
    except DataError as exc:
        return str(exc)
    return None


def ms_model_reason(model: str, model_cls: type, target: str) -> str | None:
    """Why `model` cannot run the MS setting (it does not take past-only covariates, which the setting reads from
    every other column), or None; the reason samovar train gives, with the setting."""
    from ..training.modelspec import covariate_reason

    reason = covariate_reason(model, ["past"])
    return f"{reason} (the MS setting, --target {target}, reads every other column as one)" if reason else None


def target_reason(dataset: str, target: str, data_dir: str | None = None, download: bool = False, sep: str = ",",
                  decimal: str = ".", date_format: str | None = None, dayfirst: bool = False) -> str | None:
    """Why `dataset` has no column `target` (naming its columns), or None; None too when the dataset cannot
    be read at all (`na_reason` gives that reason)."""
    from ..data import DataError
    from ..data.covariates import resolve_inputs
    from ..data.io import find_local
    from ..data.prepare import load_table
    from ..data.registry import find_spec

    spec = find_spec(dataset)
    if spec is not None and not download and find_local(spec, data_dir) is None:
        return None
    try:
        columns = load_table(dataset, data_dir=data_dir, sep=sep, decimal=decimal, date_format=date_format,
                             dayfirst=dayfirst).columns
        resolve_inputs(columns, target=[target])
    except DataError as exc:
        if target in str(exc):
            return f"{dataset}: {exc}"
        return None
    return None


def refuse_unused_file_options(datasets: list[str], *, sep: str = ",", decimal: str = ".",
                               date_format: str | None = None, dayfirst: bool = False) -> None:
    """ValueError naming the options that describe the user's own files (sep, decimal: how a CSV is written;
    date_format, dayfirst: how its text dates are read) given for a grid whose `datasets` hold none: registered
    datasets and "synthetic" are read by samovar in its own format, so the options would be silently ignored.
    A grid with a user file takes them (its registered and built-in cells ignore them)."""
    from ..data.io import READING_FLAGS, reading_options
    from ..data.prepare import builtin_name

    builtins = [builtin_name(d) for d in datasets]
    if any(b is None for b in builtins):
        return
    given = [(f"{k}={v!r}", READING_FLAGS[k]) for k, v in reading_options(sep, decimal, date_format, dayfirst).items()]
    if not given:
        return
    names = list(dict.fromkeys(builtins))
    them, does = ("them", "do") if len(given) > 1 else ("it", "does")
    are = "are" if len(names) > 1 else "is"
    raise ValueError(f"{' and '.join(names)} {are} read by samovar in its own format and none of the datasets "
                     f"(--datasets) is a file of your own, so {', '.join(g for g, _ in given)} (how your own CSV "
                     f"files are written and their text dates read) {does} not apply; drop {them} (command line: "
                     f"{', '.join(o for _, o in given)}), or add your file's path to --datasets")


# ----------------------------------------------------------------------------- the grid


def _capped_schedule_notes(train: dict[str, Any]) -> list[str]:
    """What an epoch cap does to a per-epoch schedule that starts below the recipe's lr."""
    config = TrainConfig(**train)
    if config.schedule not in EPOCH_SCHEDULES or config.pre_schedule_lr_div == 1.0:
        return []
    rates = [epoch_learning_rate(config.schedule, config.lr, e, config.pre_schedule_lr_div) for e in range(config.epochs)]
    if max(rates) >= config.lr:
        return []
    return [f"with {config.epochs} epoch(s) the {config.schedule!r} schedule never leaves its starting lr "
            f"{config.lr:g} / {config.pre_schedule_lr_div:g} (the recipe's lr {config.lr:g} is set only after a later epoch)"]


def plan(
    models: list[str],
    datasets: list[str],
    horizons: list[int],
    seeds: list[int],
    *,
    profile: str = "quick",
    lookback: str | int = "paper",
    max_epochs: int | None = None,
    max_steps_per_epoch: int | None = None,
    data_dir: str | None = None,
    download: bool = False,
    overrides: dict[str, Any] | None = None,
    tuned_db: Any = None,
    target: str | None = None,
    sep: str = ",",
    decimal: str = ".",
    date_format: str | None = None,
    dayfirst: bool = False,
) -> list[Cell]:
    """Expand the grid into resolved cells (N/A cells carry their reason).

    max_epochs / max_steps_per_epoch: budget caps (quick defaults: QUICK_EPOCHS / QUICK_STEPS).
    overrides: TrainConfig options forced on every cell (e.g. {"lr": 1e-3}); recorded in the hash.
    tuned_db: the ResultsDB holding `samovar tune` trials (profile "tuned").
    target: the MS setting with this target column (None: M). A model that does not take past-only
    covariates, or a dataset without the column, gives N/A cells with the reason.
    sep, decimal: how the user's CSV files among `datasets` are written, date_format, dayfirst: how their text
    dates are read (registered and built-in data: always read in their own format, so their cells' hashes do
    not change); with no user file among `datasets` they are a ValueError (`refuse_unused_file_options`).
    """
    from .. import models as registry
    from ..data.io import csv_dialect
    from ..data.registry import find_spec
    from ..data.synthetic import parse_synthetic_source

    if profile not in PROFILES:
        raise ValueError(f"--profile {profile!r}: choose one of {PROFILES}")
    if profile == "tuned" and (tuned_db is None or str(lookback).strip().lower() != "paper"):
        raise ValueError("--profile tuned trains each tuned configuration with its own lookback, from the results "
                         "database's tune trials: drop --lookback (and give --db)")
    if profile == "quick":
        max_epochs = QUICK_EPOCHS if max_epochs is None else max_epochs
        max_steps_per_epoch = QUICK_STEPS if max_steps_per_epoch is None else max_steps_per_epoch
    positive_int("--max-epochs", max_epochs, or_none=True)
    positive_int("--max-steps", max_steps_per_epoch, or_none=True)
    retired = [registry.RETIRED[m.lower()] for m in models if m.lower() in registry.RETIRED]
    if retired:
        raise ValueError("; ".join(dict.fromkeys(retired)))
    unknown = [m for m in models if m.lower() not in registry.available()]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; registered: {', '.join(registry.available())}")
    target = check_target(target)
    sep, decimal = csv_dialect(sep, decimal)
    refuse_unused_file_options(datasets, sep=sep, decimal=decimal, date_format=date_format, dayfirst=dayfirst)
    cells: list[Cell] = []
    na_cache: dict[tuple, str | None] = {}
    target_cache: dict[str, str | None] = {}
    for model in (m.lower() for m in models):
        cls = registry.model_class(model)
        model_na = ms_model_reason(model, cls, target) if target else None
        for dataset in map(canonical_dataset, datasets):
            user_file = find_spec(dataset) is None and parse_synthetic_source(dataset) is None
            dialect = ({"sep": sep, "decimal": decimal, "date_format": date_format, "dayfirst": bool(dayfirst)}
                       if user_file else {})
            if target and dataset not in target_cache:
                target_cache[dataset] = target_reason(dataset, target, data_dir, download, **dialect)
            setting_na = model_na or (target_cache[dataset] if target else None)
            for horizon in horizons:
                missing = None
                if profile == "tuned":
                    train, model_kwargs, recipe, candidates, missing = _tuned(tuned_db, model, cls, dataset, horizon,
                                                                              dialect)
                    notes, lb_note = ([f"the tuned configuration was searched in the M setting, trained here as MS "
                                       f"(target {target})"] if target else []), None
                elif profile == "seed":
                    train, model_kwargs, recipe, notes, candidates, missing = _seed(model, dataset, horizon, lookback)
                    lb_note = None
                else:
                    resolved = resolve_recipe(model, dataset, horizon, "auto")
                    train, model_kwargs, recipe, notes = cell_recipe(resolved)
                    published = resolved.lookback if resolved.name == "paper" else None
                    candidates, lb_note = lookbacks_for(lookback, cls, horizon, published)
                if max_epochs is not None and train.get("epochs", TrainConfig.epochs) > max_epochs:
                    train["epochs"] = int(max_epochs)
                    notes = notes + _capped_schedule_notes(train)
                if profile == "quick":
                    train.setdefault("eval_batch_size", QUICK_EVAL_BATCH)
                if overrides:
                    train.update(overrides)
                TrainConfig(**train)  # validate now, not in a worker
                for lb in candidates:
                    if (dataset, lb, horizon) not in na_cache:
                        na_cache[dataset, lb, horizon] = na_reason(dataset, lb, horizon, data_dir, download, **dialect)
                    for seed in seeds:
                        cells.append(Cell(
                            model=model, dataset=dataset, horizon=int(horizon), lookback=int(lb), seed=int(seed),
                            profile=profile, train=dict(train), model_kwargs=dict(model_kwargs),
                            max_steps_per_epoch=max_steps_per_epoch, recipe=recipe,
                            notes=notes + ([lb_note] if lb_note else []), data_dir=data_dir,
                            na_reason=missing or setting_na or na_cache[dataset, lb, horizon], target=target,
                            **dialect,
                        ))
    return cells


def _seed(model: str, dataset: str, horizon: int, policy: str | int) -> tuple:
    """(train, model kwargs, recipe label, notes, lookbacks, N/A reason or None) of a seed-profile cell.

    policy "paper" (the default): every lookback of the authors' script; a list narrows them (a value
    the script does not train is an error)."""
    from ..training.seed import script_of, seed_lookbacks

    script_of(model)  # a model in neither script: the error names the ones that are
    lookbacks = list(seed_lookbacks(model, horizon))
    if str(policy).strip().lower() != "paper":
        asked = parse_list(str(policy), "lookback", int)
        outside = [lb for lb in asked if lb not in lookbacks]
        if outside:
            raise ValueError(f"--profile seed trains {model} at horizon {horizon} with lookback(s) "
                             f"{', '.join(map(str, lookbacks))} only (the authors' script); --lookback {policy} "
                             f"asks for {', '.join(map(str, outside))}")
        lookbacks = [lb for lb in lookbacks if lb in asked]
    try:
        recipe = seed_recipe(model, dataset, horizon)
    except ValueError as exc:
        return {}, {}, "seed", [], lookbacks, str(exc)
    train, model_kwargs, label, notes = cell_recipe(recipe)
    return train, model_kwargs, label, notes, lookbacks, None


def _tuned(db: Any, model: str, cls: type, dataset: str, horizon: int, dialect: dict[str, Any] | None = None) -> tuple:
    """(train, model kwargs, recipe label, lookbacks, N/A reason or None) of a tuned cell.

    dialect: how a user file `dataset` is read (sep, decimal, date_format, dayfirst; empty for registered and
    built-in data): only the trials of that file read that way count; the N/A reason names the same-named
    files (or other readings) that were tuned instead."""
    from ..training.recipes import recipe_dataset_name
    from ..tuning import tuned_elsewhere, tuned_recipe
    from ..data.io import reading_options
    from ..tuning.search import read_with

    dialect = dialect or {}
    tuned = tuned_recipe(db, model, dataset, horizon, **dialect)
    if tuned is None:
        lookbacks, _ = lookbacks_for("paper", cls, horizon)
        options = read_with(reading_options(**dialect))
        elsewhere = tuned_elsewhere(db, model, dataset, horizon, **dialect)
        read = f" (read with {options})" if options else (" (read with the defaults)" if elsewhere else "")
        other = (f"; trials of another file named {recipe_dataset_name(dataset)} (or of this file read another way) "
                 f"exist: {', '.join(elsewhere)}, they are not used for this file" if elsewhere else "")
        return ({}, {}, "tuned", lookbacks,
                f"no completed `samovar tune` trial of {model} on {dataset}{read} at horizon {horizon} in {db.path}"
                f"{other}; run samovar tune --model {model} --dataset {dataset} --horizon {horizon} --db {db.path}"
                + (f" {options}" if options else ""))
    train = {k: v for k, v in tuned["train"].items() if k not in RESULT_FREE}
    return train, tuned["model_kwargs"], tuned["label"], [tuned["lookback"]], None
