"""Tuned comparison: SAMoVAR, LinTrans, FixedVAR, DLinear and FITS, each tuned on validation with
`samovar tune`, then retrained with 3 seeds and scored on every test window.

    python benchmarks/tuned.py measure                    # step costs -> benchmarks/results/tuned/costs.json
    python benchmarks/tuned.py plan [--budget 10]         # cells, spaces, trials, epoch caps, CPU-hours, cuts
    SAMOVAR_DATA_DIR=../shared/data python benchmarks/tuned.py run --all --workers 1      # resumable
    SAMOVAR_DATA_DIR=../shared/data python benchmarks/tuned.py run --cell dlinear-ETTh1-H96
    python benchmarks/tuned.py export                     # per-cell records -> benchmarks/results/tuned/
    python benchmarks/tuned.py table                      # docs/results/tuned.md and the README's headline block

`measure` times a few optimizer steps (forward, loss, backward, clip, optimizer step at the recipe's
batch) and a no-grad validation batch for every (model, horizon, lookback) of the search spaces, at one
torch thread, on random data of ETTh1's shape; the conditions (load average, torch version, nice level,
batch sizes, repeats) are stored with the numbers. `plan` turns them into CPU-hours per cell (optimizer
steps per epoch x step cost + validation windows x cost per window, times the expected epochs) and applies
the cuts of CUTS, in order, until the total fits the budget: trials and epochs first, cells last.

`run` runs each cell's study with `samovar.tuning` (Optuna storage and results database in --root, default
~/.cache/samovar/tuned-runs, outside the checkout; a killed run continues where it stopped), cheap cells and
horizon 96 first, then the oracle runs: after the search, each searched lookback's best-on-validation
configuration is trained and scored on test (never used to choose anything). `export` writes one record per
cell (no absolute paths); `table` reads only those records (and costs.json for the cost of cells not run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block  # noqa: E402
from _timing import measure as time_forms  # noqa: E402
from probabilistic import git_commit  # noqa: E402  (the house helper of benchmark records)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "tuned"
COSTS = RESULTS / "costs.json"
TABLE = REPO / "docs" / "results" / "tuned.md"
README = REPO / "README.md"
RUNS = Path.home() / ".cache" / "samovar" / "tuned-runs"
# the SAMoVAR paper's averages for these five models on ETTh1/ETTh2, the rows of the shared reference table
# (../shared/reference/seed_table.csv) copied with their source column
PUBLISHED = RESULTS / "published.csv"
REPRODUCTION = REPO / "benchmarks" / "results" / "samovar"  # the paper-recipe runs of the SAMoVAR family

FAMILY = ("samovar", "lintrans", "fixedvar")  # the paper's model and its two ablations
LINEAR = ("dlinear", "fits")  # the strongest cheap baselines
MODELS = (*LINEAR, *FAMILY)  # the run order within a horizon: cheap first
HORIZONS = (96, 192, 336, 720)
DATASETS = ("ETTh1", "ETTh2")  # ETTh2 only if the budget allows
CHANNELS = 7  # ETTh1 and ETTh2: the same shape and protocol, so ETTh1's measured costs stand for both
# the search space for the family: lookback, learning rate and dropout (width, depth and weight decay stay at
# the published recipe, so the three models keep the architecture the paper compares); DLinear and FITS search
# their whole declared space (`Model.search_space`)
FAMILY_SPACE = ("lookback", "train.lr", "model.dropout")
SEEDS = 3  # final runs of the chosen configuration
ORACLE_SEEDS = 1  # final runs of each other lookback's best-on-validation configuration (the oracle column)
SAMPLER_SEED = 2024
PRUNED_SHARE = 1 / 3  # assumed share of trials after the median pruner's 3 start-up trials that it stops
PRUNED_AT = 3  # the median pruner (n_warmup_steps=2) stops a trial at epoch 3 at the earliest
SETUP_SECONDS = 2.0  # per training: data preparation and model construction (ETTh1 is 17,420 rows)
README_START, README_END = "<!-- tuned-table:start -->", "<!-- tuned-table:end -->"


@dataclass(frozen=True)
class Cell:
    model: str
    dataset: str
    horizon: int
    trials: int
    epochs: int | None  # cap on every trial and final run (None: the recipe's epochs and patience)
    seeds: int = SEEDS
    oracle_seeds: int = ORACLE_SEEDS

    @property
    def name(self) -> str:
        return f"{self.model}-{self.dataset}-H{self.horizon}"

    @property
    def space(self) -> list[str] | None:
        return list(FAMILY_SPACE) if self.model in FAMILY else None


# The uncut deliverable, then the cuts in the order `plan` applies them until the estimate fits the budget:
# trials and epoch caps first, cells (ETTh2) last. Each cut is (description, function of the cell list).
UNCUT = {"family_trials": 20, "family_epochs": None, "linear_trials": 50, "linear_epochs": None}


def _set(cells: list[Cell], models: tuple[str, ...], **change: Any) -> list[Cell]:
    return [replace(c, **change) if c.model in models else c for c in cells]


CUTS: list[tuple[str, bool, Any]] = [  # (description, removes cells, cut)
    ("SAMoVAR family: epochs capped at 10 (the recipe's 100 epochs with patience 12 run 13-26 epochs here; "
     "the one-cycle schedule spans the cap)",
     False, lambda cells: _set(cells, FAMILY, epochs=10)),
    ("SAMoVAR family: 12 trials per cell instead of 20 (the planned minimum)",
     False, lambda cells: _set(cells, FAMILY, trials=12)),
    ("DLinear and FITS: 24 trials per cell instead of 50", False, lambda cells: _set(cells, LINEAR, trials=24)),
    ("FITS: epochs capped at 20 (its recipe: 50 epochs, patience 20)",
     False, lambda cells: [replace(c, epochs=20) if c.model == "fits" else c for c in cells]),
    ("SAMoVAR family: epochs capped at 6", False, lambda cells: _set(cells, FAMILY, epochs=6)),
    ("ETTh2: the SAMoVAR family's cells dropped",
     True, lambda cells: [c for c in cells if not (c.dataset == "ETTh2" and c.model in FAMILY)]),
    ("ETTh2: every cell dropped", True, lambda cells: [c for c in cells if c.dataset != "ETTh2"]),
]


def uncut_cells() -> list[Cell]:
    """Every cell of the deliverable before any cut, in run order: ETTh1 before ETTh2, horizon 96 first,
    DLinear and FITS (minutes) first at every horizon, then SAMoVAR's ablations and SAMoVAR."""
    cells = []
    for dataset in DATASETS:
        for horizon in HORIZONS:
            for model in MODELS:
                family = model in FAMILY
                cells.append(Cell(model, dataset, horizon, UNCUT["family_trials" if family else "linear_trials"],
                                  UNCUT["family_epochs" if family else "linear_epochs"]))
    # cheap cells of every horizon first on each dataset, then the family by horizon
    return sorted(cells, key=lambda c: (DATASETS.index(c.dataset), c.model in FAMILY, HORIZONS.index(c.horizon),
                                        MODELS.index(c.model)))


