"""``samovar task``: list the downstream tasks, train any mixer on one, generate text.

    samovar task list
    samovar task run shakespeare --mixer gla --layers 4 --dim 128
    samovar task run listops --mixer mamba --data-option max_length=500 --steps 1000
    samovar task run --resume runs/task-shakespeare-gla-20260101-120000
    samovar task generate runs/task-shakespeare-gla-20260101-120000 --prompt "ROMEO:" --tokens 200
    samovar task evaluate runs/task-shakespeare-gla-20260101-120000
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..console import console, fail

task_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Downstream tasks (Long Range Arena, language modelling, Speech Commands) for every mixer.")


@task_app.command("list")
def list_tasks() -> None:
    """The tasks, their kind, default recipe and published anchors (labelled as published)."""
    from . import TASKS

    table = Table(title="tasks")
    for col in ("task", "kind", "description", "default budget", "published (not measured here)"):
        table.add_column(col, overflow="fold")
    for spec in TASKS.values():
        t = spec.train_defaults
        budget = f"{t.get('steps', 2000)} steps x batch {t.get('batch_size', 12)}" + (f" x context {spec.context}" if spec.context else "")
        published = "; ".join(f"{p.model}: {p.value:g}" for p in spec.published) or "-"
        table.add_row(spec.name, spec.kind, spec.description, budget, published)
    console.print(table)


@task_app.command("run")
def run(
    task: Optional[str] = typer.Argument(None, help="Task name (see `samovar task list`); omit with --resume."),
    mixer: str = typer.Option("gla", help="Mixer from samovar.layers (linear_attention, gla, mamba, softmax_attention, ...)."),
    layers: int = typer.Option(4, help="Residual blocks."),
    dim: int = typer.Option(128, help="Model width."),
    heads: Optional[int] = typer.Option(None, help="Heads of the mixer (default: the mixer's own)."),
    pooling: Optional[str] = typer.Option(None, help="Classification: mean | last (over valid positions)."),
    bidirectional: bool = typer.Option(False, "--bidirectional", help="Classification: add a backward pass of the mixer."),
    positional: Optional[str] = typer.Option(None, help="none | learned (default: learned for softmax_attention only)."),
    dropout: Optional[float] = typer.Option(None),
    context: Optional[int] = typer.Option(None, help="Language models: tokens per training window (default: the task's)."),
    steps: Optional[int] = typer.Option(None, help="Optimizer steps (default: the task's recipe)."),
    batch_size: Optional[int] = typer.Option(None),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate."),
    min_lr: Optional[float] = typer.Option(None, help="Learning rate at the end of the cosine decay."),
    warmup_steps: Optional[int] = typer.Option(None),
    weight_decay: Optional[float] = typer.Option(None),
    grad_clip: Optional[float] = typer.Option(None),
    eval_interval: Optional[int] = typer.Option(None, help="Steps between evaluations (and checkpoints)."),
    eval_batches: Optional[int] = typer.Option(None, help="Language models: batches of the quick loss estimate."),
    seed: Optional[int] = typer.Option(None),
    budget: Optional[str] = typer.Option(None, help="Label of the budget shown beside the results (default: steps x batch)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps."),
    threads: int = typer.Option(1, help="torch threads."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the task's files (else $SAMOVAR_DATA_DIR, cache, download)."),
    data_option: Optional[list[str]] = typer.Option(None, "--data-option", help="Data loader option key=value (repeatable)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Mixer option key=value (repeatable), e.g. --set d_state=32."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run directories are created."),
    run_dir: Optional[Path] = typer.Option(None, help="Exact run directory (default: a new one under --runs-dir)."),
    resume: Optional[Path] = typer.Option(None, help="Resume this run directory from its checkpoint."),
    db: Optional[Path] = typer.Option(None, help="Results database (default: $SAMOVAR_BENCH_DB or the user data dir)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not record the result in the results database."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Train the shared backbone with MIXER on TASK; writes a run directory and records the result."""
    from ..data import DataError
    from ..training.runs import parse_set_options
    from . import get_task
    from .runs import default_run_dir, resume_task, run_task

    record = False if no_record else db
    try:
        if resume is not None:
            result = resume_task(resume, quiet=quiet, device=device if device != "auto" else None, data_dir=data_dir, db=record)
            task = result.run_dir.name if task is None else task
        else:
            if task is None:
                fail("give a task name (see `samovar task list`) or --resume RUN_DIR")
                return
            spec = get_task(task)
            model_options = {k: v for k, v in {"heads": heads, "pooling": pooling, "positional": positional,
                                                "dropout": dropout}.items() if v is not None}
            if bidirectional:
                model_options["bidirectional"] = True
            mixer_options = parse_set_options(set_)
            if mixer_options:
                model_options["mixer_options"] = mixer_options
            train_options = {"steps": steps, "batch_size": batch_size, "lr": lr, "min_lr": min_lr, "warmup_steps": warmup_steps,
                             "weight_decay": weight_decay, "grad_clip": grad_clip, "eval_interval": eval_interval,
                             "eval_batches": eval_batches, "seed": seed, "budget": budget, "device": device,
                             "threads": threads, "quiet": quiet}
            target = run_dir or default_run_dir(runs_dir, spec.name, mixer)
            result = run_task(spec.name, mixer, dim=dim, layers=layers, model_options=model_options,
                              data_options=parse_set_options(data_option), train_options=train_options, context=context,
                              data_dir=data_dir, run_dir=target, db=record)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, FloatingPointError, DataError, RuntimeError) as exc:
        fail(str(exc))
        return
    synthetic = " [SYNTHETIC data]" if result.data.get("synthetic") else ""
    table = Table(title=f"{result.data.get('name', task)}{synthetic}: {result.config.budget}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    last = result.history[-1]
    for key, value in {**{k: v for k, v in last.items() if k.endswith(("_est", "accuracy", "loss"))}, **result.final}.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    table.add_row("train seconds", f"{result.train_seconds:.1f}")
    table.add_row("wall seconds", f"{result.wall_seconds:.1f}")
    table.add_row("peak memory (MB)", f"{result.peak_mem_mb:.0f}")
    console.print(table)
    for note in result.data.get("notes", []):
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"run directory: {result.run_dir}", highlight=False, soft_wrap=True)


