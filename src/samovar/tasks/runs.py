"""Whole task runs by name: load the data, build the model, train into a run directory,
record the result in the bench database, and rebuild a trained model from its run directory.

This is what ``samovar task run`` / ``samovar task generate`` are built on.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from ..training import rundir as rd
from ..utils import seed_everything
from . import TaskSpec, get_task
from .backbone import LanguageModel, SequenceClassifier, default_positional
from .base import token_dtype
from .lm import TokenCorpus
from .train import VOCAB, ClassificationTask, LMTask, TaskResult, TaskTrainConfig, train_task

# Backbone options a user may set (besides mixer, dim, layers).
MODEL_OPTIONS = ("heads", "pooling", "bidirectional", "positional", "mlp_ratio", "dropout", "bias", "mixer_options")


def default_run_dir(root: str | Path, task: str, mixer: str) -> Path:
    """A new ``root/task-<task>-<mixer>-<UTC timestamp>`` (suffixed -2, -3 ... if taken)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"task-{task}-{mixer}-{stamp}")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def train_config_for(spec: TaskSpec, overrides: dict[str, Any] | None = None) -> TaskTrainConfig:
    """The task's default recipe with `overrides` applied (None values are ignored)."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    options = {**spec.train_defaults, **given}
    steps = options.get("steps", TaskTrainConfig.steps)
    if "warmup_steps" not in given and options.get("warmup_steps", TaskTrainConfig.warmup_steps) >= steps:
        options["warmup_steps"] = steps // 10  # a short run keeps a tenth of its steps as warm-up
    config = TaskTrainConfig.from_dict(options)
    if not config.budget:
        config.budget = budget_label(spec, config)
    return config


def budget_label(spec: TaskSpec, config: TaskTrainConfig, context: int | None = None) -> str:
    context = context or spec.context
    tokens = f" x context {context}" if spec.kind == "lm" else ""
    return f"{config.steps} steps x batch {config.batch_size}{tokens}"


def build_model(kind: str, mixer: str, *, dim: int, layers: int, vocab_size: int | None, input_dim: int | None = None,
                num_classes: int | None = None, dual: bool = False, max_len: int, options: dict[str, Any] | None = None
                ) -> torch.nn.Module:
    """A LanguageModel (kind "lm") or SequenceClassifier with the backbone `options` (MODEL_OPTIONS)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(MODEL_OPTIONS))
    if unknown:
        raise ValueError(f"unknown model option(s) {unknown}; known: {list(MODEL_OPTIONS)}")
    if options.get("positional") is None:
        options["positional"] = default_positional(mixer)
    if kind == "lm":
        for key in ("pooling", "bidirectional"):
            if options.pop(key, None):
                raise ValueError(f"{key} is a classification option; a language model has none")
        return LanguageModel(mixer, vocab_size=vocab_size, dim=dim, layers=layers, max_len=max_len, **options)
    return SequenceClassifier(mixer, num_classes=num_classes, dim=dim, layers=layers, vocab_size=vocab_size,
                              input_dim=input_dim, dual=dual, max_len=max_len, **options)


