"""samovar: efficient sequence modelling and SAMoVAR linear-attention forecasting."""

__version__ = "0.1.0"

__all__ = ["__version__"]