@task_app.command("generate")
def generate_cmd(
    run_dir: Path = typer.Argument(..., help="A language-model run directory of `samovar task run`."),
    prompt: str = typer.Option("\n", help="Text to continue (must use the model's vocabulary)."),
    tokens: int = typer.Option(200, help="Tokens to generate."),
    temperature: float = typer.Option(0.8, help="Sampling temperature (0: greedy)."),
    top_k: Optional[int] = typer.Option(200, help="Sample among the k most likely tokens."),
    seed: int = typer.Option(1337),
    method: str = typer.Option("auto", help="step (recurrent, O(1) per token for linear mixers) | window | auto."),
    weights: str = typer.Option("best", help="best | last."),
    device: str = typer.Option("cpu"),
) -> None:
    """Continue --prompt with text sampled from a trained language model."""
    from .generate import generate
    from .runs import load_task_run

    try:
        model, cfg, corpus = load_task_run(run_dir, device=device, weights=weights)
        if corpus is None:
            fail(f"{run_dir} is a classification run; generation needs a language model")
            return
        ids = generate(model, corpus.encode(prompt), tokens, temperature=temperature, top_k=top_k, seed=seed, method=method)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        fail(str(exc))
        return
    typer.echo(corpus.decode(ids))


@task_app.command("evaluate")
def evaluate_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory of `samovar task run`."),
    data_dir: Optional[Path] = typer.Option(None, help="Directory with the task's files (default: the run's)."),
    weights: str = typer.Option("best", help="best | last."),
    device: str = typer.Option("cpu"),
) -> None:
    """Exact validation/test metrics of a trained run, re-read from the task's data files."""
    from ..data import DataError
    from .runs import evaluate_task_run

    try:
        metrics = evaluate_task_run(run_dir, data_dir=data_dir, device=device, weights=weights)
    except (ValueError, FileNotFoundError, KeyError, DataError, RuntimeError) as exc:
        fail(str(exc))
        return
    table = Table(title=f"{run_dir} ({weights} weights)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
