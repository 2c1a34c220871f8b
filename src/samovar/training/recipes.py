"""Training recipes by name: a model's published recipe ("paper"), the common LTSF one ("ltsf"), or the
SAMoVAR authors' scripts for the models of their main table ("seed", ``training/seed.py``).

    recipe = resolve_recipe("samovar", "ETTh1", 96)            # "auto": paper when the model has one
    config = TrainConfig(**{**recipe.train, "epochs": 20})     # explicit options override single fields
    model = get("samovar", ..., **recipe.model_kwargs)

A model publishes its recipe as ``Model.paper_training_config(dataset[, horizon][, **options]) -> dict``
(options: e.g. FITS's and CATS's ``script``, which of the authors' scripts):
either plain TrainConfig keyword arguments (SAMoVAR, LinTrans, FixedVAR) or a description with
``source``, ``lookback``, ``model`` (constructor hyper-parameters), ``dropout``, ``search`` and
``notes`` (what the authors' script does that the trainer does not) beside the TrainConfig options
(the baselines). A dataset the authors give no setting for is a ValueError stating why, which
"auto" turns into the LTSF fallback with that reason in the notes. Whatever the trainer cannot apply is named in
``Recipe.notes``, never silently dropped.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field, fields
from typing import Any

from .config import SCHEDULES, TrainConfig
from .modelspec import model_class, model_options

RECIPES = ("auto", "paper", "ltsf", "seed")
LTSF_LABEL = "ltsf-default"

# Models of the published reference tables (shared/reference/seed_table.csv) that samovar does not
# implement: why no recipe resolves for them.
NOT_IMPLEMENTED: dict[str, str] = {}


@dataclass
class Recipe:
    """A resolved recipe: TrainConfig keyword arguments, model hyper-parameters, a label and notes."""

    name: str  # "paper" | "ltsf" | "seed"
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig kwargs (the recipe's seed included)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = LTSF_LABEL  # "paper (<source>)" | "ltsf-default"
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # paper_training_config options (e.g. {"script": "fin"})
    lookback: int | None = None  # the published lookback (the caller chooses the lookback it trains with)
    published: dict[str, Any] = field(default_factory=dict)  # paper_training_config's dict as returned
    lookbacks: tuple[int, ...] = ()  # "seed": every lookback the authors' script trains at this horizon

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "notes": list(self.notes),
                **({"options": dict(self.options)} if self.options else {})}


def paper_recipe(model_cls: type, dataset: str, horizon: int,
                 options: dict[str, Any] | None = None) -> tuple[dict | None, str]:
    """The model's published recipe for this dataset (a copy), or (None, why not).

    options: further keyword arguments of ``paper_training_config`` (e.g. ``{"script": "fin"}``);
    one it does not take is a ValueError naming the ones it does.
    """
    method = getattr(model_cls, "paper_training_config", None)
    if method is None:
        return None, f"{model_cls.__name__} publishes no training recipe (no paper_training_config)"
    params = inspect.signature(method).parameters
    kwargs = {"horizon": horizon} if "horizon" in params else {}
    options = dict(options or {})
    accepted = [k for k in params if k not in ("cls", "self", "dataset", "horizon")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{model_cls.__name__}.paper_training_config has no option(s) {unknown}; "
                         f"its options: {accepted or 'none'}")
    try:
        return copy.deepcopy(dict(method(dataset, **kwargs, **options))), ""
    except (ValueError, KeyError) as exc:
        return None, f"no published recipe for {dataset}: {exc}"


def recipe_dataset_name(source: Any) -> str:
    """The dataset name a recipe is looked up by: a registered name in its registry spelling,
    a file's stem ("data/ETTh1.csv" -> "ETTh1"), else the text given ("<DataFrame>" for tables)."""
    from pathlib import Path

    from ..data.registry import find_spec

    if not isinstance(source, (str, Path)):
        return f"<{type(source).__name__}>"
    text = str(source)
    name = Path(text).name.split(".")[0] if Path(text).suffix else text
    spec = find_spec(name)
    return spec.name if spec is not None else name


