"""The one error type of the data layer."""

from __future__ import annotations


class DataError(ValueError):
    """Bad or missing input data; the message names the problem and how to fix it."""
