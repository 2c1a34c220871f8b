"""Print markdown tables of finished task runs (results.json + config.json of each run directory).

    python benchmarks/tasks_table.py runs/tasks/shakespeare-*     # language models
    python benchmarks/tasks_table.py runs/tasks/listops-*         # classifiers (LRA, Speech Commands)

Language-model runs and classification runs get different columns; a mixed list prints one
table of each. Classification tables end with the task's published numbers (from
``samovar.tasks.TASKS``), labelled **published**, and the majority-class rate of the test split
of the first run's data (re-read from its files), the floor any classifier should beat.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(run_dir: Path) -> tuple[dict, dict]:
    return json.loads((run_dir / "config.json").read_text()), json.loads((run_dir / "results.json").read_text())


def lm_row(cfg: dict, res: dict) -> str:
    value = (f"{res['val_loss_est']:.4f} | {res['val_loss']:.4f} | "
             + (f"{res['val_bpc']:.3f}" if "val_bpc" in res else f"{res['val_ppl']:.1f}"))
    return (f"| {cfg['model']['mixer']} | {cfg['parameters']:,} | {value} | {res['train_seconds_this_call'] / 60:.1f} | "
            f"{res['wall_seconds_this_call'] / 60:.1f} | {res['peak_mem_mb']:.0f} | {res['budget']} |")


LM_HEADER = ("| mixer | parameters | val loss (nanoGPT 20-batch estimate) | val loss (exact, every validation target) | "
             "bits/char or ppl (exact) | train min | wall min | peak RSS MB | budget |\n|---|---|---|---|---|---|---|---|---|")


def classification_row(cfg: dict, res: dict) -> str:
    """Accuracies are of the final weights, on every validation / test example."""
    def pct(key: str) -> str:
        return f"{100 * res[key]:.2f}" if key in res else "–"
    return (f"| {cfg['model']['mixer']} | {cfg['parameters']:,} | {pct('test_accuracy')} | {pct('val_accuracy')} | "
            f"{res['train_seconds_this_call'] / 60:.1f} | {res['wall_seconds_this_call'] / 60:.1f} | "
            f"{res['peak_mem_mb']:.0f} | {res['budget']} |")


CLASSIFICATION_HEADER = ("| mixer | parameters | test accuracy % | val accuracy % | train min | wall min | peak RSS MB | budget |\n"
                         "|---|---|---|---|---|---|---|---|")


def majority_rate(cfg: dict) -> tuple[float, int] | None:
    """(share of the most frequent test label, test size) of the run's data, re-read with its options."""
    from samovar.tasks import get_task

    try:
        data = get_task(cfg["task"]["name"]).load(cfg["task"]["data_dir"], **cfg["task"]["data_options"])
    except Exception as exc:  # data not on this machine: the table is still printed
        print(f"(majority class not computed: {exc})", file=sys.stderr)
        return None
    labels = data.test.labels
    counts = labels.bincount(minlength=data.num_classes)
    return float(counts.max()) / len(labels), len(labels)


def published_rows(cfg: dict) -> list[str]:
    from samovar.tasks import get_task

    return [f"| **published**: {p.model} | – | {p.value:.2f} | – | – | – | – | {p.source} |"
            for p in get_task(cfg["task"]["name"]).published]


def main(paths: list[str]) -> None:
    runs = [(Path(p), *_load(Path(p))) for p in paths if (Path(p) / "results.json").exists()]
    lm = [(cfg, res) for _, cfg, res in runs if cfg["task"]["kind"] == "lm"]
    clf = [(cfg, res) for _, cfg, res in runs if cfg["task"]["kind"] != "lm"]
    if lm:
        print(LM_HEADER)
        for cfg, res in lm:
            print(lm_row(cfg, res))
    if clf:
        if lm:
            print()
        tasks = {cfg["task"]["name"] for cfg, _ in clf}
        if len(tasks) > 1:
            raise SystemExit(f"give the runs of one classification task at a time, got {sorted(tasks)}")
        print(CLASSIFICATION_HEADER)
        for cfg, res in clf:
            print(classification_row(cfg, res))
        for line in published_rows(clf[0][0]):
            print(line)
        majority = majority_rate(clf[0][0])
        if majority is not None:
            print(f"\nMajority class of the test split ({clf[0][0]['data']['name']}, {majority[1]} examples): "
                  f"{100 * majority[0]:.2f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
