"""Reproduce the published baselines on ETTh1 with each paper's own lookback and training recipe.

    .venv/bin/python benchmarks/reproduce_baselines.py --models fits,itransformer --horizons 96
    .venv/bin/python benchmarks/reproduce_baselines.py --table-only     # rebuild the table and the README block

Each (model, horizon, variant) cell trains once and writes one JSON file
(``benchmarks/results/baselines/<model>_h<H>_<setting>[_<variant>].json``, written atomically); a cell
whose JSON exists is skipped. A setting is one of the authors' scripts (FITS and CATS have
two); variants are the hyper-parameters a script searches (FITS etth1_fin.sh: the harmonic
order); the variant with the lowest validation MSE is reported, the test split is never used
for a choice. After every cell the markdown table ``docs/results/baselines.md`` is rewritten,
with the papers' numbers in separate, cited columns. ``--table-only`` also rewrites the README's
block (between ``README_BEGIN`` and ``README_END``) from the same records, the authors'-loader
record ``benchmarks/results/baselines_test_protocol/authors_loader.json`` and the seed records
``benchmarks/results/baselines_seeds/``.

Every cell is trained by the common trainer (``samovar.training.train`` through ``fit_run``,
as ``samovar train --recipe paper`` does) into its own run directory,
``benchmarks/runs/baselines/<cell>/`` (git-ignored; ``--runs-root`` to put it elsewhere), with
a checkpoint after every epoch: re-running the script on a killed cell resumes it from that
checkpoint and ends exactly as an uninterrupted run would (to train a cell afresh, delete its
JSON and its run directory). The JSON records the run directory relative to the repository,
or by its name alone when ``--runs-root`` lies outside the checkout (never an absolute path).

The recipe is the paper's, resolved as the CLI resolves ``--recipe paper``
(``samovar.training.runs.recipe_training`` -> ``Model.paper_training_config("ETTh1", horizon,
**script)``): optimiser and betas, learning rate, batch size, epochs, early-stopping patience,
the code base's learning-rate schedule (per-epoch rules type1/type2/type3/type3_fits/type2_cats
with ``pre_schedule_lr_div``, or torch's one-cycle per step), gradient clipping; the published
lookback and model hyper-parameters. Anything of the recipe the trainer could not apply stops
the cell. Training drops the last incomplete batch (as the reference code); validation and
test use every window on the standardised scale (``samovar.training.metrics.evaluate``,
float64 sums); the test is measured with the best validation epoch's weights.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from samovar import models
from samovar.training import rundir as rd
from samovar.training.runs import fit_run, recipe_training
from samovar.utils import next_time_of_day, write_json_atomic, write_text_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block  # noqa: E402
from _records import git_commit  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "baselines"
TABLE = REPO / "docs" / "results" / "baselines.md"
README = REPO / "README.md"
README_BEGIN = "<!-- baselines-etth1:begin (python benchmarks/reproduce_baselines.py --table-only) -->"
README_END = "<!-- baselines-etth1:end -->"
AUTHORS_LOADER = REPO / "benchmarks" / "results" / "baselines_test_protocol" / "authors_loader.json"
SEED_RESULTS = REPO / "benchmarks" / "results" / "baselines_seeds"
RUNS = REPO / "benchmarks" / "runs" / "baselines"  # one run directory per cell (git-ignored: runs/)
DATASET = "ETTh1"
HEADLINE_SEED = 2021  # every cell of the table; other seeds: benchmarks/baselines_seeds.py
MODELS = ["fits", "itransformer", "cats_xattn", "patchtst", "transformer", "encformer"]  # cheapest first
HORIZONS = [96, 720]

# Numbers each paper reports for ETTh1 (multivariate, standardised scale), with the source. A model
# with several settings (SETTINGS below) may give numbers per setting: PAPER[model][setting][horizon].
PAPER = {
    "patchtst": {
        "source": "Nie et al., ICLR 2023, Table 3, supervised PatchTST/42 (lookback 336, the lookback of its etth1.sh); "
                  "PatchTST/64 at lookback 512 reports 0.370/0.400 (96) and 0.447/0.468 (720)",
        96: (0.375, 0.399), 720: (0.449, 0.466),
    },
    "itransformer": {
        "source": "Liu et al., ICLR 2024, Table 10 (full long-term results, input length 96)",
        96: (0.386, 0.405), 720: (0.503, 0.491),
    },
    "fits": {
        "source": "VEWOXIC/FITS README, 'Result Update' table (MSE only, after the authors' drop_last test-loader fix; "
                  "no MAE is published with it)",
        96: (0.375, None), 720: (0.427, None),
    },
    "cats_xattn": {
        "source": "Kim et al., NeurIPS 2024, appendix Table 14 (input 512) and Table 11 (input 96)",
        "input512": {96: (0.373, 0.401), 720: (0.435, 0.446)},
        "input96": {96: (0.371, 0.395), 720: (0.474, 0.461)},
    },
    "transformer": {"source": "our own plain encoder; no paper of its own. The SAMoVAR "
                              "paper's EncFormer row belongs to `encformer`", 96: (None, None), 720: (None, None)},
    "encformer": {"source": "SAMoVAR paper (Lu & Yang 2025, arXiv 2502.07244), main table, EncFormer row (the "
                            "authors' FormerBaseline): only the ETTh1 test MSE averaged over horizons 96-720, 0.906, no "
                            "per-horizon number", 96: (None, None), 720: (None, None),
                  "average_96_720": 0.906},
}


def paper_numbers(name: str, setting: str, horizon: int) -> tuple[float | None, float | None]:
    """(MSE, MAE) the paper reports for this model/setting/horizon; None where it gives none."""
    entry = PAPER[name]
    entry = entry.get(setting, entry)
    return entry.get(horizon, (None, None))

# Settings per model: (label, keyword arguments of paper_training_config, grid searched on
# validation MSE or None). Most papers have one script; FITS has two (see FITS.paper_training_config).
SETTINGS = {
    "fits": [("best", {"script": "best"}, None), ("fin", {"script": "fin"}, {"harmonic_order": [4, 5, 6, 8]})],
    "cats_xattn": [("input512", {"script": "512"}, None), ("input96", {"script": "96"}, None)],
}
DEFAULT_SETTING = [("paper", {}, None)]


# ----------------------------------------------------------------------------- one run

# Training options that are not part of a recipe: they only choose where and how fast it runs.
SPEED_OPTIONS = ("threads", "device", "quiet", "eval_batch_size")


def cell_training(name: str, horizon: int, script: dict, overrides: dict, seed: int, threads: int = 1,
                  device: str = "cpu"):
    """(TrainConfig, model kwargs, Recipe) of one cell: the paper recipe exactly as ``samovar train
    --recipe paper`` resolves it, with the seed and where/how fast to run. Raises RuntimeError if
    the trainer cannot apply part of the recipe (a resolver note other than the unsearched grid)."""
    config, hyper, rec = recipe_training(
        name, DATASET, horizon, "paper",
        overrides={"seed": seed, "threads": threads, "device": device, "quiet": True, "eval_batch_size": 512},
        model_kwargs=overrides, recipe_options=script)
    lost = [n for n in rec.notes if not n.startswith("the paper searched")]
    if lost:
        raise RuntimeError(f"{name} H={horizon} {script}: the trainer cannot apply all of the paper recipe: {lost}")
    if rec.lookback is None:
        raise RuntimeError(f"{name}'s paper recipe {script} names no lookback")
    return config, hyper, rec


def run_cell(name: str, horizon: int, setting: str, script: dict, overrides: dict, data_dir: str | None, seed: int,
             log: Callable[[str], None], run_dir: Path, threads: int = 1, device: str = "cpu",
             on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> dict:
    """Train one model with its paper recipe into `run_dir` (resuming its checkpoint if there is
    one); return the result record."""
    config, hyper, rec = cell_training(name, horizon, script, overrides, seed, threads, device)
    run_dir = Path(run_dir)
    resume = (run_dir / rd.CHECKPOINT).exists()
    earlier, resumed_from = 0.0, 0
    if resume:
        recorded = rd.read_json(run_dir / rd.CONFIG)
        if recorded["model"]["kwargs"] != json.loads(json.dumps(hyper)) or recorded["data"]["lookback"] != rec.lookback:
            raise RuntimeError(f"{run_dir} was started with model {recorded['model']['kwargs']}, lookback "
                               f"{recorded['data']['lookback']}; the recipe now gives {hyper}, lookback {rec.lookback}. "
                               "Remove the directory to start the cell over.")
        done = rd.load_checkpoint(run_dir / rd.CHECKPOINT)["history"]
        resumed_from, earlier = len(done), sum(r["seconds"] for r in done)
        log(f"  resume {run_dir} after epoch {resumed_from}")

    def each_epoch(row: dict[str, Any]) -> None:
        log(f"  {name} H={horizon} {overrides or ''} epoch {row['epoch']}: train {row['train_loss']:.4f} "
            f"val {row['val_mse']:.4f} lr {row['lr']:.2e} ({row['seconds']:.0f}s)")
        if on_epoch_end is not None:
            on_epoch_end(row)

    result, _ = fit_run(name, DATASET, horizon=horizon, lookback=rec.lookback, model_kwargs=hyper, config=config,
                        data_dir=data_dir, run_dir=run_dir, on_epoch_end=each_epoch, recipe=rec, resume=resume)
    run_dir_text = recorded_run_dir(run_dir)
    return {
        "model": name, "setting": setting, "horizon": horizon, "lookback": rec.lookback, "dataset": DATASET, "seed": seed,
        "hyper": hyper, "overrides": overrides, "recipe": rec.published, "recipe_label": rec.label,
        "recipe_notes": rec.notes, "train_config": {k: v for k, v in config.to_dict().items() if k not in SPEED_OPTIONS},
        "val_mse": result.best_val_mse, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early, "test": result.test_metrics,
        "seconds": round(earlier + result.seconds, 1), "resumed_from_epoch": resumed_from, "history": result.history,
        "parameters": result.model.num_parameters(), "threads": threads, "device": device, "run_dir": run_dir_text,
        "trainer": "samovar.training.train",
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(), "python": platform.python_version(), "torch": torch.__version__,
    }


def repo_relative(path: Path) -> str:
    """`path` relative to the repository if it lies inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def recorded_run_dir(run_dir: Path) -> str:
    """How a record names its run directory: relative to the repository when it lies inside it
    (the default ``--runs-root``), else by its name alone. A ``--runs-root`` outside the checkout
    (another checkout's folder, a cache directory) is a path of the machine the cell ran on, which a
    committed record must not carry; the scripts find a run by its name under the ``--runs-root``
    they are given (``baselines_test_protocol.rescore``)."""
    text = repo_relative(run_dir)
    return Path(text).name if Path(text).is_absolute() else text


