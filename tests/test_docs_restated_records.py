"""Numbers the docs restate from a committed record, in prose rather than a generated block: each equals its
record's value."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

from conftest import REPO, load_benchmark


def doc(name: str) -> str:
    return " ".join((REPO / "docs" / name).read_text().split())


def test_bench_smoke_longest_cell_is_the_results_csv_one():
    rows = list(csv.DictReader((REPO / "docs" / "results" / "bench_smoke" / "results.csv").open()))
    seconds, model, dataset = max((float(r["seconds"]), r["model"], r["dataset"]) for r in rows if r["seconds"])
    assert (model, dataset) == ("transformer", "ETTh1")
    assert (f"its longest cell, the encoder Transformer's ETTh1 cell, spent {seconds:.0f} s of wall time in the "
            "trainer") in doc("bench.md")


def test_readme_cost_of_the_samovar_paper_recipe_is_the_record_one():
    record = json.loads((REPO / "benchmarks" / "results" / "samovar" / "samovar_ETTh1_h96.json").read_text())
    readme = " ".join((REPO / "README.md").read_text().split())
    assert (f"samovar train --model samovar --dataset ETTh1 --horizon 96 # the paper's recipe and lookback (1024); "
            f"{record['epochs_run']} epochs until patience 12 stops it, {record['seconds'] / 60:.0f} min here") in readme


def test_samovar_etth1_h96_epoch_time_is_the_record_one():
    record = json.loads((REPO / "benchmarks" / "results" / "samovar" / "samovar_ETTh1_h96.json").read_text())
    assert f"| {record['train_seconds_per_epoch']:.0f} s wall on average (the record's `train_seconds_per_epoch`" in doc("samovar.md")


def test_the_superseded_fits_fin_h720_record_missed_by_what_the_doc_says():
    """The type3-schedule records were replaced at d15bfd4; the doc cites the version before it."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the superseded record is in the history only")
    path = "benchmarks/results/baselines/fits_h720_fin_harmonic_order{}.json"
    shown = {o: subprocess.run(["git", "show", f"d15bfd4^:{path.format(o)}"], cwd=REPO, capture_output=True, text=True)
             for o in (4, 5, 6, 8)}
    if any(p.returncode for p in shown.values()):
        pytest.skip("commit d15bfd4 is not in this checkout's history")
    records = {o: json.loads(p.stdout) for o, p in shown.items()}
    chosen = min(records, key=lambda o: records[o]["val_mse"])  # the harmonic order is chosen on validation
    mse, paper = records[chosen]["test"]["mse"], load_benchmark("reproduce_baselines").PAPER["fits"][720][0]
    assert chosen == 8
    assert f"missed by +{mse - paper:.3f} at 720 (test MSE {mse:.4f} against the paper's {paper}" in doc("baselines.md")
