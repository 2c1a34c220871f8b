"""Training: one trainer for every forecasting model, run directories, exact metrics.

Programmatic entry point::

    from samovar.training import TrainConfig, train
    result = train(model, data, TrainConfig(lr=0.005, epochs=10), run_dir="runs/my-run")
    result.test_metrics  # {"mse", "mae", "mse_raw", "mae_raw", "windows", "best_epoch"}
"""

from .config import TrainConfig, learning_rate
from .metrics import evaluate, predict_windows
from .trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "evaluate", "learning_rate", "predict_windows", "train"]
