"""The task trainer: schedule, optimizer groups, loss goes down, bit-for-bit resume, run files,
the task registry and the `samovar task` commands."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import require_file
from typer.testing import CliRunner

from samovar import tasks
from samovar.bench.db import ResultsDB
from samovar.cli import app
from samovar.tasks.backbone import LanguageModel, SequenceClassifier
from samovar.tasks.base import ClassificationData, TensorSplit
from samovar.tasks.lm import TokenCorpus
from samovar.tasks.runs import load_task_run
from samovar.tasks.train import ClassificationTask, LMTask, TaskTrainConfig, learning_rate, make_optimizer, train_task


def _nanogpt_lr(it: int, lr=1e-3, min_lr=1e-4, warmup=100, decay=2000) -> float:
    """nanoGPT train.py get_lr, written out as its README describes it."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def test_schedule_is_nanogpts():
    config = TaskTrainConfig()
    for step in (0, 1, 50, 99, 100, 101, 1000, 1999):
        assert learning_rate(config, step) == pytest.approx(_nanogpt_lr(step), rel=1e-12)
    assert learning_rate(config, 2000) == pytest.approx(1e-4)


def test_weight_decay_only_on_matrices():
    model = LanguageModel("gla", vocab_size=5, dim=8, layers=1, heads=2)
    opt = make_optimizer(model, TaskTrainConfig(weight_decay=0.1))
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and all(p.dim() >= 2 for p in decayed["params"])
    assert plain["weight_decay"] == 0.0 and all(p.dim() < 2 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="warmup_steps"):
        TaskTrainConfig(steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="min_lr"):
        TaskTrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ValueError, match="unknown training option"):
        TaskTrainConfig.from_dict({"epochs": 3})


def _pattern_corpus() -> TokenCorpus:
    """A deterministic text: 'abcab...' cycles the model can learn quickly."""
    text = ("the cat sat on the mat. " * 200)
    vocab = sorted(set(text))
    ids = torch.tensor([vocab.index(c) for c in text])
    return TokenCorpus("pattern", "char", vocab, ids[:4000], ids[4000:], None)


def _lm_run(run_dir=None, on_eval=None, resume=False, steps=40):
    torch.manual_seed(0)
    model = LanguageModel("gla", vocab_size=len(_pattern_corpus().vocab), dim=16, layers=1, heads=2)
    config = TaskTrainConfig(steps=steps, batch_size=8, warmup_steps=4, eval_interval=10, eval_batches=2, quiet=True, lr=3e-3)
    return train_task(model, LMTask(_pattern_corpus(), 16), config, run_dir, resume=resume, on_eval=on_eval)


def test_language_model_training_lowers_the_loss():
    result = _lm_run()
    first, last = result.history[0], result.history[-1]
    assert last["val_loss_est"] < first["val_loss_est"] - 0.5
    assert result.final["val_loss"] < 2.0 and result.final["val_bpc"] == pytest.approx(result.final["val_loss"] / math.log(2))
    assert [r["step"] for r in result.history] == [0, 10, 20, 30, 40]


def test_resume_ends_bit_for_bit_like_an_uninterrupted_run(tmp_path):
    whole = _lm_run(tmp_path / "whole")

    class Stop(Exception):
        pass

    def stop_at_20(row):
        if row["step"] == 20:
            raise Stop

    with pytest.raises(Stop):
        _lm_run(tmp_path / "cut", on_eval=stop_at_20)
    resumed = _lm_run(tmp_path / "cut", resume=True)
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert [r["val_loss_est"] for r in resumed.history] == [r["val_loss_est"] for r in whole.history]
    files = {p.name for p in (tmp_path / "cut").iterdir()}
    assert {"config.json", "metrics.jsonl", "best.safetensors", "checkpoint.pt", "results.json", "vocab.json"} <= files
    with pytest.raises(FileExistsError, match="already holds a run"):
        _lm_run(tmp_path / "whole")
    with pytest.raises(ValueError, match="options differ"):
        _lm_run(tmp_path / "whole", resume=True, steps=50)


