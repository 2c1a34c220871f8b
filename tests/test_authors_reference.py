"""benchmarks/authors_reference.py: a log of the authors' run_longExp.py -> record -> docs block."""

from __future__ import annotations

import json
import struct
import sys

import pytest

from conftest import REPO
from test_committed_records import ABSOLUTE

sys.path.insert(0, str(REPO / "benchmarks"))
import authors_reference as ar  # noqa: E402

NAMESPACE = ("Namespace(random_seed=2024, is_training=1, model_id='2024_AutoregressiveAlignment_LinearAttention_ETTh1_1024_96', "
             "model='AutoregressiveAlignment', data='ETTh1', seq_len=1024, label_len=1024, pred_len=96, num_workers=0, "
             "train_epochs=100, batch_size=32, patience=2, learning_rate=0.0006, pct_start=0.05, use_amp=True, compile=1, "
             "predictor='LinearAttention', e_layers=3, n_heads=8, dropout=0.1, max_grad_norm=1.0, devices='0,1,2,3')")


def _epoch(i, train, val, test, verdict):
    return f"""train 7521
Starting Training Epoch: {i}
\titers: 100, epoch: {i + 1} | loss: 1.5335729
\tspeed: 0.5690s/iter; left time: 13371.6943s
I1206 13:12:40.813000 12536 /somewhere/torch/_dynamo/symbolic_convert.py:5335] [0/0] Step 1: torchdynamo start tracing
Test Steps: 0 cost time: {100 + i}.25
Start Validation (vali)
Validation Finished (Vali)
Validation Finished (Test)
AdamW (
Parameter Group 0
    lr: 0.00016702049042660393
)
Test Steps: {236 * (i + 1)}, Steps: 236 | Train Loss: {train:.7f} Vali Loss: {val:.7f} Test Loss: {test:.7f}
{verdict}
Updating learning rate to 0.0001{i}
"""


LOG = ("Args in experiment:\n" + NAMESPACE + "\nUse CPU\n>>>>>>>start training : setting>>>>>>>>\ntrain 7521\nval 2785\ntest 2785\n"
       + _epoch(0, 1.5443608, 0.8118768, 0.4868291, "Validation loss decreased (inf --> 0.811877).  Saving model ...")
       + _epoch(1, 1.1273620, 0.7102284, 0.3928765, "Validation loss decreased (0.811877 --> 0.710228).  Saving model ...")
       + _epoch(2, 1.0522915, 0.7156765, 0.3785863, "EarlyStopping counter: 1 out of 2")
       + _epoch(3, 1.0217728, 0.7233249, 0.3744039, "EarlyStopping counter: 2 out of 2").replace(
           "Updating learning rate", "Early stopping\nUpdating learning rate")
       + ">>>>>>>testing : setting<<<<<<<<<<<<<<<<\n(2785, 96, 7) (2785, 96, 7)\n")
