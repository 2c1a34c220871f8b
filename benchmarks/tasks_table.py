"""Committed records of the downstream-task runs, and docs/results/tasks.md generated from them.

    python benchmarks/tasks_table.py export RUN_DIR [RUN_DIR ...]    # finished runs -> benchmarks/results/tasks/<task>-<mixer>.json
    python benchmarks/tasks_table.py floors --task listops [--data-option k=v ...]   # accuracy floors -> floors-<task>.json
    python benchmarks/tasks_table.py table                           # docs/results/tasks.md from the records

``export`` reads a run directory written by ``samovar task run`` (config.json, results.json,
metrics.jsonl; results.json exists only once the run has finished) and writes its summary: the
command (the flags that differ from the task's default recipe), the whole config, the final
metrics, the validation curve, the seed and the code version (from the results database's row
of the run when ``--db`` or ``RUN_DIR/../results.db`` has one). Paths are made portable: the data
directory becomes ``$SAMOVAR_DATA_DIR``, the home directory ``~``, the run directory its name.

``floors`` computes a task's accuracy floors from its data: the majority class of the training
split predicted for everything, and for ListOps the top-operator rule (the training split's most
frequent label per outermost operator: a model that reads only the first token reaches it).

``table`` writes docs/results/tasks.md from ``<task>-<mixer>.json``, ``floors-<task>.json`` and
``published.json`` (published numbers, each with its source), and the block between the
task-table markers of README.md. Every number of that page and block comes from those records.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "benchmarks" / "results" / "tasks"
DOC = REPO / "docs" / "results" / "tasks.md"
MIXER_ORDER = ("softmax_attention", "linear_attention", "gla", "mamba", "mingru")
ROW_DIR = "runs/tasks"  # where the documented commands put their run directories
FLOOR_DATA_OPTIONS = {  # the data of the documented runs (docs/results/tasks.md)
    "listops": ["source=generate", "max_length=256", "n_train=10000", "n_val=500", "n_test=1000"],
    "pathfinder": ["source=generate", "n_train=2400", "n_val=250", "n_test=500"],
}


class RecordError(ValueError):
    """A run directory or record that cannot be used (named, with what to do)."""


# --------------------------------------------------------------------------- export


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path} is not valid JSON ({exc}); re-run or remove that run") from None


def portable(value: Any, data_dir: str | None, run_dir: Path) -> Any:
    """`value` with machine paths replaced: the data dir by $SAMOVAR_DATA_DIR, the run dir by its name,
    the home directory by ~; any other absolute path keeps only its last component."""
    if isinstance(value, dict):
        return {k: portable(v, data_dir, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, data_dir, run_dir) for v in value]
    if not isinstance(value, str):
        return value
    text = value
    for prefix, name in ((str(run_dir.resolve()), f"{ROW_DIR}/{run_dir.name}"), (data_dir, "$SAMOVAR_DATA_DIR"),
                         (os.environ.get("SAMOVAR_CACHE_DIR"), "$SAMOVAR_CACHE_DIR"), (str(Path.home()), "~")):
        if prefix and prefix not in ("/", "."):
            text = text.replace(prefix.rstrip("/"), name)
    return re.sub(r"(?<![\w~$.-])/(?:[^\s/,;:()]+/)*([^\s/,;:()]+)", r"…/\1", text)


def command_of(config: dict, run_name: str) -> str:
    """`samovar task run` with the flags that differ from the task's default recipe (and the run's threads)."""
    from samovar.tasks import get_task
    from samovar.tasks.runs import train_config_for

    task, model, train = config["task"], config["model"], config["train"]
    defaults = train_config_for(get_task(task["name"])).to_dict()
    parts = [f"samovar task run {task['name']} --mixer {model['mixer']} --layers {model['layers']} --dim {model['dim']}"]
    for key, value in model.get("options", {}).items():
        if key == "mixer_options":
            parts += [f"--set {k}={v}" for k, v in value.items()]
        elif value is True:
            parts.append(f"--{key}")
        else:
            parts.append(f"--{key.replace('_', '-')} {value}")
    if task["kind"] == "lm" and task.get("context") and task["context"] != get_task(task["name"]).context:
        parts.append(f"--context {task['context']}")
    for key in ("steps", "batch_size", "lr", "min_lr", "warmup_steps", "weight_decay", "grad_clip", "eval_interval",
                "eval_batches", "seed"):
        if key in train and train[key] != defaults.get(key):
            parts.append(f"--{key.replace('_', '-')} {train[key]}")
    parts += [f"--data-option {k}={v}" for k, v in task.get("data_options", {}).items()]
    if task.get("data_dir"):
        parts.append('--data-dir "$SAMOVAR_DATA_DIR"')
    parts.append(f"--run-dir {ROW_DIR}/{run_name} --threads {train.get('threads', 1)}")
    if train.get("quiet"):
        parts.append("--quiet")
    parts.append(f'--budget "{train["budget"]}"')
    return " ".join(parts)


def code_version_of(run_dir: Path, db: Path | None) -> str | None:
    """The code version the results database recorded for this run (None when there is no such row)."""
    db = db or run_dir.resolve().parent / "results.db"
    if not db.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            row = con.execute("SELECT code_version FROM task_results WHERE run_dir = ? ORDER BY recorded_at DESC LIMIT 1",
                              (str(run_dir.resolve()),)).fetchone()
    except sqlite3.Error as exc:
        raise RecordError(f"cannot read the results database {db} ({exc}); pass --db or fix the file") from None
    return row[0] if row else None


def export_run(run_dir: Path, db: Path | None = None) -> dict:
    if not (run_dir / "config.json").is_file():
        raise RecordError(f"{run_dir} is not a task run directory (no config.json)")
    if not (run_dir / "results.json").is_file():
        raise RecordError(f"{run_dir} has not finished (no results.json yet); export it when the run has ended")
    config = _read_json(run_dir / "config.json")
    results = _read_json(run_dir / "results.json")
    try:
        curve = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise RecordError(f"{run_dir / 'metrics.jsonl'} cannot be read ({exc})") from None
    if not curve or curve[-1]["step"] != results["step"]:
        raise RecordError(f"{run_dir / 'metrics.jsonl'} does not end at the final step {results.get('step')}")
    data_dir = config["task"].get("data_dir")
    version = code_version_of(run_dir, db)
    record = {
        "format": 1,
        "task": config["task"]["name"],
        "kind": config["task"]["kind"],
        "mixer": config["model"]["mixer"],
        "run": run_dir.name,
        "command": command_of(config, run_dir.name),
        "code_version": version or f"{config['versions']['samovar']} (no results-database row: commit unknown)",
        "seed": config["seed"],
        "budget": results["budget"],
        "parameters": config["parameters"],
        "results": results,
        "curve": curve,
        "config": portable(config, data_dir, run_dir),
    }
    return record


def write_export(run_dirs: list[Path], out: Path, db: Path | None) -> list[Path]:
    from samovar.utils import write_json_atomic

    written = []
    for run_dir in run_dirs:
        record = export_run(run_dir, db)
        path = out / f"{record['task']}-{record['mixer']}.json"
        write_json_atomic(path, record)
        written.append(path)
    return written


# --------------------------------------------------------------------------- floors


def parse_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise RecordError(f"expected key=value, got {text!r}")
    for convert in (int, float):
        try:
            return key, convert(value)
        except ValueError:
            pass
    return key, value


def floors_of(task: str, data) -> dict:
    """Majority class (of the training split) and, for ListOps, the top-operator rule, on val and test."""
    train_labels = data.train.labels.tolist()
    majority = Counter(train_labels).most_common(1)[0][0]
    out: dict[str, Any] = {"majority_label": majority, "splits": {}}
    rule = None
    if task == "listops":
        from samovar.tasks.data.listops import VOCAB

        per_op: dict[int, Counter] = defaultdict(Counter)
        for op, label in zip(data.train.inputs[:, 0].tolist(), train_labels):
            per_op[int(op)][label] += 1
        rule = {int(op): counts.most_common(1)[0][0] for op, counts in per_op.items()}
        out["top_operator_rule"] = {VOCAB[op]: label for op, label in sorted(rule.items())}
    for name in ("val", "test"):
        split = getattr(data, name)
        labels = split.labels.tolist()
        counts = Counter(labels)
        row = {"examples": len(labels), "majority_class_accuracy": sum(y == majority for y in labels) / len(labels),
               "class_shares": {str(k): counts[k] / len(labels) for k in sorted(counts)}}
        if rule is not None:
            ops = split.inputs[:, 0].tolist()
            row["top_operator_accuracy"] = sum(rule.get(int(op), majority) == y for op, y in zip(ops, labels)) / len(labels)
        lengths = getattr(split, "lengths", None)
        if lengths is not None:
            row["mean_length"] = float(lengths.float().mean())
        out["splits"][name] = row
    return out


def write_floors(task: str, data_dir: str | None, options: list[str], out: Path) -> Path:
    from samovar.tasks import get_task
    from samovar.utils import write_json_atomic

    data_options = dict(parse_option(o) for o in options)
    data = get_task(task).load(data_dir, **data_options)
    record = {"format": 1, "task": task, "data": data.name, "data_options": data_options,
              "command": f"python benchmarks/tasks_table.py floors --task {task} "
                         + " ".join(f"--data-option {o}" for o in options),
              "rule": "majority class: the training split's most frequent label for every example"
                      + ("; top-operator rule: the training split's most frequent label per outermost operator (first token)"
                         if task == "listops" else ""),
              **floors_of(task, data)}
    path = out / f"floors-{task}.json"
    write_json_atomic(path, record)
    return path


# --------------------------------------------------------------------------- table


def load_records(directory: Path) -> tuple[dict[str, list[dict]], dict[str, dict], dict]:
    runs: dict[str, list[dict]] = defaultdict(list)
    floors: dict[str, dict] = {}
    published_path = directory / "published.json"
    if not published_path.is_file():
        raise RecordError(f"{published_path} is missing: it holds the published numbers the tables cite")
    published = _read_json(published_path)
    for path in sorted(directory.glob("*.json")):
        if path.name == "published.json":
            continue
        rec = _read_json(path)
        if path.name.startswith("floors-"):
            floors[rec["task"]] = rec
        else:
            runs[rec["task"]].append(rec)
    order = {m: i for i, m in enumerate(MIXER_ORDER)}
    for recs in runs.values():
        recs.sort(key=lambda r: (order.get(r["mixer"], len(order)), r["mixer"]))
    return runs, floors, published


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _train_min(r: dict) -> str:
    res = r["results"]
    mark = " (resumed: this call only)" if res.get("resumed") else ""
    return _minutes(res["train_seconds_this_call"]) + mark


def _template(recs: list[dict]) -> str:
    """The records' common command, with the mixer replaced by MIXER."""
    forms = {r["command"].replace(r["mixer"], "MIXER") for r in recs}
    return "\n".join(sorted(forms))


