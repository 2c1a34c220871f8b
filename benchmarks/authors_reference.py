"""Records of the SAMoVAR authors' own code run on this machine, and the docs block made from them.

    python benchmarks/authors_reference.py record LOG --threads 1   # LOG: logs/LongForecasting/<model_id>.log of a finished run
    python benchmarks/authors_reference.py table                    # rewrite the blocks in docs/samovar.md and README.md

The reference runs use the authors' repository (``run_longExp.py`` with the arguments of their
``samovar.sh``), unchanged except ``--num_workers 0``, outside this repository; nothing of their
code is committed here. ``record`` reads what the run left behind and writes
``benchmarks/results/authors_reference/<dataset>_<lookback>_<horizon>.json``:

* the log: the argument namespace, the split sizes, and per epoch the wall seconds since training
  started, read before that epoch's evaluation (``Test Steps: 0 cost time: …``: the code's timer is
  set once, before the first epoch), the line ``Test Steps: …, Steps: … | Train Loss: … Vali Loss: …
  Test Loss: …`` (the test loss is the test-set MSE of that epoch's weights), the early-stopping
  verdict (``Validation loss decreased`` / ``EarlyStopping counter``) and the final ``Early stopping``;
* ``LOG.meta`` (written by the script that started the run): ``start``, ``command`` and ``end … rc …``;
* the run's TensorBoard event file (``runs/<model_id>_<time>/events.out.tfevents.*`` in the same
  checkout, or ``--events``): the per-epoch test MAE (``Loss/testLossMAEAvg``), which the log does not print.

The code's final ``test()`` reloads the best-validation checkpoint and computes the metrics but
prints none of them (it writes only the setting's name to ``result.txt``), so the record's final
test MSE / MAE are those of the best-validation epoch's evaluation on the same test set, with the
same weights. Records hold no absolute path: the command is the one in ``LOG.meta``, whose paths
are relative to the authors' checkout.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "benchmarks" / "results" / "authors_reference"
DOC = REPO / "docs" / "samovar.md"
SOURCE_REPOSITORY = "LJC-FVNR/Structural-Aligned-Mixture-of-VAR"
SOURCE_COMMIT = "4e2581f"
DEVIATION = "--num_workers 0 (data loading in the training process: one process, one thread)"
BEGIN = "<!-- authors-reference:begin (python benchmarks/authors_reference.py table) -->"
END = "<!-- authors-reference:end -->"

EPOCH_START = re.compile(r"^Starting Training Epoch: (\d+)$")
EPOCH_TIME = re.compile(r"^Test Steps: 0 cost time: ([0-9.eE+-]+)$")
EPOCH_LINE = re.compile(r"^Test Steps: (\d+), Steps: (\d+) \| Train Loss: ([0-9.eE+-]+|nan) "
                        r"Vali Loss: ([0-9.eE+-]+|nan) Test Loss: ([0-9.eE+-]+|nan)$")
IMPROVED = re.compile(r"^Validation loss decreased \(([^ ]+) --> ([^ )]+)\)")
COUNTER = re.compile(r"^EarlyStopping counter: (\d+) out of (\d+)$")
LR = re.compile(r"^Updating learning rate to ([0-9.eE+-]+)$")
SPLIT = re.compile(r"^(train|val|test) (\d+)$")
TESTING = re.compile(r"^>>>>>>>testing : (.+?)<+$")
SHAPES = re.compile(r"^\((\d+), (\d+), (\d+)\) \((\d+), (\d+), (\d+)\)$")


class LogError(ValueError):
    """A log that is not a finished run of the authors' run_longExp.py."""


def _namespace(line: str) -> dict:
    """The ``Namespace(a=1, b='x', …)`` line printed after "Args in experiment:", as a dict."""
    call = ast.parse(line.strip(), mode="eval").body
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Namespace"):
        raise LogError("the line after 'Args in experiment:' is not a Namespace(...)")
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}