# ----------------------------------------------------------------------------- grid and table


def variants(name: str) -> list[tuple[str, dict, dict]]:
    """(setting, paper_training_config kwargs, constructor overrides) for every run of a model."""
    out = []
    for setting, script, grid in SETTINGS.get(name, DEFAULT_SETTING):
        if not grid:
            out.append((setting, script, {}))
            continue
        (key, values), = grid.items()
        out += [(setting, script, {key: v}) for v in values]
    return out


def cell_path(name: str, horizon: int, setting: str, overrides: dict) -> Path:
    tag = "_".join([setting] + [f"{k}{v}" for k, v in overrides.items()])
    return RESULTS / f"{name}_h{horizon}_{tag}.json"


def _fmt(v, digits=3):
    return "—" if v is None else f"{v:.{digits}f}"


def utc_now() -> datetime:
    """The current UTC time (what --stop-after is compared with)."""
    return datetime.now(timezone.utc)


def stop_time(stop_after: str | None) -> datetime | None:
    """--stop-after's UTC HH:MM as a moment: its next occurrence from now, so a deadline just after
    midnight given before midnight is tomorrow's. None (no deadline) stays None."""
    return None if stop_after is None else next_time_of_day(stop_after, utc_now())


class Paused(Exception):
    """Raised at the end of an epoch past --stop-after; the cell's checkpoint is already written."""

    def __init__(self, epoch: int):
        super().__init__(f"paused after epoch {epoch}")
        self.epoch = epoch