def _model_for_data(spec: TaskSpec, data: Any, mixer: str, dim: int, layers: int, context: int | None,
                    options: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
    if spec.kind == "lm":
        shape = {"vocab_size": data.vocab_size, "max_len": context}
    else:
        shape = {"vocab_size": data.vocab_size, "input_dim": data.input_dim, "num_classes": data.num_classes,
                 "dual": data.dual, "max_len": data.seq_len}
    return build_model(spec.kind, mixer, dim=dim, layers=layers, options=options, **shape), shape


def run_task(
    task: str,
    mixer: str,
    *,
    dim: int = 128,
    layers: int = 4,
    model_options: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
    train_options: dict[str, Any] | None = None,
    context: int | None = None,
    data_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
    db: str | Path | None | bool = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> TaskResult:
    """Load `task`'s data, build the backbone around `mixer` (seeded), train, record in the bench DB.

    context: tokens per window (language models; default the task's). db: path of the results
    database (None: $SAMOVAR_BENCH_DB or the default path; False: do not record).
    """
    spec = get_task(task)
    config = train_config_for(spec, train_options)
    if spec.kind == "lm":
        context = int(context or spec.context)
        if train_options is None or not train_options.get("budget"):
            config.budget = budget_label(spec, config, context)
    elif context is not None:
        raise ValueError(f"context is a language-model option; {task} is a classification task")
    data_options = dict(data_options or {})
    data = spec.load(data_dir, **data_options)
    task_obj = LMTask(data, context) if spec.kind == "lm" else ClassificationTask(data)
    seed_everything(config.seed)
    model, shape = _model_for_data(spec, data, mixer, dim, layers, context, dict(model_options or {}))
    info = {
        "task": {"name": spec.name, "kind": spec.kind, "data_options": data_options, "context": context,
                 "data_dir": str(data_dir) if data_dir is not None else None},
        "model": {"mixer": mixer, "dim": dim, "layers": layers, "options": dict(model_options or {}), "shape": shape},
    }
    result = train_task(model, task_obj, config, run_dir, run_info=info, on_eval=on_eval)
    if db is not False:
        record_result(spec, task_obj, mixer, dim, layers, dict(model_options or {}), data_options, context, result,
                      None if db in (None, True) else db)
    return result


def resume_task(run_dir: str | Path, *, quiet: bool | None = None, device: str | None = None,
                data_dir: str | Path | None = None, db: str | Path | None | bool = None) -> TaskResult:
    """Continue the run in `run_dir` from its checkpoint with its recorded task, model and options."""
    run_dir = Path(run_dir)
    cfg = read_task_config(run_dir)
    train_cfg = cfg["train"] | ({"quiet": quiet} if quiet is not None else {}) | ({"device": device} if device else {})
    config = TaskTrainConfig.from_dict(train_cfg)
    spec = get_task(cfg["task"]["name"])
    data = spec.load(data_dir or cfg["task"]["data_dir"], **cfg["task"]["data_options"])
    context = cfg["task"]["context"]
    task_obj = LMTask(data, context) if spec.kind == "lm" else ClassificationTask(data)
    m = cfg["model"]
    seed_everything(config.seed)
    model, _ = _model_for_data(spec, data, m["mixer"], m["dim"], m["layers"], context, m["options"])
    result = train_task(model, task_obj, config, run_dir, resume=True)
    if db is not False:
        record_result(spec, task_obj, m["mixer"], m["dim"], m["layers"], m["options"], cfg["task"]["data_options"],
                      context, result, None if db in (None, True) else db)
    return result


def read_task_config(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / rd.CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a task run directory (no {rd.CONFIG}); pass the directory `samovar task run` printed")
    cfg = rd.read_json(path)
    if "task" not in cfg:
        raise ValueError(f"{run_dir} is a forecasting run, not a task run (use `samovar evaluate`)")
    return cfg


def load_task_run(run_dir: str | Path, device: str | torch.device = "cpu",
                  weights: str = "best") -> tuple[torch.nn.Module, dict[str, Any], TokenCorpus | None]:
    """(model in eval mode, config.json, vocabulary corpus for language models else None).

    weights: "best" (best.safetensors) or "last" (the checkpoint's current weights).
    """
    run_dir = Path(run_dir)
    cfg = read_task_config(run_dir)
    m = cfg["model"]
    spec = get_task(cfg["task"]["name"])
    model = build_model(spec.kind, m["mixer"], dim=m["dim"], layers=m["layers"], options=m["options"], **m["shape"])
    if weights == "best":
        if not (run_dir / rd.BEST).exists():
            raise FileNotFoundError(f"{run_dir} has no {rd.BEST}: the run has not evaluated once yet")
        best_state = rd.load_weights(run_dir / rd.BEST)
        with rd.reading(run_dir / rd.BEST):
            model.load_state_dict(best_state)
    elif weights == "last":
        checkpoint = rd.load_checkpoint(run_dir / rd.CHECKPOINT)
        with rd.reading(run_dir / rd.CHECKPOINT):
            model.load_state_dict(checkpoint["model"])
    else:
        raise ValueError(f"weights must be 'best' or 'last', got {weights!r}")
    model.to(device).eval()
    corpus = None
    if spec.kind == "lm":
        v = rd.read_json(run_dir / VOCAB)
        with rd.reading(run_dir / VOCAB):
            corpus = TokenCorpus(name=cfg["task"]["name"], level=v["level"], vocab=v["vocab"], train=None, val=None, test=None)
    return model, cfg, corpus


def record_result(spec: TaskSpec, task_obj: Any, mixer: str, dim: int, layers: int, model_options: dict[str, Any],
                  data_options: dict[str, Any], context: int | None, result: TaskResult, db_path: str | Path | None) -> None:
    """One bench-database row per reported metric of a finished run."""
    from ..bench.db import ResultsDB

    described = task_obj.describe()
    metrics: list[tuple[str, float, bool]] = []
    if spec.kind == "lm":
        last = result.history[-1]
        metrics.append(("val_loss_est", last["val_loss_est"], False))
        for key, higher in (("val_loss", False), ("val_bpc", False), ("val_ppl", False), ("test_loss", False),
                            ("test_bpc", False), ("test_ppl", False)):
            if key in result.final:
                metrics.append((key, result.final[key], higher))
    else:
        for key in ("val_accuracy", "test_accuracy"):
            if key in result.final:
                metrics.append((key, result.final[key], True))
    config = {"dim": dim, "layers": layers, "model_options": model_options, "data_options": data_options,
              "context": context, "train": {k: v for k, v in result.config.to_dict().items()
                                            if k not in ("quiet", "device", "threads", "eval_batch_size")}}
    params = sum(p.numel() for p in result.model.parameters())
    db = ResultsDB(db_path)
    for metric, value, higher in metrics:
        db.record_task(task=spec.name, dataset=described["name"], model="backbone", mixer=mixer, metric=metric,
                       value=value, budget=result.config.budget, seed=result.config.seed, config=config,
                       higher_is_better=higher, wall_seconds=result.wall_seconds, peak_mem_mb=result.peak_mem_mb,
                       params=params, device=str(next(result.model.parameters()).device),
                       run_dir=Path(result.run_dir).resolve() if result.run_dir is not None else None,
                       extra={"synthetic": described.get("synthetic", False), "notes": described.get("notes", []),
                              "train_seconds": result.train_seconds, "best_step": result.best_step})


def evaluate_task_run(run_dir: str | Path, *, data_dir: str | Path | None = None, device: str = "cpu",
                      weights: str = "best", batch_size: int = 64) -> dict[str, float]:
    """Exact metrics of a run's weights on its task's validation and test splits (re-read from the data files)."""
    model, cfg, corpus = load_task_run(run_dir, device=device, weights=weights)
    spec = get_task(cfg["task"]["name"])
    options = dict(cfg["task"]["data_options"])
    if spec.name == "wikitext":
        options["require_train"] = False  # evaluation needs only valid/test (and the run's vocabulary)
    data = spec.load(data_dir or cfg["task"]["data_dir"], **options)
    config = TaskTrainConfig.from_dict({**cfg["train"], "eval_batch_size": batch_size})
    dev = next(model.parameters()).device
    if spec.kind == "lm":
        if data.train is None:  # WikiText without its training split: ids in the run's vocabulary
            data = _reindex(data, corpus)
        if data.vocab != corpus.vocab:
            raise ValueError(f"the data's vocabulary differs from the run's ({data.vocab_size} vs {corpus.vocab_size} tokens)")
        task_obj = LMTask(data, cfg["task"]["context"], require_train=False)
        out: dict[str, float] = {}
        for split in ("val", "test"):
            if task_obj.split(split) is not None:
                out |= task_obj.exact_loss(model, split, config, dev)
        return out
    return ClassificationTask(data).final(model, config, dev)


def _reindex(data: TokenCorpus, vocab: TokenCorpus) -> TokenCorpus:
    """`data`'s splits re-encoded with `vocab`'s ids (every token must be in it)."""
    index = {tok: i for i, tok in enumerate(vocab.vocab)}
    missing = sorted({t for t in data.vocab if t not in index})
    if missing:
        raise ValueError(f"{len(missing)} tokens of the data are not in the run's vocabulary, e.g. {missing[:5]}")
    table = torch.tensor([index[t] for t in data.vocab])

    def convert(ids):  # index with int64: a uint8 index tensor would act as a mask
        return None if ids is None else table[ids.long()].to(token_dtype(len(vocab.vocab)))

    return TokenCorpus(data.name, data.level, list(vocab.vocab), None, convert(data.val), convert(data.test),
                       data.sources, data.notes)