def _parity_data(n: int, length: int = 12) -> ClassificationData:
    """Label = whether token 1 occurs among the valid positions; random lengths, padding 0 after them."""
    g = torch.Generator().manual_seed(n)

    def split(count):
        lengths = torch.randint(3, length + 1, (count,), generator=g)
        x = torch.randint(2, 5, (count, length), generator=g)
        labels = torch.randint(0, 2, (count,), generator=g)
        for i in range(count):
            if labels[i]:
                x[i, torch.randint(0, int(lengths[i]), (1,), generator=g)] = 1
            x[i, lengths[i]:] = 0
        return TensorSplit(x, labels, lengths)

    return ClassificationData("has-one", split(n), split(64), split(64), num_classes=2, vocab_size=5, input_dim=None,
                              pad_id=0, synthetic=True, notes=["test data"])


def test_classification_training_learns_a_simple_rule():
    torch.manual_seed(0)
    data = _parity_data(512)
    model = SequenceClassifier("mingru", num_classes=2, dim=16, layers=1, vocab_size=5, pooling="mean")
    config = TaskTrainConfig(steps=150, batch_size=32, lr=1e-2, min_lr=1e-3, warmup_steps=10, eval_interval=50, quiet=True)
    result = train_task(model, ClassificationTask(data), config)
    assert result.history[0]["val_accuracy"] < 0.75
    assert result.final["test_accuracy"] > 0.9


def test_registry_names_the_issue_tasks():
    assert tasks.available() == ["listops", "text", "retrieval", "image", "pathfinder", "shakespeare", "wikitext",
                                 "speech-commands"]
    with pytest.raises(KeyError, match="unknown task") as raised:
        tasks.get_task("mnist")
    assert str(raised.value).startswith("unknown task 'mnist'; available: listops")  # no KeyError repr quotes
    assert tasks.get_task("listops").published[0].value == 36.37


def test_cli_run_generate_resume_and_db(tmp_path, monkeypatch):
    data = require_file("tinyshakespeare/input.txt.gz").parent.parent
    db_path = tmp_path / "bench.db"
    monkeypatch.setenv("SAMOVAR_BENCH_DB", str(db_path))
    runner = CliRunner()
    listed = runner.invoke(app, ["task", "list"])
    assert listed.exit_code == 0 and "shakespeare" in listed.output
    run_dir = tmp_path / "run"
    args = ["task", "run", "shakespeare", "--mixer", "mamba", "--layers", "1", "--dim", "16", "--steps", "6",
            "--eval-interval", "3", "--eval-batches", "1", "--batch-size", "4", "--context", "16",
            "--data-dir", str(data), "--run-dir", str(run_dir), "--quiet"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "val_bpc" in out.output and str(run_dir) in out.output.replace("\n", "")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["steps"] == 6 and results["budget"] == "6 steps x batch 4 x context 16"
    rows = ResultsDB(db_path).task_rows(task="shakespeare")
    assert {r["metric"] for r in rows} >= {"val_loss", "val_bpc", "val_loss_est"}
    assert all(r["mixer"] == "mamba" for r in rows)

    gen = runner.invoke(app, ["task", "generate", str(run_dir), "--prompt", "ROMEO:", "--tokens", "20"])
    assert gen.exit_code == 0, gen.output
    assert gen.output.startswith("ROMEO:") and len(gen.output.rstrip("\n")) >= 6
    model, cfg, corpus = load_task_run(run_dir)
    assert cfg["model"]["mixer"] == "mamba" and corpus.vocab_size == 65

    evaluated = runner.invoke(app, ["task", "evaluate", str(run_dir), "--weights", "last"])
    assert evaluated.exit_code == 0, evaluated.output
    assert f"{results['val_loss']:.4f}" in evaluated.output  # the final weights are the last ones

    for command in (["forecast", str(run_dir), "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")],
                    ["evaluate", str(run_dir)]):  # forecasting commands on a task run say what to use instead
        wrong = runner.invoke(app, command)
        message = " ".join(wrong.output.split())
        assert wrong.exit_code == 2 and f"{run_dir} is a task run (written by `samovar task run`)" in message
        assert f"samovar task evaluate {run_dir}" in message and "samovar task generate" in message
        assert "finished an epoch" not in message

    again = runner.invoke(app, ["task", "run", "--resume", str(run_dir), "--quiet"])
    assert again.exit_code == 0, again.output  # the run had finished: nothing left to train, metrics re-reported
    bad = runner.invoke(app, ["task", "run", "shakespeare", "--mixer", "nope", "--data-dir", str(data),
                              "--runs-dir", str(tmp_path), "--no-record"])
    assert bad.exit_code == 2 and "unknown mixer" in bad.output


