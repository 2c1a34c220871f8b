"""Data containers shared by every downstream task (LRA, Speech Commands, language modelling).

A classification task is three :class:`TensorSplit` s plus a description of the inputs;
the backbone (:mod:`samovar.tasks.backbone`) reads ``vocab_size`` / ``input_dim`` / ``pad_id``
/ ``dual`` to build itself, and the trainer reads ``synthetic`` / ``notes`` to label results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .._checks import positive_int

# Token arrays are stored in the smallest integer type that holds every id (a 96 000 x 2000
# ListOps split is 192 MB as uint8, 1.5 GB as int64) and widened to int64 one batch at a time.
_TOKEN_DTYPES = ((256, torch.uint8, np.uint8), (2**15, torch.int16, np.int16), (2**31, torch.int32, np.int32))


def token_dtype(vocab_size: int) -> torch.dtype:
    """Smallest integer dtype holding ids 0..vocab_size-1: uint8 (<= 256 ids), int16 (<= 32 768), int32, else int64."""
    return _token_types(vocab_size)[0]


def numpy_token_dtype(vocab_size: int) -> np.dtype:
    """numpy counterpart of :func:`token_dtype`."""
    return np.dtype(_token_types(vocab_size)[1])


def _token_types(vocab_size: int) -> tuple[torch.dtype, type]:
    positive_int("vocab_size", vocab_size)
    for limit, torch_type, numpy_type in _TOKEN_DTYPES:
        if vocab_size <= limit:
            return torch_type, numpy_type
    return torch.int64, np.int64


def is_token_tensor(x: torch.Tensor) -> bool:
    """True for integer tensors of any width (token ids), False for floating point (continuous values)."""
    return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)


def as_long(x: torch.Tensor) -> torch.Tensor:
    """Token ids of any integer width -> int64 (what nn.Embedding and cross_entropy take); other tensors unchanged."""
    return x.long() if is_token_tensor(x) and x.dtype != torch.int64 else x


@dataclass
class TensorSplit:
    """One split of a classification task.

    inputs: (n, length) integer tokens in the smallest type that holds the vocabulary
        (:func:`token_dtype`: uint8, int16, ...; :meth:`batch` widens them to int64), or
        (n, length, features) float32 continuous values; retrieval (dual): (n, 2, length) integers.
    labels: (n,) int64 class indices.
    lengths: (n,) int64 valid length of each sequence (padding after it); retrieval: (n, 2).
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    lengths: torch.Tensor

    def __post_init__(self) -> None:
        if not (is_token_tensor(self.inputs) or self.inputs.is_floating_point()):
            raise ValueError(f"inputs must be integer tokens or floating-point values, got {self.inputs.dtype}")
        n = self.inputs.shape[0]
        if self.labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},) to match inputs {tuple(self.inputs.shape)}, got {tuple(self.labels.shape)}")
        if self.lengths.shape[0] != n:
            raise ValueError(f"lengths must have {n} rows to match inputs, got {tuple(self.lengths.shape)}")
        if n and int(self.lengths.min()) < 1:
            raise ValueError("every sequence needs at least one valid position (lengths >= 1)")
        seq_len = self.inputs.shape[1] if self.inputs.is_floating_point() else self.inputs.shape[-1]
        if n and int(self.lengths.max()) > seq_len:
            raise ValueError(f"lengths exceed the padded length {seq_len}: max is {int(self.lengths.max())}")

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def batch(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs, lengths, labels) of the examples at `index`; token inputs widened to int64 here only."""
        return as_long(self.inputs[index]), self.lengths[index], self.labels[index]


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
        return x.shape[1] if x.is_floating_point() else x.shape[-1]