def is_past(deadline: datetime | None) -> bool:
    """True when `deadline` (from `stop_time`; None for none) has been reached."""
    return deadline is not None and utc_now() >= deadline


def pause_past(deadline: datetime | None) -> Callable[[dict[str, Any]], None]:
    """An ``on_epoch_end`` callback that raises `Paused` after an epoch ending at or past
    `deadline`, unless that epoch was the cell's last: a finished cell is tested now."""

    def pause_if_late(row: dict[str, Any]) -> None:
        if not row["last"] and is_past(deadline):
            raise Paused(row["epoch"])

    return pause_if_late


def progress(run_dir: Path) -> str:
    """What an unfinished cell has done: 'not run', or its checkpointed epochs and best validation MSE."""
    if not (run_dir / rd.CHECKPOINT).exists() or not (run_dir / rd.METRICS).exists():
        return "not run"
    rows = rd.read_jsonl(run_dir / rd.METRICS)
    if not rows:
        return "not run"
    best = min(rows, key=lambda r: r["val_mse"])
    epochs = f"{len(rows)} epoch{'s' if len(rows) != 1 else ''}"
    return (f"unfinished: {epochs} checkpointed ({sum(r['seconds'] for r in rows) / 60:.0f} min), "
            f"best val MSE {best['val_mse']:.4f} at epoch {best['epoch']}; running the script again resumes it")