META = ("start 2026-12-06T13:12:36Z\ncommand /abs/venv/bin/python -u run_longExp.py --is_training 1 --seq_len 1024 "
        "--pred_len 96 --num_workers 0 --use_amp\nend 2026-12-06T13:50:00Z rc 0\n")


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, wire, payload):
    key = _varint(number << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def _events(scalars):
    """A TFRecord stream of Event messages, each holding one simple-value scalar (CRCs are not checked)."""
    out = b""
    for tag, step, value in scalars:
        val = _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", value))
        event = _field(1, 1, struct.pack("<d", 1.0)) + _field(2, 0, _varint(step)) + _field(5, 2, _field(1, 2, val))
        out += struct.pack("<Q", len(event)) + b"\0" * 4 + event + b"\0" * 4
    return out


MAES = [("Loss/testLossMAEAvg", i, v) for i, v in enumerate((0.47, 0.4203, 0.4079, 0.4060))]


def test_event_scalars_are_read_by_tag_and_step_and_a_truncated_tail_is_ignored():
    data = _events(MAES + [("Loss/valiLossAvg", 0, 0.81)])
    scalars = ar.read_scalars(data + b"\x10\x00\x00")
    assert scalars["Loss/testLossMAEAvg"][1] == pytest.approx(0.4203, abs=1e-7)
    assert scalars["Loss/valiLossAvg"] == {0: pytest.approx(0.81)}


def test_a_finished_log_becomes_a_record_of_every_epoch_and_the_best_one():
    rec = ar.build_record(LOG, META, ar.read_scalars(_events(MAES)), threads=1, torch="2.13.0+cpu")
    assert rec["cell"] == "ETTh1_1024_96" and rec["epochs_run"] == 4 and rec["early_stop"]
    assert rec["best_epoch"] == 2 and rec["best_val_mse"] == 0.7102284
    assert rec["test_mse"] == 0.3928765 and rec["test_mae"] == pytest.approx(0.4203, abs=1e-6)
    assert [e["improved"] for e in rec["epochs"]] == [True, True, False, False]
    assert rec["epochs"][3]["patience_counter"] == 2 and rec["epochs"][0]["elapsed_seconds"] == 100.25
    assert rec["splits"] == {"train": 7521, "val": 2785, "test": 2785}
    assert rec["settings"]["seq_len"] == 1024 and rec["settings"]["num_workers"] == 0
    assert rec["command"].startswith("python -u run_longExp.py") and "--num_workers 0" in rec["command"]
    assert rec["environment"] == {"torch": "2.13.0+cpu", "threads": 1, "device": "cpu",
                                  "start_utc": "2026-12-06T13:12:36Z", "end_utc": "2026-12-06T13:50:00Z"}
    assert rec["source"]["commit"] == ar.SOURCE_COMMIT
    assert not ABSOLUTE.search(json.dumps(rec)) and "/abs/" not in json.dumps(rec)


def test_without_event_file_the_mae_is_missing_not_invented():
    rec = ar.build_record(LOG, META, None, threads=1, torch=None)
    assert rec["test_mae"] is None and all(e["test_mae"] is None for e in rec["epochs"])


def test_unfinished_or_failed_runs_are_refused():
    running = LOG.split(">>>>>>>testing")[0]
    with pytest.raises(ar.LogError, match="has not finished: 4 epoch"):
        ar.parse_log(running)
    with pytest.raises(ar.LogError, match="lacks \\['end_utc'\\]"):
        ar.parse_meta(META.rsplit("end", 1)[0])
    with pytest.raises(ar.LogError, match="exited with code 1"):
        ar.build_record(LOG, META.replace("rc 0", "rc 1"), None, threads=1, torch=None)
    with pytest.raises(ar.LogError, match="not a log of run_longExp"):
        ar.parse_log("Traceback (most recent call last):\n")


def test_record_command_and_table_block(tmp_path, capsys):
    root = tmp_path / "checkout"
    logs = root / "logs" / "LongForecasting"
    logs.mkdir(parents=True)
    log = logs / "2024_AutoregressiveAlignment_LinearAttention_ETTh1_1024_96.log"
    log.write_text(LOG)
    (logs / (log.name + ".meta")).write_text(META)
    events = root / "runs" / "2024_AutoregressiveAlignment_LinearAttention_ETTh1_1024_96_20261206-131240"
    events.mkdir(parents=True)
    (events / "events.out.tfevents.1.vm.1.0").write_bytes(_events(MAES))
    out = tmp_path / "records"
    ar.main(["record", str(log), "--threads", "1", "--out", str(out)])
    rec = json.loads((out / "ETTh1_1024_96.json").read_text())
    assert rec["test_mae"] == pytest.approx(0.4203, abs=1e-6)  # found the event file beside the log

    doc = tmp_path / "samovar.md"
    doc.write_text(f"before\n{ar.BEGIN}\nold numbers 0.3736\n{ar.END}\nafter\n")
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "samovar_ETTh1_h96.json").write_text(json.dumps({
        "lookback": 1024, "best_epoch": 5, "epochs_run": 17, "test": {"mse": 0.3748, "mae": 0.4059},
        "history": [{"epoch": 1, "train_loss": 1.55, "val_mse": 0.808}, {"epoch": 2, "train_loss": 1.13, "val_mse": 0.728}]}))
    readme = tmp_path / "README.md"
    readme.write_text(f"top\n{ar.BEGIN}\n{ar.END}\nend\n")
    ar.main(["table", "--doc", str(doc), "--records", str(out), "--ours", str(ours), "--readme", str(readme)])
    assert ("| ETTh1 1024/96 | 0.3929 / 0.4203 (2 / 4) | 0.3748 / 0.4059 (5 / 17) | -0.0181 |"
            in readme.read_text())
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "0.3736" not in text
    assert "| ETTh1 1024/96 | **0.3929** | **0.4203** | 2 / 4 (early stop) | 0.7102 | 26 | torch unknown, 1 | 2026-12-06T13:12:36Z – 2026-12-06T13:50:00Z | 0.3748 / 0.4059, 5 / 17 |" in text
    assert "| **2** | 1.1274 | **0.7102** | 0.3929 | 0.4203 | 101 | best so far | 1.1300, 0.7280 |" in text
    assert "| 4 | 1.0218 | 0.7233 | 0.3744 | 0.4060 | 103 | 2 of 2 | – |" in text

    with pytest.raises(SystemExit) as exit_:
        ar.main(["record", str(tmp_path / "missing.log"), "--threads", "1"])
    assert exit_.value.code == 2 and "does not exist" in capsys.readouterr().err
