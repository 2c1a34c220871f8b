"""The run directory: file names, and atomic reads/writes of each file.

Layout of ``runs/<model>-<dataset>-L<lookback>-H<horizon>-<timestamp>/``::

    config.json        model name + kwargs, data source + lookback/horizon/split, train config,
                       seed, samovar/torch versions, device
    metrics.jsonl      one JSON object per finished epoch (epoch, train_loss, val_mse, val_mae, lr, seconds)
    scaler.json        the train-split scaler (mean, std per channel; "future": the scaler of
                       the future-known covariate columns, when the run has any)
    best.safetensors   weights of the epoch with the lowest validation MSE (empty for a model
                       with nothing to train: ``trainable = False``)
    checkpoint.pt      resumable state after the last finished epoch (torch.save; none without training)
    test_metrics.json  every point score on every test window (written when training ends)
    intervals.safetensors  split-conformal interval radii per level, horizon step and channel
                       (standardized scale), with the calibration split and window count
    validation/        fit mode "refit" only: the validation stage (early stopping on a validation
                       tail), a complete run directory; the files above are the refit on every row

Every file is replaced in one rename (``samovar.utils.atomic_path``), so a killed run leaves
either the old or the new version of each file, never a torn one. A file that cannot be read
anyway (damaged, cut short, edited by hand) is a `RunFileError` naming it.
"""

from __future__ import annotations

import json
import pickle
import re
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..utils import atomic_path, write_json_atomic, write_text_atomic

CONFIG = "config.json"
METRICS = "metrics.jsonl"
SCALER = "scaler.json"
BEST = "best.safetensors"
CHECKPOINT = "checkpoint.pt"
TEST_METRICS = "test_metrics.json"
INTERVALS = "intervals.safetensors"
VALIDATION_RUN = "validation"  # sub-directory of a fit mode "refit" run: its validation stage, a complete run


def default_run_dir(root: str | Path, model: str, dataset: str, lookback: int, horizon: int) -> Path:
    """A new, not yet existing ``root/<model>-<dataset>-L<lookback>-H<horizon>-<UTC timestamp>``."""
    safe = re.sub(r"[^A-Za-z0-9_.]+", "_", dataset).strip("_") or "data"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{model}-{safe}-L{lookback}-H{horizon}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def scaler_record(scaler: Any, future_scaler: Any = None) -> dict[str, Any]:
    """scaler.json's content: the series scaler's mean and std, plus "future" (the future covariate columns' scaler)."""
    return {**scaler.to_dict(), **({"future": future_scaler.to_dict()} if future_scaler is not None else {})}


class RunFileError(ValueError):
    """A run-directory file that cannot be read or does not hold what it should; the message names it."""


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Turn a failure to read or interpret the run file `path` into one RunFileError line naming it."""
    try:
        yield
    except RunFileError:
        raise
    except KeyError as exc:
        raise RunFileError(_damaged(path, f"no entry {exc.args[0]!r}")) from None
    except (OSError, ValueError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError) as exc:
        detail = _first_sentence(str(exc))
        raise RunFileError(_damaged(path, f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)) from None


def _first_sentence(text: str) -> str:
    """The first sentence of an exception's first line: torch's unpickling error goes on with advice
    (load with weights_only=False) that would be wrong for a damaged run file."""
    line = (text.strip().splitlines() or [""])[0]
    return re.split(r"(?<=[a-z)])\. (?=[A-Z])", line, maxsplit=1)[0]


def _damaged(path: str | Path, reason: str) -> str:
    return (f"cannot read {path} ({reason}): the file is damaged or incomplete; "
            "restore it from a copy, or train the run again")


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write named tensors (and string metadata) as safetensors, atomically (copied to contiguous CPU memory)."""
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the string metadata of a safetensors file."""
    with reading(path), safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def save_weights(path: str | Path, model: torch.nn.Module | dict[str, torch.Tensor]) -> None:
    """Write a state dict as safetensors, atomically."""
    save_tensors(path, model.state_dict() if isinstance(model, torch.nn.Module) else model)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    with reading(path):
        return load_file(str(path))


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write all rows (one JSON object a line) in one atomic replace."""
    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with reading(path):
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def read_json(path: str | Path) -> Any:
    with reading(path):
        return json.loads(Path(path).read_text())


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint` (tensors, numbers, strings, lists, dicts only)."""
    with reading(path):
        return torch.load(path, map_location="cpu", weights_only=True)


# Options that may change when a run is resumed: they do not affect its result.
RESUME_FREE_OPTIONS = ("quiet", "device", "threads", "eval_batch_size")


def load_resume_checkpoint(run_dir: str | Path, config: dict[str, Any],
                           defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint of `run_dir`, after checking it was written with the same training options.

    `config` is the resuming run's options (``TrainConfig.to_dict()``); only
    RESUME_FREE_OPTIONS may differ. `defaults`: values of options the checkpoint does not
    record (options added after it was written, whose defaults keep the old behaviour).
    Raises FileNotFoundError / ValueError naming the problem.
    """
    ckpt_path = Path(run_dir) / CHECKPOINT
    if not ckpt_path.exists():
        raise FileNotFoundError(f"no checkpoint to resume in {run_dir} (expected {CHECKPOINT})")
    ckpt = load_checkpoint(ckpt_path)
    with reading(ckpt_path):
        recorded = {**(defaults or {}), **ckpt["config"]}
    saved = {k: v for k, v in recorded.items() if k not in RESUME_FREE_OPTIONS}
    given = {k: v for k, v in config.items() if k not in RESUME_FREE_OPTIONS}
    if saved != given:
        diff = sorted(k for k in set(saved) | set(given) if saved.get(k) != given.get(k))
        raise ValueError(f"cannot resume {run_dir}: training options differ from the checkpoint's: {diff}")
    return ckpt


__all__ = [
    "BEST",
    "CHECKPOINT",
    "CONFIG",
    "INTERVALS",
    "METRICS",
    "RunFileError",
    "SCALER",
    "TEST_METRICS",
    "default_run_dir",
    "load_checkpoint",
    "load_resume_checkpoint",
    "load_tensors",
    "load_weights",
    "read_json",
    "read_jsonl",
    "reading",
    "save_checkpoint",
    "save_tensors",
    "save_weights",
    "write_json_atomic",
    "write_jsonl",
]