def _same(recs: list[dict], get) -> Any:
    values = {json.dumps(get(r), sort_keys=True) for r in recs}
    return get(recs[0]) if len(values) == 1 else None


def _wrap_command(cmd: str) -> str:
    out, line = [], ""
    for word in re.split(r" (?=--)", cmd):
        if line and len(line) + len(word) > 100:
            out.append(line + " \\")
            line = "    " + word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join(out + [line])


def recipe_text(r: dict) -> str:
    t, m = r["config"]["train"], r["config"]["model"]
    heads = m.get("options", {}).get("heads")
    return (f"{m['layers']} layers, width {m['dim']}" + (f", {heads} heads" if heads else "")
            + f"; {t['steps']} steps × batch {t['batch_size']}; AdamW lr {t['lr']:g}, warm-up {t['warmup_steps']} steps, "
            f"cosine to {t['min_lr']:g}, β₁ {t['beta1']:g}, β₂ {t['beta2']:g}, weight decay {t['weight_decay']:g}, "
            f"gradient clip {t['grad_clip']:g}; seed {r['seed']}, {t['threads']} thread(s), float32")


def code_versions(recs: list[dict]) -> str:
    return ", ".join(f"`{v}`" for v in sorted({r["code_version"] for r in recs}))


def shakespeare_section(recs: list[dict], published: dict) -> list[str]:
    pub = published.get("shakespeare", [])
    anchor = pub[0] if pub else None
    r0 = recs[0]
    ctx = r0["config"]["task"]["context"]
    t = r0["config"]["train"]
    out = ["## Tiny Shakespeare, character level, nanoGPT's small CPU budget", "",
           "Budget (nanoGPT `config/train_shakespeare_char.py` with its README's CPU overrides), the same for every mixer: "
           f"context {ctx}; " + (recipe_text(r0) if _same(recs, lambda r: r["config"]["train"] | {"budget": 0}) else
                                "recipes differ between the runs: see each record")
           + f"; evaluation every {t['eval_interval']} steps on {t['eval_batches']} random batches. Backbone: pre-norm "
           "{mixer, GELU MLP} blocks, tied embedding, learned absolute positions for softmax attention only. "
           f"Code version(s): {code_versions(recs)}.", "",
           "```sh", _wrap_command(_template(recs)), "python benchmarks/tasks_table.py export runs/tasks/shakespeare-*",
           "python benchmarks/tasks_table.py table", "```", "",
           "| mixer | parameters | val loss (nanoGPT 20-batch estimate) | val loss (exact, every validation target) | "
           "bits/char (exact) | train min | wall min | peak RSS MB |", "|---|---|---|---|---|---|---|---|"]
    bar = anchor["value"] if anchor else None
    for r in recs:
        res = r["results"]
        b = "**" if bar is not None and res["val_loss_est"] < bar else ""
        out.append(f"| {r['mixer']} | {r['parameters']:,} | {b}{res['val_loss_est']:.4f}{b} | {b}{res['val_loss']:.4f}{b} | "
                   f"{res['val_bpc']:.3f} | {_train_min(r)} | {_minutes(res['wall_seconds_this_call'])} | "
                   f"{res['peak_mem_mb']:.0f} |")
    for p in pub:
        out.append(f"| **published**: {p['model']} | {p.get('parameters', '–')} | {p['value']} | – | – | "
                   f"{p.get('train_time', '–')} | – | – |")
    budgets = {r["budget"] for r in recs}
    val_tokens = {r["results"].get("val_tokens") for r in recs}
    evals = len(r0["curve"])
    out += ["", "Budget label of every row: " + "; ".join(f"`{b}`" for b in sorted(budgets)) + "."
            + (f" Published: {anchor['source']}." if anchor else ""), "",
            f"* **val loss (nanoGPT estimate)** is the number nanoGPT prints: the mean loss of {t['eval_batches']} random "
            f"batches of {t['batch_size']} × {ctx} validation characters at the last step (noisy).",
            "* **val loss (exact)**, of the final weights, covers every one of the "
            + " / ".join(f"{v:,}" for v in sorted(v for v in val_tokens if v)) + f" validation targets once, in non-overlapping "
            f"windows of {ctx} (each character sees 0–{ctx - 1} characters of context, as in training).",
            f"* **train min**: optimizer steps only; **wall min**: the whole command (data loading, the {evals} evaluations, "
            "the final exact evaluation). **peak RSS**: the process's maximum resident set size (`getrusage`), "
            "interpreter and data included. Other jobs shared the machine's cores, so times are inflated and not strictly "
            "comparable between runs.", ""]
    steps = [row["step"] for row in r0["curve"]]
    out += ["Validation loss (nanoGPT estimate) during training:", "",
            "| step | " + " | ".join(str(s) for s in steps) + " |", "|" + "---|" * (len(steps) + 1)]
    for r in recs:
        by_step = {row["step"]: row["val_loss_est"] for row in r["curve"]}
        out.append(f"| {r['mixer']} | " + " | ".join(f"{by_step[s]:.3f}" if s in by_step else "–" for s in steps) + " |")
    out += ["", "**Result.** " + " ".join(shakespeare_reading(recs, anchor)), "",
            "Known differences from nanoGPT's GPT: the attention projections keep PyTorch's default initialisation "
            "(nanoGPT: normal 0.02, output projection scaled by 1/sqrt(2·layers)); one seed each, and the published "
            "number is a single run's 20-batch estimate.", "",
            "To sample from a run: `samovar task generate runs/tasks/shakespeare-gla --prompt \"ROMEO:\" --tokens 300`. "
            "Sampling with the recurrent step gives the same tokens as nanoGPT's full-forward loop "
            "(`tests/test_tasks_lm.py::test_step_generation_equals_full_forward_generation`).", ""]
    return out