def parse_log(text: str) -> dict:
    """Arguments, split sizes, per-epoch rows, early stop and the final test call of one log."""
    lines = text.splitlines()
    args, splits, epochs = None, {}, []
    early_stop, tested, shapes = False, None, None
    current: dict | None = None
    for i, raw in enumerate(lines):
        line = raw.rstrip()
        if line == "Args in experiment:" and i + 1 < len(lines):
            args = _namespace(lines[i + 1])
        elif m := SPLIT.match(line):
            splits.setdefault(m[1], int(m[2]))
        elif m := EPOCH_START.match(line):
            current = {"epoch": int(m[1]) + 1}
        elif (m := EPOCH_TIME.match(line)) and current is not None:
            current["elapsed_seconds"] = float(m[1])  # since training started, before this epoch's evaluation
        elif (m := EPOCH_LINE.match(line)) and current is not None:
            current.update(steps=int(m[1]), train_loss=float(m[3]), val_mse=float(m[4]), test_mse=float(m[5]))
            epochs.append(current)
        elif (m := IMPROVED.match(line)) and epochs:
            epochs[-1]["improved"] = True
        elif (m := COUNTER.match(line)) and epochs:
            epochs[-1].update(improved=False, patience_counter=int(m[1]), patience=int(m[2]))
        elif (m := LR.match(line)) and epochs:
            epochs[-1]["lr_after"] = float(m[1])
        elif line == "Early stopping":
            early_stop = True
        elif m := TESTING.match(line):
            tested = m[1]
        elif (m := SHAPES.match(line)) and tested is not None:
            shapes = [int(x) for x in m.groups()[:3]]
    if args is None:
        raise LogError("no 'Args in experiment:' line: not a log of run_longExp.py")
    if not epochs:
        raise LogError("no finished epoch ('Test Steps: …, Steps: … | Train Loss: …' line)")
    if tested is None or shapes is None:
        raise LogError(f"the run has not finished: {len(epochs)} epoch(s), no final test "
                       "('>>>>>>>testing' and the prediction shapes); record it when it has ended")
    for row in epochs:
        if "improved" not in row:
            raise LogError(f"epoch {row['epoch']} has no early-stopping verdict")
    return {"args": args, "splits": splits, "epochs": epochs, "early_stop": early_stop,
            "setting": tested, "test_prediction_shape": shapes}


def parse_meta(text: str) -> dict:
    """``start <UTC>``, ``command <cmd…>`` and ``end <UTC> rc <code>`` lines of LOG.meta."""
    meta = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "start":
            meta["start_utc"] = value.strip()
        elif key == "command":
            meta["command"] = value.strip()
        elif key == "end":
            parts = value.split()
            meta["end_utc"] = parts[0]
            if len(parts) >= 3 and parts[1] == "rc":
                meta["exit_code"] = int(parts[2])
    missing = {"start_utc", "command", "end_utc"} - set(meta)
    if missing:
        raise LogError(f"the .meta file lacks {sorted(missing)} (the run may still be going)")
    return meta


# --------------------------------------------------------------------------- TensorBoard scalars


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message; value is bytes for wire type 2."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise LogError(f"unsupported protobuf wire type {wire} in the event file")
        yield number, wire, value


def read_scalars(data: bytes) -> dict[str, dict[int, float]]:
    """tag -> {step: value} of the simple-value scalars in a TensorBoard event file (TFRecord of
    ``Event`` messages: step = field 2, summary = field 5 holding ``Value``s with tag = 1 and
    simple_value = 2). A truncated last record (a run still writing) is ignored."""
    out: dict[str, dict[int, float]] = {}
    pos = 0
    while pos + 12 <= len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        record = data[pos + 12:pos + 12 + n]
        pos += 12 + n + 4
        if len(record) < n:
            break
        step, summary = 0, None
        for number, _, value in _fields(record):
            if number == 2:
                step = value
            elif number == 5:
                summary = value
        if summary is None:
            continue
        for number, _, value in _fields(summary):
            if number != 1:
                continue
            tag, scalar = None, None
            for f, wire, v in _fields(value):
                if f == 1:
                    tag = v.decode()
                elif f == 2 and wire == 5:
                    (scalar,) = struct.unpack("<f", v)
            if tag is not None and scalar is not None:
                out.setdefault(tag, {})[step] = scalar
    return out


