"""samovar: efficient sequence modelling and SAMoVAR linear-attention forecasting."""

from ._version import __version__

__all__ = ["Forecaster", "__version__", "tune"]


def __getattr__(name: str):
    # `samovar.Forecaster` is imported on first use, so `import samovar` stays light.
    if name == "Forecaster":
        from .api import Forecaster

        return Forecaster
    if name == "tune":  # samovar.tune(...): hyper-parameter search (samovar.tuning)
        from .tuning import tune

        return tune
    raise AttributeError(f"module 'samovar' has no attribute {name!r}")