def shakespeare_reading(recs: list[dict], anchor: dict | None) -> list[str]:
    res = {r["mixer"]: r["results"] for r in recs}
    out = []
    if anchor:
        below = [r for r in recs if r["results"]["val_loss_est"] < anchor["value"]]
        if below:
            out.append(f"{len(below)} of the {len(recs)} mixers {'goes' if len(below) == 1 else 'go'} below nanoGPT's published {anchor['value']} under its CPU "
                       "budget: " + ", ".join(f"{r['mixer']} {r['results']['val_loss_est']:.3f} (estimate) / "
                                              f"{r['results']['val_loss']:.3f} (exact)" for r in below) + ".")
        else:
            out.append(f"No mixer goes below nanoGPT's published {anchor['value']} under its CPU budget.")
    if "softmax_attention" in res:
        soft = res["softmax_attention"]
        better = [m for m in res if m != "softmax_attention" and res[m]["val_loss"] < soft["val_loss"]]
        out.append(f"Our softmax-attention baseline (same backbone and recipe) ends at {soft['val_loss_est']:.3f} / "
                   f"{soft['val_loss']:.3f}"
                   + (f", {soft['val_loss_est'] - anchor['value']:+.3f} from the published number" if anchor else "")
                   + ("; below it on the exact loss: " + ", ".join(better) if better else "; no other mixer is below it")
                   + ".")
        fewest = min(recs, key=lambda r: r["parameters"])
        soft_params = next(r["parameters"] for r in recs if r["mixer"] == "softmax_attention")
        if fewest["mixer"] != "softmax_attention":
            out.append(f"{fewest['mixer']} has the fewest parameters ({fewest['parameters']:,}, "
                       f"{100 * (1 - fewest['parameters'] / soft_params):.0f}% fewer than softmax attention).")
    for r in recs:
        curve = [(row["step"], row["val_loss_est"]) for row in r["curve"]]
        best_step, best = min(curve, key=lambda x: x[1])
        if best_step != curve[-1][0] and curve[-1][1] - best > 0.01:
            out.append(f"{r['mixer']}'s estimate was lowest at step {best_step} ({best:.3f}) and ended at {curve[-1][1]:.3f} "
                       f"(train-loss estimate {r['results'].get('train_loss_est', float('nan')):.2f}): it starts to overfit "
                       "at this budget.")
    worst = max(recs, key=lambda r: r["results"]["val_loss"])
    out.append(f"The weakest under this budget is {worst['mixer']} ({worst['results']['val_loss_est']:.3f} / "
               f"{worst['results']['val_loss']:.3f}).")
    return out


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