def fail(message: str) -> None:
    """Bad input or a missing prerequisite: one line naming it and the fix, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


# ----------------------------------------------------------------------------- measure


def _recipe(model: str, dataset: str, horizon: int) -> tuple[Any, dict[str, Any]]:
    from samovar.training.runs import recipe_training

    config, kwargs, _ = recipe_training(model, dataset, horizon, "auto", {"device": "cpu", "threads": 1, "quiet": True})
    return config, kwargs


def search_lookbacks(model: str, dataset: str, horizon: int) -> list[int]:
    """The lookbacks `samovar tune` searches for this cell (the declared list, the published one added, those
    that leave a split without a window dropped), from its own planning code."""
    from samovar.tuning.search import lookbacks_that_fit
    from samovar.training.runs import model_class, resolve_lookback

    space = model_class(model).search_space(dataset, horizon)
    published = resolve_lookback(model, None, horizon)
    lookbacks = sorted({*space["lookback"], published})
    kept, _ = lookbacks_that_fit(dataset, lookbacks, horizon, None, None, "error")
    return kept


def windows(dataset: str, lookback: int, horizon: int) -> dict[str, int]:
    """Windows per split under the dataset's published protocol (no data is read)."""
    from samovar.data.registry import find_spec
    from samovar.data.splits import split_rows

    spec = find_spec(dataset)
    borders = split_rows(spec.protocol, spec.rows, lookback)
    return {s: hi - lo - lookback - horizon + 1 for s, (lo, hi) in borders.items()}


