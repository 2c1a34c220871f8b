"""Data containers shared by every downstream task (LRA, Speech Commands, language modelling).

A classification task is three :class:`TensorSplit` s plus a description of the inputs;
the backbone (:mod:`samovar.tasks.backbone`) reads ``vocab_size`` / ``input_dim`` / ``pad_id``
/ ``dual`` to build itself, and the trainer reads ``synthetic`` / ``notes`` to label results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class TensorSplit:
    """One split of a classification task.

    inputs: (n, length) int64 tokens, or (n, length, features) float32 continuous values;
        retrieval (dual): (n, 2, length) int64.
    labels: (n,) int64 class indices.
    lengths: (n,) int64 valid length of each sequence (padding after it); retrieval: (n, 2).
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    lengths: torch.Tensor

    def __post_init__(self) -> None:
        n = self.inputs.shape[0]
        if self.labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},) to match inputs {tuple(self.inputs.shape)}, got {tuple(self.labels.shape)}")
        if self.lengths.shape[0] != n:
            raise ValueError(f"lengths must have {n} rows to match inputs, got {tuple(self.lengths.shape)}")
        if n and int(self.lengths.min()) < 1:
            raise ValueError("every sequence needs at least one valid position (lengths >= 1)")
        seq_len = self.inputs.shape[-1] if self.inputs.dtype == torch.int64 else self.inputs.shape[1]
        if n and int(self.lengths.max()) > seq_len:
            raise ValueError(f"lengths exceed the padded length {seq_len}: max is {int(self.lengths.max())}")

    def __len__(self) -> int:
        return self.inputs.shape[0]


@dataclass
class ClassificationData:
    """A sequence-classification task: train/val/test splits and what the inputs are.

    Exactly one of ``vocab_size`` (token inputs) and ``input_dim`` (continuous inputs) is set.
    ``dual`` is True when each example holds two sequences (LRA Retrieval).
    ``synthetic`` marks generated data; it is shown wherever results appear.
    """

    name: str
    train: TensorSplit
    val: TensorSplit
    test: TensorSplit
    num_classes: int
    vocab_size: int | None
    input_dim: int | None
    pad_id: int | None
    dual: bool = False
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if (self.vocab_size is None) == (self.input_dim is None):
            raise ValueError(
                f"{self.name}: set exactly one of vocab_size (token inputs) and input_dim (continuous inputs)"
            )
        if self.num_classes < 2:
            raise ValueError(f"{self.name}: num_classes must be at least 2, got {self.num_classes}")

    @property
    def seq_len(self) -> int:
        """Padded sequence length of the training inputs."""
        x = self.train.inputs
        return x.shape[-1] if x.dtype == torch.int64 else x.shape[1]
