"""Token arrays of the task datasets are stored in the smallest integer type and widened to int64 per batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samovar.data.errors import DataError
from samovar.tasks.base import TensorSplit, as_long, numpy_token_dtype, token_dtype
from samovar.tasks.data import listops as lo
from samovar.tasks.data.common import encode_bytes, pad_sequences
from samovar.tasks.lm import TokenCorpus, load_shakespeare, random_windows, sequential_windows
from samovar.tasks.runs import _reindex, build_model
from samovar.tasks.train import ClassificationTask, TaskTrainConfig


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("vocab_size, expected", [
    (1, torch.uint8), (16, torch.uint8), (256, torch.uint8), (257, torch.int16), (32_768, torch.int16),
    (32_769, torch.int32), (267_735, torch.int32), (2**31, torch.int32), (2**31 + 1, torch.int64),
])
def test_token_dtype_is_the_smallest_that_holds_every_id(vocab_size, expected):
    assert token_dtype(vocab_size) == expected
    assert numpy_token_dtype(vocab_size) == torch.empty(0, dtype=expected).numpy().dtype
    top = torch.tensor(vocab_size - 1, dtype=torch.int64)
    assert int(top.to(expected)) == vocab_size - 1  # the largest id survives the round trip


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_token_dtype_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="vocab_size must be a positive integer"):
        token_dtype(bad)


def test_pad_sequences_dtype_from_vocab_or_largest_id():
    seqs = [np.array([3, 1, 2]), np.array([5])]
    x, lengths, cut = pad_sequences(seqs, 4, pad_id=0, truncate=False, what="t", vocab_size=16)
    assert x.dtype == torch.uint8 and lengths.dtype == torch.int64 and cut == 0
    assert x.tolist() == [[3, 1, 2, 0], [5, 0, 0, 0]] and lengths.tolist() == [3, 1]
    bytes_x, _, _ = pad_sequences([encode_bytes(b"a\xff")], 3, pad_id=0, truncate=False, what="t", vocab_size=257)
    assert bytes_x.dtype == torch.int16 and bytes_x.tolist() == [[98, 256, 0]]  # byte 255 -> id 256 needs 16 bits
    wide, _, _ = pad_sequences([np.array([300, 7])], 2, pad_id=0, truncate=False, what="t")
    assert wide.dtype == torch.int16 and wide.tolist() == [[300, 7]]
    with pytest.raises(DataError, match=r"t: token ids \(and pad_id\) must lie in 0\.\.15 \(vocab_size 16\), found 0\.\.16"):
        pad_sequences([np.array([16])], 2, pad_id=0, truncate=False, what="t", vocab_size=16)
    with pytest.raises(DataError, match="must be non-negative, found -1"):
        pad_sequences([np.array([-1])], 2, pad_id=0, truncate=False, what="t")


def test_listops_is_stored_as_uint8_and_batches_are_int64():
    data = lo.load_listops(source="generate", n_train=24, n_val=4, n_test=4, min_length=20, max_length=100, seed=2)
    x = data.train.inputs
    assert x.dtype == torch.uint8 and x.element_size() == 1 and x.shape == (24, 100)
    task = ClassificationTask(data)
    config = TaskTrainConfig(steps=10, batch_size=8, warmup_steps=0)
    inputs, lengths, labels = task.train_batch(1, config)
    assert inputs.dtype == torch.int64 and labels.dtype == torch.int64 and inputs.shape == (8, 100)
    idx = task._perm[1][8:16]  # the permutation of epoch 0 that batch 1 was taken from
    assert torch.equal(inputs, x[idx].long()) and torch.equal(lengths, data.train.lengths[idx])
    # the compact tokens give the same logits as int64 ones, and the evaluation reads them correctly
    torch.manual_seed(0)
    model = build_model("classification", "gla", dim=16, layers=1, vocab_size=data.vocab_size, num_classes=10,
                        max_len=100, options={"heads": 2})
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x[:5], data.train.lengths[:5]), model(x[:5].long(), data.train.lengths[:5]))
        expected = (model(data.val.inputs.long(), data.val.lengths).argmax(-1) == data.val.labels).float().mean()
    accuracy, _ = task.accuracy(model, data.val, TaskTrainConfig(eval_batch_size=3), "cpu")
    assert accuracy == pytest.approx(float(expected))


def test_tensor_split_accepts_every_integer_width_and_rejects_bool():
    for dtype in (torch.uint8, torch.int16, torch.int32, torch.int64):
        split = TensorSplit(torch.tensor([[1, 2, 0]], dtype=dtype), torch.tensor([1]), torch.tensor([2]))
        inputs, _, _ = split.batch(slice(0, 1))
        assert inputs.dtype == torch.int64 and inputs.tolist() == [[1, 2, 0]]
    with pytest.raises(ValueError, match="integer tokens or floating-point values, got torch.bool"):
        TensorSplit(torch.ones(1, 3, dtype=torch.bool), torch.tensor([1]), torch.tensor([2]))
    floats = torch.rand(2, 3, 1)
    assert as_long(floats) is floats  # continuous inputs pass through


def test_character_corpus_is_uint8_and_windows_are_int64(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20)
    corpus = load_shakespeare(path=path)
    assert corpus.train.dtype == torch.uint8 and corpus.val.dtype == torch.uint8
    x, y = random_windows(corpus.train, 4, 16, torch.Generator().manual_seed(0))
    assert x.dtype == y.dtype == torch.int64 and torch.equal(x[:, 1:], y[:, :-1])
    assert corpus.decode(x[0]) in corpus.decode(corpus.train)
    vx, vy = sequential_windows(corpus.val, 16)
    assert vx.dtype == vy.dtype == torch.int64
    assert torch.equal(vx[0], corpus.val[:16].long()) and torch.equal(vy[0], corpus.val[1:17].long())


def test_reindex_uses_uint8_ids_as_indices_not_as_a_mask():
    # a uint8 index tensor would select by mask in torch; the run's vocabulary must map ids one to one
    data = TokenCorpus("d", "word", ["a", "b", "c"], None, torch.tensor([2, 0, 1, 1], dtype=torch.uint8), None)
    run_vocab = TokenCorpus("r", "word", ["c", "x", "a", "b"], None, None, None)
    out = _reindex(data, run_vocab)
    assert out.val.tolist() == [0, 2, 3, 3] and out.val.dtype == torch.uint8
