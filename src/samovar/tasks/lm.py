"""Language-modelling corpora: character-level Tiny Shakespeare and word-level WikiText-2/103.

Files are found like every samovar dataset (``samovar.data.locate``): the ``data_dir``
argument, then ``$SAMOVAR_DATA_DIR``, then the cache directory, then a download where a URL
is registered; ``<file>`` and ``<file>.gz`` are both accepted, directly or in the dataset's
folder (``tinyshakespeare/``, ``wikitext-2/``, ``wikitext-103/``).

* Tiny Shakespeare (Karpathy's char-rnn ``input.txt``): the vocabulary is the sorted set of
  its 65 characters; the first 90% of the characters are the training split, the last 10%
  the validation split (nanoGPT's ``data/shakespeare_char/prepare.py`` protocol). No test split.
* WikiText (Merity et al. 2016): the tokenised ``wiki.{train,valid,test}.tokens`` files
  (pytorch/examples names them ``{train,valid,test}.txt``); each line is split on
  whitespace and ends with one ``<eos>`` token (the pytorch/examples ``word_language_model``
  convention, which reproduces the paper's token counts). The vocabulary is built from the
  training split; without it (this machine holds only WikiText-2 valid/test) from the
  splits given, which is enough to test the loader but not to train.

Batches are random context windows (``random_windows``), as nanoGPT samples them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data import DataError, DatasetSpec, SplitProtocol, locate
from ..data.io import find_local, open_binary
from .base import as_long, token_dtype

EOS = "<eos>"

_CHAR_RNN = "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e"
_PYTORCH_EXAMPLES = "https://raw.githubusercontent.com/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8"

SHAKESPEARE = DatasetSpec(
    name="tinyshakespeare", file_name="input.txt", channels=1, rows=40000, freq=None,
    protocol=SplitProtocol("ratio", 0.9, 0.1, 0.0, history=False),
    url=f"{_CHAR_RNN}/data/tinyshakespeare/input.txt",
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", subdir="tinyshakespeare",
    description="Tiny Shakespeare: 1,115,394 characters of Shakespeare's plays, 65 distinct characters",
    citation="Karpathy, The Unreasonable Effectiveness of Recurrent Neural Networks, 2015 (char-rnn)",
)

# Published token counts (Merity et al. 2016, Table 1), which the one-<eos>-per-line reading reproduces.
WIKITEXT_TOKENS = {
    2: {"train": 2_088_628, "valid": 217_646, "test": 245_569},
    103: {"train": 103_227_021, "valid": 217_646, "test": 245_569},
}
WIKITEXT_VOCAB = {2: 33_278, 103: 267_735}  # published vocabulary sizes (a mismatch is noted, not an error)
# sha256 of the decompressed files (SOURCES.md in the data directory, $SAMOVAR_DATA_DIR); None: checked by token count only.
_WIKITEXT_SHA256 = {
    (2, "valid"): "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    (2, "test"): "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
}
_WIKITEXT_CITE = "Merity, Xiong, Bradbury & Socher, Pointer Sentinel Mixture Models, 2016 (WikiText)"
_WIKITEXT_HINT = (
    "the WikiText release (wikitext-{v}-v1.zip from the authors, or the Hugging Face dataset "
    "Salesforce/wikitext); unpack wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens into a folder wikitext-{v}/"
)


def wikitext_specs(version: int, split: str) -> list[DatasetSpec]:
    """The accepted file names of one WikiText split: ``wiki.<split>.tokens``, then pytorch/examples' ``<split>.txt``."""
    if version not in WIKITEXT_TOKENS:
        raise ValueError(f"WikiText version must be 2 or 103, got {version!r}")
    if split not in ("train", "valid", "test"):
        raise ValueError(f"WikiText split must be train, valid or test, got {split!r}")
    lines = {"train": 36718, "valid": 3760, "test": 4358} if version == 2 else {"train": 1801350, "valid": 3760, "test": 4358}
    common = dict(channels=1, rows=lines[split], freq=None, protocol=SplitProtocol("ratio", 1.0, 0.0, 0.0, history=False),
                  subdir=f"wikitext-{version}", citation=_WIKITEXT_CITE, download_hint=_WIKITEXT_HINT.format(v=version),
                  description=f"WikiText-{version} {split} split, word level, one <eos> per line")
    sha = _WIKITEXT_SHA256.get((version, split))
    url = f"{_PYTORCH_EXAMPLES}/word_language_model/data/wikitext-2/{split}.txt" if version == 2 else None
    return [
        DatasetSpec(name=f"wikitext-{version}-{split}", file_name=f"wiki.{split}.tokens", url=None, sha256=sha, **common),
        DatasetSpec(name=f"wikitext-{version}-{split}", file_name=f"{split}.txt", url=url, sha256=sha, **common),
    ]