def classification_table(recs: list[dict], floors: dict | None, published: list[dict], task: str) -> list[str]:
    out = ["| mixer | parameters | test accuracy % | val accuracy % | test loss | train min | wall min | peak RSS MB |",
           "|---|---|---|---|---|---|---|---|"]
    top = floors["splits"]["test"].get("top_operator_accuracy") if floors else None
    for r in recs:
        res = r["results"]
        b = "**" if top is not None and res["test_accuracy"] >= top - _se(top, floors["splits"]["test"]["examples"]) else ""
        out.append(f"| {r['mixer']} | {r['parameters']:,} | {b}{100 * res['test_accuracy']:.2f}{b} | "
                   f"{100 * res['val_accuracy']:.2f} | {res['test_loss']:.3f} | {_train_min(r)} | "
                   f"{_minutes(res['wall_seconds_this_call'])} | {res['peak_mem_mb']:.0f} |")
    if floors:
        v, t = floors["splits"]["val"], floors["splits"]["test"]
        out.append(f"| floor: majority class (training split's label {floors['majority_label']} for every example) | – | "
                   f"{100 * t['majority_class_accuracy']:.2f} | {100 * v['majority_class_accuracy']:.2f} | "
                   + (f"{math.log(len(t['class_shares'])):.3f} (ln {len(t['class_shares'])}, uniform) | " if task == "pathfinder" else "– | ")
                   + "– | – | – |")
        if "top_operator_rule" in floors:
            rule = ", ".join(f"{op} → {label}" for op, label in floors["top_operator_rule"].items())
            out.append(f"| floor: top-operator rule ({rule}) | – | {100 * t['top_operator_accuracy']:.2f} | "
                       f"{100 * v['top_operator_accuracy']:.2f} | – | – | – | – |")
    for i, p in enumerate(published):
        label = f"**published** ({p['setting']}): {p['model']}" if i == 0 else f"**published**: {p['model']}"
        out.append(f"| {label} | – | {p['value']:.2f} | – | – | – | – | – |")
    return out


