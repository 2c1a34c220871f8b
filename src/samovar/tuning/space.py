"""Search spaces as data, and the one translator from that data to Optuna's ``trial.suggest_*``.

A space maps a key to an entry (``ForecastModel.search_space(dataset, horizon)`` declares one per model):

    "lookback"             the lookback window
    "train.<option>"       a ``TrainConfig`` option (lr, weight_decay, batch_size, ...)
    "model.<option>"       a model constructor option (dropout, d_model, layers, ...)

    [a, b, c]                                  one of these values (categorical; grid-searchable)
    {"low": a, "high": b[, "log": True]}       a number in [a, b]; whole numbers when a and b are ints

A trial's configuration is the published recipe with the sampled keys replaced, so a space
restricted to some keys (``restrict``) leaves every other setting at its published value.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import fields
from typing import Any

from ..training.config import TrainConfig

KEY_HELP = "'lookback', 'train.<TrainConfig option>' or 'model.<model option>'"


def is_choice(entry: Any) -> bool:
    return isinstance(entry, (list, tuple))


def _is_int_range(entry: dict) -> bool:
    return all(isinstance(entry[k], int) and not isinstance(entry[k], bool) for k in ("low", "high"))


def check_space(space: dict[str, Any], model_options: dict[str, Any], owner: str) -> None:
    """Raise ValueError naming the first key or entry of `space` that the tuner cannot use."""
    train_options = {f.name for f in fields(TrainConfig)}
    for key, entry in space.items():
        kind, _, option = key.partition(".")
        known = (key == "lookback" or (kind == "train" and option in train_options)
                 or (kind == "model" and option in model_options))
        if not known:
            raise ValueError(f"{owner} search space key {key!r} is not {KEY_HELP}; model options: "
                             f"{', '.join(model_options) or 'none'}")
        if is_choice(entry):
            if not entry:
                raise ValueError(f"{owner} search space {key!r} lists no values")
            continue
        if not (isinstance(entry, dict) and {"low", "high"} <= set(entry) <= {"low", "high", "log"}):
            raise ValueError(f"{owner} search space {key!r} must be a list of values or "
                             f"{{'low': a, 'high': b[, 'log': True]}}, got {entry!r}")
        low, high = entry["low"], entry["high"]
        if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and math.isfinite(low)
                and math.isfinite(high) and low <= high and (low > 0 or not entry.get("log"))):
            raise ValueError(f"{owner} search space {key!r}: need finite low <= high (and low > 0 with log), got {entry!r}")


def widen(space: dict[str, Any], published: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`space` with every published value inside its entry (a value added to a list, a range
    stretched), and a note for each change: the published recipe is trial 0 and must be a point of the space."""
    out, notes = {}, []
    for key, entry in space.items():
        value = published[key]
        if is_choice(entry):
            if value not in entry:
                entry = [*entry, value]
                notes.append(f"{key}: the published value {value!r} was added to the choices")
        elif value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{key}: the published value {value!r} is not a number, so it cannot lie in the "
                             f"range {entry}; declare a list of values for this key")
        elif not entry["low"] <= value <= entry["high"]:
            entry = {**entry, "low": min(entry["low"], value), "high": max(entry["high"], value)}
            notes.append(f"{key}: the range was stretched to {entry['low']:g}..{entry['high']:g} to hold the published {value:g}")
        out[key] = entry
    return out, notes


def restrict(space: dict[str, Any], keys: list[str] | None) -> dict[str, Any]:
    """Only these keys of `space` (None: all); an unknown key is an error listing the space's keys."""
    if not keys:
        return dict(space)
    unknown = [k for k in keys if k not in space]
    if unknown:
        raise ValueError(f"--space {', '.join(unknown)}: not in this model's search space; its keys: {', '.join(space)}")
    return {k: space[k] for k in keys}


def suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """One value per key from an Optuna trial (fixed values of an enqueued trial come back as enqueued)."""
    params = {}
    for key, entry in space.items():
        if is_choice(entry):
            params[key] = trial.suggest_categorical(key, list(entry))
        elif _is_int_range(entry):
            params[key] = trial.suggest_int(key, entry["low"], entry["high"], log=bool(entry.get("log")))
        else:
            params[key] = trial.suggest_float(key, float(entry["low"]), float(entry["high"]), log=bool(entry.get("log")))
    return params


def grid_points(space: dict[str, Any], first: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a space of lists, `first` (the published point) leading; ranges are an error."""
    ranges = [k for k, entry in space.items() if not is_choice(entry)]
    if ranges:
        raise ValueError(f"grid search needs a list of values for every key; {', '.join(ranges)} "
                         f"{'is a range' if len(ranges) == 1 else 'are ranges'}: restrict the space to "
                         f"listed keys (e.g. --space lookback) or use --sampler tpe")
    keys = list(space)
    points = [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]
    head = {k: first[k] for k in keys}
    return [head] + [p for p in points if p != head]


def published_values(space: dict[str, Any], lookback: int, config: TrainConfig,
                     model_kwargs: dict[str, Any], model_defaults: dict[str, Any]) -> dict[str, Any]:
    """The published recipe's value of every key of `space`."""
    values = {}
    for key in space:
        kind, _, option = key.partition(".")
        if key == "lookback":
            values[key] = lookback
        elif kind == "train":
            values[key] = getattr(config, option)
        else:
            values[key] = model_kwargs.get(option, model_defaults.get(option))
    return values


def apply(params: dict[str, Any], lookback: int, config: TrainConfig,
          model_kwargs: dict[str, Any]) -> tuple[int, TrainConfig, dict[str, Any]]:
    """(lookback, TrainConfig, model kwargs) of the published recipe with `params` put in."""
    train = {k.partition(".")[2]: v for k, v in params.items() if k.startswith("train.")}
    model = {k.partition(".")[2]: v for k, v in params.items() if k.startswith("model.")}
    return int(params.get("lookback", lookback)), TrainConfig(**{**config.to_dict(), **train}), {**model_kwargs, **model}
