"""``samovar bench``: grid runs into a results database, ranked tables and plots.

    samovar bench run --models dlinear,samovar --datasets ETTh1 --horizons 96,192 --profile quick
    samovar bench report --out docs/results/bench

Modules: ``db`` (the SQLite store), ``grid`` (cells, lookback policy, profiles, N/A detection),
``runner`` (one cell; local / Ray executors), ``ddp`` (one run over several processes),
``report`` (tables and plots), ``reference`` (published numbers, never ranked).
"""

from .db import ResultsDB, code_version, default_db_path

__all__ = ["ResultsDB", "code_version", "default_db_path"]
