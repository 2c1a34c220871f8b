"""Training: one trainer for every forecasting model, run directories, exact metrics.

Programmatic entry point::

    from samovar.training import TrainConfig, train
    result = train(model, data, TrainConfig(lr=0.005, epochs=10), run_dir="runs/my-run")
    result.test_metrics  # {"mse", "mae", "rmse", "mse_raw", ..., "mape_raw", "smape_raw", "wape_raw", "mase", "windows", "best_epoch"}

    recipe = resolve_recipe("samovar", "ETTh1", 96)   # a model's published recipe (or the LTSF one)
    config = TrainConfig(**{**recipe.train, "epochs": 20})
"""

from .config import TrainConfig, learning_rate
from .metrics import evaluate, predict_windows
from .recipes import Recipe, resolve_recipe
from .trainer import TrainResult, train

__all__ = ["Recipe", "TrainConfig", "TrainResult", "evaluate", "learning_rate", "predict_windows", "resolve_recipe",
           "train"]
