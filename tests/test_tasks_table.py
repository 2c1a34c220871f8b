"""benchmarks/tasks_table.py: run directories -> committed records -> docs/results/tasks.md."""

from __future__ import annotations

import json
import sqlite3
import sys
from types import SimpleNamespace

import pytest
import torch

from conftest import REPO
from test_committed_records import ABSOLUTE

sys.path.insert(0, str(REPO / "benchmarks"))
import tasks_table as tt  # noqa: E402


def _lm_run(root, mixer="gla", est=(4.2, 2.0, 1.70), data_dir="/data/shared", finished=True):
    run = root / f"shakespeare-{mixer}"
    run.mkdir(parents=True)
    config = {
        "data": {"context": 8, "name": "shakespeare", "notes": [f"read from {data_dir}/tinyshakespeare/input.txt.gz"],
                 "sources": {"train": f"{data_dir}/tinyshakespeare/input.txt.gz"}, "tokens": {"val": 101}},
        "device": "cpu", "model": {"dim": 16, "layers": 2, "mixer": mixer, "options": {"heads": 2}},
        "parameters": 1234 if mixer == "gla" else 2000, "seed": 1337,
        "task": {"context": 64, "data_dir": data_dir, "data_options": {}, "kind": "lm", "name": "shakespeare"},
        "train": {"batch_size": 12, "beta1": 0.9, "beta2": 0.99, "budget": "tiny budget", "device": "auto",
                  "eval_batch_size": 64, "eval_batches": 20, "eval_interval": 5, "grad_clip": 1.0, "lr": 0.001,
                  "min_lr": 0.0001, "quiet": True, "seed": 1337, "steps": 10, "threads": 1, "warmup_steps": 100,
                  "weight_decay": 0.1},
        "versions": {"python": "3.11", "samovar": "0.1.0", "torch": "2.13.0+cpu"},
    }
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"step": s, "val_loss_est": v, "train_loss_est": v - 0.1, "lr": 1e-3, "seconds": s, "best": True}) + "\n"
        for s, v in zip((0, 5, 10), est)))
    if finished:
        (run / "results.json").write_text(json.dumps({
            "budget": "tiny budget", "peak_mem_mb": 400.0, "resumed": False, "step": 10, "steps": 10,
            "train_loss_est": est[-1] - 0.1, "train_seconds_this_call": 120.0, "val_bpc": est[-1] / 0.6931 - 0.01,
            "val_loss": est[-1] - 0.01, "val_loss_est": est[-1], "val_tokens": 101, "wall_seconds_this_call": 150.0}))
    return run