def write_table(model_names: list[str], horizons: list[int], runs_root: Path = RUNS) -> str:
    rows, missing = [], []
    for name in model_names:
        settings = [st for st, _, _ in SETTINGS.get(name, DEFAULT_SETTING)]
        for setting in settings:
            for horizon in horizons:
                runs = [v for v in variants(name) if v[0] == setting]
                paths = [cell_path(name, horizon, st, o) for st, _, o in runs]
                done = [json.loads(p.read_text()) for p in paths if p.exists()]
                todo = [o for (st, _, o), p in zip(runs, paths) if not p.exists()]
                label = name if setting == "paper" else f"{name} ({setting})"
                if todo:
                    missing.append(f"{label} H={horizon}: " + "; ".join(
                        (f"{o}: " if o else "") + progress(runs_root / cell_path(name, horizon, setting, o).stem)
                        for o in todo))
                if not done:
                    continue
                best = min(done, key=lambda r: r["val_mse"])
                p_mse, p_mae = paper_numbers(name, setting, horizon)
                delta = None if p_mse is None else best["test"]["mse"] - p_mse
                verdict = "—" if delta is None else ("yes" if delta <= 0.02 else "no")
                chosen = ", ".join(f"{k}={v}" for k, v in best["overrides"].items()) or "paper defaults"
                if len(runs) > 1:
                    chosen += f" (best val of {len(done)}/{len(runs)} variants)"
                rows.append(
                    f"| {label} | {horizon} | {best['lookback']} | {chosen} | {best['val_mse']:.4f} | "
                    f"{best['test']['mse']:.4f} | {best['test']['mae']:.4f} | {_fmt(p_mse)} | {_fmt(p_mae)} | "
                    f"{'—' if delta is None else f'{delta:+.3f}'} | {verdict} | {best['best_epoch']}/{best['epochs_run']} | "
                    f"{sum(r['seconds'] for r in done) / 60:.1f} |"
                )
    lines = [
        "# Baselines on ETTh1: our runs against the papers' numbers",
        "",
        "Generated by `benchmarks/reproduce_baselines.py` from the per-run JSON files in "
        "`benchmarks/results/baselines/`. Multivariate ETTh1 (7 channels), the standard 12/4/4-month split, "
        "train-only standardisation, metrics on the standardised scale over every test window "
        "(no `drop_last`). Each model uses its own paper's lookback and training recipe "
        "(`paper_training_config`, the script named in the sources below); where the script searches a "
        f"hyper-parameter, the value with the lowest validation MSE is reported. One seed ({HEADLINE_SEED}); CPU, one thread, "
        "shared with other jobs (wall times are inflated). PatchTST's and CATS's authors score the test split with a "
        "drop-last loader; the same cells scored that way are in `baselines_test_protocol.md` "
        "(`benchmarks/baselines_test_protocol.py`); cells trained with other seeds are in `baselines_seeds.md` "
        "(`benchmarks/baselines_seeds.py`).",
        "",
        "| model (script) | horizon | lookback | chosen on validation | val MSE | **test MSE** | **test MAE** | paper MSE | paper MAE | Δ MSE (ours − paper) | within +0.02 | best epoch / epochs run | wall time, all variants (min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Paper columns (sources):",
        "",
        *[f"- **{n}**: {PAPER[n]['source']}" for n in model_names],
        "",
        "Recipes (scripts) used:",
        "",
        *[f"- **{n}{'' if st == 'paper' else f' ({st})'}**: {models.model_class(n).paper_training_config('ETTh1', None, **kw)['source']}"
          for n in model_names for st, kw, _ in SETTINGS.get(n, DEFAULT_SETTING)],
        "",
    ]
    if missing:
        lines += ["Not finished yet:", "", *[f"- {m}" for m in missing], ""]
    text = "\n".join(lines)
    write_text_atomic(TABLE, text)
    return text