def test_cli_unknown_task_is_a_plain_message(tmp_path):
    task = CliRunner().invoke(app, ["task", "run", "mnist", "--runs-dir", str(tmp_path), "--no-record"])
    assert task.exit_code == 2 and task.output.startswith("error: unknown task 'mnist'; available: listops"), task.output


def test_wikitext_run_reports_perplexity_on_valid_and_test(tmp_path, monkeypatch):
    """The whole word-level path on tiny files in the standard layout (token counts patched to match)."""
    from samovar.tasks import lm
    from samovar.tasks.runs import run_task

    folder = tmp_path / "wikitext-103"
    folder.mkdir()
    words = "the cat sat on the mat and the dog sat on the log".split()
    text = {split: "\n".join(" ".join(words[i % 5:] + words[:i % 5]) for i in range(n)) + "\n"
            for split, n in (("train", 60), ("valid", 8), ("test", 8))}
    for split, body in text.items():
        (folder / f"wiki.{split}.tokens").write_text(body)
    counts = {split: len(body.split()) + body.count("\n") for split, body in text.items()}
    monkeypatch.setitem(lm.WIKITEXT_TOKENS, 103, counts)
    result = run_task("wikitext", "retnet", dim=16, layers=1, data_options={"version": 103}, context=8,
                      train_options={"steps": 30, "batch_size": 8, "eval_interval": 15, "eval_batches": 2, "quiet": True,
                                     "lr": 3e-3},
                      data_dir=tmp_path, run_dir=tmp_path / "run", db=False)
    assert result.final["val_tokens"] == counts["valid"] - 1 and result.final["test_tokens"] == counts["test"] - 1
    assert result.final["test_ppl"] == pytest.approx(math.exp(result.final["test_loss"]))
    assert result.final["val_ppl"] < len(set(words)) + 1  # better than uniform over the vocabulary
    assert json.loads((tmp_path / "run" / "vocab.json").read_text())["level"] == "word"


def test_cli_classification_run_on_generated_listops(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAMOVAR_BENCH_DB", str(tmp_path / "bench.db"))
    small = ["n_train=48", "n_val=16", "n_test=16", "min_length=20", "max_length=50", "max_depth=3"]
    args = ["task", "run", "listops", "--mixer", "gla", "--layers", "1", "--dim", "16", "--heads", "2", "--steps", "6",
            "--eval-interval", "3", "--batch-size", "8", "--bidirectional", "--pooling", "last",
            "--run-dir", str(tmp_path / "run"), "--quiet"]
    for option in small:
        args += ["--data-option", option]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "SYNTHETIC" in out.output and "reduced lengths" in out.output
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["data"]["synthetic"] is True and cfg["model"]["options"] == {"heads": 2, "pooling": "last", "bidirectional": True}
    rows = ResultsDB(tmp_path / "bench.db").task_rows(task="listops")
    assert {r["metric"] for r in rows} == {"val_accuracy", "test_accuracy"}
    assert all(json.loads(r["extra_json"])["synthetic"] for r in rows)


def test_evaluate_a_wikitext_run_without_the_training_split(tmp_path, monkeypatch):
    """A model trained elsewhere is evaluated on valid/test only, ids mapped to its own vocabulary."""
    from samovar.tasks import lm
    from samovar.tasks.runs import evaluate_task_run, run_task

    folder = tmp_path / "wikitext-103"
    folder.mkdir()
    text = {"train": "a b c d\nd c b a\n" * 20, "valid": "d c b a\n", "test": "b a\n"}
    for split, body in text.items():
        (folder / f"wiki.{split}.tokens").write_text(body)
    monkeypatch.setitem(lm.WIKITEXT_TOKENS, 103, {s: len(b.split()) + b.count("\n") for s, b in text.items()})
    run_task("wikitext", "gla", dim=16, layers=1, data_options={"version": 103}, context=4, data_dir=tmp_path,
             train_options={"steps": 5, "batch_size": 4, "eval_interval": 5, "eval_batches": 1, "quiet": True},
             run_dir=tmp_path / "run", db=False)
    full = evaluate_task_run(tmp_path / "run", weights="last")
    (folder / "wiki.train.tokens").unlink()
    without_train = evaluate_task_run(tmp_path / "run", weights="last")
    assert without_train == pytest.approx(full)
    assert without_train["test_tokens"] == 2