def measure_one(model: str, horizon: int, lookback: int, steps: int, eval_batch: int) -> dict[str, Any]:
    """Median CPU/wall seconds of one optimizer step at the recipe's batch and of one no-grad batch of
    `eval_batch` windows, at one thread, on random data of ETTh1's shape."""
    import torch

    from samovar import models

    config, kwargs = _recipe(model, "ETTh1", horizon)
    torch.manual_seed(0)
    net = models.get(model, lookback=lookback, horizon=horizon, channels=CHANNELS, **kwargs)
    params = [p for p in net.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    opt = opt_cls(params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay)
    x, y = torch.randn(config.batch_size, lookback, CHANNELS), torch.randn(config.batch_size, horizon, CHANNELS)
    xe = torch.randn(eval_batch, lookback, CHANNELS)

    def step() -> None:
        loss = net.training_loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()

    def evaluate() -> None:
        with torch.no_grad():
            net(xe)

    net.train()
    t_step = time_forms({"step": step}, repeats=steps, warmup=2)["step"]
    net.eval()
    t_eval = time_forms({"eval": evaluate}, repeats=max(2, steps // 2), warmup=1)["eval"]
    return {"model": model, "horizon": horizon, "lookback": lookback, "batch_size": config.batch_size,
            "step_cpu_s": t_step.median("cpu"), "step_wall_s": t_step.median("wall"), "steps_timed": t_step.repeats,
            "eval_cpu_s_per_window": t_eval.median("cpu") / eval_batch,
            "eval_wall_s_per_window": t_eval.median("wall") / eval_batch, "eval_batch": eval_batch,
            "parameters": net.num_parameters(), "model_kwargs": {k: v for k, v in kwargs.items()}}


def measure(models: list[str], horizons: list[int], steps: int) -> dict[str, Any]:
    """Every (model, horizon, lookback) of the search spaces on ETTh1; merged into costs.json as it goes."""
    import torch

    from samovar.utils import write_json_atomic

    torch.set_num_threads(1)
    old = json.loads(COSTS.read_text()) if COSTS.exists() else {}
    rows = {(r["model"], r["horizon"], r["lookback"]): r for r in old.get("rows", [])}
    conditions = {
        "what": "median process CPU seconds (and wall) of one optimizer step at the recipe's batch (forward, the "
                "model's training loss, backward, clipping when the recipe clips, Adam/AdamW step) and of one "
                "no-grad forward of eval_batch windows, per window; random inputs of ETTh1's shape (7 channels); "
                "model options of the published ETTh1 recipe; 2 (step) / 1 (eval) untimed warm-up passes",
        "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "nice": os.nice(0),
        "load_average_at_start": list(os.getloadavg()), "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "code_version": git_commit(),
    }
    for model in models:
        for horizon in horizons:
            for lookback in search_lookbacks(model, "ETTh1", horizon):
                eval_batch = 32 if model in FAMILY else 256
                row = measure_one(model, horizon, lookback, steps if model in FAMILY else 3 * steps, eval_batch)
                rows[(model, horizon, lookback)] = row
                print(f"{model:<9} H{horizon:<4} L{lookback:<5} step {1000 * row['step_cpu_s']:8.1f} ms CPU "
                      f"({1000 * row['step_wall_s']:8.1f} wall)  eval {1e3 * row['eval_cpu_s_per_window']:.3f} ms/window",
                      flush=True)
                out = {"conditions": {**conditions, "load_average_at_end": list(os.getloadavg())},
                       "rows": sorted(rows.values(), key=lambda r: (r["model"], r["horizon"], r["lookback"]))}
                write_json_atomic(COSTS, out)
    out["check"] = check_epoch()
    write_json_atomic(COSTS, out)
    return out


CHECK = ("samovar", "ETTh1", 720, 4096)  # the published recipe's cell at horizon 720: about a minute of wall


def check_epoch() -> dict[str, Any]:
    """One real epoch of a search trial through the trainer (data preparation and validation included), against
    what the measured step costs predict for it: how far the per-step model is from a real run."""
    import torch

    from samovar.training.config import TrainConfig
    from samovar.training.runs import fit_run
    from samovar.training.trainer import _batch_plan

    model, dataset, horizon, lookback = CHECK
    config, kwargs = _recipe(model, dataset, horizon)
    config = TrainConfig(**{**config.to_dict(), "epochs": 1})
    torch.set_num_threads(1)
    cpu = time.process_time()
    fit_run(model, dataset, horizon=horizon, lookback=lookback, model_kwargs=kwargs, config=config, evaluate_test=False)
    cpu = time.process_time() - cpu
    row = json.loads(COSTS.read_text())["rows"]
    row = next(r for r in row if (r["model"], r["horizon"], r["lookback"]) == (model, horizon, lookback))
    n = windows(dataset, lookback, horizon)
    predicted = _batch_plan(n["train"], config)[1] * row["step_cpu_s"] + n["val"] * row["eval_cpu_s_per_window"]
    print(f"check: one epoch of {model} {dataset} H{horizon} L{lookback}: {cpu:.1f} CPU s, predicted {predicted:.1f} "
          f"+ {SETUP_SECONDS:g} set-up", flush=True)
    return {"model": model, "dataset": dataset, "horizon": horizon, "lookback": lookback, "epochs": 1,
            "cpu_s": cpu, "predicted_cpu_s": predicted + SETUP_SECONDS, "load_average": list(os.getloadavg())}


# ----------------------------------------------------------------------------- plan


def load_costs(path: Path = COSTS) -> dict[tuple[str, int, int], dict[str, Any]]:
    if not path.exists():
        fail(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path} does not exist: run "
             "`python benchmarks/tuned.py measure` first (a few minutes at one thread)")
    return {(r["model"], r["horizon"], r["lookback"]): r for r in json.loads(path.read_text())["rows"]}


@dataclass
class Estimate:
    """CPU seconds of one cell: the search, the final runs and the oracle runs, and what they assume."""

    lookbacks: list[int]
    epoch_cpu_s: dict[int, float]  # per lookback: one training epoch plus its validation pass
    trial_epochs: int  # epochs of a trial the pruner does not stop
    search_s: float
    final_s: float
    oracle_s: float

    @property
    def total_s(self) -> float:
        return self.search_s + self.final_s + self.oracle_s


def expected_epochs(model: str, cap: int | None, config: Any) -> int:
    """Epochs of a trial that is not pruned: the cap, or where patience stops it after its best epoch.
    Best epochs from the committed runs of the published recipes: the SAMoVAR family 1-5 on ETTh1
    (benchmarks/results/samovar), FITS runs all 50 (benchmarks/results/baselines); DLinear: the cap of 10."""
    epochs = config.epochs if cap is None else min(cap, config.epochs)
    if model in FAMILY and config.patience:
        epochs = min(epochs, 3 + config.patience + 1)
    return int(epochs)


def estimate(cell: Cell, costs: dict[tuple[str, int, int], dict[str, Any]]) -> Estimate:
    from samovar.training.trainer import _batch_plan

    config, _ = _recipe(cell.model, cell.dataset, cell.horizon)
    lookbacks = search_lookbacks(cell.model, cell.dataset, cell.horizon)
    per_epoch, test_s = {}, {}
    for lb in lookbacks:
        row = costs.get((cell.model, cell.horizon, lb))
        if row is None:
            fail(f"costs.json has no measurement of {cell.model} H{cell.horizon} L{lb}: run "
                 f"`python benchmarks/tuned.py measure --models {cell.model}`")
        n = windows(cell.dataset, lb, cell.horizon)
        _, steps = _batch_plan(n["train"], config)
        per_epoch[lb] = steps * row["step_cpu_s"] + n["val"] * row["eval_cpu_s_per_window"]
        test_s[lb] = n["test"] * row["eval_cpu_s_per_window"]
    mean_epoch = statistics.fmean(per_epoch.values())  # the sampler's lookbacks, taken as equally likely
    epochs = expected_epochs(cell.model, cell.epochs, config)
    startup = min(3, cell.trials)
    pruned = (cell.trials - startup) * PRUNED_SHARE
    trial_epochs = (cell.trials - pruned) * epochs + pruned * min(PRUNED_AT, epochs)
    search = trial_epochs * mean_epoch + cell.trials * SETUP_SECONDS
    final_one = statistics.fmean(per_epoch[lb] * epochs + test_s[lb] + SETUP_SECONDS for lb in lookbacks)
    final = cell.seeds * final_one
    oracle = (len(lookbacks) - 1) * cell.oracle_seeds * final_one
    return Estimate(lookbacks, per_epoch, epochs, search, final, oracle)


def fit_budget(budget_h: float, costs: dict) -> tuple[list[Cell], list[str], float, list[Cell]]:
    """Apply CUTS in order until the estimate fits `budget_h` CPU-hours: (cells, cuts applied, hours, every cell
    with the cuts of trials and epochs applied, the dropped ones included: how a dropped cell runs if asked for)."""
    cells, applied = uncut_cells(), []
    settings = list(cells)
    hours = sum(estimate(c, costs).total_s for c in cells) / 3600
    for description, removes, cut in CUTS:
        if hours <= budget_h:
            break
        cells = cut(cells)
        if not removes:
            settings = cut(settings)
        hours = sum(estimate(c, costs).total_s for c in cells) / 3600
        applied.append(f"{description} (then {hours:.1f} CPU-h)")
    return cells, applied, hours, settings


def _entry(entry: Any) -> str:
    if isinstance(entry, (list, tuple)):
        return "{" + ", ".join(map(str, entry)) + "}"
    return f"[{entry['low']:g}, {entry['high']:g}]" + (" log" if entry.get("log") else "")


def plan(budget_h: float) -> tuple[list[Cell], list[str], float]:
    from samovar.training.runs import model_class

    costs = load_costs()
    uncut = uncut_cells()
    uncut_h = sum(estimate(c, costs).total_s for c in uncut) / 3600
    cells, applied, hours, settings = fit_budget(budget_h, costs)
    conditions = json.loads(COSTS.read_text())["conditions"]
    print(f"step costs: {COSTS.relative_to(REPO)} (measured {conditions['measured_utc']}, {conditions['threads']} "
          f"thread, load average {conditions['load_average_at_start'][0]:.1f}, torch {conditions['torch']})")
    print(f"estimate: CPU seconds = trials' epochs x (optimizer steps x step cost + validation windows x cost per "
          f"window) + final and oracle runs; {PRUNED_SHARE:.0%} of the trials after the pruner's 3 start-up trials "
          f"assumed stopped at epoch {PRUNED_AT}; {SETUP_SECONDS:g} s set-up per training\n")
    for model in MODELS:
        space = model_class(model).search_space("ETTh1", 96)
        keys = FAMILY_SPACE if model in FAMILY else tuple(space)
        print(f"{model}: searched " + ", ".join(f"{k} {_entry(space[k])}" for k in keys)
              + ("" if model not in FAMILY else "; the rest at the published recipe")
              + " (the published value of each key is added; lookbacks that do not fit the split are dropped)")
    print(f"\n{'cell':<22} {'trials':>6} {'epochs':>7} {'lookbacks':<28} {'search h':>8} {'final h':>8} "
          f"{'oracle h':>8} {'total h':>8}")
    chosen = {c.name for c in cells}
    for c in settings:
        e = estimate(c, costs)
        cap = "recipe" if c.epochs is None else f"<={c.epochs}"
        mark = "" if c.name in chosen else "  CUT"
        print(f"{c.name:<22} {c.trials:>6} {cap:>7} {','.join(map(str, e.lookbacks)):<28} {e.search_s / 3600:8.2f} "
              f"{e.final_s / 3600:8.2f} {e.oracle_s / 3600:8.2f} {e.total_s / 3600:8.2f}{mark}")
    check = json.loads(COSTS.read_text()).get("check")
    if check:
        ratio = check["cpu_s"] / check["predicted_cpu_s"]
        print(f"\ncheck: one real epoch of {check['model']} {check['dataset']} H{check['horizon']} L{check['lookback']} "
              f"took {check['cpu_s']:.1f} CPU s against {check['predicted_cpu_s']:.1f} predicted ({ratio:.2f}x): "
              f"expect about {hours * ratio:.1f} CPU-h for the plan below")
    print(f"\nuncut deliverable: {uncut_h:.1f} CPU-h; budget {budget_h:g} CPU-h")
    if applied:
        print("cuts, in order:")
        for line in applied:
            print(f"  - {line}")
    else:
        print("no cut needed")
    print(f"planned: {len(cells)} cells, {hours:.1f} CPU-h (with 2 workers on 2 free cores about {hours / 2:.1f} h wall)")
    return cells, applied, hours


# ----------------------------------------------------------------------------- run


def tune_plan(cell: Cell, root: Path, workers: int, quiet: bool = False) -> Any:
    from samovar.tuning import plan_tune

    return plan_tune(cell.model, cell.dataset, cell.horizon, trials=cell.trials, sampler="tpe", space=cell.space,
                     seeds=cell.seeds, workers=workers, epochs=cell.epochs, pruner="median", db=root / "bench.db",
                     runs_dir=root / "runs", device="cpu", threads=1, sampler_seed=SAMPLER_SEED, quiet=quiet)


def oracle_runs(tp: Any, cell: Cell) -> None:
    """After the search: each searched lookback's best-on-validation trial (the chosen one aside, its final runs
    exist) retrained with `cell.oracle_seeds` seeds and scored on test. Chooses nothing: the oracle column."""
    from optuna.trial import TrialState

    from samovar.tuning.search import final_evaluation, open_study

    study = open_study(tp)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = study.best_trial
    for lookback in sorted({t.params.get("lookback", tp.lookback) for t in complete}):
        trial = min((t for t in complete if t.params.get("lookback", tp.lookback) == lookback), key=lambda t: t.value)
        if trial.number != best.number:
            final_evaluation(tp, study, trial=trial, seeds=cell.oracle_seeds)


def manifest_dir(root: Path) -> Path:
    return root / "cells"


def run(cells: list[Cell], root: Path, workers: int) -> None:
    """Each cell's study (search, final runs, oracle runs) in turn; a finished cell costs only the checks."""
    from samovar.tuning import run_plan
    from samovar.utils import write_json_atomic

    for cell in cells:
        tp = tune_plan(cell, root, workers)
        write_json_atomic(manifest_dir(root) / f"{cell.name}.json",
                          {**asdict(cell), "study": tp.study, "space_keys": cell.space, "db": "bench.db"})
        print(f"== {cell.name}: study {tp.study}, {cell.trials} trials, epochs "
              f"{'recipe' if cell.epochs is None else f'<= {cell.epochs}'}, {cell.seeds} seeds", flush=True)
        result = run_plan(tp)
        oracle_runs(tp, cell)
        f = result.final
        print(f"== {cell.name}: best trial {result.best_number} {result.best_params}; test mse "
              f"{f['test_mse']:.4f} ± {f['test_mse_std']:.4f}", flush=True)


# ----------------------------------------------------------------------------- export


def _curve(row: dict[str, Any]) -> list[dict[str, Any]]:
    keep = ("epoch", "train_loss", "val_mse", "val_mae")
    return [{k: e[k] for k in keep if k in e} for e in json.loads(row["curve_json"] or "[]")]


def _cost(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"runs": len(rows), "cpu_seconds": sum(r["cpu_seconds"] or 0 for r in rows),
            "wall_seconds": sum(r["wall_seconds"] or 0 for r in rows),
            "peak_mem_mb": max((r["peak_mem_mb"] or 0 for r in rows), default=0)}


def _runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"seed": r["number"], "test_mse": r["test_mse"], "test_mae": r["test_mae"], "val_mse": r["val_mse"],
             "epochs": r["epochs"], "best_epoch": r["best_epoch"]} for r in sorted(rows, key=lambda r: r["number"])]


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def cell_record(manifest: dict[str, Any], root: Path) -> dict[str, Any] | None:
    """The record of one cell from its study's rows in the results database; None before its final runs."""
    from samovar.bench.db import ResultsDB

    cell = Cell(**{k: manifest[k] for k in ("model", "dataset", "horizon", "trials", "epochs", "seeds", "oracle_seeds")})
    tp = tune_plan(cell, root, 1, quiet=True)
    db = ResultsDB(root / manifest["db"])
    trials = db.tune_rows(study=manifest["study"], kind="trial")
    finals = db.tune_rows(study=manifest["study"], kind="final", state="complete")
    complete = [r for r in trials if r["state"] == "complete"]
    if not complete:
        return None
    best = min(complete, key=lambda r: r["val_mse"])
    tuned = [r for r in finals if r["config_hash"] == best["config_hash"]]
    if len(tuned) < cell.seeds:
        return None
    tuned = sorted(tuned, key=lambda r: r["number"])[: cell.seeds]
    published = next((r for r in sorted(trials, key=lambda r: r["number"])
                      if json.loads(r["params_json"]) == tp.published), None)
    lookbacks = []
    for lookback in sorted({r["lookback"] for r in complete}):
        top = min((r for r in complete if r["lookback"] == lookback), key=lambda r: r["val_mse"])
        runs = sorted((r for r in finals if r["config_hash"] == top["config_hash"]), key=lambda r: r["number"])
        scored = runs[: cell.oracle_seeds]
        lookbacks.append({"lookback": lookback, "trials": sum(r["lookback"] == lookback for r in complete),
                          "best_trial": top["number"], "params": json.loads(top["params_json"]),
                          "val_mse": top["val_mse"], "chosen": top["number"] == best["number"],
                          "test_mse": statistics.fmean(r["test_mse"] for r in scored) if scored else None,
                          "test_seeds": [r["number"] for r in scored]})
    scored = [lb for lb in lookbacks if lb["test_mse"] is not None]
    oracle = min(scored, key=lambda lb: lb["test_mse"]) if scored else None
    mse, mse_std = _mean_std([r["test_mse"] for r in tuned])
    mae, mae_std = _mean_std([r["test_mae"] for r in tuned])
    states = {s: sum(r["state"] == s for r in trials) for s in ("complete", "pruned", "failed")}
    return {
        "cell": cell.name, "model": cell.model, "dataset": cell.dataset, "horizon": cell.horizon,
        "settings": {"trials": cell.trials, "epoch_cap": cell.epochs, "seeds": cell.seeds,
                     "oracle_seeds": cell.oracle_seeds, "sampler": "tpe", "sampler_seed": SAMPLER_SEED,
                     "pruner": "median (from epoch 3, after 3 finished trials)", "threads": 1,
                     "space": {k: tp.space[k] for k in tp.space}, "published": tp.published,
                     "recipe": tp.recipe.label, "notes": tp.notes, "study": manifest["study"]},
        "trials": {"count": len(trials), **states, "best_trial": best["number"],
                   "best_params": json.loads(best["params_json"]), "best_val_mse": best["val_mse"],
                   "best_epoch": best["best_epoch"], "best_curve": _curve(best),
                   "published_trial": None if published is None else published["number"],
                   "published_val_mse": None if published is None else published["val_mse"],
                   "published_state": None if published is None else published["state"],
                   "failed_reasons": sorted({r["reason"] for r in trials if r["state"] == "failed"}),
                   "history": [{"number": r["number"], "state": r["state"], "lookback": r["lookback"],
                                "val_mse": r["val_mse"]} for r in sorted(trials, key=lambda r: r["number"])]},
        "final": {"lookback": best["lookback"], "runs": _runs(tuned), "test_mse": mse, "test_mse_std": mse_std,
                  "test_mae": mae, "test_mae_std": mae_std, "test_windows": tuned[0]["test_windows"]},
        "oracle": {"label": "not a valid selection rule: the lookback chosen on test", "by_lookback": lookbacks,
                   "test_mse": None if oracle is None else oracle["test_mse"],
                   "lookback": None if oracle is None else oracle["lookback"],
                   "seeds_per_lookback": cell.oracle_seeds},
        "cost": {"search": _cost(trials), "final": _cost(tuned),
                 "oracle": _cost([r for r in finals if r["config_hash"] != best["config_hash"]])},
        "code_versions": sorted({r["code_version"] for r in trials + finals}),
        "exported_by": git_commit(),
    }