@dataclass
class TokenCorpus:
    """A tokenised corpus. Splits are 1-D tensors of token ids (None when absent), stored in the
    smallest integer type for the vocabulary (``token_dtype``: uint8 for characters); the window
    functions return int64.

    ``vocab[i]`` is the token of id ``i``; ``level`` is "char" (join with "") or "word" (join with " ").
    """

    name: str
    level: str
    vocab: list[str]
    train: torch.Tensor | None
    val: torch.Tensor | None
    test: torch.Tensor | None
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> torch.Tensor:
        """Text -> (n,) int64 ids; unknown characters / words are an error naming them."""
        index = {tok: i for i, tok in enumerate(self.vocab)}
        pieces = list(text) if self.level == "char" else text.split()
        missing = sorted({p for p in pieces if p not in index})
        if missing:
            hint = " (WikiText spells unknown words <unk>)" if "<unk>" in index else ""
            raise ValueError(f"{self.name}: not in the vocabulary: {missing[:10]}{' ...' if len(missing) > 10 else ''}{hint}")
        return torch.tensor([index[p] for p in pieces], dtype=torch.long)

    def decode(self, ids) -> str:
        tokens = [self.vocab[int(i)] for i in ids]
        if self.level == "char":
            return "".join(tokens)
        lines, line = [], []
        for tok in tokens:
            if tok == EOS:
                lines.append(" ".join(line) + "\n")
                line = []
            else:
                line.append(tok)
        return "".join(lines) + " ".join(line)


def _read_text(path: Path) -> str:
    with open_binary(path) as handle:
        raw = handle.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc}); give the original file") from exc


def load_shakespeare(data_dir: str | os.PathLike | None = None, *, download: bool = True,
                     path: str | os.PathLike | None = None) -> TokenCorpus:
    """Tiny Shakespeare, characters, 90/10 train/val split (``path`` reads that file, unverified)."""
    source = Path(path) if path is not None else locate(SHAKESPEARE, data_dir, download=download)
    text = _read_text(source)
    if not text:
        raise DataError(f"{source} is empty")
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = torch.tensor([index[ch] for ch in text], dtype=token_dtype(len(vocab)))
    n_train = int(len(ids) * 0.9)
    return TokenCorpus(name="shakespeare", level="char", vocab=vocab, train=ids[:n_train], val=ids[n_train:], test=None,
                       sources={"train": str(source), "val": str(source)},
                       notes=["first 90% of the characters train, last 10% validation (nanoGPT shakespeare_char)"])


def read_wikitext_tokens(path: str | os.PathLike) -> list[str]:
    """All tokens of a WikiText file: each line's whitespace-separated words, then ``<eos>``."""
    tokens: list[str] = []
    for line in _read_text(Path(path)).splitlines():
        tokens.extend(line.split())
        tokens.append(EOS)
    return tokens


def _locate_wikitext(version: int, split: str, data_dir, download: bool) -> Path | None:
    specs = wikitext_specs(version, split)
    for spec in specs:
        if (found := find_local(spec, data_dir)) is not None:
            locate(spec, data_dir, download=False)  # verifies the checksum where one is known
            return found
    if download and any(s.url for s in specs):
        spec = next(s for s in specs if s.url)
        try:
            return locate(spec, data_dir, download=True)
        except DataError:
            return None
    return None