# The README's names of the table's cells (model, setting) and their short names in its sentences.
README_LABELS = {
    ("fits", "best"): ("FITS (`etth1_best.sh`)", "FITS-best"),
    ("fits", "fin"): ("FITS (`etth1_fin.sh`)", "FITS-fin"),
    ("itransformer", "paper"): ("iTransformer", "iTransformer"),
    ("cats_xattn", "input512"): ("CATS (Kim et al., 512-input script)", "CATS-512"),
    ("cats_xattn", "input96"): ("CATS (Kim et al., 96-input script)", "CATS-96"),
    ("patchtst", "paper"): ("PatchTST/42 (`etth1.sh`)", "PatchTST"),
    ("transformer", "paper"): ("Transformer encoder (`transformer`, SAMoVAR `baseline.sh` recipe)", "transformer"),
    ("encformer", "paper"): ("EncFormer (`encformer`, the SAMoVAR authors' `FormerBaseline`, `baseline.sh`)", "EncFormer"),
}
TARGET = 0.02  # a cell "reproduces" its paper when its test MSE is at most this much above the paper's
NUMBER_WORDS = dict(enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                              "fifteen sixteen".split()))


def _signed(v: float, digits: int = 3) -> str:
    """+0.004 / −0.003 (a typographic minus, as the README prints it)."""
    return f"{v:+.{digits}f}".replace("-", "−")


def _wrap(text: str, width: int = 100) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line]


def finished_cells(results: Path | None = None) -> list[dict]:
    """Every table cell with a record, in table order: name, setting, horizon, the reported (best validation)
    record and the records of all its variants."""
    results = results or RESULTS
    cells = []
    for name in MODELS:
        for setting in [st for st, _, _ in SETTINGS.get(name, DEFAULT_SETTING)]:
            for horizon in HORIZONS:
                runs = [v for v in variants(name) if v[0] == setting]
                paths = [results / cell_path(name, horizon, st, o).name for st, _, o in runs]
                done = [json.loads(p.read_text()) for p in paths if p.exists()]
                if done:
                    cells.append({"name": name, "setting": setting, "horizon": horizon, "done": done,
                                  "best": min(done, key=lambda r: r["val_mse"])})
    return cells