def lra_section(runs: dict[str, list[dict]], floors: dict[str, dict], published: dict) -> list[str]:
    lo, pf = runs.get("listops", []), runs.get("pathfinder", [])
    out = ["## Long Range Arena at a CPU budget: ListOps (generated, reduced length) and Pathfinder-32 (generated)", "",
           "**What these runs can and cannot show.** The LRA papers train for tens of thousands of steps on GPUs; these "
           "runs are a few hundred steps on one loaded CPU core, on data made by samovar's own generators (not the "
           "official LRA files, which are not on this machine), ListOps at reduced length. They show that every mixer "
           "trains on both tasks through the one command, what each costs per run, and which mixers pick up the first "
           "easy signal within this budget. They are **not** LRA results, and the published numbers beside them come "
           "from a different data set, length and training budget.", "",
           "The budget was chosen a priori from a few timed steps per mixer; nothing was tuned, on validation or on test. "
           "Backbone: pre-norm {mixer, GELU MLP} blocks, mean pooling over the valid positions, causal (no "
           "`--bidirectional`), learned positions for softmax attention only. Validation at step 0 and at the end; "
           "accuracies are of the final weights on every validation / test example. The data are generated once "
           "(deterministic in the seed) into the cache directory and read back by every later run with the same options.",
           ""]
    for name, recs, title in (("listops", lo, "ListOps (generated)"), ("pathfinder", pf, "Pathfinder-32 (generated)")):
        if not recs:
            out += [f"### {title}", "", "No run of this task is recorded yet.", ""]
            continue
        r0 = recs[0]
        data = r0["config"]["data"]
        ex = data.get("examples", {})
        steps, batch = r0["config"]["train"]["steps"], r0["config"]["train"]["batch_size"]
        seen = steps * batch
        epochs = seen / ex["train"] if ex.get("train") else float("nan")
        out += [f"### {title}", "",
                f"Recipe: {recipe_text(r0)}. {seen:,} training examples seen ({epochs:.2f} epochs of {ex.get('train', 0):,}); "
                f"splits {ex.get('train', 0):,} / {ex.get('val', 0):,} / {ex.get('test', 0):,}; sequence length up to "
                f"{data.get('seq_len')} tokens. Code version(s): {code_versions(recs)}.", ""]
        out += [f"Data: {note}" for note in data.get("notes", [])[:1]] + [""]
        out += ["```sh", _wrap_command(_template(recs)), f"python benchmarks/tasks_table.py export runs/tasks/{name}-*"]
        if name in floors:
            out.append(_wrap_command(floors[name]["command"]))
        out += ["python benchmarks/tasks_table.py table", "```", ""]
        fl = floors.get(name)
        if fl and any(r["config"]["task"].get("data_options") != fl["data_options"] for r in recs):
            out += [f"**The floors below were computed on other data options ({fl['data_options']}) than some runs'**: "
                    "re-run the floors command with the runs' `--data-option`s.", ""]
        out += classification_table(recs, fl, published.get(name, []), name)
        sources = sorted({p["source"] for p in published.get(name, [])})
        out += ["", "Budget label of every row: " + "; ".join(f"`{b}`" for b in sorted({r['budget'] for r in recs})) + "."
                + (" Published numbers: " + "; ".join(sources) + "." if sources else ""), ""]
        out += ["**Reading.** " + " ".join(listops_reading(recs, floors.get(name)) if name == "listops"
                                          else pathfinder_reading(recs, floors.get(name))), ""]
    if lo or pf:
        parts = [f"{len(recs)} {name} runs {sum(r['results']['wall_seconds_this_call'] for r in recs) / 60:.1f} min"
                 for name, recs in (("ListOps", lo), ("Pathfinder", pf)) if recs]
        out += ["**Wall time of the set** (sum of the runs' wall times): " + ", ".join(parts) + ".", ""]
    return out


