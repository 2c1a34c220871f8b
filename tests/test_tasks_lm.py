"""Language-modelling data (Tiny Shakespeare, WikiText) and text generation."""

from __future__ import annotations

import pytest
import torch
from conftest import require_file
from hypothesis import given, settings
from hypothesis import strategies as st

from samovar.data import DataError
from samovar.tasks.backbone import LanguageModel
from samovar.tasks.generate import generate
from samovar.tasks.lm import (
    TokenCorpus,
    load_shakespeare,
    load_wikitext,
    random_windows,
    read_wikitext_tokens,
    sequential_mask,
    sequential_windows,
)


@pytest.fixture(scope="module")
def shakespeare():
    path = require_file("tinyshakespeare/input.txt.gz")
    return load_shakespeare(path.parent.parent, download=False)


def test_shakespeare_split_sizes_and_vocabulary(shakespeare):
    assert shakespeare.vocab_size == 65
    assert len(shakespeare.train) == 1_003_854  # int(0.9 * 1,115,394), nanoGPT's split
    assert len(shakespeare.val) == 111_540
    assert shakespeare.test is None
    assert shakespeare.vocab[0] == "\n" and shakespeare.vocab[1] == " "
    assert shakespeare.decode(shakespeare.train[:9]) == "First Cit"
    assert torch.equal(shakespeare.encode("ROMEO:\n"), torch.tensor([shakespeare.vocab.index(c) for c in "ROMEO:\n"]))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        shakespeare.encode("café")


def test_shakespeare_checksum_is_verified(tmp_path):
    folder = tmp_path / "tinyshakespeare"
    folder.mkdir()
    (folder / "input.txt").write_text("not shakespeare\n")
    with pytest.raises(DataError, match="checksum mismatch"):
        load_shakespeare(tmp_path, download=False)


def test_wikitext2_valid_and_test_token_counts():
    valid = require_file("wikitext-2/valid.txt.gz")
    require_file("wikitext-2/test.txt.gz")
    corpus = load_wikitext(2, valid.parent.parent, require_train=False, download=False)
    assert len(corpus.val) == 217_646 and len(corpus.test) == 245_569
    assert corpus.train is None and "no training split" in corpus.notes[0]
    text = corpus.decode(corpus.val[:6])
    assert text == "\n= Homarus gammarus =\n"
    with pytest.raises(DataError, match="training split was not found"):
        load_wikitext(2, valid.parent.parent, download=False)


def test_wikitext_standard_file_names_checksums_and_counts(tmp_path):
    for version in (2, 103):
        folder = tmp_path / f"wikitext-{version}"
        folder.mkdir()
        for split in ("train", "valid", "test"):
            (folder / f"wiki.{split}.tokens").write_text(" = A = \n b c \n")
    assert read_wikitext_tokens(folder / "wiki.train.tokens") == ["=", "A", "=", "<eos>", "b", "c", "<eos>"]
    with pytest.raises(DataError, match="checksum mismatch"):  # WikiText-2 valid/test have known sha256
        load_wikitext(2, tmp_path, download=False)
    with pytest.raises(DataError, match="not the published tokenised split"):  # else: the published token count
        load_wikitext(103, tmp_path, download=False)
    with pytest.raises(ValueError, match="2 or 103"):
        load_wikitext(3, tmp_path)


def test_random_windows_targets_are_the_next_tokens():
    tokens = torch.arange(100)
    x, y = random_windows(tokens, 5, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="too few"):
        random_windows(torch.arange(8), 1, 8, torch.Generator())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), context=st.integers(1, 20))
def test_sequential_windows_predict_every_token_once(n, context):
    tokens = torch.arange(n)
    x, y = sequential_windows(tokens, context)
    mask = sequential_mask(tokens, context)
    assert x.shape == y.shape == mask.shape
    assert torch.equal(y, x + 1)
    assert sorted(y[mask].tolist()) == list(range(1, n))


@pytest.mark.parametrize("mixer", ["gla", "mamba", "linear_attention", "mingru"])
def test_step_generation_equals_full_forward_generation(mixer):
    torch.manual_seed(0)
    model = LanguageModel(mixer, vocab_size=9, dim=16, layers=2, heads=2).double()
    prompt = torch.tensor([1, 2, 3])
    greedy_step = generate(model, prompt, 12, temperature=0, method="step")
    greedy_full = generate(model, prompt, 12, temperature=0, method="window")
    assert torch.equal(greedy_step, greedy_full) and greedy_step.shape == (15,)
    sampled_step = generate(model, prompt, 12, temperature=1.0, top_k=5, seed=3, method="step")
    sampled_full = generate(model, prompt, 12, temperature=1.0, top_k=5, seed=3, method="window")
    assert torch.equal(sampled_step, sampled_full)


def test_generation_with_learned_positions_falls_back_to_a_window():
    torch.manual_seed(0)
    model = LanguageModel("softmax_attention", vocab_size=9, dim=16, layers=1, heads=2, max_len=8).double()
    prompt = torch.tensor([[1, 2], [3, 4]])
    assert torch.equal(generate(model, prompt, 5, temperature=0, method="step"),
                       generate(model, prompt, 5, temperature=0, method="window"))
    out = generate(model, prompt, 20, temperature=0)  # beyond max_len: cropped window, as nanoGPT
    assert out.shape == (2, 22)
    with pytest.raises(ValueError, match="learned positions up to 8"):
        generate(model, prompt, 20, method="step")


def test_decode_words_puts_eos_as_newlines():
    corpus = TokenCorpus("w", "word", ["<eos>", "a", "b"], None, None, None)
    assert corpus.decode([1, 2, 0, 1]) == "a b\na"
