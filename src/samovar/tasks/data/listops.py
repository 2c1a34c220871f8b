"""LRA ListOps: nested list operations over digits, 10-way classification of the result.

An expression is a digit 0-9 or ``[OP a1 ... an ]`` with OP one of MAX, MIN, MED (median) and
SM (sum modulo 10) and 2 <= n <= max_args arguments, nested at most ``max_depth`` deep
(Nangia & Bowman 2018; Long Range Arena, Tay et al. 2020). The generator follows the LRA
procedure: a node below the maximum depth is an operator with probability 0.25, otherwise a
digit; the operator and the argument count are uniform; a tree is kept when its token count
(operators, digits and closing brackets) is strictly between ``min_length`` and ``max_length``;
duplicates are discarded.

MED is what LRA computes, ``int(numpy.median(args))``: the middle value for an odd count and
the floor of the mean of the two middle values for an even count (not the lower median).

Files use the official TSV format (``basic_train.tsv`` / ``basic_val.tsv`` / ``basic_test.tsv``,
header ``Source<TAB>Target``), whose sources carry LRA's tree parentheses, e.g.
``( ( ( [MAX 2 ) 9 ) ] )`` for ``[MAX 2 9 ]``. The tokenizer drops the parentheses and keeps
operators, digits and ``]`` (the vocabulary below; 0 is padding).
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
from pathlib import Path

import numpy as np
import torch

from samovar.data.errors import DataError
from samovar.tasks.base import ClassificationData, TensorSplit
from samovar.tasks.data.common import LRA_RELEASE_URL, find_path, generated_dir, pad_sequences
from samovar.utils import atomic_path

OPERATORS = ("[MAX", "[MIN", "[MED", "[SM")
CLOSE = "]"
DIGITS = tuple(str(d) for d in range(10))
VOCAB = ("<pad>",) + OPERATORS + (CLOSE,) + DIGITS
TOKEN_ID = {token: i for i, token in enumerate(VOCAB)}
PAD_ID = 0
OPERATOR_PROBABILITY = 0.25
SPLITS = ("train", "val", "test")
OFFICIAL_SIZES = {"train": 96_000, "val": 2_000, "test": 2_000}
# Where the official files may sit inside a search place.
OFFICIAL_FOLDERS = ("", "listops", "listops-1000", "lra_release/listops-1000", "lra_release/lra_release/listops-1000")


# ----------------------------------------------------------------------------- evaluation


def apply_operator(op: str, args: list[int]) -> int:
    """Value of one operator over its evaluated digit arguments."""
    if op == "[MAX":
        return max(args)
    if op == "[MIN":
        return min(args)
    if op == "[SM":
        return sum(args) % 10
    if op == "[MED":
        ordered = sorted(args)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2
    raise DataError(f"unknown ListOps operator {op!r}; expected one of {OPERATORS}")


def evaluate(tokens: list[str]) -> int:
    """Value (0-9) of an expression given as tokens, e.g. ``['[MAX', '2', '9', ']']`` (parentheses ignored)."""
    stack: list[list] = []  # each open operator: [op, args]
    result = None
    for token in tokens:
        if token in ("(", ")"):
            continue
        if token in OPERATORS:
            stack.append([token, []])
            continue
        if token == CLOSE:
            if not stack:
                raise DataError(f"ListOps expression has an unmatched ']': {' '.join(tokens[:40])} ...")
            op, args = stack.pop()
            if not args:
                raise DataError(f"ListOps operator {op} has no arguments")
            value = apply_operator(op, args)
        elif token in DIGITS:
            value = int(token)
        else:
            raise DataError(f"unknown ListOps token {token!r}; expected one of {VOCAB[1:]} or parentheses")
        if stack:
            stack[-1][1].append(value)
        elif result is None:
            result = value
        else:
            raise DataError("ListOps expression has more than one top-level value")
    if stack or result is None:
        raise DataError("ListOps expression is incomplete (an operator is not closed)")
    return result


# ----------------------------------------------------------------------------- generation


class _TooLong(Exception):
    pass


def _grow(rand, depth: int, max_depth: int, max_args: int, out: list[str], limit: int) -> None:
    """Append one random subtree to `out` (flat tokens, no parentheses); abort once len(out) >= limit.

    rand: a uniform [0, 1) source (random.Random.random); choices are uniform as in LRA.
    """
    if depth < max_depth and rand() <= OPERATOR_PROBABILITY:
        n_args = 2 + int(rand() * (max_args - 1))
        out.append(OPERATORS[int(rand() * 4)])
        for _ in range(n_args):
            _grow(rand, depth + 1, max_depth, max_args, out, limit)
        out.append(CLOSE)
    else:
        out.append(DIGITS[int(rand() * 10)])
    if len(out) >= limit:
        raise _TooLong


def random_expression(
    rng: random.Random, *, min_length: int = 500, max_length: int = 2000, max_depth: int = 10, max_args: int = 10
) -> list[str]:
    """Flat tokens of one random expression with min_length < len < max_length (rejection sampling)."""
    if not 0 <= min_length < max_length - 1:
        raise ValueError(f"need 1 <= min_length < max_length - 1, got min_length={min_length}, max_length={max_length}")
    if max_depth < 2 or max_args < 2:
        raise ValueError(f"max_depth and max_args must be at least 2, got {max_depth}, {max_args}")
    while True:
        tokens: list[str] = []
        try:
            _grow(rng.random, 1, max_depth, max_args, tokens, max_length)
        except _TooLong:
            continue
        if len(tokens) > min_length:
            return tokens


def to_official_source(tokens: list[str]) -> str:
    """The LRA TSV spelling of flat tokens: every operator application wrapped in LRA's parentheses.

    LRA writes ``[OP a1 ... an ]`` as n + 1 opening parentheses, the operator, each argument
    followed by ``)``, then ``] )``.
    """
    n_args = {}  # operator position -> its argument count
    open_ops: list[int] = []
    for i, token in enumerate(tokens):
        if token in OPERATORS:
            if open_ops:
                n_args[open_ops[-1]] += 1
            open_ops.append(i)
            n_args[i] = 0
        elif token == CLOSE:
            open_ops.pop()
        elif open_ops:
            n_args[open_ops[-1]] += 1
    pieces = []
    depth = 0
    for i, token in enumerate(tokens):
        if token in OPERATORS:
            pieces.append("( " * (n_args[i] + 1) + token)
            depth += 1
        elif token == CLOSE:
            depth -= 1
            pieces.append("] )" + (" )" if depth else ""))
        else:
            pieces.append(token + (" )" if depth else ""))
    return " ".join(pieces)


def generate_listops(
    n: int, *, seed: int = 0, min_length: int = 500, max_length: int = 2000, max_depth: int = 10,
    max_args: int = 10, exclude: set[str] | None = None,
) -> list[tuple[str, int]]:
    """`n` distinct (official-format source, label) pairs, deterministic in `seed`; sources in `exclude` are skipped."""
    rng = random.Random(seed)
    seen = set(exclude or ())
    rows = []
    while len(rows) < n:
        tokens = random_expression(rng, min_length=min_length, max_length=max_length, max_depth=max_depth, max_args=max_args)
        source = to_official_source(tokens)
        if source in seen:
            continue
        seen.add(source)
        rows.append((source, evaluate(tokens)))
    return rows


def write_listops_tsv(path: str | os.PathLike, rows: list[tuple[str, int]]) -> None:
    """Write rows in the official format (header Source, Target; tab-separated), atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["Source", "Target"])
        writer.writerows(rows)