def load_wikitext(version: int = 2, data_dir: str | os.PathLike | None = None, *, require_train: bool = True,
                  download: bool = True) -> TokenCorpus:
    """WikiText-2 or -103, word level. Each split found is checked against the published token count.

    require_train=False accepts a missing training split (vocabulary then from the splits present).
    """
    paths = {split: _locate_wikitext(version, split, data_dir, download) for split in ("train", "valid", "test")}
    if paths["train"] is None and require_train:
        looked = ", ".join(f"{s.subdir}/{s.file_name}[.gz]" for s in wikitext_specs(version, "train"))
        raise DataError(
            f"WikiText-{version}: the training split was not found ({looked} in data_dir, $SAMOVAR_DATA_DIR "
            f"or the cache) and could not be downloaded. To fix: get {_WIKITEXT_HINT.format(v=version)}, "
            f"then pass --data-dir DIR (the folder holding wikitext-{version}/)."
        )
    if all(p is None for p in paths.values()):
        raise DataError(f"WikiText-{version}: no split found; get {_WIKITEXT_HINT.format(v=version)}")
    tokens = {}
    for split, path in paths.items():
        if path is None:
            continue
        tokens[split] = read_wikitext_tokens(path)
        expected = WIKITEXT_TOKENS[version][split]
        if len(tokens[split]) != expected:
            raise DataError(f"{path}: {len(tokens[split]):,} tokens (one <eos> per line), but WikiText-{version} "
                            f"{split} has {expected:,}; the file is not the published tokenised split")
    notes = []
    if "train" in tokens:
        vocab_tokens = tokens["train"]
        size = len(set(vocab_tokens))
        if size != WIKITEXT_VOCAB[version]:
            notes.append(f"vocabulary of {size:,} tokens; the published count is {WIKITEXT_VOCAB[version]:,}")
    else:
        vocab_tokens = [t for s in ("valid", "test") if s in tokens for t in tokens[s]]
        notes.append("no training split: vocabulary built from the validation/test splits (loader check only, "
                     "not the published vocabulary)")
    vocab = list(dict.fromkeys(vocab_tokens))  # order of first appearance, as pytorch/examples
    index = {tok: i for i, tok in enumerate(vocab)}

    def ids(split: str) -> torch.Tensor | None:
        if split not in tokens:
            return None
        missing = {t for t in tokens[split] if t not in index}
        if missing:
            raise DataError(f"WikiText-{version} {split} has {len(missing)} words outside the training vocabulary "
                            f"(e.g. {sorted(missing)[:5]}); the files come from different releases")
        return torch.tensor([index[t] for t in tokens[split]], dtype=token_dtype(len(vocab)))

    return TokenCorpus(name=f"wikitext-{version}", level="word", vocab=vocab, train=ids("train"), val=ids("valid"),
                       test=ids("test"), sources={k: str(v) for k, v in paths.items() if v is not None}, notes=notes)


def random_windows(tokens: torch.Tensor, batch_size: int, context: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows: inputs and next-token targets, both (batch_size, context) int64."""
    if len(tokens) <= context:
        raise ValueError(f"the split has {len(tokens)} tokens: too few for context {context} (needs more than {context})")
    start = torch.randint(len(tokens) - context, (batch_size,), generator=generator)
    offsets = torch.arange(context)
    x = tokens[start.unsqueeze(1) + offsets]
    y = tokens[start.unsqueeze(1) + offsets + 1]
    return as_long(x), as_long(y)


def sequential_windows(tokens: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every token predicted exactly once: non-overlapping windows (n, context) of inputs and targets.

    The last partial window is kept by starting it ``context`` tokens before the end and
    counting only its new targets: see ``sequential_mask``.
    """
    n = len(tokens) - 1
    if n < 1:
        raise ValueError("need at least two tokens to evaluate")
    context = min(context, n)
    starts = list(range(0, n - context + 1, context))
    if starts[-1] + context < n:
        starts.append(n - context)
    idx = torch.tensor(starts).unsqueeze(1) + torch.arange(context)
    return as_long(tokens[idx]), as_long(tokens[idx + 1])


def sequential_mask(tokens: torch.Tensor, context: int) -> torch.Tensor:
    """(n, context) bool: which targets of ``sequential_windows`` are counted (each token once)."""
    n = len(tokens) - 1
    context = min(context, n)
    starts = list(range(0, n - context + 1, context))
    mask = torch.ones(len(starts), context, dtype=torch.bool)
    covered = starts[-1] + context
    if covered < n:
        extra = torch.zeros(1, context, dtype=torch.bool)
        extra[0, context - (n - covered):] = True
        mask = torch.cat([mask, extra])
    return mask