def _clf_record(task, mixer, acc, val_losses=(2.3, 1.7)):
    return {"format": 1, "task": task, "kind": "classification", "mixer": mixer, "run": f"{task}-{mixer}",
            "command": f"samovar task run {task} --mixer {mixer} --layers 2 --dim 64 --steps 250 --run-dir runs/tasks/{task}-{mixer}",
            "code_version": "0.1.0+gabc", "seed": 1337, "budget": "CPU budget", "parameters": 1000,
            "results": {"test_accuracy": acc, "val_accuracy": acc, "test_loss": 1.7, "train_seconds_this_call": 60.0,
                        "wall_seconds_this_call": 90.0, "peak_mem_mb": 500.0, "budget": "CPU budget"},
            "curve": [{"step": 0, "val_loss": val_losses[0], "val_accuracy": 0.1},
                      {"step": 250, "val_loss": val_losses[1], "val_accuracy": acc}],
            "config": {"task": {"name": task, "kind": "classification", "data_options": {"max_length": 256}},
                       "model": {"dim": 64, "layers": 2, "mixer": mixer, "options": {"heads": 4}},
                       "train": {"steps": 250, "batch_size": 32, "lr": 0.001, "warmup_steps": 25, "min_lr": 1e-5,
                                 "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.05, "grad_clip": 1.0, "threads": 1},
                       "data": {"examples": {"train": 10000, "val": 500, "test": 1000}, "seq_len": 256,
                                "notes": ["generated data"]}}}


def test_export_writes_a_portable_record_with_curve_command_and_code_version(tmp_path):
    run = _lm_run(tmp_path / "runs", data_dir=str(tmp_path / "data"))
    db = tmp_path / "runs" / "results.db"  # the default: beside the run directories
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE task_results (run_dir TEXT, code_version TEXT, recorded_at REAL)")
        con.execute("INSERT INTO task_results VALUES (?, ?, 1.0)", (str(run.resolve()), "0.1.0+g1234567"))
    [path] = tt.write_export([run], tmp_path / "records", None)
    assert path.name == "shakespeare-gla.json"
    record = json.loads(path.read_text())
    text = path.read_text()
    assert str(tmp_path) not in text and not ABSOLUTE.search(text)
    assert record["config"]["task"]["data_dir"] == "$SAMOVAR_DATA_DIR"
    assert record["config"]["data"]["sources"]["train"] == "$SAMOVAR_DATA_DIR/tinyshakespeare/input.txt.gz"
    assert record["code_version"] == "0.1.0+g1234567" and record["seed"] == 1337 and record["parameters"] == 1234
    assert [row["step"] for row in record["curve"]] == [0, 5, 10] and record["results"]["val_loss_est"] == 1.70
    # the flags that differ from the task's default recipe, the data directory by variable, the run dir by name
    assert record["command"].startswith("samovar task run shakespeare --mixer gla --layers 2 --dim 16 --heads 2")
    assert "--steps 10" in record["command"] and "--eval-interval 5" in record["command"]
    assert "--lr" not in record["command"]  # the task's default
    assert '--data-dir "$SAMOVAR_DATA_DIR" --run-dir runs/tasks/shakespeare-gla' in record["command"]


def test_export_without_a_database_row_says_the_commit_is_unknown(tmp_path):
    record = tt.export_run(_lm_run(tmp_path))
    assert record["code_version"].startswith("0.1.0 (no results-database row")


def test_unfinished_or_broken_runs_are_refused_with_one_line(tmp_path, capsys):
    run = _lm_run(tmp_path, finished=False)
    with pytest.raises(SystemExit) as exit_:
        tt.main(["export", str(run), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has not finished" in err and str(run) in err
    (run / "results.json").write_text("{")
    with pytest.raises(tt.RecordError, match="results.json is not valid JSON"):
        tt.export_run(run)
    with pytest.raises(tt.RecordError, match="not a task run directory"):
        tt.export_run(tmp_path)


def test_portable_replaces_machine_paths_inside_strings(tmp_path):
    run = tmp_path / "runs" / "listops-gla"
    text = tt.portable(f"files in {tmp_path}/cache/generated/x and {run}/best.safetensors", None, run)
    assert str(tmp_path) not in text and "runs/tasks/listops-gla/best.safetensors" in text and "…/x" in text


def test_floors_majority_and_top_operator_rule_on_a_hand_made_split():
    from samovar.tasks.data.listops import VOCAB

    mx, mn = VOCAB.index("[MAX"), VOCAB.index("[MIN")

    def split(ops, labels):
        inputs = torch.tensor([[op, 1, 2] for op in ops])
        return SimpleNamespace(inputs=inputs, labels=torch.tensor(labels), lengths=torch.full((len(ops),), 3))

    # train: MAX -> 9 (twice), 8 (once); MIN -> 0 (twice); the majority label is 9 (ties broken by first seen)
    data = SimpleNamespace(train=split([mx, mx, mx, mn, mn], [9, 9, 8, 0, 0]),
                           val=split([mx, mn, mn, mx], [9, 0, 3, 1]), test=split([mn, mn], [0, 0]))
    floors = tt.floors_of("listops", data)
    assert floors["majority_label"] == 9 and floors["top_operator_rule"] == {"[MAX": 9, "[MIN": 0}
    assert floors["splits"]["val"]["majority_class_accuracy"] == 0.25
    assert floors["splits"]["val"]["top_operator_accuracy"] == 0.5
    assert floors["splits"]["test"]["top_operator_accuracy"] == 1.0 and floors["splits"]["test"]["majority_class_accuracy"] == 0
    assert floors["splits"]["test"]["mean_length"] == 3.0


def test_the_page_is_generated_from_the_records_only(tmp_path):
    records = tmp_path / "records"
    tt.write_export([_lm_run(tmp_path / "r", "softmax_attention", est=(4.2, 2.1, 1.93)),
                     _lm_run(tmp_path / "r", "gla", est=(4.2, 1.70, 1.75))], records, None)
    (records / "published.json").write_text((tt.RECORDS / "published.json").read_text())
    floors = {"format": 1, "task": "listops", "data_options": {"max_length": 256}, "command": "python benchmarks/tasks_table.py floors --task listops",
              "majority_label": 9, "top_operator_rule": {"[MAX": 9, "[MIN": 0},
              "splits": {s: {"examples": 1000, "majority_class_accuracy": 0.156, "top_operator_accuracy": 0.327,
                             "class_shares": {"0": 0.147, "9": 0.156}} for s in ("val", "test")}}
    (records / "floors-listops.json").write_text(json.dumps(floors))
    for mixer, acc in (("softmax_attention", 0.337), ("mamba", 0.181)):
        (records / f"listops-{mixer}.json").write_text(json.dumps(_clf_record("listops", mixer, acc)))
    out = tmp_path / "tasks.md"
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{tt.README_BEGIN}\nold 1.648\n{tt.README_END}\noutro\n")
    tt.main(["table", "--records", str(records), "--output", str(out), "--readme", str(readme)])
    page = out.read_text()
    block = readme.read_text()
    assert block.startswith("intro\n") and block.endswith("outro\n") and "1.648" not in block
    assert "| gla | **1.750** | **1.740** | 2.5 |" in block  # sorted by the exact loss, bold below the anchor
    assert block.index("| gla |") < block.index("| softmax_attention |")
    assert "| softmax_attention | 33.7 | – | 1.5 / – |" in block
    assert "| *floors: majority class / top-operator rule; majority class (chance)* | *15.6 / 32.7* | *–* | |" in block
    assert "*36.37 / 59.60* | *71.40 / 94.20*" in block
    assert "do not edit by hand" in page and not ABSOLUTE.search(page)
    # Shakespeare: both rows, the published anchor, bold below it, the curve, the generated reading
    assert "| gla | 1,234 | **1.7500** | **1.7400** |" in page
    assert "| softmax_attention | 2,000 | 1.9300 | 1.9200 |" in page
    assert "| **published**: nanoGPT GPT, same budget | ~0.80 M | 1.88 |" in page
    assert "| gla | 4.200 | 1.700 | 1.750 |" in page
    assert "gla's estimate was lowest at step 5 (1.700) and ended at 1.750" in page
    assert "1 of the 2 mixers goes below" in page and "+0.050 from the published number" in page
    # ListOps: rows, floors and published rows from their records; the reading follows the numbers
    assert "| softmax_attention | 1,000 | **33.70** |" in page and "| mamba | 1,000 | 18.10 |" in page
    assert "| floor: top-operator rule ([MAX → 9, [MIN → 0) | – | 32.70 |" in page
    assert "S4 | – | 59.60 |" in page and "Tay et al. 2020, Long Range Arena (Table 1)" in page
    assert "softmax_attention score within two standard errors of that rule" in page
    assert "mamba 18.1% (validation loss 2.30 → 1.70)" in page
    assert "### Pathfinder-32 (generated)\n\nNo run of this task is recorded yet." in page
    assert "other data options" not in page  # the floors are of the runs' data
    floors["data_options"] = {"max_length": 64}
    (records / "floors-listops.json").write_text(json.dumps(floors))
    tt.main(["table", "--records", str(records), "--output", str(out), "--no-readme"])
    assert "were computed on other data options ({'max_length': 64})" in out.read_text()
    assert "tasks_generation.py" in page and "ms/token" not in page


def test_the_published_record_agrees_with_the_task_registry():
    from samovar.tasks import get_task

    published = json.loads((tt.RECORDS / "published.json").read_text())
    for task in ("listops", "pathfinder", "shakespeare"):
        registry = {(p.model.split(" (")[0].split(",")[0], round(p.value, 2)) for p in get_task(task).published}
        record = {(p["model"].split(",")[0], round(p["value"], 2)) for p in published[task]}
        if task == "shakespeare":
            assert {v for _, v in registry} == {v for _, v in record}
        else:
            assert registry == record
        assert all(p["source"] for p in published[task])
