"""The integer-option check every layer uses (it imports nothing of samovar, so anything may import it)."""

from __future__ import annotations

from typing import Any


def positive_int(name: str, value: Any, *, minimum: int = 1, or_none: bool = False,
                 error: type[Exception] = ValueError) -> int | None:
    """`value` as an int; `error` naming `name` and the value unless it is an integer >= `minimum`.

    Integral floats (3.0) and numpy integers pass; bools, strings, NaN and infinities do not.
    `minimum` is 1 ("a positive integer") or 0 ("a non-negative integer"); `or_none` lets None
    through (returned as None). `name` is what the message calls the option, e.g.
    "TrainConfig.epochs", "--trials" or "PatchTST layers".
    """
    if value is None and or_none:
        return None
    try:
        ok = not isinstance(value, (bool, str)) and int(value) == value and value >= minimum
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise error(f"{name} must be {kind}{' or None' if or_none else ''}, got {value!r}")
    return int(value)


def check_positive_int(owner: str, **values: Any) -> None:
    """`positive_int` for each keyword, named "<owner> <keyword>" (e.g. "PatchTST layers")."""
    for key, val in values.items():
        positive_int(f"{owner} {key}", val)