def _same_result(old: dict, new: dict) -> bool:
    """Two records of a cell that differ at most in the code version that exported them."""
    return {k: v for k, v in old.items() if k != "exported_by"} == {k: v for k, v in new.items() if k != "exported_by"}


def export(root: Path, out: Path) -> list[Path]:
    """Write the record of each finished cell under `root`; a record equal but for its exporter is left as it is."""
    from samovar.utils import write_json_atomic

    written = []
    for path in sorted(manifest_dir(root).glob("*.json")):
        manifest = json.loads(path.read_text())
        record = cell_record(manifest, root)
        if record is None:
            print(f"not finished: {path.stem}")
            continue
        target = out / f"{record['cell']}.json"
        if target.is_file() and _same_result(json.loads(target.read_text()), record):
            print(f"unchanged: {record['cell']}")  # kept with the code version that exported it
            continue
        write_json_atomic(target, record)
        written.append(target)
        print(f"exported {record['cell']}: test mse {record['final']['test_mse']:.4f}")
    return written


# ----------------------------------------------------------------------------- table

DISPLAY = (*FAMILY, *LINEAR)  # table rows: the paper's model, its ablations, the baselines
NAMES = {"samovar": "SAMoVAR", "lintrans": "LinTrans", "fixedvar": "FixedVAR", "dlinear": "DLinear", "fits": "FITS"}