def resolve_recipe(model: str, dataset: str, horizon: int, recipe: str = "auto",
                   options: dict[str, Any] | None = None) -> Recipe:
    """The recipe to train `model` on `dataset` at `horizon` with.

    recipe: "seed" (the SAMoVAR authors' samovar.sh / baseline.sh, ``training/seed.py``; its
    ``lookback`` is the first of the script's lookbacks that fits the dataset, ``lookbacks`` all of them),
    "paper" (the model's published recipe; ValueError if it has none for the dataset),
    "ltsf" (TrainConfig defaults: Adam, lr 1e-4, type1, 10 epochs, patience 3) or "auto"
    (paper when the model has one covering the dataset, else ltsf, with the reason in the notes).
    options: keyword arguments of ``paper_training_config`` choosing among published recipes
    (e.g. FITS ``{"script": "fin"}``); given, a missing paper recipe is an error even with "auto".
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
    if model.lower() in NOT_IMPLEMENTED:
        raise ValueError(f"unknown model {model!r}: {NOT_IMPLEMENTED[model.lower()]}")
    cls = model_class(model)
    if recipe == "seed":
        from .seed import seed_lookback

        if options:
            raise ValueError(f"recipe options {dict(options)} apply to the paper recipe, not to 'seed'")
        rec = seed_recipe(model, dataset, horizon)
        rec.lookback = seed_lookback(model, dataset, horizon)
        return rec
    if recipe == "ltsf":
        if options:
            raise ValueError(f"recipe options {dict(options)} apply to the paper recipe, not to 'ltsf'")
        return Recipe("ltsf")
    raw, why = paper_recipe(cls, dataset, horizon, options)
    if raw is None:
        if recipe == "paper" or options:
            raise ValueError(f"recipe 'paper' for {model}: {why}; use the generic recipe (--recipe ltsf)")
        return Recipe("ltsf", notes=[f"{why}; used the LTSF default recipe (TrainConfig defaults)"])
    return _from_description("paper", model, cls, raw, options)


def seed_recipe(model: str, dataset: str, horizon: int) -> Recipe:
    """The "seed" recipe (the SAMoVAR authors' script for `model`) with every lookback of the script in
    ``lookbacks`` and none chosen (``lookback`` None); ValueError when the script has no setting for it."""
    from .seed import seed_lookbacks, seed_training_config

    rec = _from_description("seed", model, model_class(model), seed_training_config(model, dataset, horizon), {})
    rec.lookback, rec.lookbacks = None, seed_lookbacks(model, horizon)
    return rec


def _from_description(name: str, model: str, cls: type, raw: dict[str, Any],
                      options: dict[str, Any] | None) -> Recipe:
    """A Recipe from a ``paper_training_config``-style description (consumed: pass a copy)."""
    published = copy.deepcopy(raw)
    known = {f.name for f in fields(TrainConfig)}
    train, notes = {}, []
    source = raw.pop("source", None)
    model_kwargs = dict(raw.pop("model", {}) or {})
    lookback = raw.pop("lookback", None)  # the lookback is the caller's (default: Model.default_lookback(horizon))
    if "dropout" in model_kwargs or raw.get("dropout") == 0:  # given to the model, or none to apply
        raw.pop("dropout", None)
    notes.extend(raw.pop("notes", None) or [])  # the recipe's own remarks (what the trainer does differently)
    search = raw.pop("search", None)
    if search:
        notes.append(f"the paper searched {search}; not searched here (the recipe's values used)")
    for key, value in raw.items():
        if key == "schedule" and value not in SCHEDULES:
            notes.append(f"schedule {value!r} is not available in the trainer; used {TrainConfig.schedule!r}")
        elif key in known:
            train[key] = value
        else:
            notes.append(f"recipe option {key}={value!r} cannot be expressed by TrainConfig; ignored")
    accepted = model_options(model)
    dropped = sorted(set(model_kwargs) - set(accepted))
    if dropped:
        notes.append(f"recipe model options {dropped} are not options of {model}; ignored")
        model_kwargs = {k: v for k, v in model_kwargs.items() if k in accepted}
    label = f"{name} ({source or f'{cls.__name__}.paper_training_config'})"
    return Recipe(name, train, model_kwargs, label, notes, dict(options or {}), lookback, published)


def paper_recipe_or_reason(model: str, dataset: str, horizon: int,
                           options: dict[str, Any] | None = None) -> tuple[Recipe | None, str]:
    """(the model's published recipe for `dataset` at `horizon`, "") or (None, the stated reason
    why there is none: the model is not implemented, or its authors give no setting for the dataset)."""
    if model.lower() in NOT_IMPLEMENTED:
        return None, NOT_IMPLEMENTED[model.lower()]
    raw, why = paper_recipe(model_class(model), dataset, horizon, options)
    if raw is None:
        return None, why
    return resolve_recipe(model, dataset, horizon, "paper", options), ""


__all__ = ["NOT_IMPLEMENTED", "RECIPES", "Recipe", "paper_recipe", "paper_recipe_or_reason", "recipe_dataset_name",
           "resolve_recipe", "seed_recipe"]
