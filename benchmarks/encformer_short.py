"""EncFormer's short ETTh1 runs: how fast the small model learns, against the naive floors.

    SAMOVAR_DATA_DIR=../shared/data python benchmarks/encformer_short.py --record benchmarks/results/encformer_short.json
    python benchmarks/encformer_short.py --table benchmarks/results/encformer_short.json   # the doc and README blocks

The setting of ``tests/test_encformer.py``'s slow test: ETTh1, lookback 96, horizon 24; ``encformer``
with 1 layer, d_model 16, 2 heads, mlp_ratio 2, no dropout; batch 32, constant lr, Adam, no early
stopping, through the common trainer (``samovar.training.train``); the score is the best validation
MSE over every validation window (on the standardised scale). Each run builds the model after
``torch.manual_seed(seed)`` and trains with that seed. The floors are the registered ``naive`` (last
value) and ``seasonal_naive`` (the last 24 hours) forecasts on the same windows.

``--record PATH`` trains every run of RUNS (a few minutes on one thread) and writes a JSON record
(atomic) with the conditions and every epoch's validation MSE. ``--table PATH`` writes nothing but
the generated blocks of docs/baselines.md (the table) and README.md (one sentence).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import rewrite_block  # noqa: E402
from _records import git_commit, load_record, parse_record_or_table, record_or_table_parser  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOC, README = REPO / "docs" / "baselines.md", REPO / "README.md"
BEGIN = "<!-- encformer-short:begin (python benchmarks/encformer_short.py --table RECORD) -->"
END = "<!-- encformer-short:end -->"
README_BEGIN = "<!-- encformer-short-readme:begin (python benchmarks/encformer_short.py --table RECORD) -->"
README_END = "<!-- encformer-short-readme:end -->"
LOOKBACK, HORIZON = 96, 24
SMALL = dict(d_model=16, heads=2, layers=1, mlp_ratio=2, dropout=0.0)
LARGER = dict(d_model=64, heads=4, layers=2, mlp_ratio=4, dropout=0.0)
# (name, model size, lr, epochs, seed); every epoch's validation MSE is recorded
RUNS = [
    *[(f"lr{lr:g}_1ep", "small", lr, 1, 0) for lr in (3e-4, 1e-3, 3e-3, 1e-2)],
    *[(f"lr0.01_1ep_seed{s}", "small", 1e-2, 1, s) for s in (1, 2)],
    ("lr0.001_3ep", "small", 1e-3, 3, 0),
    *[(f"lr0.003_3ep_seed{s}", "small", 3e-3, 3, s) for s in (0, 1, 2)],
    ("lr0.003_6ep", "small", 3e-3, 6, 0),
    ("lr0.003_1ep_window_standardised", "small_window_standardised", 3e-3, 1, 0),
    ("larger_lr0.001_4ep", "larger", 1e-3, 4, 0),
]


def window_standardised(inner):
    """`inner` seeing each window standardised over its lookback (per channel) and forecasting on that scale,
    the forecast mapped back: a measurement wrapper, not a model of the registry."""
    from samovar.models.base import ForecastModel

    class WindowStandardised(ForecastModel):
        name = "encformer_window_standardised"

        def __init__(self) -> None:
            super().__init__(inner.lookback, inner.horizon, inner.channels)
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mean = x.mean(dim=1, keepdim=True)
            std = x.std(dim=1, keepdim=True) + 1e-5
            return self.inner((x - mean) / std) * std + mean

    return WindowStandardised()


def train_runs(data_dir: str | None) -> dict:
    from samovar import models
    from samovar.data import prepare_data
    from samovar.training import TrainConfig, train
    from samovar.training.metrics import evaluate
    from samovar.training.runs import build_model, fill_seasonal_period

    data = prepare_data("ETTh1", lookback=LOOKBACK, horizon=HORIZON, data_dir=data_dir)
    floors = {name: evaluate(build_model(name, LOOKBACK, HORIZON, data.channels,
                                         fill_seasonal_period(name, None, data.freq)), data.val)["mse"]
              for name in ("naive", "seasonal_naive")}
    torch.manual_seed(0)
    untrained = evaluate(models.get("encformer", lookback=LOOKBACK, horizon=HORIZON, channels=data.channels, **SMALL),
                         data.val)["mse"]
    runs = []
    for name, size, lr, epochs, seed in RUNS:
        torch.manual_seed(seed)
        model = models.get("encformer", lookback=LOOKBACK, horizon=HORIZON, channels=data.channels,
                           **(LARGER if size == "larger" else SMALL))
        if size == "small_window_standardised":
            model = window_standardised(model)
        config = TrainConfig(epochs=epochs, batch_size=32, lr=lr, schedule="constant", patience=0, quiet=True,
                             seed=seed, threads=1)
        result = train(model, data, config)
        runs.append({"name": name, "encformer_size": size, "lr": lr, "epochs": epochs, "seed": seed,
                     "val_mse": [row["val_mse"] for row in result.history], "best_val_mse": result.best_val_mse,
                     "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1)})
        print(f"{name}: " + ", ".join(f"{v:.3f}" for v in runs[-1]["val_mse"]) + f" ({result.seconds:.0f} s)", flush=True)
    return {"floors_val_mse": floors, "untrained_val_mse": untrained, "val_windows": len(data.val), "runs": runs}


def _run(record: dict, name: str) -> dict:
    return next(r for r in record["runs"] if r["name"] == name)


def _f(v: float) -> str:
    return f"{v:.3f}"


def doc_block(record: dict, source: str) -> str:
    """The docs/baselines.md table (markers included) of one record."""
    runs = record["runs"]
    one = [_run(record, f"lr{lr:g}_1ep") for lr in (3e-4, 1e-3, 3e-3, 1e-2)]
    seeds3 = [_run(record, f"lr0.003_3ep_seed{s}") for s in (0, 1, 2)]
    six, larger = _run(record, "lr0.003_6ep"), _run(record, "larger_lr0.001_4ep")
    c = record["conditions"]
    lines = [
        BEGIN,
        f"Generated by `python benchmarks/encformer_short.py --table {source}` from the record "
        f"[`{source}`](../{source}) (commit {record['commit']}, {c['started_utc']}, torch {c['torch']}, "
        f"{c['threads']} thread); do not edit by hand. Best validation MSE over the {record['val_windows']:,} "
        f"validation windows; seed 0 unless stated; floors on the same windows: seasonal naive "
        f"{_f(record['floors_val_mse']['seasonal_naive'])}, last value {_f(record['floors_val_mse']['naive'])}.",
        "",
        "| training of the small EncFormer | best validation MSE |",
        "|---|---|",
        f"| none (freshly built) | {_f(record['untrained_val_mse'])} |",
        "| 1 epoch at lr 3e-4 / 1e-3 / 3e-3 / 1e-2 | " + " / ".join(_f(r["best_val_mse"]) for r in one) + " |",
        "| 1 epoch at lr 1e-2, seeds 1 and 2 | "
        + ", ".join(_f(_run(record, f"lr0.01_1ep_seed{s}")["best_val_mse"]) for s in (1, 2)) + " |",
        "| 3 epochs at lr 1e-3 (after epochs 1, 2, 3) | " + ", ".join(map(_f, _run(record, "lr0.001_3ep")["val_mse"])) + " |",
        "| 3 epochs at lr 3e-3 (after epochs 1, 2, 3) | " + ", ".join(map(_f, seeds3[0]["val_mse"][:2]))
        + f", **{_f(seeds3[0]['val_mse'][2])}** (seeds 1, 2: "
        + ", ".join(_f(r["best_val_mse"]) for r in seeds3[1:]) + ") |",
        f"| 6 epochs at lr 3e-3 | {_f(six['val_mse'][2])} (epoch 3), then " + ", ".join(map(_f, six["val_mse"][3:])) + " |",
        "| 1 epoch at lr 3e-3, each window standardised around the model (a measurement wrapper, std + 1e-5) | "
        f"{_f(_run(record, 'lr0.003_1ep_window_standardised')['best_val_mse'])} |",
        "| d_model 64, 2 layers, 4 heads, mlp_ratio 4, lr 1e-3: 1 / 4 epochs | "
        f"{_f(larger['val_mse'][0])} / {_f(larger['best_val_mse'])} |",
        "",
        f"Seconds per run (wall, one thread, a machine shared with other jobs): "
        f"{min(r['seconds'] for r in runs):.0f}–{max(r['seconds'] for r in runs):.0f}.",
        END,
    ]
    return "\n".join(lines)


def readme_block(record: dict) -> str:
    best = _run(record, "lr0.003_3ep_seed0")["best_val_mse"]
    floor = record["floors_val_mse"]["seasonal_naive"]
    verdict = "does beat" if best < floor else "does not beat"
    return "\n".join([
        README_BEGIN,
        f"In a short run at lookback 96 the same model, trained three epochs at lr 3e-3, {verdict} seasonal naive on "
        f"the validation windows ({_f(best)} against {_f(floor)}; "
        "[the measurements](docs/baselines.md#encformer-slow-to-train-not-broken), `benchmarks/encformer_short.py`).",
        README_END,
    ])


def main(argv: list[str] | None = None) -> None:
    parser = record_or_table_parser(__doc__.split("\n")[0], record="train every run and write the record here",
                                    table="train nothing: rewrite the doc and README blocks from this record", doc=DOC)
    parser.add_argument("--readme", type=Path, default=README)
    args = parse_record_or_table(parser, argv, "blocks")
    from samovar.utils import write_json_atomic

    if args.record is not None:
        torch.set_num_threads(1)
        started, t0, commit = datetime.now(timezone.utc), time.monotonic(), git_commit()  # the code that trains
        load0 = os.getloadavg()
        out = train_runs(args.data_dir)
        write_json_atomic(args.record, {
            "benchmark": "encformer_short.py",
            "command": "SAMOVAR_DATA_DIR=../shared/data python benchmarks/encformer_short.py --record " + args.record.name,
            "commit": commit, "dataset": "ETTh1", "lookback": LOOKBACK, "horizon": HORIZON,
            "encformer_sizes": {"small": SMALL, "larger": LARGER},
            "training": "samovar.training.train: Adam, batch 32, constant lr, no early stopping, seed as given",
            "conditions": {"torch": torch.__version__, "python": platform.python_version(), "threads": 1,
                           "nice": os.nice(0), "load_average_start": list(load0), "load_average_end": list(os.getloadavg()),
                           "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "minutes": round((time.monotonic() - t0) / 60, 2)},
            **out})
        print(f"record: {args.record}")
    if args.table is not None:
        record, source = load_record(args.table, "--record")
        rewrite_block(args.doc, BEGIN, END, doc_block(record, source))
        rewrite_block(args.readme, README_BEGIN, README_END, readme_block(record))


if __name__ == "__main__":
    main()