def load_records(results: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    records = {}
    for path in sorted(results.glob("*-H*.json")):
        r = json.loads(path.read_text())
        records[(r["model"], r["dataset"], int(r["horizon"]))] = r
    return records


def _std(value: float | None) -> float:
    return 0.0 if value is None or value != value else float(value)


def verdict(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    """SAMoVAR's record `a` against `b` (each: {"mse", "std"}): beats / loses to / ties with (the difference
    is smaller than the larger of the two seed spreads) / not run."""
    if a is None or b is None:
        return {"word": "not run"}
    diff = a["mse"] - b["mse"]
    spread = max(_std(a["std"]), _std(b["std"]))
    word = "ties with" if abs(diff) < spread else ("beats" if diff < 0 else "loses to")
    return {"word": word, "diff": diff, "spread": spread}


def scores(records: dict, dataset: str) -> dict[str, dict[Any, dict[str, Any]]]:
    """Per model: per horizon {"mse", "std", "seeds"} from the final runs, and "avg" over the four horizons
    (mean and std over seed indices of each seed's average) when every horizon has a record."""
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for model in MODELS:
        cells = {h: records.get((model, dataset, h)) for h in HORIZONS}
        per = {h: {"mse": r["final"]["test_mse"], "std": r["final"]["test_mse_std"],
                   "seeds": [run["test_mse"] for run in r["final"]["runs"]]} for h, r in cells.items() if r}
        if len(per) == len(HORIZONS):
            n = min(len(p["seeds"]) for p in per.values())
            by_seed = [statistics.fmean(per[h]["seeds"][i] for h in HORIZONS) for i in range(n)]
            mean, std = _mean_std(by_seed)
            per["avg"] = {"mse": statistics.fmean(per[h]["mse"] for h in HORIZONS), "std": std, "seeds": by_seed}
        out[model] = per
    return out


GROUPS = (("its ablations LinTrans and FixedVAR (the paper's claim)", ("lintrans", "fixedvar")),
          ("the tuned baselines DLinear and FITS", ("dlinear", "fits")))


def answer(records: dict, dataset: str = "ETTh1", short: bool = False) -> list[str]:
    """The plain-words answer, computed from the records: per horizon and on average, does tuned SAMoVAR beat
    tuned LinTrans and FixedVAR (the paper's claim), and tuned DLinear and FITS. short: the average and the
    tally only (the README)."""
    s = scores(records, dataset)
    lines = []
    for title, others in GROUPS:
        lines.append(f"**Does tuned SAMoVAR beat {title} on {dataset}?**")
        tally: dict[str, int] = {}
        for key in (*HORIZONS, "avg"):
            label = "average over the four horizons" if key == "avg" else f"horizon {key}"
            own = s["samovar"].get(key)
            parts = []
            for other in others:
                v = verdict(own, s[other].get(key))
                tally[v["word"]] = tally.get(v["word"], 0) + 1
                if v["word"] != "not run":
                    parts.append(f"{v['word']} {NAMES[other]} ({own['mse']:.4f} vs {s[other][key]['mse']:.4f}, "
                                 f"difference {v['diff']:+.4f}, seed spread {v['spread']:.4f})")
            missing = [NAMES[m] for m in ("samovar", *others) if key not in s[m]]
            text = ("SAMoVAR " + "; ".join(parts) + "." if parts else "not answered yet.")
            if missing:
                text += f" Not run yet: {', '.join(missing)}" + (" (every horizon is needed)" if key == "avg" else "") + "."
            if not short or key == "avg":
                lines.append(f"- {label}: {text}")
        made = sum(n for w, n in tally.items() if w != "not run")
        summary = (f"SAMoVAR has {_count(tally.get('beats', 0), 'win')}, {_count(tally.get('ties with', 0), 'tie')} and "
                   f"{_count(tally.get('loses to', 0), 'loss', 'losses')} in the {_count(made, 'comparison')} made "
                   "(per horizon and on average)" if made else "no comparison can be made yet")
        if tally.get("not run"):
            summary += ("; the other " + str(tally["not run"]) + " wait for records" if made else "") \
                + ": " + _missing_cells(s, ("samovar", *others))
        lines += [f"- In short: {summary}.", ""]
    return lines


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _and(items: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _missing_cells(s: dict[str, dict[Any, dict[str, Any]]], models: tuple[str, ...]) -> str:
    """"4 of the 12 cells these comparisons need have no record yet (SAMoVAR at H96, ...)": the (model, horizon)
    cells of `models` without a record, the models that miss the same horizons named together."""
    missing = {m: tuple(h for h in HORIZONS if h not in s[m]) for m in models}
    groups: dict[tuple[int, ...], list[str]] = {}
    for m, hs in missing.items():
        if hs:
            groups.setdefault(hs, []).append(NAMES[m])
    listed = "; ".join(f"{_and(names)} at {_and([f'H{h}' for h in hs])}" for hs, names in groups.items())
    count, total = sum(len(hs) for hs in missing.values()), len(models) * len(HORIZONS)
    if count == total:
        return f"none of the {total} cells these comparisons need has a record yet ({listed})"
    return f"{count} of the {total} cells these comparisons need have no record yet ({listed})"


def published_averages(path: Path = PUBLISHED) -> dict[tuple[str, str], float]:
    """The SAMoVAR paper's table (test MSE averaged over the four horizons): published, never measured here."""
    if not path.exists():
        return {}
    import csv

    with path.open() as f:
        return {(r["dataset"], r["model"]): float(r["mse"]) for r in csv.DictReader(f)}


def paper_recipe_runs(dataset: str) -> dict[tuple[str, int], float]:
    """Test MSE of our earlier runs of the published recipe (one seed; benchmarks/reproduce_samovar.py)."""
    out = {}
    for path in sorted(REPRODUCTION.glob(f"*_{dataset}_h*.json")):
        r = json.loads(path.read_text())
        out[(r["model"], int(r["horizon"]))] = r["test"]["mse"]
    return out


def _pm(mean: float | None, std: float | None, digits: int = 4) -> str:
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" + ("" if std is None or std != std else f" ± {std:.{digits}f}")


def planned(costs_path: Path) -> tuple[dict[str, tuple[Cell, float, bool]], list[str]]:
    """Every cell with its estimated CPU-hours and whether the plan keeps it, and the cuts, from costs.json
    (empty without it)."""
    if not costs_path.exists():
        return {}, []
    costs = load_costs(costs_path)
    cells, applied, _, settings = fit_budget(BUDGET_H, costs)
    kept = {c.name for c in cells}
    return {c.name: (c, estimate(c, costs).total_s / 3600, c.name in kept) for c in settings}, applied


BUDGET_H = 10.0


def summary_table(records: dict, dataset: str, plan_cells: dict[str, tuple[Cell, float, bool]]) -> list[str]:
    s = scores(records, dataset)
    pub = published_averages()
    lines = ["| model | " + " | ".join(f"H{h}" for h in HORIZONS) + " | average | published average (paper) |",
             "|---|" + "---|" * (len(HORIZONS) + 2)]
    for model in DISPLAY:
        cells = []
        for h in HORIZONS:
            if h in s[model]:
                cells.append(_pm(s[model][h]["mse"], s[model][h]["std"]))
            else:
                name = f"{model}-{dataset}-H{h}"
                est = plan_cells.get(name)
                cells.append("not run" if est is None else
                             f"not run (~{est[1]:.1f} CPU-h{'' if est[2] else ', cut from the plan'})")
        avg = s[model].get("avg")
        p = pub.get((dataset, model))
        lines.append(f"| {NAMES[model]} | " + " | ".join(cells) + f" | {_pm(avg['mse'], avg['std']) if avg else '–'} | "
                     f"{'–' if p is None else f'{p:.3f} (published)'} |")
    return lines


def detail_table(records: dict, dataset: str) -> list[str]:
    paper = paper_recipe_runs(dataset)
    lines = ["| cell | trials (pruned, failed) | epoch cap | chosen configuration | val MSE: published recipe → "
             "chosen | test MSE (mean ± std) | test MAE | published recipe, our earlier run (1 seed) | "
             "oracle: best lookback on test (not a valid rule) | CPU h (search + final + oracle) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for h in HORIZONS:
        for model in DISPLAY:
            r = records.get((model, dataset, h))
            if r is None:
                continue
            t, f, o = r["trials"], r["final"], r["oracle"]
            params = " ".join(f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                              for k, v in t["best_params"].items())
            pub_val = "–" if t["published_val_mse"] is None else f"{t['published_val_mse']:.4f}"
            cpu = sum(r["cost"][k]["cpu_seconds"] for k in ("search", "final", "oracle")) / 3600
            oracle = "–" if o["test_mse"] is None else f"{o['test_mse']:.4f} (L{o['lookback']})"
            ours = paper.get((model, h))
            cap = r["settings"]["epoch_cap"]
            lines.append(f"| {NAMES[model]} H{h} | {t['count']} ({t['pruned']}, {t['failed']}) | "
                         f"{'recipe' if cap is None else cap} | {params} | {pub_val} → {t['best_val_mse']:.4f} | "
                         f"{_pm(f['test_mse'], f['test_mse_std'])} | {_pm(f['test_mae'], f['test_mae_std'])} | "
                         f"{'–' if ours is None else f'{ours:.4f}'} | {oracle} | {cpu:.2f} |")
    return lines


def _trial_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's trials as the rows samovar.tuning.plots draws (model, dataset, horizon, number, state, ...)."""
    return [{"model": NAMES[record["model"]], "dataset": record["dataset"], "horizon": record["horizon"], **t}
            for t in record["trials"].get("history", [])]


def plots(records: dict, dataset: str, out: Path) -> list[tuple[str, str]]:
    """The lookback curves (one panel per horizon) and the optimisation histories (one panel per cell) of
    `dataset`'s records, drawn from the records alone into `out`; (file name, caption) of each figure."""
    from samovar.tuning.plots import draw_history, draw_lookback_curve, pyplot, save

    cells = [records[k] for k in sorted(records, key=lambda k: (k[2], DISPLAY.index(k[0])))
             if k[1] == dataset and records[k]["trials"].get("history")]
    if not cells:
        return []
    plt = pyplot()
    horizons = sorted({r["horizon"] for r in cells})
    fig, axes = plt.subplots(1, len(horizons), figsize=(4.6 * len(horizons), 4.2), squeeze=False)
    for ax, horizon in zip(axes[0], horizons):
        draw_lookback_curve(ax, [row for r in cells if r["horizon"] == horizon for row in _trial_rows(r)],
                            title=f"{dataset} H{horizon}")
    curve = f"lookback_curve_{dataset}.png"
    save(plt, fig, out / curve)
    models = [m for m in DISPLAY if any(r["model"] == m for r in cells)]
    fig, axes = plt.subplots(len(horizons), len(models), figsize=(3.6 * len(models), 2.9 * len(horizons)),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for r in cells:
        ax = axes[horizons.index(r["horizon"])][models.index(r["model"])]
        ax.set_visible(True)
        draw_history(ax, _trial_rows(r), f"{NAMES[r['model']]} {dataset} H{r['horizon']}")
        ax.legend().set_visible(ax is axes[0][0])
    history = f"history_{dataset}.png"
    save(plt, fig, out / history)
    return [(curve, f"Lookback curves, {dataset} (validation only): the best validation MSE of the completed "
                    "trials at each lookback (line) and every completed trial (dots), per horizon."),
            (history, f"Optimisation histories, {dataset}: each trial's validation MSE (pruned trials at their "
                      "best epoch before pruning), the best so far, and trial 0, the published recipe (dotted).")]


def write_table(results: Path = RESULTS, out: Path = TABLE, readme: Path | None = README,
                costs_path: Path = COSTS) -> str:
    """docs/results/tuned.md (and the README's headline block) from the records in `results` only."""
    from samovar.utils import write_text_atomic

    records = load_records(results)
    plan_cells, cuts = planned(costs_path)
    datasets = [d for d in DATASETS if d == "ETTh1" or any(k[1] == d for k in records)
                or any(c.dataset == d and kept for c, _, kept in plan_cells.values())]
    seeds = sorted({len(r["final"]["runs"]) for r in records.values()}) or [SEEDS]
    lines = ["# Tuned comparison: SAMoVAR, LinTrans, FixedVAR, DLinear, FITS", "",
             "Generated by `python benchmarks/tuned.py table` from `benchmarks/results/tuned/*.json`; do not edit by",
             "hand. Every model was tuned with `samovar tune` on **validation only** (the published recipe is trial 0,",
             "TPE sampler, median pruning), the chosen configuration retrained with "
             f"{' or '.join(map(str, seeds))} seeds and scored on every test",
             "window. Test MSE on the standardized scale, mean ± std (ddof 1) over the seeds. A difference smaller",
             "than the larger of the two seed spreads is called a tie.", ""]
    for dataset in datasets:
        lines += answer(records, dataset)
    for dataset in datasets:
        lines += [f"## {dataset}: tuned test MSE", "", *summary_table(records, dataset, plan_cells), "",
                  "The published averages are the SAMoVAR paper's table (Lu & Yang 2025, arXiv 2502.07244), shown "
                  "as published and never ranked; the paper reports only the average over the four horizons, "
                  "\"after having tested on varying input lengths\".", ""]
        for name, caption in plots(records, dataset, out.parent / "tuned"):
            lines += [f"![{caption}](tuned/{name})", "", caption, ""]
        detail = detail_table(records, dataset)
        if len(detail) > 2:
            lines += [f"### {dataset}: each cell", "", *detail, "",
                      "Oracle: for each searched lookback, its best configuration on validation was trained after "
                      "the search and scored on test (seeds as in `oracle_seeds` of the record); the column is the "
                      "lowest of those test MSEs. Choosing on test is not a valid rule: the column only shows how "
                      "much of a published number selection on test could explain.", ""]
    if plan_cells:
        kept = [(c, h) for c, h, k in plan_cells.values() if k]
        groups = {}
        for c, _ in kept:
            groups.setdefault((NAMES[c.model] if c.model not in FAMILY else "SAMoVAR, LinTrans, FixedVAR",
                               c.trials, c.epochs), []).append(c)
        lines += ["## The plan", "",
                  f"{len(kept)} cells, estimated {sum(h for _, h in kept):.1f} CPU-hours from the measured step costs "
                  "(`python benchmarks/tuned.py plan`; search, final runs and oracle runs):", "",
                  *[f"- {name}: {trials} trials per cell, epochs {'as the recipe' if cap is None else f'capped at {cap}'}"
                    f"; {SEEDS} final seeds, {ORACLE_SEEDS} seed for each other lookback's oracle run"
                    for (name, trials, cap) in groups], ""]
        check = json.loads(costs_path.read_text()).get("check")
        if check:
            lines += [f"A check of the estimate: one real epoch of {NAMES[check['model']]} {check['dataset']} "
                      f"H{check['horizon']} L{check['lookback']} through the trainer took {check['cpu_s']:.1f} CPU s "
                      f"against {check['predicted_cpu_s']:.1f} predicted ({check['cpu_s'] / check['predicted_cpu_s']:.2f}x).", ""]
    if cuts:
        lines += ["## What was cut to fit about ten CPU-hours", "",
                  "From the measured step costs (`benchmarks/results/tuned/costs.json`), `python benchmarks/tuned.py "
                  "plan` applies these cuts, in order (trials and epochs before cells):", "",
                  *[f"- {c}" for c in cuts], ""]
    text = "\n".join(lines)
    write_text_atomic(out, text)
    if readme is not None and records:
        write_readme_block(readme, records, plan_cells)
    return text


def readme_block(records: dict, plan_cells: dict[str, tuple[Cell, float, bool]]) -> str:
    lines = [README_START, "### Tuned comparison on ETTh1 (every model tuned on validation, 3 seeds)", "",
             "`python benchmarks/tuned.py run --all` then `export` and `table` (generated block; details, the "
             "oracle column and the costs in [docs/results/tuned.md](docs/results/tuned.md)). Test MSE, mean ± std "
             "over 3 seeds of the configuration `samovar tune` chose on validation:", "",
             *summary_table(records, "ETTh1", plan_cells), "", *answer(records, "ETTh1", short=True), README_END]
    return "\n".join(lines)


def write_readme_block(readme: Path, records: dict, plan_cells: dict[str, tuple[Cell, float, bool]]) -> None:
    """Replace the block between the markers, or put it first under "## Measured results"."""
    from samovar.utils import write_text_atomic

    text = readme.read_text()
    block = readme_block(records, plan_cells)
    if README_START in text and README_END in text:
        text = replace_block(text, README_START, README_END, block, str(readme))
    else:
        anchor = re.search(r"^## Measured results\n.*?\n(?=### )", text, flags=re.S | re.M)
        if anchor is None:
            fail(f"{readme}: no '## Measured results' section followed by a '### ' heading to put the "
                 f"table under; add the markers {README_START} / {README_END} where it belongs")
        text = text[: anchor.end()] + block + "\n\n" + text[anchor.end():]
    write_text_atomic(readme, text)


# ----------------------------------------------------------------------------- main


def select(cells: list[Cell], settings: list[Cell], names: str | None, every: bool) -> list[Cell]:
    """--all: the planned cells in run order; --cell: the named ones (a cell the plan dropped runs with the
    plan's trials and epochs)."""
    if every:
        return cells
    if not names:
        fail("give --cell NAME[,NAME...] (model-dataset-H<horizon>, see `plan`) or --all")
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {c.name: c for c in settings}
    bad = [n for n in wanted if n not in known]
    if bad:
        fail(f"unknown cell {', '.join(bad)}; cells look like dlinear-ETTh1-H96 (see `plan`)")
    return [known[n] for n in wanted]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("measure", "plan", "run", "export", "table"))
    parser.add_argument("--budget", type=float, default=BUDGET_H, help="CPU-hours the plan must fit (default 10).")
    parser.add_argument("--root", type=Path, default=RUNS, help="Optuna storage, results database and run "
                        "directories (default ~/.cache/samovar/tuned-runs, outside the checkout).")
    parser.add_argument("--cell", default=None, help="run: comma-separated cells, e.g. dlinear-ETTh1-H96.")
    parser.add_argument("--all", action="store_true", help="run: every planned cell, cheap ones and H96 first.")
    parser.add_argument("--workers", type=int, default=1, help="run: worker processes per study (one thread each).")
    parser.add_argument("--trials", type=int, default=None, help="run: override the plan's trials (e.g. a smoke test).")
    parser.add_argument("--epochs", type=int, default=None, help="run: override the plan's epoch cap.")
    parser.add_argument("--seeds", type=int, default=None, help="run: override the number of final seeds.")
    parser.add_argument("--models", default=",".join(MODELS), help="measure: models (default: all five).")
    parser.add_argument("--horizons", default=",".join(map(str, HORIZONS)), help="measure: horizons.")
    parser.add_argument("--check-only", action="store_true", help="measure: only the one-epoch check.")
    parser.add_argument("--steps", type=int, default=3, help="measure: timed optimizer steps per shape (x3 for "
                        "DLinear and FITS).")
    parser.add_argument("--results", type=Path, default=RESULTS, help="export/table: the records' directory.")
    parser.add_argument("--out", type=Path, default=TABLE, help="table: the Markdown file.")
    parser.add_argument("--readme", type=Path, default=README, help="table: the README to update ('-': none).")
    args = parser.parse_args(argv)
    from samovar.data import DataError

    try:
        dispatch(args)
    except (DataError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))


def dispatch(args: argparse.Namespace) -> None:
    if args.action == "measure" and args.check_only:
        from samovar.utils import write_json_atomic

        write_json_atomic(COSTS, {**json.loads(COSTS.read_text()), "check": check_epoch()})
    elif args.action == "measure":
        measure(args.models.split(","), [int(h) for h in args.horizons.split(",")], args.steps)
    elif args.action == "plan":
        plan(args.budget)
    elif args.action == "run":
        if args.workers < 1:
            fail("--workers must be a positive integer")
        cells, _, _, settings = fit_budget(args.budget, load_costs())
        chosen = select(cells, settings, args.cell, args.all)
        change = {k: v for k, v in (("trials", args.trials), ("epochs", args.epochs), ("seeds", args.seeds))
                  if v is not None}
        run([replace(c, **change) for c in chosen], args.root.expanduser(), args.workers)
    elif args.action == "export":
        export(args.root.expanduser(), args.results)
    else:
        print(write_table(args.results, args.out, None if str(args.readme) == "-" else args.readme))


if __name__ == "__main__":
    main()
