"""The task backbone: shapes for every mixer, causal pooling with padding, bidirectional
reading, dual (retrieval) inputs, and the language model's recurrent step against its forward."""

from __future__ import annotations

import pytest
import torch

from samovar import layers
from samovar.tasks.backbone import Backbone, LanguageModel, SequenceClassifier, pool, reverse_valid

MIXERS = layers.available()
TINY = dict(dim=16, layers=2, heads=2)


def _classifier(mixer: str, **kw) -> SequenceClassifier:
    torch.manual_seed(0)
    options = {**TINY, "vocab_size": 7, "max_len": 24, "num_classes": 3, **kw}
    return SequenceClassifier(mixer, **options).double().eval()


@pytest.mark.parametrize("mixer", MIXERS)
def test_shapes_every_mixer(mixer):
    tokens = torch.randint(0, 7, (3, 11))
    lengths = torch.tensor([11, 4, 1])
    assert _classifier(mixer)(tokens, lengths).shape == (3, 3)
    continuous = _classifier(mixer, vocab_size=None, input_dim=2)
    assert continuous(torch.randn(3, 11, 2, dtype=torch.float64), lengths).shape == (3, 3)
    dual = _classifier(mixer, dual=True)
    assert dual(torch.randint(0, 7, (3, 2, 11)), torch.tensor([[11, 3], [5, 5], [1, 11]])).shape == (3, 3)
    lm = LanguageModel(mixer, vocab_size=7, max_len=24, **TINY)
    assert lm(tokens).shape == (3, 11, 7)


def test_reverse_valid_matches_python_reference():
    x = torch.arange(2 * 6).view(2, 6, 1).double()
    lengths = torch.tensor([4, 6])
    out = reverse_valid(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        expected = list(reversed(x[b, :n, 0].tolist())) + x[b, n:, 0].tolist()
        assert out[b, :, 0].tolist() == expected
    assert torch.equal(reverse_valid(out, lengths), x)


def test_pool_mean_and_last_use_only_valid_positions():
    h = torch.randn(2, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([2, 5])
    torch.testing.assert_close(pool(h, lengths, "mean")[0], h[0, :2].mean(0))
    torch.testing.assert_close(pool(h, lengths, "mean")[1], h[1].mean(0))
    torch.testing.assert_close(pool(h, lengths, "last"), torch.stack([h[0, 1], h[1, 4]]))
    with pytest.raises(ValueError, match="pooling"):
        pool(h, lengths, "max")


@pytest.mark.parametrize("mixer", MIXERS)
@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_padded_sequence_scores_like_the_unpadded_one(mixer, pooling):
    """A sequence padded with arbitrary tokens gets the logits of the same sequence alone."""
    model = _classifier(mixer, pooling=pooling)
    seq = torch.randint(1, 7, (1, 5))
    alone = model(seq, torch.tensor([5]))
    padded = torch.cat([seq, torch.randint(0, 7, (1, 6))], dim=1)
    torch.testing.assert_close(model(padded, torch.tensor([5])), alone)


@pytest.mark.parametrize("mixer", ["gla", "mamba", "softmax_attention"])
def test_bidirectional_sees_the_future_but_not_the_padding(mixer):
    torch.manual_seed(0)
    both = Backbone(mixer, dim=16, layers=2, heads=2, vocab_size=7, bidirectional=True, max_len=24).double().eval()
    seq = torch.randint(1, 7, (1, 6))
    lengths = torch.tensor([6])
    future = seq.clone()
    future[0, 5] = (seq[0, 5] % 6) + 1
    # position 0 reads position 5 through the backward mixer ...
    assert not torch.allclose(both(seq, lengths)[0, 0], both(future, lengths)[0, 0])
    # ... but never the padding after the valid positions
    padded = torch.cat([seq, torch.randint(0, 7, (1, 4))], dim=1)
    torch.testing.assert_close(both(padded, lengths)[:, :6], both(seq, lengths))
    clf = _classifier(mixer, bidirectional=True)
    torch.testing.assert_close(clf(padded, lengths), clf(seq, lengths))


def test_bidirectional_block_equals_forward_plus_reversed_pass():
    torch.manual_seed(0)
    model = Backbone("gla", dim=16, layers=1, heads=2, vocab_size=7, bidirectional=True).double().eval()
    block = model.blocks[0]
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    lengths = torch.tensor([7, 3])
    h = block.norm1(x)
    expected = x + block.mixer(h)
    for b, n in enumerate(lengths.tolist()):
        back = block.mixer_backward(h[b:b + 1, :n].flip(1)).flip(1)
        expected[b, :n] = expected[b, :n] + back[0]
        expected[b, n:] = expected[b, n:] + block.mixer_backward(h[b:b + 1])[0, n:]  # padding: ignored downstream
    expected = expected + block.mlp(block.norm2(expected))
    out = block(x, lengths)
    torch.testing.assert_close(out[0], expected[0])
    torch.testing.assert_close(out[1, :3], expected[1, :3])


def test_unidirectional_classifier_is_causal():
    model = _classifier("gla", pooling="last")
    seq = torch.randint(1, 7, (1, 8))
    later = seq.clone()
    later[0, 6:] = 0
    torch.testing.assert_close(model(seq, torch.tensor([6])), model(later, torch.tensor([6])))


@pytest.mark.parametrize("mixer", MIXERS)
def test_lm_step_equals_forward_logits(mixer):
    torch.manual_seed(0)
    model = LanguageModel(mixer, vocab_size=11, max_len=32, **TINY).double().eval()
    tokens = torch.randint(0, 11, (2, 13))
    full = model(tokens)
    state = model.init_state(2, dtype=torch.float64)
    stepped = []
    with torch.no_grad():
        for t in range(tokens.shape[1]):
            logits, state = model.step(tokens[:, t], state)
            stepped.append(logits)
    torch.testing.assert_close(torch.stack(stepped, 1), full.detach(), rtol=1e-9, atol=1e-9)


def test_lm_head_is_tied_and_lm_refuses_bidirectional():
    model = LanguageModel("gla", vocab_size=11, **TINY)
    names = [n for n, _ in model.named_parameters()]
    assert not any("head" in n for n in names)
    with pytest.raises(ValueError, match="causal"):
        LanguageModel("gla", vocab_size=11, bidirectional=True, **TINY)


def test_learned_positions_and_bad_inputs_give_clear_errors():
    model = LanguageModel("softmax_attention", vocab_size=5, max_len=8, positional="learned", **TINY)
    with pytest.raises(ValueError, match="max_len=8"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len"):
        LanguageModel("softmax_attention", vocab_size=5, positional="learned", **TINY)
    with pytest.raises(ValueError, match="unknown mixer"):
        LanguageModel("nope", vocab_size=5, **TINY)
    with pytest.raises(ValueError, match="exactly one"):
        SequenceClassifier("gla", num_classes=2, dim=8, layers=1, vocab_size=5, input_dim=3)
    clf = SequenceClassifier("gla", num_classes=2, dim=8, layers=1, heads=2, vocab_size=5)
    with pytest.raises(ValueError, match="token inputs"):
        clf(torch.randn(2, 4))
