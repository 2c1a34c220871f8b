"""Causal linear attention: chunked, materialized, recurrent and naive forms agree."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from samovar.ops.linear_attention import (
    init_state,
    linear_attention_chunked,
    linear_attention_materialized,
    linear_attention_naive,
    linear_attention_recurrent,
    linear_attention_step,
)

from compare import assert_same


def qkv(batch=2, heads=3, length=19, d_k=5, d_v=4, dtype=torch.float64, seed=0, positive=False):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, heads, length, d, generator=gen, dtype=dtype) for d in (d_k, d_k, d_v))
    if positive:  # a non-negative feature map, as normalization expects
        q, k = q.exp(), k.exp()
    return [t.requires_grad_() for t in (q, k, v)]


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 19, 64])
@pytest.mark.parametrize("normalize", [False, True])
def test_chunked_matches_naive_float64(chunk_size, normalize):
    inputs = qkv(length=19, positive=normalize)
    ref = linear_attention_naive(*inputs, normalize=normalize)
    fast = linear_attention_chunked(*inputs, chunk_size=chunk_size, normalize=normalize)
    assert_same(fast, ref, inputs, atol=1e-10)


@pytest.mark.parametrize("shape", [(1, 1, 33, 8, 8), (1, 8, 50, 4, 6), (3, 2, 1, 3, 3)])
def test_chunked_matches_naive_shapes(shape):
    inputs = qkv(*shape)
    assert_same(linear_attention_chunked(*inputs, chunk_size=16), linear_attention_naive(*inputs), inputs, atol=1e-10)


def test_float32_tolerance():
    """float32 at a realistic size: relative error ≤ 1e-4 of the output scale."""
    inputs = qkv(2, 4, 300, 32, 32, dtype=torch.float32)
    ref = linear_attention_naive(*(t.double() for t in inputs)).float()
    fast = linear_attention_chunked(*inputs, chunk_size=64)
    assert (fast - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_materialized_matches_naive():
    inputs = qkv(length=23)
    assert_same(linear_attention_materialized(*inputs), linear_attention_naive(*inputs), inputs, atol=1e-10)


@pytest.mark.parametrize("normalize", [False, True])
def test_recurrent_matches_parallel(normalize):
    inputs = qkv(length=13, positive=normalize)
    out, state = linear_attention_recurrent(*inputs, normalize=normalize)
    ref, ref_state = linear_attention_chunked(*inputs, chunk_size=4, normalize=normalize, return_state=True)
    assert_same(out, ref, inputs, atol=1e-10)
    for a, b in zip(state if normalize else [state], ref_state if normalize else [ref_state]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("normalize", [False, True])
def test_state_continuation(normalize):
    """Splitting a sequence and carrying the state gives the same outputs."""
    q, k, v = qkv(length=29, positive=normalize)
    ref = linear_attention_naive(q, k, v, normalize=normalize)
    first, state = linear_attention_chunked(q[:, :, :11], k[:, :, :11], v[:, :, :11], chunk_size=4, normalize=normalize, return_state=True)
    second = linear_attention_chunked(q[:, :, 11:], k[:, :, 11:], v[:, :, 11:], chunk_size=8, normalize=normalize, initial_state=state)
    torch.testing.assert_close(torch.cat([first, second], 2), ref, atol=1e-10, rtol=1e-10)


def test_step_continues_chunked_state():
    q, k, v = qkv(length=10)
    ref = linear_attention_naive(q, k, v)
    _, state = linear_attention_chunked(q[:, :, :9], k[:, :, :9], v[:, :, :9], chunk_size=4, return_state=True)
    o_last, _ = linear_attention_step(q[:, :, 9], k[:, :, 9], v[:, :, 9], state)
    torch.testing.assert_close(o_last, ref[:, :, 9], atol=1e-10, rtol=1e-10)


def test_gradcheck_chunked_with_state():
    q, k, v = qkv(1, 2, 9, 3, 2)
    s0 = torch.randn(1, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    fn = lambda q, k, v, s0: linear_attention_chunked(q, k, v, chunk_size=4, initial_state=s0, return_state=True)
    assert torch.autograd.gradcheck(fn, (q, k, v, s0))


def test_causality():
    q, k, v = (t.detach() for t in qkv(length=24))
    base = linear_attention_chunked(q, k, v, chunk_size=5)
    t = 13
    for x in (q, k, v):
        x2 = x.clone()
        x2[:, :, t] += 10.0
        args = [x2 if y is x else y for y in (q, k, v)]
        out = linear_attention_chunked(*args, chunk_size=5)
        torch.testing.assert_close(out[:, :, :t], base[:, :, :t], atol=1e-12, rtol=0)
        assert not torch.allclose(out[:, :, t:], base[:, :, t:])


def test_zero_length_and_errors():
    q, k, v = (t.detach() for t in qkv(length=0))
    assert linear_attention_chunked(q, k, v).shape == (2, 3, 0, 4)
    with pytest.raises(ValueError, match="same shape"):
        linear_attention_chunked(q, k[..., :2], v)
    with pytest.raises(ValueError, match="chunk_size"):
        linear_attention_chunked(q, k, v, chunk_size=0)
    with pytest.raises(ValueError, match="initial_state"):
        linear_attention_chunked(q, k, v, initial_state=torch.zeros(2, 3, 4, 4, dtype=q.dtype))
    with pytest.raises(TypeError, match="pair"):
        linear_attention_step(q.sum(2), k.sum(2), v.sum(2), init_state(q, v), normalize=True)


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 2),
    heads=st.integers(1, 3),
    length=st.integers(1, 40),
    d_k=st.integers(1, 6),
    d_v=st.integers(1, 6),
    chunk_size=st.integers(1, 48),
    normalize=st.booleans(),
)
def test_property_chunked_equals_naive(batch, heads, length, d_k, d_v, chunk_size, normalize):
    inputs = qkv(batch, heads, length, d_k, d_v, positive=normalize, seed=length * 7 + d_k)
    ref = linear_attention_naive(*inputs, normalize=normalize)
    fast = linear_attention_chunked(*inputs, chunk_size=chunk_size, normalize=normalize)
    assert_same(fast, ref, inputs, atol=1e-9)


@pytest.mark.parametrize("length, d_k, d_v", [(1, 3, 3), (7, 5, 4), (22, 8, 8), (23, 8, 8), (31, 4, 3)])
@pytest.mark.parametrize("normalize", [False, True])
def test_one_chunk_path_matches_naive_float64(length, d_k, d_v, normalize):
    """A sequence that fits in one chunk takes the masked-product path (scores saved when
    length <= 2 d_k + d_v, recomputed above: (31, 4, 3)); inputs given as transposed views."""
    gen = torch.Generator().manual_seed(length)
    q, k, v = (torch.randn(2, length, 3, d, generator=gen, dtype=torch.float64) for d in (d_k, d_k, d_v))
    if normalize:
        q, k = q.exp(), k.exp()
    leaves = [t.requires_grad_() for t in (q, k, v)]
    inputs = [t.transpose(1, 2) for t in leaves]  # (B, H, L, d) views, not contiguous
    fast = linear_attention_chunked(*inputs, chunk_size=32, normalize=normalize)
    if not normalize:  # the one-chunk Function made it (under the reshape to (B, H, L, d))
        assert fast.is_contiguous() and type(fast.grad_fn.next_functions[0][0]).__name__ == "_OneChunkLinearAttentionBackward"
    assert_same(fast, linear_attention_naive(*inputs, normalize=normalize), leaves, atol=1e-10)
    gen_state = linear_attention_chunked(*inputs, chunk_size=32, normalize=normalize, return_state=True)[0]
    torch.testing.assert_close(gen_state, fast, atol=1e-10, rtol=1e-10)  # the general path, same numbers


@pytest.mark.parametrize("chunk_size", [4, 32])
def test_backward_inside_autocast_region_stays_float32(chunk_size):
    """Both Functions' backwards run with autocast off: calling backward inside a bfloat16
    autocast region gives the float32 gradients (the chunked one used to fail there)."""
    inputs = qkv(length=19, dtype=torch.float32)
    weight = torch.randn(2, 3, 19, 4)
    ref = torch.autograd.grad((linear_attention_chunked(*inputs, chunk_size=chunk_size) * weight).sum(), inputs)
    out = linear_attention_chunked(*inputs, chunk_size=chunk_size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        grads = torch.autograd.grad((out * weight).sum(), inputs)
    for g, r in zip(grads, ref):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("chunk_size", [4, 32])  # the chunked / the one-chunk path
def test_forward_inside_autocast_region_stays_float32(chunk_size):
    """float32 inputs under bfloat16 autocast: both paths compute in float32 (the one-chunk path
    used to run its products in bfloat16, and its backward then failed on mixed dtypes)."""
    inputs = qkv(length=19, dtype=torch.float32)
    weight = torch.randn(2, 3, 19, 4)
    ref = linear_attention_chunked(*inputs, chunk_size=chunk_size)
    ref_grads = torch.autograd.grad((ref * weight).sum(), inputs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = linear_attention_chunked(*inputs, chunk_size=chunk_size)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-6)
    grads = torch.autograd.grad((out * weight).sum(), inputs)
    for g, r in zip(grads, ref_grads):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("narrow", [0, 64])  # every product as written / every narrow product transposed
@pytest.mark.parametrize("slice_floats", [1, 300, 1 << 17])  # one row per slice, 2+2+1 rows, one slice
def test_chunked_layouts_and_slices_match_naive(monkeypatch, narrow, slice_floats):
    """The chunked kernel's two product layouts and its slicing over batch·heads rows give the
    naive numbers, with an initial state and the final state (gradcheck covers both)."""
    import samovar.ops.linear_attention as la

    monkeypatch.setattr(la, "_NARROW", narrow)
    monkeypatch.setattr(la, "_SLICE_FLOATS", slice_floats)
    inputs = qkv(batch=5, heads=1, length=21, d_k=6, d_v=5)  # 5 rows of 6 chunks of 4 (3 padded)
    assert_same(linear_attention_chunked(*inputs, chunk_size=4), linear_attention_naive(*inputs), inputs, atol=1e-10)
    q, k, v = qkv(batch=5, heads=1, length=9, d_k=3, d_v=2)
    s0 = torch.randn(5, 1, 3, 2, dtype=torch.float64, requires_grad=True)
    fn = lambda q, k, v, s0: linear_attention_chunked(q, k, v, chunk_size=2, initial_state=s0, return_state=True)
    assert torch.autograd.gradcheck(fn, (q, k, v, s0))


@pytest.mark.parametrize("chunk_size", [2, 16])  # 23 chunks (a blocked scan with padding) / 3 chunks
def test_chunked_wide_heads_float64(chunk_size):
    """Head widths above the narrow limit (products as written, blocked scan of the states)."""
    inputs = qkv(batch=1, heads=2, length=45, d_k=20, d_v=24)
    assert_same(linear_attention_chunked(*inputs, chunk_size=chunk_size), linear_attention_naive(*inputs), inputs, atol=1e-10)


@pytest.mark.parametrize("length", [1, 5, 16, 17, 48, 300])
@pytest.mark.parametrize("width", [3, 256])  # cumsum / blocked triangular matmuls (recursive past 256)
def test_exclusive_scan(length, width):
    from samovar.ops.linear_attention import _exclusive_scan

    x = torch.randn(2, length, width, dtype=torch.float64, generator=torch.Generator().manual_seed(length))
    inclusive = x.cumsum(1)
    torch.testing.assert_close(_exclusive_scan(x), inclusive - x, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(_exclusive_scan(x, reverse=True), inclusive[:, -1:] - inclusive, atol=1e-10, rtol=1e-10)
    out = torch.full_like(x, float("nan"))  # written in place when given
    assert _exclusive_scan(x, out=out) is out
    torch.testing.assert_close(out, inclusive - x, atol=1e-10, rtol=1e-10)
