"""Helpers shared by the task data loaders: finding release files, padding, byte tokens, splits.

Files are looked for in the same places as every other samovar dataset
(:func:`samovar.data.io.search_locations`): the ``data_dir`` argument, ``$SAMOVAR_DATA_DIR``,
then the cache directory. Within each place a loader names the relative paths it accepts
(e.g. ``listops-1000/basic_train.tsv`` or ``lra_release/listops-1000/basic_train.tsv``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from samovar.data.errors import DataError
from samovar.data.io import DATA_DIR_ENV, cache_dir, search_locations
from samovar.tasks.base import TensorSplit, numpy_token_dtype

LRA_RELEASE_URL = "https://storage.googleapis.com/long-range-arena/lra_release.gz"


def find_path(
    relative: list[str], data_dir: str | os.PathLike | None, *, what: str, hint: str, want_dir: bool = False
) -> Path:
    """The first existing ``place / rel`` over the search places (outer) and `relative` (inner).

    Raises DataError listing every path that was tried, with `hint` saying where to get the data.
    """
    tried = []
    for label, place in search_locations(data_dir):
        for rel in relative:
            path = place / rel
            if (path.is_dir() if want_dir else path.is_file()):
                return path
            tried.append(f"  - {path}  ({label})")
    raise DataError(
        f"{what} was not found. Looked in:\n" + "\n".join(tried) + f"\nTo fix: {hint}, then pass data_dir= "
        f"(command line: --data-dir DIR), or set {DATA_DIR_ENV}=DIR, or put it in the cache directory {cache_dir()}."
    )


def generated_dir(kind: str, tag: str) -> Path:
    """Cache folder for generated data of one configuration, e.g. <cache>/generated/listops/<tag>."""
    return cache_dir() / "generated" / kind / tag


def pad_sequences(
    sequences: list[np.ndarray], max_len: int, *, pad_id: int, truncate: bool, what: str, vocab_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Stack 1-d int sequences into (n, max_len) tokens padded with `pad_id` after each sequence.

    The tokens are stored in the smallest integer type that holds ids 0..vocab_size-1
    (:func:`samovar.tasks.base.token_dtype`: uint8 for <= 256 ids, int16, ...); without
    `vocab_size` the largest id present decides. An id outside the vocabulary raises DataError.
    Returns (inputs, lengths (n,) int64, n_truncated). Without `truncate`, a sequence longer than
    `max_len` raises DataError; with it, it is cut and counted (the caller records the count).
    Empty sequences raise DataError (a model needs at least one position).
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if len(sequences) and lengths.min() == 0:
        first = int(np.argmin(lengths))
        raise DataError(f"{what}: example {first} is empty; every example needs at least one token.")
    too_long = lengths > max_len
    if too_long.any() and not truncate:
        raise DataError(
            f"{what}: {int(too_long.sum())} of {len(sequences)} sequences are longer than max_len={max_len} "
            f"(longest {int(lengths.max())}). To fix: raise max_len, or pass truncate=True to cut them "
            "(the number cut is recorded in the task notes)."
        )
    top = max([pad_id] + [int(s.max()) for s in sequences if len(s)])
    low = min([pad_id] + [int(s.min()) for s in sequences if len(s)])
    if low < 0 or (vocab_size is not None and top >= vocab_size):
        bound = "be non-negative" if vocab_size is None else f"lie in 0..{vocab_size - 1} (vocab_size {vocab_size})"
        raise DataError(f"{what}: token ids (and pad_id) must {bound}, found {low}..{top}")
    out = np.full((len(sequences), max_len), pad_id, dtype=numpy_token_dtype(vocab_size or top + 1))
    for row, seq in enumerate(sequences):
        n = min(len(seq), max_len)
        out[row, :n] = seq[:n]
    return torch.from_numpy(out), torch.from_numpy(np.minimum(lengths, max_len)), int(too_long.sum())


def encode_bytes(text: bytes | str) -> np.ndarray:
    """Byte-level tokens as LRA uses them: each UTF-8 byte b becomes b + 1 (0 is padding), vocab 257; int16."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return np.frombuffer(text, dtype=np.uint8).astype(np.int16) + 1


BYTE_VOCAB_SIZE = 257
BYTE_PAD_ID = 0


def split_indices(n: int, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """A seeded permutation of range(n) cut into consecutive parts of the given fractions (last takes the rest)."""
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum([int(round(f * n)) for f in fractions[:-1]])
    return np.split(order, cuts)


def image_split(pixels: np.ndarray, labels: np.ndarray, *, tokens: bool) -> TensorSplit:
    """pixels: (n, height, width) uint8 -> tokens (n, h*w) uint8 0..255, or floats (n, h*w, 1) in [0, 1]."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8 (0..255), got {pixels.dtype}")
    n = pixels.shape[0]
    flat = pixels.reshape(n, -1)
    inputs = torch.from_numpy(flat.copy()) if tokens else torch.from_numpy(flat.astype(np.float32) / 255.0)[..., None]
    lengths = torch.full((n,), flat.shape[1], dtype=torch.int64)
    return TensorSplit(inputs, torch.from_numpy(labels.astype(np.int64)), lengths)
