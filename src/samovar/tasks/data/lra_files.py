"""LRA Text, Retrieval and Image read from their official files.

Text (byte-level IMDB sentiment, 2 classes): the ``aclImdb`` release (``train|test/pos|neg/*.txt``).
    Bytes become tokens byte + 1 (0 is padding, vocabulary 257), as LRA's byte encoder does.
    Reviews are cut to ``max_length`` bytes: cutting is part of the task (LRA and S4 do it), the
    number cut is recorded in the notes. Default 4096: the LRA paper's "4K" as S4 and later
    work run it (the LRA repository's base config says 1000; pass max_length=1000 for that).
    LRA trains on all 25k train reviews and evaluates on test; here ``val_fraction`` of train
    (seeded) is held out for validation, or with val_fraction=0 the test set doubles as val.
Retrieval (AAN citation pairs, 2 classes): ``new_aan_pairs.{train,eval,test}.tsv`` of the LRA
    release (``lra_release/tsv_data/``), tab-separated without header or quoting: label, id1,
    id2, text1, text2. Each text is bytes -> tokens as above, cut to ``max_length`` = 4000
    (LRA's setting). Inputs are (n, 2, max_length).
Image (CIFAR-10 grayscale, 10 classes, 1024 pixels): the python pickles ``cifar-10-batches-py/
    data_batch_1..5`` and ``test_batch``. Grayscale exactly as LRA's tf.image.rgb_to_grayscale
    on uint8 images: g = floor(255.5 * (0.2989 R + 0.5870 G + 0.1140 B) / 255). Validation is
    the last 10% of the training images in file order (LRA: tfds ``train[90%:]``). The
    pickles are loaded with :mod:`pickle`: read only files you trust.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch

from samovar.data.errors import DataError
from samovar.tasks.base import ClassificationData, TensorSplit
from samovar.tasks.data.common import (
    BYTE_PAD_ID, BYTE_VOCAB_SIZE, LRA_RELEASE_URL, encode_bytes, find_path, image_split, pad_sequences, split_indices,
)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)  # tf.image.rgb_to_grayscale


def _cut_note(name: str, cut: int, total: int, max_length: int) -> list[str]:
    return [f"{name}: {cut} of {total} sequences cut to {max_length} bytes"] if cut else []


# ----------------------------------------------------------------------------- Text (IMDB)


def read_imdb_split(folder: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Byte tokens and labels (pos 1, neg 0) of ``<folder>/{neg,pos}/*.txt``, files in name order."""
    folder = Path(folder)
    sequences, labels = [], []
    for label, polarity in ((0, "neg"), (1, "pos")):
        sub = folder / polarity
        if not sub.is_dir():
            raise DataError(f"{sub} is missing: the aclImdb layout is aclImdb/{{train,test}}/{{pos,neg}}/*.txt")
        files = sorted(sub.glob("*.txt"))
        if not files:
            raise DataError(f"{sub} holds no .txt reviews")
        for path in files:
            sequences.append(encode_bytes(path.read_bytes()))
            labels.append(label)
    return sequences, np.asarray(labels, dtype=np.int64)


