"""Downstream tasks: Long Range Arena, language modelling and Speech Commands for every mixer.

    samovar task list
    samovar task run shakespeare --mixer gla --layers 4 --dim 128
    samovar task run listops --mixer mamba --data-option max_length=500

``TASKS`` maps each task name to a :class:`TaskSpec`: how to load its data, its default
training recipe and model options, and the published numbers to show beside ours
(always labelled as published). Loading is lazy: nothing is read until a task runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Callable

from ..registry import UnknownNameError


@dataclass(frozen=True)
class Published:
    """A number from a paper, shown beside measured ones and labelled as published."""

    model: str
    value: float
    metric: str
    source: str


@dataclass(frozen=True)
class TaskSpec:
    """One downstream task.

    kind: "lm" (next-token prediction, loader returns a TokenCorpus) or "classification"
    (loader returns a ClassificationData). ``loader`` is "module:function" under
    ``samovar.tasks``, called as ``function(data_dir, **data_options)``.
    ``train_defaults`` / ``model_defaults`` override TaskTrainConfig / backbone defaults.
    """

    name: str
    kind: str
    description: str
    loader: str
    data_defaults: dict[str, Any] = field(default_factory=dict)
    train_defaults: dict[str, Any] = field(default_factory=dict)
    model_defaults: dict[str, Any] = field(default_factory=dict)
    context: int | None = None  # language models: tokens per training window
    published: tuple[Published, ...] = ()

    def load(self, data_dir=None, **options: Any):
        module, _, function = self.loader.partition(":")
        try:
            loader: Callable[..., Any] = getattr(import_module(f"samovar.tasks.{module}"), function)
        except (ImportError, AttributeError) as exc:
            raise RuntimeError(f"task {self.name!r}: its data loader samovar.tasks.{module}.{function} is not available ({exc})") from exc
        return loader(data_dir=data_dir, **{**self.data_defaults, **options})


_TAY = "Tay et al. 2020, Long Range Arena (Table 1)"
_S4 = "Gu, Goel & Re 2022, S4 (Table 4)"


def _lra(task_index: int) -> tuple[Published, ...]:
    """Accuracy (%) of the LRA paper's Transformer / Linear Transformer / Performer and of S4."""
    rows = {
        "Transformer": (36.37, 64.27, 57.46, 42.44, 71.40),
        "Linear Transformer": (16.13, 65.90, 53.09, 42.34, 75.30),
        "Performer": (18.01, 65.40, 53.82, 42.77, 77.05),
    }
    s4 = (59.60, 86.82, 90.90, 88.65, 94.20)
    return tuple(Published(m, v[task_index], "accuracy %", _TAY) for m, v in rows.items()) + (
        Published("S4", s4[task_index], "accuracy %", _S4),)


# LRA recipes vary per task in the papers; these defaults are a CPU-sized starting point
# (AdamW, warm-up + cosine), stated in every result's budget label.
_LRA_TRAIN = {"batch_size": 32, "lr": 1e-3, "min_lr": 1e-5, "warmup_steps": 100, "weight_decay": 0.05,
              "beta2": 0.999, "eval_interval": 200, "steps": 2000}
_CLASSIFIER = {"pooling": "mean", "bidirectional": False}

TASKS: dict[str, TaskSpec] = {t.name: t for t in [
    TaskSpec("listops", "classification",
             "LRA ListOps: nested MAX/MIN/MED/SM expressions, 10 classes (official files if found, else generated)",
             "data.listops:load_listops", train_defaults=_LRA_TRAIN, model_defaults=_CLASSIFIER, published=_lra(0)),
    TaskSpec("text", "classification", "LRA Text: byte-level IMDB sentiment, 4k bytes, 2 classes (official release layout)",
             "data.lra_files:load_text", train_defaults=_LRA_TRAIN, model_defaults=_CLASSIFIER, published=_lra(1)),
    TaskSpec("retrieval", "classification", "LRA Retrieval: AAN citation pairs, 4k bytes each, 2 classes (official release layout)",
             "data.lra_files:load_retrieval", train_defaults=_LRA_TRAIN, model_defaults=_CLASSIFIER, published=_lra(2)),
    TaskSpec("image", "classification", "LRA Image: CIFAR-10 grayscale as 1024-pixel sequences, 10 classes",
             "data.lra_files:load_image", train_defaults=_LRA_TRAIN, model_defaults=_CLASSIFIER, published=_lra(3)),
    TaskSpec("pathfinder", "classification",
             "LRA Pathfinder-32: are two dots joined by a dashed path? 1024-pixel sequences, 2 classes (official or generated)",
             "data.pathfinder:load_pathfinder", train_defaults=_LRA_TRAIN, model_defaults=_CLASSIFIER, published=_lra(4)),
    TaskSpec("shakespeare", "lm", "Tiny Shakespeare, character level (65 symbols), 90/10 split; nanoGPT's CPU recipe",
             "lm:load_shakespeare", context=64,
             published=(Published("nanoGPT GPT (4 layers, 4 heads, 128 dim, context 64, 2000 iters, CPU)", 1.88, "val loss (nats/char)",
                                  "karpathy/nanoGPT README, 'baby GPT' CPU run"),)),
    TaskSpec("wikitext", "lm", "WikiText-2 (or -103 with --data-option version=103), word level, perplexity",
             "lm:load_wikitext", context=256,
             train_defaults={"batch_size": 16, "lr": 1e-3, "min_lr": 1e-4, "eval_batch_size": 16}),
    TaskSpec("speech-commands", "classification",
             "Speech Commands SC10: yes/no/up/down/left/right/on/off/stop/go, raw 16 kHz waveforms (16000 steps)",
             "data.speech_commands:load_speech_commands", train_defaults=_LRA_TRAIN, model_defaults=_CLASSIFIER),
]}


def available() -> list[str]:
    """Task names, grouped: LRA, language modelling, speech."""
    return list(TASKS)


def get_task(name: str) -> TaskSpec:
    key = name.lower()
    if key not in TASKS:
        raise UnknownNameError(f"unknown task {name!r}; available: {', '.join(TASKS)}")
    return TASKS[key]


__all__ = ["TASKS", "Published", "TaskSpec", "available", "get_task"]
