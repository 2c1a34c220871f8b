"""Resumable-run state shared by the trainers (forecasting and downstream tasks).

``rng_state`` / ``set_rng_state`` capture and restore every random generator a run uses
(torch CPU/CUDA, the shuffle generator, Python, NumPy) as checkpoint-safe tensors and
numbers; ``cpu_state`` is a detached CPU copy of a model's state dict.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG state of the run (torch, CUDA, `generator`, Python, NumPy), storable with torch.save(weights_only)."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "shuffle": generator.get_state(),
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(float, np_state[2:])],
    }


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Restore what `rng_state` captured (into the global generators and `generator`)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator.set_state(state["shuffle"])
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