def readme_block(results: Path | None = None, authors_loader: Path | None = None,
                 seed_results: Path | None = None) -> str:
    """The README's baselines block (markers included) from the committed records."""
    cells = finished_cells(results)
    loader = {(c["model"], c["setting"], c["horizon"]): c
              for c in json.loads((authors_loader or AUTHORS_LOADER).read_text())["cells"]}
    seeds: dict[tuple, list[dict]] = {}
    for path in sorted((seed_results or SEED_RESULTS).glob("*_seed*.json")):
        r = json.loads(path.read_text())
        seeds.setdefault((r["model"], r["setting"], r["horizon"]), []).append(r)
    trained = ("fits", "itransformer", "cats_xattn", "patchtst")
    hours = sum(r["seconds"] for c in cells if c["name"] in trained for r in c["done"]) / 3600
    rows, compared, misses = [], [], []
    for c in cells:
        key = (c["name"], c["setting"], c["horizon"])
        best, (label, short) = c["best"], README_LABELS[key[:2]]
        p_mse, p_mae = paper_numbers(*key)
        if p_mse is None:
            average = PAPER[c["name"]].get("average_96_720")
            paper, delta = ("no paper" if average is None else f"{average:.3f} averaged over 96–720"), ""
        else:
            d = best["test"]["mse"] - p_mse
            compared.append((key, short, d))
            if d > TARGET:
                misses.append((key, short, d))
            paper = f"{p_mse:.3f} / " + ("–" if p_mae is None else f"{p_mae:.3f}")
            delta = f"**{_signed(d)}**" if d > TARGET else _signed(d)
        kept = loader.get(key)
        row = "| " + " | ".join([label, str(c["horizon"]), str(best["lookback"]),
                                 f"{best['test']['mse']:.4f} / {best['test']['mae']:.4f}", paper, delta,
                                 "" if kept is None else _signed(kept["authors_loader"]["delta_mse_vs_paper"])]) + " |"
        while "|  |" in row:
            row = row.replace("|  |", "| |")
        rows.append(row)
    within = len(compared) - len(misses)
    words = [f"{NUMBER_WORDS.get(within, within)} of {NUMBER_WORDS.get(len(compared), len(compared))}".capitalize()
             + f" cells are within +{TARGET} of their paper."]
    for key, short, d in misses:
        words.append(f"{short} at horizon {key[2]} misses that target by {d - TARGET:.3f} ({_signed(d)})")
        runs = seeds.get(key, [])
        if len(runs) > 1:
            mses = [r["test"]["mse"] for r in runs]
            mean = sum(mses) / len(mses)
            sd = (sum((m - mean) ** 2 for m in mses) / (len(mses) - 1)) ** 0.5
            verdict = "the miss is systematic, not seed luck" if mean - paper_numbers(*key)[0] > TARGET \
                else "the seed mean is within it"
            words[-1] += (f", and over {NUMBER_WORDS.get(len(runs), len(runs))} seeds by "
                          f"{_signed(mean - paper_numbers(*key)[0])} on average (mean {mean:.4f} ± {sd:.4f}): {verdict}")
        words[-1] += "."
    missed = {key for key, _, _ in misses}
    others = [v["authors_loader"]["delta_mse_vs_paper"] for k, v in loader.items() if k not in missed]
    words.append("PatchTST's and CATS's own code never scores the last partial test batch (`drop_last=True`). "
                 "Scored on the windows that loader keeps (last column; a diagnostic, nothing was chosen with it), "
                 f"the other PatchTST and CATS cells are within {_signed(max(others))} of their papers"
                 + "".join(f" and {short} at {key[2]} is at {_signed(loader[key]['authors_loader']['delta_mse_vs_paper'])}"
                           for key, short, _ in misses if key in loader) + ".")
    if misses:
        words.append(f"An audit of the authors' code path for {'that cell' if len(misses) == 1 else 'those cells'} "
                     "found no further difference; what we checked is in "
                     "[docs/baselines.md](docs/baselines.md#reproduction-on-etth1).")
    beta1 = sorted({c["best"]["recipe"]["betas"][0] for c in cells if c["name"] in ("patchtst", "cats_xattn")})
    words.append(f"PatchTST's and CATS's recipes use Adam with beta1 {' / '.join(f'{b:g}' for b in beta1)}, "
                 "as their code leaves it.")
    lines = [
        README_BEGIN,
        *_wrap("`benchmarks/reproduce_baselines.py` (table and sources in "
               "[docs/results/baselines.md](docs/results/baselines.md), discussion in "
               "[docs/baselines.md](docs/baselines.md#reproduction-on-etth1)). Every cell trains through the common "
               "trainer with the recipe `samovar train --recipe paper` uses, and resumes from its checkpoint after a "
               "kill. Paper numbers are from each paper's own tables (cited in the doc). "
               f"Seed {HEADLINE_SEED}, scored on every test window:"),
        "",
        "```bash",
        "SAMOVAR_DATA_DIR=../shared/data python benchmarks/reproduce_baselines.py \\",
        f"    --models {','.join(trained)} --horizons 96,720   # ~{hours:.1f} h of one core here",
        "SAMOVAR_DATA_DIR=../shared/data python benchmarks/baselines_test_protocol.py  # last column",
        "SAMOVAR_DATA_DIR=../shared/data python benchmarks/baselines_seeds.py \\",
        "    --model cats_xattn --setting input512 --horizon 720 --seeds 2021,2022,2023  # other seeds of one cell",
        "```",
        "",
        "| model (script) | horizon | lookback | test MSE / MAE | paper MSE / MAE | Δ MSE | Δ MSE, authors' test loader |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        *_wrap(" ".join(words)),
        README_END,
    ]
    return "\n".join(lines)