def load_text(
    data_dir: str | os.PathLike | None = None, *, max_length: int = 4096, truncate: bool = True,
    val_fraction: float = 0.1, seed: int = 0,
) -> ClassificationData:
    """LRA Text: IMDB reviews as (n, max_length) int16 byte tokens (byte + 1, pad 0), 2 classes."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    root = find_path(["aclImdb", "imdb/aclImdb", "lra_release/aclImdb"], data_dir, want_dir=True,
                     what="IMDB folder aclImdb (train/ and test/ with pos/ and neg/)",
                     hint=f"download {IMDB_URL} and unpack it")
    notes = [f"IMDB reviews from {root}, byte tokens (byte + 1, pad 0), max_length {max_length}"]
    splits = {}
    for split in ("train", "test"):
        sequences, labels = read_imdb_split(root / split)
        inputs, lengths, cut = pad_sequences(sequences, max_length, pad_id=BYTE_PAD_ID, truncate=truncate, what=f"IMDB {split}",
                                             vocab_size=BYTE_VOCAB_SIZE)
        notes += _cut_note(f"IMDB {split}", cut, len(labels), max_length)
        splits[split] = TensorSplit(inputs, torch.from_numpy(labels), lengths)
    train = splits["train"]
    if val_fraction > 0:
        val_idx, train_idx = split_indices(len(train), (val_fraction, 1 - val_fraction), seed)
        val = _take(train, val_idx)
        train = _take(train, np.sort(train_idx))
        notes.append(f"validation: {len(val)} train reviews held out (seed {seed}); LRA validates on the test set")
    else:
        val = splits["test"]
        notes.append("validation set is the test set (as LRA and S4 do)")
    return ClassificationData("text", train, val, splits["test"], num_classes=2, vocab_size=BYTE_VOCAB_SIZE,
                              input_dim=None, pad_id=BYTE_PAD_ID, dual=False, synthetic=False, notes=notes)


def _take(split: TensorSplit, idx: np.ndarray) -> TensorSplit:
    index = torch.from_numpy(np.sort(idx))
    return TensorSplit(split.inputs[index], split.labels[index], split.lengths[index])


# ----------------------------------------------------------------------------- Retrieval (AAN)


def read_aan_tsv(path: str | os.PathLike) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Byte tokens of text1 and text2 and labels of one ``new_aan_pairs.*.tsv`` file."""
    path = Path(path)
    first, second, labels = [], [], []
    with open(path, "rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            fields = line.split(b"\t")
            if len(fields) != 5:
                raise DataError(f"{path}, line {line_no}: expected 5 tab-separated fields (label, id1, id2, text1, text2), got {len(fields)}")
            try:
                value = float(fields[0])
            except ValueError:
                raise DataError(f"{path}, line {line_no}: label {fields[0][:20]!r} is not a number") from None
            if value not in (0.0, 1.0):
                raise DataError(f"{path}, line {line_no}: label {value:g} is not 0 or 1")
            labels.append(int(value))
            first.append(encode_bytes(fields[3]))
            second.append(encode_bytes(fields[4]))
    if not labels:
        raise DataError(f"{path} holds no examples")
    return first, second, np.asarray(labels, dtype=np.int64)


def load_retrieval(
    data_dir: str | os.PathLike | None = None, *, max_length: int = 4000, truncate: bool = True
) -> ClassificationData:
    """LRA Retrieval: AAN document pairs as (n, 2, max_length) int16 byte tokens (byte + 1, pad 0), lengths (n, 2), 2 classes."""
    hint = f"download the LRA release ({LRA_RELEASE_URL}) and unpack it; the files are in lra_release/tsv_data/"
    paths = []
    for split in ("train", "eval", "test"):  # find all three before reading any
        name = f"new_aan_pairs.{split}.tsv"
        rel = [name] + [f"{folder}/{name}" for folder in ("tsv_data", "lra_release/tsv_data", "lra_release/lra_release/tsv_data", "aan")]
        paths.append(find_path(rel, data_dir, what=f"Retrieval file {name}", hint=hint))
    notes = []
    splits = []
    for path in paths:
        name = path.name
        first, second, labels = read_aan_tsv(path)
        a, len_a, cut_a = pad_sequences(first, max_length, pad_id=BYTE_PAD_ID, truncate=truncate, what=f"{path} text1",
                                         vocab_size=BYTE_VOCAB_SIZE)
        b, len_b, cut_b = pad_sequences(second, max_length, pad_id=BYTE_PAD_ID, truncate=truncate, what=f"{path} text2",
                                         vocab_size=BYTE_VOCAB_SIZE)
        notes += _cut_note(name, cut_a + cut_b, 2 * len(labels), max_length)
        splits.append(TensorSplit(torch.stack([a, b], 1), torch.from_numpy(labels), torch.stack([len_a, len_b], 1)))
    notes.insert(0, f"AAN pairs from {path.parent}, byte tokens (byte + 1, pad 0), {max_length} per document; val = the eval file")
    return ClassificationData("retrieval", *splits, num_classes=2, vocab_size=BYTE_VOCAB_SIZE, input_dim=None,
                              pad_id=BYTE_PAD_ID, dual=True, synthetic=False, notes=notes)


# ----------------------------------------------------------------------------- Image (CIFAR-10)


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """rgb: (..., 3) uint8 -> (...) uint8 as tf.image.rgb_to_grayscale does for uint8 images."""
    gray = (rgb.astype(np.float32) / np.float32(255.0)) @ GRAY_WEIGHTS
    return np.clip(np.floor(gray * np.float32(255.5)), 0, 255).astype(np.uint8)


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Grayscale images (n, 32, 32) uint8 and labels (n,) of one CIFAR-10 python pickle batch."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data, labels = batch[b"data"], batch[b"labels"]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not a CIFAR-10 python batch (a pickled dict with b'data' and b'labels'): {exc!r}") from exc
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != data.shape[0]:
        raise DataError(f"{path}: b'data' must be (n, 3072) with n labels, got {data.shape} and {len(labels)} labels")
    rgb = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel planes -> (n, 32, 32, 3)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: labels must be 0-9, got {labels.min()}..{labels.max()}")
    return rgb_to_gray(rgb), labels


def load_image(data_dir: str | os.PathLike | None = None, *, tokens: bool = True) -> ClassificationData:
    """LRA Image: CIFAR-10 grayscale, 1024 pixels per image, 10 classes.

    tokens: True -> (n, 1024) uint8 0..255 (vocab 256); False -> (n, 1024, 1) float32 in [0, 1].
    """
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    parts = {}
    for name in names:
        path = find_path([f"cifar-10-batches-py/{name}", name, f"cifar10/cifar-10-batches-py/{name}"], data_dir,
                         what=f"CIFAR-10 file {name}", hint=f"download {CIFAR_URL} and unpack it")
        parts[name] = read_cifar_batch(path)
    train_x = np.concatenate([parts[n][0] for n in names[:5]])
    train_y = np.concatenate([parts[n][1] for n in names[:5]])
    cut = len(train_y) - len(train_y) // 10
    splits = [image_split(train_x[:cut], train_y[:cut], tokens=tokens), image_split(train_x[cut:], train_y[cut:], tokens=tokens),
              image_split(*parts["test_batch"], tokens=tokens)]
    notes = [f"CIFAR-10 from {path.parent}, grayscale as LRA (tf.image.rgb_to_grayscale); val = last 10% of train in file order"]
    return ClassificationData("image", *splits, num_classes=10, vocab_size=256 if tokens else None,
                              input_dim=None if tokens else 1, pad_id=None, dual=False, synthetic=False, notes=notes)
