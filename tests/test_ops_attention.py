"""ops.attention (the baselines' bidirectional attention) and ops.dropout against written-out
references: values and gradients in float64 at odd sizes, the blocked kernel's block splits,
float32 against float64, the dropout masks' statistics, and clear errors."""

from __future__ import annotations

import math

import pytest
import torch

import samovar.ops.attention as attn_ops
from samovar.ops.attention import attention, attention_naive, attention_with_scores
import samovar.ops.dropout as dropout_ops
from samovar.ops.dropout import dropout, dropout_reference, keep_mask, keep_mask_reference, uniform

from compare import assert_same

# (batch, heads, Lq, Lk, E, Ev): odd, unequal lengths; one query; one key; Ev != E
SIZES = [(2, 3, 7, 11, 5, 4), (1, 2, 33, 29, 3, 6), (3, 1, 1, 9, 4, 4), (2, 2, 6, 1, 2, 3)]


def qkv(b, h, lq, lk, e, ev, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *s: torch.randn(*s, generator=g, dtype=dtype).requires_grad_()  # noqa: E731
    return make(b, h, lq, e), make(b, h, lk, e), make(b, h, lk, ev)


def test_naive_reference_is_softmax_attention_written_elementwise():
    """The reference itself, checked against an explicit loop over one (batch, head)."""
    q, k, v = qkv(1, 1, 3, 4, 2, 2)
    keep = torch.tensor([[[[True, False, True, True], [True, True, True, True], [False, False, True, True]]]])
    out, scores = attention_naive(q, k, v, scale=0.7, keep=keep, keep_prob=0.8)
    q, k, v = q.detach(), k.detach(), v.detach()
    for i in range(3):
        s = [0.7 * float(q[0, 0, i] @ k[0, 0, j]) for j in range(4)]
        z = sum(math.exp(x) for x in s)
        w = [math.exp(s[j]) / z * float(keep[0, 0, i, j]) / 0.8 for j in range(4)]
        expected = sum(w[j] * v[0, 0, j] for j in range(4))
        torch.testing.assert_close(out[0, 0, i].detach(), expected)
        torch.testing.assert_close(scores[0, 0, i].detach(), torch.tensor(s, dtype=torch.float64))


@pytest.mark.parametrize("size", SIZES)
def test_fused_attention_without_dropout_matches_reference(size):
    q, k, v = qkv(*size)
    ref, _ = attention_naive(q, k, v, scale=0.37)
    assert_same(attention(q, k, v, scale=0.37), ref, (q, k, v), atol=1e-10)
    ref, _ = attention_naive(q, k, v)  # default scale E ** -0.5
    assert_same(attention(q, k, v), ref, (q, k, v), atol=1e-10)


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 18])  # query rows split / one row per block / groups of rows
@pytest.mark.parametrize("size", SIZES)
def test_blocked_dropout_attention_matches_reference(size, block, monkeypatch):
    monkeypatch.setattr(attn_ops, "_BLOCK", block)
    b, h, lq, lk = size[:4]
    q, k, v = qkv(*size)
    keep = keep_mask((b, h, lq, lk), 0.3, generator=torch.Generator().manual_seed(1))
    ref, _ = attention_naive(q, k, v, scale=0.37, keep=keep, keep_prob=0.7)
    assert_same(attention(q, k, v, scale=0.37, keep=keep, keep_prob=0.7), ref, (q, k, v), atol=1e-10)


def test_blocked_dropout_attention_with_everything_dropped_in_a_row():
    q, k, v = qkv(2, 2, 5, 6, 3, 3)
    keep = keep_mask((2, 2, 5, 6), 0.5, generator=torch.Generator().manual_seed(2))
    keep[0, 1, 2] = False
    keep[1, 0, 4] = True
    ref, _ = attention_naive(q, k, v, keep=keep, keep_prob=0.5)
    fast = attention(q, k, v, keep=keep, keep_prob=0.5)
    assert torch.all(fast[0, 1, 2] == 0)
    assert_same(fast, ref, (q, k, v), atol=1e-10)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("with_prev,with_dropout", [(False, False), (True, False), (True, True), (False, True)])