def write_readme(readme: Path) -> None:
    """Replace the README's baselines block with the one generated from the records."""
    write_text_atomic(readme, replace_block(readme.read_text(), README_BEGIN, README_END, readme_block(),
                                            str(readme), error=SystemExit))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma list from {MODELS}")
    parser.add_argument("--horizons", default="96,720")
    parser.add_argument("--data-dir", default=os.environ.get("SAMOVAR_DATA_DIR"))
    parser.add_argument("--seed", type=int, default=HEADLINE_SEED,
                        help=f"the table's cells are all seed {HEADLINE_SEED}; other seeds go through baselines_seeds.py")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--settings", default=None, help="comma list of setting labels to run (default: all)")
    parser.add_argument("--table-only", action="store_true",
                        help="train nothing: rebuild docs/results/baselines.md and the README block")
    parser.add_argument("--readme", type=Path, default=README, help="the document whose block --table-only rewrites")
    parser.add_argument("--stop-after", default=None,
                        help="UTC time HH:MM (its next occurrence) after which no new run starts and a running one "
                             "pauses at the end of its epoch (its checkpoint stays; running the script again resumes it)")
    parser.add_argument("--runs-root", type=Path, default=RUNS,
                        help="where each cell's run directory (checkpoint, metrics) goes")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (the earlier cells ran on the CPU)")
    args = parser.parse_args(argv)
    names = [n.strip().lower() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {MODELS}")
    horizons = [int(h) for h in args.horizons.split(",")]
    if args.seed != HEADLINE_SEED and not args.table_only:
        parser.error(f"--seed {args.seed}: the cells of {TABLE.name} are all seed {HEADLINE_SEED}, so a cell trained "
                     "with another seed would be mixed into it. Use benchmarks/baselines_seeds.py, which keeps every "
                     "seed's record apart and reports the spread")

    def log(msg: str) -> None:
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {msg}", flush=True)

    try:
        deadline = stop_time(args.stop_after)
    except ValueError as err:
        parser.error(f"--stop-after: {err}")
    if not args.table_only:
        if deadline is not None:
            log(f"--stop-after {args.stop_after}: from {deadline:%Y-%m-%d %H:%M} UTC no cell starts, "
                "and a running one pauses at its epoch end")
        for horizon in horizons:
            for name in names:
                for setting, script, overrides in variants(name):
                    if args.settings and setting not in args.settings.split(","):
                        continue
                    path = cell_path(name, horizon, setting, overrides)
                    if path.exists():
                        log(f"skip {path.name} (done)")
                        continue
                    if is_past(deadline):
                        log(f"not starting {path.name}: past --stop-after {args.stop_after}")
                        continue
                    log(f"run {path.name}")
                    try:
                        record = run_cell(name, horizon, setting, script, overrides, args.data_dir, args.seed, log,
                                          run_dir=args.runs_root / path.stem, threads=args.threads,
                                          device=args.device, on_epoch_end=pause_past(deadline))
                    except Paused as paused:
                        log(f"paused {path.stem} after epoch {paused.epoch} (past --stop-after {args.stop_after}); "
                            f"its checkpoint is in {args.runs_root / path.stem}, running the script again resumes it")
                        write_table(MODELS, HORIZONS, args.runs_root)
                        continue
                    write_json_atomic(path, record)
                    log(f"done {path.name}: val {record['val_mse']:.4f} test mse {record['test']['mse']:.4f} "
                        f"mae {record['test']['mae']:.4f} in {record['seconds'] / 60:.1f} min")
                    write_table(MODELS, HORIZONS, args.runs_root)
    print(write_table(MODELS, HORIZONS, args.runs_root))
    if args.table_only:
        write_readme(args.readme)


if __name__ == "__main__":
    sys.exit(main())