def listops_reading(recs: list[dict], floors: dict | None) -> list[str]:
    if not floors:
        return ["The floors are not recorded (`python benchmarks/tasks_table.py floors --task listops`)."]
    t = floors["splits"]["test"]
    n, top, maj = t["examples"], t["top_operator_accuracy"], t["majority_class_accuracy"]
    se = _se(top, n)
    shares = t["class_shares"].values()
    out = [f"The test set's majority class is {100 * maj:.1f}% ({n:,} expressions; class shares "
           f"{100 * min(shares):.1f}–{100 * max(shares):.1f}%), the top-operator rule reaches {100 * top:.1f}% "
           f"(standard error of an accuracy near it on {n:,} examples: ±{100 * se:.1f} points)."]
    at_rule = [r for r in recs if abs(r["results"]["test_accuracy"] - top) <= 2 * se]
    above = [r for r in recs if r["results"]["test_accuracy"] > top + 2 * se]
    below = [r for r in recs if r["results"]["test_accuracy"] < top - 2 * se]
    if at_rule:
        out.append(", ".join(r["mixer"] for r in at_rule) + " score within two standard errors of that rule: in "
                   "this budget they learned to read the outermost operator (the first token) and answer its most frequent "
                   "value, not yet to evaluate the arguments.")
    if above:
        out.append(", ".join(f"{r['mixer']} ({100 * r['results']['test_accuracy']:.1f}%)" for r in above)
                   + " score above the rule: they use more than the first token.")
    if below:
        moves = []
        for r in below:
            c = r["curve"]
            moves.append(f"{r['mixer']} {100 * r['results']['test_accuracy']:.1f}% (validation loss "
                         f"{c[0]['val_loss']:.2f} → {c[-1]['val_loss']:.2f})")
        out.append("Below the rule: " + ", ".join(moves) + "; at this budget and learning rate they had not found even "
                   "that rule.")
    out.append("Nothing here ranks the mixers on ListOps proper: that takes thousands of steps at the full length on the "
               "official data, and these accuracies are not comparable to the published ones (shorter, easier expressions; "
               "generated data).")
    return out