def test_attention_with_scores_matches_reference(size, with_prev, with_dropout):
    b, h, lq, lk = size[:4]
    q, k, v = qkv(*size)
    prev = torch.randn(b, h, lq, lk, dtype=torch.float64, requires_grad=True) if with_prev else None
    keep = keep_mask((b, h, lq, lk), 0.2, generator=torch.Generator().manual_seed(3)) if with_dropout else None
    kw = dict(scale=0.37, prev_scores=prev, keep=keep, keep_prob=0.8 if with_dropout else 1.0)
    out, scores = attention_with_scores(q, k, v, **kw)
    ref_out, ref_scores = attention_naive(q, k, v, **kw)
    inputs = (q, k, v) + ((prev,) if with_prev else ())
    # both outputs at once, so the gradient check goes through the returned scores too
    assert_same(torch.cat([out.flatten(), scores.flatten()]), torch.cat([ref_out.flatten(), ref_scores.flatten()]),
                inputs, atol=1e-10)


def test_float32_fast_forms_match_float64_reference():
    """At a transformer-like shape (one block holds several query rows of a long key axis)."""
    q, k, v = qkv(2, 4, 300, 300, 16, 16, dtype=torch.float32, seed=5)
    keep = keep_mask((2, 4, 300, 300), 0.1, generator=torch.Generator().manual_seed(6))
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    for fast_keep in (None, keep):
        kp = 0.9 if fast_keep is not None else 1.0
        fast = attention(q, k, v, keep=fast_keep, keep_prob=kp)
        ref, _ = attention_naive(q64, k64, v64, keep=fast_keep, keep_prob=kp)
        torch.testing.assert_close(fast.double(), ref, atol=2e-5, rtol=1e-4)
        weight = torch.randn(fast.shape, generator=torch.Generator().manual_seed(7))
        grads = torch.autograd.grad((fast * weight).sum(), (q, k, v))
        grads64 = torch.autograd.grad((ref * weight.double()).sum(), (q64, k64, v64))
        for g, g64 in zip(grads, grads64):
            torch.testing.assert_close(g.double(), g64, atol=2e-5, rtol=1e-4)


def test_attention_errors_name_the_problem():
    q, k, v = qkv(2, 2, 5, 6, 3, 3)
    with pytest.raises(ValueError, match=r"q: \(batch, heads, Lq, E\)"):
        attention(q[0], k[0], v[0])
    with pytest.raises(ValueError, match="k: "):
        attention(q, k[..., :2], v)
    with pytest.raises(ValueError, match="keep must be a bool mask of shape"):
        attention(q, k, v, keep=torch.ones(2, 2, 5, 6), keep_prob=0.5)
    with pytest.raises(ValueError, match="keep must be a bool mask of shape"):
        attention(q, k, v, keep=torch.ones(2, 2, 6, 5, dtype=torch.bool), keep_prob=0.5)
    with pytest.raises(ValueError, match="keep_prob must be in"):
        attention(q, k, v, keep=torch.ones(2, 2, 5, 6, dtype=torch.bool), keep_prob=0.0)
    with pytest.raises(ValueError, match="prev_scores must have shape"):
        attention_with_scores(q, k, v, prev_scores=torch.zeros(2, 2, 5, 5))
    with pytest.raises(ValueError, match="at least one query and one key"):
        attention(q[:, :, :0], k, v)


# ----------------------------------------------------------------------------- dropout