def find_events(log: Path, model_id: str) -> Path | None:
    """The newest ``runs/<model_id>_<time>/events.out.tfevents.*`` of the checkout the log lies in."""
    root = log.resolve().parent.parent.parent  # <checkout>/logs/LongForecasting/<log>
    found = sorted(root.glob(f"runs/{model_id}_*/events.out.tfevents.*"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


# --------------------------------------------------------------------------- record


def cell_name(args: dict) -> str:
    return f"{args['data']}_{args['seq_len']}_{args['pred_len']}"


def torch_version(log: Path) -> str | None:
    root = log.resolve().parent.parent.parent
    for version_file in sorted(root.glob(".venv/lib/python*/site-packages/torch/version.py")):
        if m := re.search(r"^__version__ = '([^']+)'", version_file.read_text(), re.M):
            return m[1]
    return None


def build_record(log_text: str, meta_text: str, scalars: dict[str, dict[int, float]] | None, *,
                 threads: int, torch: str | None, repository: str = SOURCE_REPOSITORY, commit: str = SOURCE_COMMIT) -> dict:
    run = parse_log(log_text)
    meta = parse_meta(meta_text)
    if meta.get("exit_code", 0) != 0:
        raise LogError(f"the run exited with code {meta['exit_code']}: not a finished reference run")
    if "--num_workers 0" not in meta["command"]:
        raise LogError("the command in .meta lacks '--num_workers 0', the one recorded deviation")
    maes = (scalars or {}).get("Loss/testLossMAEAvg", {})
    epochs = run["epochs"]
    for row in epochs:
        mae = maes.get(row["epoch"] - 1)  # the code logs the epoch's test evaluation at step test_times = epoch - 1
        row["test_mae"] = None if mae is None else round(mae, 7)
    best = min(epochs, key=lambda r: r["val_mse"])  # EarlyStopping keeps the first strict minimum
    improved = [r["epoch"] for r in epochs if r["improved"]]
    if improved and improved[-1] != best["epoch"]:
        raise LogError(f"the log's last 'Validation loss decreased' is epoch {improved[-1]}, "
                       f"its lowest validation loss epoch {best['epoch']}: the log is inconsistent")
    command = meta["command"]
    command = re.sub(r"^\S*python3?\S*\s", "python ", command)  # the interpreter path is the machine's
    a = run["args"]
    return {
        "format": 1,
        "cell": cell_name(a),
        "source": {"repository": repository, "commit": commit, "script": "run_longExp.py",
                   "arguments_from": "samovar.sh (ETTh1, AutoregressiveAlignment, LinearAttention)"},
        "command": command,
        "deviation": DEVIATION,
        "environment": {"torch": torch, "threads": threads, "device": "cpu",
                        "start_utc": meta["start_utc"], "end_utc": meta["end_utc"]},
        "settings": {k: a.get(k) for k in ("model", "predictor", "data", "seq_len", "pred_len", "batch_size", "learning_rate",
                                           "train_epochs", "patience", "pct_start", "random_seed", "use_amp", "compile",
                                           "num_workers", "e_layers", "n_heads", "dropout", "max_grad_norm")},
        "splits": run["splits"],
        "epochs": epochs,
        "epochs_run": len(epochs),
        "early_stop": run["early_stop"],
        "best_epoch": best["epoch"],
        "best_val_mse": best["val_mse"],
        "test_mse": best["test_mse"],
        "test_mae": best["test_mae"],
        "test_metric_source": "the best-validation epoch's evaluation of the test set (MSE printed in the log, MAE from "
                              "the run's TensorBoard scalars); the code's final test() reloads those weights and prints no metric",
        "test_prediction_shape": run["test_prediction_shape"],
    }


def record(log: Path, threads: int, events: Path | None, out_dir: Path) -> Path:
    from samovar.utils import write_json_atomic

    meta = Path(str(log) + ".meta")
    for path in (log, meta):
        if not path.is_file():
            raise LogError(f"{path} does not exist; give the log of a run started by the reference run script")
    text = log.read_text(errors="replace")
    model_id = parse_log(text)["args"]["model_id"]
    events = events or find_events(log, model_id)
    scalars = read_scalars(events.read_bytes()) if events else None
    rec = build_record(text, meta.read_text(), scalars, threads=threads, torch=torch_version(log))
    path = out_dir / f"{rec['cell']}.json"
    write_json_atomic(path, rec)
    return path


# --------------------------------------------------------------------------- table


def _f(x, digits=4) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


OURS = REPO / "benchmarks" / "results" / "samovar"


def ours_for(rec: dict, directory: Path = OURS) -> dict | None:
    """Our SAMoVAR record of the same cell (benchmarks/reproduce_samovar.py), if committed."""
    s = rec["settings"]
    path = directory / f"samovar_{s['data']}_h{s['pred_len']}.json"
    if not path.is_file():
        return None
    ours = json.loads(path.read_text())
    return ours if ours.get("lookback") == s["seq_len"] else None


def block(records: list[dict], ours_dir: Path = OURS) -> list[str]:
    out = [BEGIN, ""]
    if not records:
        return out + ["No reference run is recorded yet (`python benchmarks/authors_reference.py record LOG`).", "", END]
    r0 = records[0]
    out += [f"The authors' code ([{r0['source']['repository']}](https://github.com/{r0['source']['repository']}) at "
            f"`{r0['source']['commit']}`, `{r0['source']['script']}` with the arguments of their `samovar.sh`), run on this "
            f"machine's CPU unchanged except `{r0['deviation'].split(' (')[0]}`; records in "
            "`benchmarks/results/authors_reference/`. On a CPU their `--use_amp` is inactive (float32, no GradScaler). "
            "Test MSE / MAE: the best-validation epoch's (the weights their final `test()` reloads; it prints no metric). "
            "Wall seconds are of a machine shared with other jobs, counted from the start of training to the end of each "
            "epoch's training (validation and test of earlier epochs included).", "",
            "Beside them, ours: `samovar`'s record of the same cell from `benchmarks/reproduce_samovar.py` "
            "(`benchmarks/results/samovar/`, bf16 autocast).", "",
            "| cell | test MSE | test MAE | best epoch / epochs run | best val MSE | wall s per epoch (mean) | torch, threads | run (UTC) "
            "| ours: test MSE / MAE, best epoch / run |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        ours = ours_for(r, ours_dir)
        ours_text = (f"{ours['test']['mse']:.4f} / {ours['test']['mae']:.4f}, {ours['best_epoch']} / {ours['epochs_run']}"
                     if ours else "–")
        secs = [e["elapsed_seconds"] for e in r["epochs"] if "elapsed_seconds" in e]
        env = dict(r["environment"])
        env["torch"] = env["torch"] or "torch unknown"
        out.append(f"| {r['cell'].replace('_', ' ', 1).replace('_', '/')} | **{_f(r['test_mse'])}** | **{_f(r['test_mae'])}** | "
                   f"{r['best_epoch']} / {r['epochs_run']}{' (early stop)' if r['early_stop'] else ''} | {_f(r['best_val_mse'])} | "
                   f"{secs[-1] / len(secs):.0f} | {env['torch']}, {env['threads']} | {env['start_utc']} – {env['end_utc']} | "
                   f"{ours_text} |"
                   if secs else f"| {r['cell']} | {_f(r['test_mse'])} | {_f(r['test_mae'])} | {r['best_epoch']} / {r['epochs_run']} | "
                   f"{_f(r['best_val_mse'])} | – | {env['torch']}, {env['threads']} | {env['start_utc']} – {env['end_utc']} | "
                   f"{ours_text} |")
    for r in records:
        ours = {h["epoch"]: h for h in (ours_for(r, ours_dir) or {}).get("history", [])}
        out += ["", f"Per epoch, {r['cell'].replace('_', ' ', 1).replace('_', '/')} (command: `{r['command']}`):", "",
                "| epoch | train loss | val MSE | test MSE | test MAE | wall s since start | early stopping | ours: train loss, val MSE |",
                "|---|---|---|---|---|---|---|---|"]
        for e in r["epochs"]:
            verdict = "best so far" if e["improved"] else f"{e['patience_counter']} of {e['patience']}"
            mark = "**" if e["epoch"] == r["best_epoch"] else ""
            o = ours.get(e["epoch"])
            mine = f"{_f(o.get('train_loss'))}, {_f(o.get('val_mse'))}" if o else "–"
            out.append(f"| {mark}{e['epoch']}{mark} | {_f(e['train_loss'])} | {mark}{_f(e['val_mse'])}{mark} | {_f(e['test_mse'])} | "
                       f"{_f(e.get('test_mae'))} | {e.get('elapsed_seconds', float('nan')):.0f} | {verdict} | {mine} |")
    return out + ["", END]


def readme_block(records: list[dict], ours_dir: Path = OURS) -> list[str]:
    """The README's summary: each recorded cell, the authors' code against ours."""
    out = [BEGIN, ""]
    if not records:
        return out + ["No reference run is recorded yet.", "", END]
    out += ["| cell | the authors' code: test MSE / MAE (best epoch / run) | ours: test MSE / MAE (best epoch / run) | "
            "ours − theirs (MSE) |", "|---|---|---|---|"]
    for r in records:
        ours = ours_for(r, ours_dir)
        theirs = f"{_f(r['test_mse'])} / {_f(r['test_mae'])} ({r['best_epoch']} / {r['epochs_run']})"
        mine = (f"{ours['test']['mse']:.4f} / {ours['test']['mae']:.4f} ({ours['best_epoch']} / {ours['epochs_run']})"
                if ours else "–")
        diff = f"{ours['test']['mse'] - r['test_mse']:+.4f}" if ours else "–"
        out.append(f"| {r['cell'].replace('_', ' ', 1).replace('_', '/')} | {theirs} | {mine} | {diff} |")
    return out + ["", END]


def _replace_block(path: Path, lines: list[str]) -> None:
    from samovar.utils import write_text_atomic

    write_text_atomic(path, replace_block(path.read_text(), BEGIN, END, "\n".join(lines), str(path), error=LogError))


def load_records(directory: Path) -> list[dict]:
    recs = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    return sorted(recs, key=lambda r: (r["settings"]["data"], r["settings"]["seq_len"], r["settings"]["pred_len"]))


def write_table(doc: Path, directory: Path, ours_dir: Path = OURS, readme: Path | None = None) -> None:
    records = load_records(directory)
    _replace_block(doc, block(records, ours_dir))
    if readme is not None:
        _replace_block(readme, readme_block(records, ours_dir))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="write the record of one finished run")
    r.add_argument("log", type=Path)
    r.add_argument("--threads", type=int, required=True, help="the OMP_NUM_THREADS the run had (not in its log)")
    r.add_argument("--events", type=Path, default=None, help="the run's TensorBoard event file (default: found next to the log)")
    r.add_argument("--out", type=Path, default=RECORDS)
    t = sub.add_parser("table", help="rewrite the block in docs/samovar.md from the records")
    t.add_argument("--doc", type=Path, default=DOC)
    t.add_argument("--records", type=Path, default=RECORDS)
    t.add_argument("--ours", type=Path, default=OURS, help="our samovar records to compare with")
    t.add_argument("--readme", type=Path, default=REPO / "README.md", help="file with the summary block")
    t.add_argument("--no-readme", action="store_true")
    args = p.parse_args(argv)
    try:
        if args.cmd == "record":
            print(f"written {record(args.log, args.threads, args.events, args.out)}")
        else:
            write_table(args.doc, args.records, args.ours, None if args.no_readme else args.readme)
            print(f"written the block in {args.doc}" + ("" if args.no_readme else f" and in {args.readme}"))
    except (LogError, OSError, json.JSONDecodeError, SyntaxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