def pathfinder_reading(recs: list[dict], floors: dict | None) -> list[str]:
    out = []
    if floors:
        t = floors["splits"]["test"]
        chance, n = t["majority_class_accuracy"], t["examples"]
        se = _se(0.5, n)
        at = [r for r in recs if abs(r["results"]["test_accuracy"] - chance) <= 2 * se]
        if len(at) == len(recs):
            out.append(f"Every mixer is at chance (within two standard errors, ±{100 * 2 * se:.1f} points, of the "
                       f"{100 * chance:.1f}% majority rate on {n:,} test images): Pathfinder is learned only after long "
                       "training (on its 128 × 128 version, Path-X, every model of the LRA paper stayed at chance).")
        elif at:
            out.append(", ".join(r["mixer"] for r in at) + " are at chance (within two standard errors of "
                       f"{100 * chance:.1f}%); " + ", ".join(f"{r['mixer']} {100 * r['results']['test_accuracy']:.1f}%"
                                                             for r in recs if r not in at) + ".")
        else:
            out.append("Every mixer is above chance.")
    ranked = sorted(recs, key=lambda r: r["results"]["train_seconds_this_call"])
    out.append("The runs show that the mixers train on pixel sequences through the one command, and what that costs: "
               "training minutes per run, lowest first: "
               + ", ".join(f"{r['mixer']} {_minutes(r['results']['train_seconds_this_call'])}" for r in ranked)
               + ". A real Pathfinder comparison needs tens of thousands of steps: hours to days on this CPU.")
    return out


def render(runs: dict[str, list[dict]], floors: dict[str, dict], published: dict) -> str:
    out = ["# Downstream tasks: measured results", "",
           "Generated by `python benchmarks/tasks_table.py table` from the records in "
           "[`benchmarks/results/tasks/`](../../benchmarks/results/tasks/) (one per run, the accuracy floors, and the "
           "published numbers with their sources); do not edit by hand.", "",
           "Measured on this machine (2 shared CPU cores, no GPU); other jobs were running at the same time, so wall "
           "times are slower than on an idle machine. Published numbers are marked **published** and were not re-measured.",
           ""]
    if runs.get("shakespeare"):
        out += shakespeare_section(runs["shakespeare"], published)
    else:
        out += ["## Tiny Shakespeare", "", "No run of this task is recorded yet.", ""]
    out += ["## Generation cost per token", "",
            "Not measured by a committed record: the one-off diagnostic that timed the recurrent step against the "
            "full-forward loop was removed after commit 5d0f8ce (`git show 5d0f8ce:benchmarks/tasks_generation.py`).", ""]
    out += lra_section(runs, floors, published)
    out += ["## Not measured here", "",
            "* LRA Text, Retrieval and Image, the official ListOps / Pathfinder files, Path-X and Speech Commands: the "
            "commands work (tested on small files in the release layouts and on generated data), but the data are not on "
            "this machine and no CPU-sized results were produced. Published LRA anchors are in "
            "[../tasks.md](../tasks.md#published-anchors-not-measured-here).",
            "* ListOps and Pathfinder at a budget that separates the mixers (thousands of steps, full ListOps length): "
            "hours to days of this CPU.",
            "* WikiText: the training split is not on this machine (no internet), so no model was trained; the loader is "
            "tested on the validation and test files."]
    return "\n".join(out).rstrip() + "\n"


README_BEGIN = "<!-- tasks-table:begin (python benchmarks/tasks_table.py table) -->"
README_END = "<!-- tasks-table:end -->"