def write_listops_splits(
    directory: str | os.PathLike, *, n_train: int, n_val: int, n_test: int, seed: int = 0, **shape
) -> dict[str, Path]:
    """Generate and write ``basic_{train,val,test}.tsv`` into `directory`; the splits share no expression.

    Each split draws from its own seed (test first, then val, then train), so the test set does
    not change when n_train does. `shape`: min_length, max_length, max_depth, max_args.
    """
    directory = Path(directory)
    seen: set[str] = set()
    paths = {}
    for offset, (split, n) in enumerate((("test", n_test), ("val", n_val), ("train", n_train))):
        rows = generate_listops(n, seed=seed * 3 + offset, exclude=seen, **shape)
        seen.update(source for source, _ in rows)
        paths[split] = directory / f"basic_{split}.tsv"
        write_listops_tsv(paths[split], rows)
    return paths


# ----------------------------------------------------------------------------- reading


def tokenize(source: str) -> list[str]:
    """Tokens of a TSV source: whitespace-separated, LRA's parentheses dropped."""
    return [t for t in source.split() if t not in ("(", ")")]


def read_listops_tsv(path: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Token-id arrays and labels of one official-format TSV file."""
    path = Path(path)
    sequences, labels = [], []
    with open(path, newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["Source", "Target"]:
            raise DataError(f"{path}: the first line must be the header 'Source<TAB>Target' (the LRA ListOps format), got {header!r}")
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise DataError(f"{path}, line {line_no}: expected 2 tab-separated fields (Source, Target), got {len(row)}")
            try:
                ids = [TOKEN_ID[t] for t in tokenize(row[0])]
                label = int(row[1])
            except KeyError as exc:
                raise DataError(f"{path}, line {line_no}: unknown token {exc.args[0]!r}; ListOps tokens are {VOCAB[1:]}") from None
            except ValueError:
                raise DataError(f"{path}, line {line_no}: Target {row[1]!r} is not an integer") from None
            if not 0 <= label <= 9:
                raise DataError(f"{path}, line {line_no}: Target {label} is not a digit 0-9")
            sequences.append(np.asarray(ids, dtype=np.uint8))
            labels.append(label)
    if not labels:
        raise DataError(f"{path} holds no examples")
    return sequences, np.asarray(labels, dtype=np.int64)


def _split_from_file(path: Path, max_len: int, truncate: bool, notes: list[str]) -> TensorSplit:
    sequences, labels = read_listops_tsv(path)
    inputs, lengths, cut = pad_sequences(sequences, max_len, pad_id=PAD_ID, truncate=truncate, what=str(path),
                                         vocab_size=len(VOCAB))
    if cut:
        notes.append(f"{path.name}: {cut} of {len(labels)} sequences truncated to {max_len} tokens")
    return TensorSplit(inputs, torch.from_numpy(labels), lengths)


def find_official_listops(data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Paths of the official ``basic_{train,val,test}.tsv`` (DataError naming where it looked if absent)."""
    hint = f"download the LRA release ({LRA_RELEASE_URL}) and unpack it; the files are in lra_release/listops-1000/"
    rel = [str(Path(folder) / "basic_train.tsv") for folder in OFFICIAL_FOLDERS]
    folder = find_path(rel, data_dir, what="ListOps file basic_train.tsv", hint=hint).parent
    paths = {split: folder / f"basic_{split}.tsv" for split in SPLITS}
    for split, path in paths.items():
        if not path.is_file():
            raise DataError(f"{folder} has basic_train.tsv but not basic_{split}.tsv; the three ListOps files must sit together")
    return paths


def load_listops(
    data_dir: str | os.PathLike | None = None, *, source: str = "auto", n_train: int = OFFICIAL_SIZES["train"],
    n_val: int = OFFICIAL_SIZES["val"], n_test: int = OFFICIAL_SIZES["test"], min_length: int | None = None,
    max_length: int = 2000, max_depth: int = 10, max_args: int = 10, seed: int = 0, truncate: bool = False,
) -> ClassificationData:
    """ListOps as (n, max_length) uint8 tokens (vocabulary of 16, pad 0), 10 classes.

    source: "official" reads the LRA release files (searched in data_dir, $SAMOVAR_DATA_DIR, the
    cache); "generate" generates with this module's generator (cached under the cache directory,
    so a second call reads the files); "auto" uses the official files when found, else generates.
    Sequences are padded to ``max_length``; official sequences longer than it raise unless truncate.
    min_length (generated data) defaults to max_length // 4, LRA's ratio: 500 for 2000.
    """
    if min_length is None:
        min_length = max_length // 4
    if source not in ("auto", "official", "generate"):
        raise ValueError(f"source must be 'auto', 'official' or 'generate', got {source!r}")
    notes: list[str] = []
    paths = None
    if source in ("auto", "official"):
        try:
            paths = find_official_listops(data_dir)
        except DataError:
            if source == "official":
                raise
    if paths is not None:
        notes.append(f"official LRA ListOps files from {paths['train'].parent}")
        splits = {s: _split_from_file(paths[s], max_length, truncate, notes) for s in SPLITS}
        return ClassificationData("listops", splits["train"], splits["val"], splits["test"], num_classes=10,
                                  vocab_size=len(VOCAB), input_dim=None, pad_id=PAD_ID, dual=False, synthetic=False, notes=notes)

    shape = dict(min_length=min_length, max_length=max_length, max_depth=max_depth, max_args=max_args)
    config = dict(shape, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, version=1)
    tag = hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()[:12]
    folder = generated_dir("listops", f"seed{seed}-len{min_length}-{max_length}-{tag}")
    if not all((folder / f"basic_{s}.tsv").is_file() for s in SPLITS):
        write_listops_splits(folder, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, **shape)
    notes.append(
        f"generated by samovar's ListOps generator (LRA procedure, not the official LRA files): seed {seed}, "
        f"{n_train}/{n_val}/{n_test} examples, lengths strictly between {min_length} and {max_length} tokens, "
        f"depth <= {max_depth}, <= {max_args} arguments; files in {folder}"
    )
    if (min_length, max_length) != (500, 2000):
        notes.append(f"reduced lengths: LRA uses 500-2000 tokens, this run {min_length}-{max_length}")
    splits = {s: _split_from_file(folder / f"basic_{s}.tsv", max_length, truncate, notes) for s in SPLITS}
    return ClassificationData("listops-generated", splits["train"], splits["val"], splits["test"], num_classes=10,
                              vocab_size=len(VOCAB), input_dim=None, pad_id=PAD_ID, dual=False, synthetic=True, notes=notes)