def test_keep_mask_statistics_and_reproducibility():
    n = 1 << 20
    for p in (0.1, 0.3):
        mask = keep_mask((4, n // 4), p, generator=torch.Generator().manual_seed(0))
        assert mask.dtype == torch.bool and mask.shape == (4, n // 4)
        rate = mask.double().mean().item()
        assert abs(rate - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)  # 5 binomial standard deviations
        # independent of position: each half has the same rate, neighbours are uncorrelated
        flat = mask.view(-1).double()
        assert abs(flat[: n // 2].mean().item() - flat[n // 2:].mean().item()) < 10 * math.sqrt(p * (1 - p) / n)
        corr = torch.corrcoef(torch.stack([flat[:-1], flat[1:]]))[0, 1].item()
        assert abs(corr) < 5 / math.sqrt(n)
    a = keep_mask((3, 1000), 0.5, generator=torch.Generator().manual_seed(4))
    b = keep_mask((3, 1000), 0.5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    torch.manual_seed(9)
    c = keep_mask((3, 1000), 0.5)
    torch.manual_seed(9)
    assert torch.equal(c, keep_mask((3, 1000), 0.5))  # the global torch seed governs it
    assert not torch.equal(c, keep_mask((3, 1000), 0.5))
    assert keep_mask((5, 7), 0.0).all()


# element counts around the block size (even/odd, one word past a block) and a multi-block one
MASK_SHAPES = [(1,), (7,), (3, 5), (1 << 18,), ((1 << 18) + 1,), (2, (1 << 18) + 3), (3, 333_333)]


@pytest.mark.parametrize("shape", MASK_SHAPES)
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9, 0.0])
def test_keep_mask_is_bit_identical_to_float_draw_reference(shape, p):
    """The integer test on raw PCG64 words gives exactly the mask of ``float32 draw < 1 - p``,
    whatever the number of threads the words are drawn on."""
    reference = keep_mask_reference(shape, p, generator=torch.Generator().manual_seed(11))
    for threads in (1, 2, 3):
        fast = keep_mask(shape, p, generator=torch.Generator().manual_seed(11), threads=threads)
        assert fast.shape == reference.shape and torch.equal(fast, reference), threads


def test_keep_mask_threads_split_large_masks(monkeypatch):
    """Masks past the parallel threshold are drawn in several jumped-ahead pieces (checked at a
    small threshold so the test stays fast); the pieces join into the one-thread mask."""
    monkeypatch.setattr(dropout_ops, "_PARALLEL_MIN", 1000)
    calls = []
    fill = dropout_ops._fill_keep
    monkeypatch.setattr(dropout_ops, "_fill_keep", lambda out, *a: (calls.append(out.size), fill(out, *a)))
    shape = (5, 1001)
    reference = keep_mask_reference(shape, 0.2, generator=torch.Generator().manual_seed(5))
    fast = keep_mask(shape, 0.2, generator=torch.Generator().manual_seed(5), threads=2)
    assert sorted(calls) == [2502, 2503] and torch.equal(fast, reference)


def test_keep_mask_threshold_edges():
    """The cut sits exactly where float32 puts 1 - p: for p = 0.1, float32(0.9) * 2^24 is the
    integer 15099494, so the draw 15099494 * 2^-24 is dropped and the one below it kept."""
    assert math.ceil(float(torch.tensor(0.9, dtype=torch.float32)) * 2**24) == 15099494
    draws = torch.tensor([15099493, 15099494], dtype=torch.float32) * 2**-24
    assert (draws < 0.9).tolist() == [True, False]
    assert keep_mask((3, 3), 0.0).all() and keep_mask_reference((3, 3), 0.0).all()


def test_dropout_is_bit_identical_to_reference():
    x = torch.randn(37, 7001)
    torch.manual_seed(3)
    fast = dropout(x, 0.1)
    torch.manual_seed(3)
    assert torch.equal(fast, dropout_reference(x, 0.1))


def test_float64_dropout_keeps_the_draws_below_1_minus_p_and_scales_them():
    """float64 takes torch.rand draws: expected output built by hand from the same draws."""
    p = 0.1
    x = torch.randn(37, 701, dtype=torch.float64)
    torch.manual_seed(3)
    y = dropout(x, p)
    torch.manual_seed(3)
    kept = torch.rand(x.shape, dtype=torch.float64) < 1 - p
    assert y.dtype == torch.float64 and torch.equal(y == 0, ~kept)
    torch.testing.assert_close(y, torch.where(kept, x / (1 - p), torch.zeros_like(x)))


def test_uniform_draws():
    u = uniform((1 << 18,), generator=torch.Generator().manual_seed(0))
    assert u.dtype == torch.float32 and u.min() >= 0 and u.max() < 1
    assert abs(u.double().mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / (1 << 18))
    assert uniform((3,), dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dropout_values_rate_and_gradient(dtype):
    p = 0.3
    x = (torch.rand(400, 500, dtype=dtype) + 0.5).requires_grad_()
    y = dropout(x, p, training=True)
    kept = y != 0
    torch.testing.assert_close(y[kept], (x / (1 - p))[kept])
    n = x.numel()
    assert abs(kept.double().mean().item() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    g = torch.randn_like(x)
    (grad,) = torch.autograd.grad((y * g).sum(), x)
    torch.testing.assert_close(grad, g * kept / (1 - p))
    assert dropout(x, p, training=False) is x
    assert dropout(x, 0.0, training=True) is x
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        dropout(x, 1.0)
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        keep_mask((3,), -0.1)