def readme_block(runs: dict[str, list[dict]], floors: dict[str, dict], published: dict) -> list[str]:
    """The README's summary of the task records (details and readings: docs/results/tasks.md)."""
    out = [README_BEGIN, ""]
    sh = sorted(runs.get("shakespeare", []), key=lambda r: r["results"]["val_loss"])
    anchor = (published.get("shakespeare") or [None])[0]
    out += ["### Tiny Shakespeare at nanoGPT's CPU budget", ""]
    if sh:
        r0 = sh[0]
        out += [f"{recipe_text(r0)}, context {r0['config']['task']['context']}, one run per mixer "
                "([docs/results/tasks.md](docs/results/tasks.md): commands, curves, the records):", "",
                "| mixer | val loss (nanoGPT's 20-batch estimate) | val loss (every validation character) | wall min |",
                "|---|---|---|---|"]
        for r in sh:
            res = r["results"]
            b = "**" if anchor and res["val_loss_est"] < anchor["value"] else ""
            out.append(f"| {r['mixer']} | {b}{res['val_loss_est']:.3f}{b} | {b}{res['val_loss']:.3f}{b} | "
                       f"{_minutes(res['wall_seconds_this_call'])} |")
        if anchor:
            out.append(f"| *published: {anchor['model']} ({anchor['source'].split(',')[0]})* | *{anchor['value']}* | | |")
    else:
        out.append("No run recorded yet ([docs/results/tasks.md](docs/results/tasks.md)).")
    lo = {r["mixer"]: r for r in runs.get("listops", [])}
    pf = {r["mixer"]: r for r in runs.get("pathfinder", [])}
    out += ["", "### ListOps and Pathfinder-32 at a CPU budget (generated data; not LRA results)", ""]
    if lo or pf:
        out += ["Data from samovar's generators (ListOps at reduced length), a few hundred steps, the same budget for every "
                "mixer, one thread each; exact commands, data, budget and readings in "
                "[docs/results/tasks.md](docs/results/tasks.md).", "",
                "| mixer | ListOps test acc. % | Pathfinder-32 test acc. % | wall min (ListOps / Pathfinder) |",
                "|---|---|---|---|"]
        order = {m: i for i, m in enumerate(MIXER_ORDER)}
        for m in sorted(set(lo) | set(pf), key=lambda m: (order.get(m, len(order)), m)):
            acc = lambda d: f"{100 * d[m]['results']['test_accuracy']:.1f}" if m in d else "–"  # noqa: E731
            wall = lambda d: _minutes(d[m]["results"]["wall_seconds_this_call"]) if m in d else "–"  # noqa: E731
            out.append(f"| {m} | {acc(lo)} | {acc(pf)} | {wall(lo)} / {wall(pf)} |")
        fl, fp = floors.get("listops"), floors.get("pathfinder")
        if fl or fp:
            lo_text = (f"{100 * fl['splits']['test']['majority_class_accuracy']:.1f} / "
                       f"{100 * fl['splits']['test']['top_operator_accuracy']:.1f}") if fl else "–"
            pf_text = f"{100 * fp['splits']['test']['majority_class_accuracy']:.1f}" if fp else "–"
            out.append(f"| *floors: majority class / top-operator rule; majority class (chance)* | *{lo_text}* | *{pf_text}* | |")
        pubs = {t: {p["model"]: p["value"] for p in published.get(t, [])} for t in ("listops", "pathfinder")}
        if all("Transformer" in pubs[t] and "S4" in pubs[t] for t in pubs):
            out.append("| *published (official LRA, full training): Transformer / S4* | "
                       + " | ".join(f"*{pubs[t]['Transformer']:.2f} / {pubs[t]['S4']:.2f}*" for t in ("listops", "pathfinder"))
                       + " | |")
    else:
        out.append("No run recorded yet ([docs/results/tasks.md](docs/results/tasks.md)).")
    return out + ["", README_END]


def write_table(records: Path, output: Path, readme: Path | None = None) -> None:
    from samovar.utils import write_text_atomic

    loaded = load_records(records)
    write_text_atomic(output, render(*loaded))
    if readme is not None:
        write_text_atomic(readme, replace_block(readme.read_text(), README_BEGIN, README_END,
                                                "\n".join(readme_block(*loaded)), f"{readme} (or pass --no-readme)",
                                                error=RecordError))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="write the records of finished run directories")
    e.add_argument("run_dirs", type=Path, nargs="+")
    e.add_argument("--out", type=Path, default=RECORDS)
    e.add_argument("--db", type=Path, default=None, help="results database with the runs' rows (default: RUN_DIR/../results.db)")
    f = sub.add_parser("floors", help="compute a task's accuracy floors from its data and write their record")
    f.add_argument("--task", choices=sorted(FLOOR_DATA_OPTIONS), default="listops")
    f.add_argument("--data-dir", default=None)
    f.add_argument("--data-option", action="append", default=None, help="key=value (default: the documented runs' data)")
    f.add_argument("--out", type=Path, default=RECORDS)
    t = sub.add_parser("table", help="write docs/results/tasks.md from the records")
    t.add_argument("--records", type=Path, default=RECORDS)
    t.add_argument("--output", type=Path, default=DOC)
    t.add_argument("--readme", type=Path, default=REPO / "README.md", help="file with the task-table block")
    t.add_argument("--no-readme", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.cmd == "export":
            for path in write_export(args.run_dirs, args.out, args.db):
                print(f"written {path}")
        elif args.cmd == "floors":
            print(f"written {write_floors(args.task, args.data_dir, args.data_option or FLOOR_DATA_OPTIONS[args.task], args.out)}")
        else:
            write_table(args.records, args.output, None if args.no_readme else args.readme)
            print(f"written {args.output}" + ("" if args.no_readme else f" and the block in {args.readme}"))
    except (RecordError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
