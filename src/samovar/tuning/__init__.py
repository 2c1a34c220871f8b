"""Hyper-parameter search (``samovar tune``): search spaces as data, Optuna studies, a sealed test split.

    from samovar.tuning import tune
    result = tune("dlinear", "ETTh1", 96, trials=20, sampler="tpe", seeds=3)

See ``search.py`` for how a tune runs and ``space.py`` for the search-space format.
"""

from .search import (TunePlan, TuneResult, final_evaluation, final_summary, plan_tune, run_plan, tune, tuned_elsewhere,
                     tuned_recipe, work)

__all__ = ["TunePlan", "TuneResult", "final_evaluation", "final_summary", "plan_tune", "run_plan", "tune",
           "tuned_elsewhere", "tuned_recipe", "work"]
