"""The task trainer: one loop for language modelling and sequence classification.

The recipe is nanoGPT's: AdamW (weight decay on matrices and embeddings only), linear
warm-up then cosine decay to ``min_lr`` over all steps, gradient clipping, evaluation every
``eval_interval`` steps. Training is counted in optimizer steps, not epochs.

Batches are a pure function of (seed, step): language modelling draws random context
windows with a generator seeded by the step, classification walks a per-epoch permutation
seeded by the epoch. With the global RNG states in the checkpoint (dropout), a run resumed
from its last checkpoint ends bit for bit like an uninterrupted one.

Run directory (conventions of ``samovar.training.rundir``)::

    config.json        task, model, training options, data description, versions, device
    metrics.jsonl      one row per evaluation (step, losses / accuracy, lr, seconds)
    vocab.json         language models: the token of every id (for generation)
    best.safetensors   weights with the best validation score so far
    checkpoint.pt      resumable state after the last evaluation
    results.json       final metrics, wall time, peak memory, budget label
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .._checks import positive_int
from .._version import __version__
from ..training import rundir as rd
from ..training.config import options_from_dict
from ..training.state import cpu_state, rng_state, set_rng_state
from ..utils import keep_freed_memory, usable_device, write_json_atomic
from .base import ClassificationData, TensorSplit
from .lm import TokenCorpus, random_windows, sequential_mask, sequential_windows

RESULTS = "results.json"
VOCAB = "vocab.json"


@dataclass
class TaskTrainConfig:
    """Training options. Defaults are nanoGPT's ``train_shakespeare_char`` recipe at its
    README's CPU size (12 x 64 tokens per step, 2000 steps, no dropout)."""

    steps: int = 2000
    batch_size: int = 12
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float | None = 1.0
    eval_interval: int = 250
    eval_batches: int = 20  # language models: random batches of nanoGPT's loss estimate
    eval_batch_size: int = 64  # only speed: exact evaluations always use every example
    seed: int = 1337
    device: str = "auto"
    threads: int | None = 1
    quiet: bool = False
    budget: str = ""  # label shown beside every result, e.g. "nanoGPT CPU: 2000 steps x 12 x 64"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_interval", "eval_batches", "eval_batch_size"):
            positive_int(name, getattr(self, name))
        if self.warmup_steps < 0 or self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps), got {self.warmup_steps} with steps={self.steps}")
        if not (self.lr > 0 and 0 <= self.min_lr <= self.lr):
            raise ValueError(f"need lr > 0 and 0 <= min_lr <= lr, got lr={self.lr}, min_lr={self.min_lr}")
        if self.weight_decay < 0 or not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError("weight_decay must be >= 0 and the Adam betas in [0, 1)")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip!r}")
        positive_int("threads", self.threads, or_none=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TaskTrainConfig":
        return options_from_dict(cls, d)


def learning_rate(config: TaskTrainConfig, step: int) -> float:
    """nanoGPT's schedule for optimizer step `step` (0-based): linear warm-up, cosine to min_lr at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / (config.warmup_steps + 1)
    ratio = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (config.lr - config.min_lr)


def make_optimizer(model: torch.nn.Module, config: TaskTrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on tensors with 2+ dimensions (matrices, embeddings), none on biases/norms/vectors."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))


# ----------------------------------------------------------------------------- tasks


class LMTask:
    """Next-token prediction on a :class:`TokenCorpus` with ``context`` tokens per window."""

    kind = "lm"
    metric = "val_loss"  # lower is better

    def __init__(self, corpus: TokenCorpus, context: int, *, require_train: bool = True) -> None:
        if corpus.train is None and require_train:
            raise ValueError(f"{corpus.name} has no training split; see the notes: {corpus.notes}")
        if context < 1:
            raise ValueError(f"context must be positive, got {context}")
        self.corpus = corpus
        self.context = context

    def train_batch(self, step: int, config: TaskTrainConfig) -> tuple[torch.Tensor, ...]:
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        return random_windows(self.corpus.train, config.batch_size, self.context, generator)

    @staticmethod
    def loss(model, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch
        return model.loss(x, y)

    def split(self, name: str) -> torch.Tensor | None:
        return {"train": self.corpus.train, "val": self.corpus.val, "test": self.corpus.test}[name]

    @torch.no_grad()
    def estimate(self, model, split: str, config: TaskTrainConfig, step: int, device) -> float:
        """nanoGPT's estimate: mean loss of ``eval_batches`` random batches (seeded by the step)."""
        generator = torch.Generator().manual_seed(config.seed * 7_919 + step + (0 if split == "train" else 1))
        losses = [float(model.loss(*(t.to(device) for t in random_windows(self.split(split), config.batch_size, self.context, generator))))
                  for _ in range(config.eval_batches)]
        return sum(losses) / len(losses)

    @torch.no_grad()
    def exact_loss(self, model, split: str, config: TaskTrainConfig, device) -> dict[str, float]:
        """Mean loss over every token of the split, in non-overlapping windows of ``context``."""
        tokens = self.split(split)
        x, y = sequential_windows(tokens, self.context)
        mask = sequential_mask(tokens, self.context)
        total, count = 0.0, 0
        for i in range(0, len(x), config.eval_batch_size):
            xb, yb, mb = (t[i:i + config.eval_batch_size].to(device) for t in (x, y, mask))
            nll = F.cross_entropy(model(xb).flatten(0, 1).double(), yb.flatten(), reduction="none")
            total += float(nll[mb.flatten()].sum())
            count += int(mb.sum())
        loss = total / count
        out = {f"{split}_loss": loss, f"{split}_tokens": count}
        if self.corpus.level == "char":
            out[f"{split}_bpc"] = loss / math.log(2)
        else:
            out[f"{split}_ppl"] = math.exp(loss)
        return out

    def evaluate(self, model, config: TaskTrainConfig, step: int, device) -> dict[str, float]:
        return {"train_loss_est": self.estimate(model, "train", config, step, device),
                "val_loss_est": self.estimate(model, "val", config, step, device)}

    def score(self, row: dict[str, float]) -> float:
        """Higher is better."""
        return -row["val_loss_est"]

    def final(self, model, config: TaskTrainConfig, device) -> dict[str, float]:
        out = self.exact_loss(model, "val", config, device)
        if self.corpus.test is not None:
            out |= self.exact_loss(model, "test", config, device)
        return out

    def describe(self) -> dict[str, Any]:
        c = self.corpus
        return {"name": c.name, "level": c.level, "vocab_size": c.vocab_size, "context": self.context,
                "tokens": {k: (len(v) if v is not None else None) for k, v in (("train", c.train), ("val", c.val), ("test", c.test))},
                "sources": c.sources, "notes": c.notes, "synthetic": False}


class ClassificationTask:
    """Sequence classification on a :class:`ClassificationData` (accuracy; epochs of seeded permutations)."""

    kind = "classification"
    metric = "val_accuracy"  # higher is better

    def __init__(self, data: ClassificationData) -> None:
        if len(data.train) < 1:
            raise ValueError(f"{data.name}: the training split is empty")
        self.data = data
        self._perm: tuple[int, torch.Tensor] | None = None

    def train_batch(self, step: int, config: TaskTrainConfig) -> tuple[torch.Tensor, ...]:
        split = self.data.train
        n = len(split)
        per_epoch = max(1, n // config.batch_size)  # incomplete last batch dropped
        epoch, i = divmod(step, per_epoch)
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, torch.randperm(n, generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)))
        idx = self._perm[1][i * config.batch_size:(i + 1) * config.batch_size]
        return split.batch(idx)  # compactly stored tokens become int64 here, one batch at a time

    @staticmethod
    def loss(model, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, lengths, y = batch
        return F.cross_entropy(model(x, lengths), y)

    @torch.no_grad()
    def accuracy(self, model, split: TensorSplit, config: TaskTrainConfig, device) -> tuple[float, float]:
        """(accuracy, mean loss) over every example of the split."""
        correct, total_loss = 0, 0.0
        for i in range(0, len(split), config.eval_batch_size):
            x, lengths, y = (t.to(device) for t in split.batch(slice(i, i + config.eval_batch_size)))
            logits = model(x, lengths)
            correct += int((logits.argmax(-1) == y).sum())
            total_loss += float(F.cross_entropy(logits.double(), y, reduction="sum"))
        return correct / len(split), total_loss / len(split)

    def evaluate(self, model, config: TaskTrainConfig, step: int, device) -> dict[str, float]:
        acc, loss = self.accuracy(model, self.data.val, config, device)
        return {"val_accuracy": acc, "val_loss": loss}

    def score(self, row: dict[str, float]) -> float:
        return row["val_accuracy"]

    def final(self, model, config: TaskTrainConfig, device) -> dict[str, float]:
        out = {}
        for name in ("val", "test"):
            split = getattr(self.data, name)
            if len(split):
                acc, loss = self.accuracy(model, split, config, device)
                out |= {f"{name}_accuracy": acc, f"{name}_loss": loss}
        return out

    def describe(self) -> dict[str, Any]:
        d = self.data
        return {"name": d.name, "num_classes": d.num_classes, "vocab_size": d.vocab_size, "input_dim": d.input_dim,
                "pad_id": d.pad_id, "dual": d.dual, "synthetic": d.synthetic, "notes": list(d.notes),
                "seq_len": d.seq_len, "examples": {k: len(getattr(d, k)) for k in ("train", "val", "test")}}


# ----------------------------------------------------------------------------- progress


class _Progress:
    """rich progress bar over the steps of the run, one printed line per evaluation (nothing when quiet)."""

    def __init__(self, quiet: bool, total: int, done: int) -> None:
        self.bar = None
        if quiet:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("step"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=Console(stderr=True))
        self.bar.start()
        self.task = self.bar.add_task("train", total=total, completed=done, loss="-")

    def step(self, loss: float | None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, **({"loss": f"{loss:.4f}"} if loss is not None else {}))

    def evaluation(self, row: dict[str, Any]) -> None:
        if self.bar is not None:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("step", "lr", "seconds", "best")
                              and isinstance(v, float))
            self.bar.console.print(f"step {row['step']:>6}  {shown}  lr {row['lr']:.3g}  {row['seconds']:.0f}s"
                                   + ("  *" if row["best"] else ""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# ----------------------------------------------------------------------------- train


@dataclass
class TaskResult:
    """What `train_task` returns; `model` holds the final weights (best ones are in best.safetensors)."""

    model: torch.nn.Module
    final: dict[str, float]  # exact metrics of the final weights (val, and test where the task has one)
    history: list[dict[str, Any]]
    best_step: int
    train_seconds: float  # optimizer steps only, this call
    wall_seconds: float  # whole call, evaluations included
    peak_mem_mb: float
    run_dir: Path | None = None
    config: TaskTrainConfig = field(default_factory=TaskTrainConfig)
    data: dict[str, Any] = field(default_factory=dict)  # the task's data description (synthetic flag, notes)


def train_task(
    model: torch.nn.Module,
    task: LMTask | ClassificationTask,
    config: TaskTrainConfig | None = None,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    run_info: dict[str, Any] | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> TaskResult:
    """Train `model` on `task` for ``config.steps`` optimizer steps.

    run_dir: where to write the run files (None: nothing written). resume: continue the
    run in `run_dir` from its checkpoint (same training options). run_info: recorded in
    config.json (task options, model options) so the run can be rebuilt. on_eval: called
    with each evaluation row after the checkpoint is written.
    """
    config = config or TaskTrainConfig()
    if resume and run_dir is None:
        raise ValueError("resume=True needs the run_dir of the run to resume")
    run_dir = Path(run_dir) if run_dir is not None else None
    old_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _train(model, task, config, run_dir, resume, run_info or {}, on_eval)
    finally:
        torch.set_num_threads(old_threads)


def _train(model, task, config, run_dir, resume, run_info, on_eval) -> TaskResult:
    from ..utils import peak_memory_mb

    started = time.perf_counter()
    device = usable_device(config.device)
    if device.type == "cpu":
        keep_freed_memory()  # large activations reuse mapped memory instead of page-faulting it in again
    model.to(device)
    optimizer = make_optimizer(model, config)
    history: list[dict[str, Any]] = []
    best_score, best_step, start = -math.inf, 0, 0
    no_generator = torch.Generator()  # batches are seeded per step; kept for the shared rng_state format
    if resume:
        ckpt = rd.load_resume_checkpoint(run_dir, config.to_dict())
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        history, best_score, best_step, start = list(ckpt["history"]), ckpt["best_score"], ckpt["best_step"], ckpt["step"]
        set_rng_state(ckpt["rng"], no_generator)
        rd.write_jsonl(run_dir / rd.METRICS, history)
    else:
        torch.manual_seed(config.seed)  # dropout; the model's initialisation is the caller's business
        if run_dir is not None:
            if (run_dir / rd.CHECKPOINT).exists():
                raise FileExistsError(f"{run_dir} already holds a run; resume it (--resume) or choose a new directory")
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(run_dir / rd.CONFIG, {
                **run_info, "data": task.describe(), "train": config.to_dict(), "seed": config.seed,
                "parameters": sum(p.numel() for p in model.parameters()), "device": str(device),
                "versions": {"samovar": __version__, "torch": torch.__version__, "python": platform.python_version()},
            })
            if task.kind == "lm":
                write_json_atomic(run_dir / VOCAB, {"level": task.corpus.level, "vocab": task.corpus.vocab})

    def evaluate_and_save(step: int, seconds: float) -> None:
        nonlocal best_score, best_step
        model.eval()
        row = {"step": step, **task.evaluate(model, config, step, device), "lr": learning_rate(config, min(step, config.steps - 1)),
               "seconds": seconds}
        model.train()
        improved = task.score(row) > best_score
        if improved:
            best_score, best_step = task.score(row), step
        row["best"] = improved
        history.append(row)
        if run_dir is not None:
            rd.write_jsonl(run_dir / rd.METRICS, history)
            if improved:
                rd.save_weights(run_dir / rd.BEST, model)
            rd.save_checkpoint(run_dir / rd.CHECKPOINT, {
                "step": step, "config": config.to_dict(), "model": cpu_state(model), "optimizer": optimizer.state_dict(),
                "history": history, "best_score": best_score, "best_step": best_step, "rng": rng_state(no_generator),
            })
        progress.evaluation(row)
        if on_eval is not None:
            on_eval(row)

    progress = _Progress(config.quiet, config.steps, start)
    train_seconds = 0.0
    elapsed_before = history[-1]["seconds"] if history else 0.0
    try:
        model.train()
        if start == 0:
            evaluate_and_save(0, 0.0)
        for step in range(start, config.steps):
            t0 = time.perf_counter()
            lr = learning_rate(config, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = tuple(t.to(device) for t in task.train_batch(step, config))
            loss = task.loss(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged at step {step} (loss {float(loss)}); lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            train_seconds += time.perf_counter() - t0
            progress.step(float(loss.detach()) if step % 10 == 0 else None)
            done = step + 1
            if done % config.eval_interval == 0 or done == config.steps:
                evaluate_and_save(done, elapsed_before + time.perf_counter() - started)
    finally:
        progress.close()

    model.eval()
    final = task.final(model, config, device)
    wall = time.perf_counter() - started
    peak = peak_memory_mb(device)
    if run_dir is not None:
        last = history[-1]
        write_json_atomic(run_dir / RESULTS, {
            **{k: v for k, v in last.items() if k not in ("best", "lr", "seconds")}, **final,
            "best_step": best_step, "steps": config.steps, "budget": config.budget,
            "train_seconds_this_call": train_seconds, "wall_seconds_this_call": wall, "peak_mem_mb": peak,
            "resumed": bool(resume), "device": str(device), "threads": config.threads,
        })
    return TaskResult(model=model, final=final, history=history, best_step=best_step, train_seconds=train_seconds,
                      wall_seconds=wall, peak_mem_mb=peak, run_dir=run_dir, config=config, data=task.describe())
