"""DeltaNet: the chunked WY/UT form equals the step-by-step delta rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from samovar.ops.delta import deltanet_chunked, deltanet_naive, deltanet_recurrent, deltanet_step

from compare import assert_same


def inputs(batch=2, heads=3, length=19, d_k=5, d_v=4, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, length, d_k, generator=gen, dtype=dtype)
    k = F.normalize(torch.randn(batch, heads, length, d_k, generator=gen, dtype=dtype), dim=-1)
    v = torch.randn(batch, heads, length, d_v, generator=gen, dtype=dtype)
    beta = torch.rand(batch, heads, length, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (q, k, v, beta)]


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 19, 64])
def test_chunked_matches_recurrent(chunk_size):
    tensors = inputs()
    assert_same(deltanet_chunked(*tensors, chunk_size=chunk_size), deltanet_naive(*tensors), tensors, 1e-10)


@pytest.mark.parametrize("shape", [(1, 1, 33, 8, 8), (1, 8, 20, 3, 5), (2, 1, 1, 2, 2)])
def test_shapes(shape):
    tensors = inputs(*shape)
    assert_same(deltanet_chunked(*tensors, chunk_size=8), deltanet_naive(*tensors), tensors, 1e-10)


def test_state_continuation_and_step():
    q, k, v, beta = inputs(length=25)
    ref, ref_state = deltanet_recurrent(q, k, v, beta)
    first, state = deltanet_chunked(q[:, :, :10], k[:, :, :10], v[:, :, :10], beta[:, :, :10], chunk_size=4, return_state=True)
    second, final = deltanet_chunked(q[:, :, 10:], k[:, :, 10:], v[:, :, 10:], beta[:, :, 10:], chunk_size=8, initial_state=state, return_state=True)
    torch.testing.assert_close(torch.cat([first, second], 2), ref, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(final, ref_state, atol=1e-10, rtol=1e-10)
    o_t, _ = deltanet_step(q[:, :, 10], k[:, :, 10], v[:, :, 10], beta[:, :, 10], state)
    torch.testing.assert_close(o_t, ref[:, :, 10], atol=1e-10, rtol=1e-10)


def test_float32_tolerance():
    tensors = [t.detach().float() for t in inputs(2, 4, 300, 32, 32)]
    out = deltanet_chunked(*tensors, chunk_size=64)
    ref = deltanet_naive(*(t.double() for t in tensors))
    assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_gradcheck():
    tensors = inputs(1, 2, 10, 3, 2)
    s0 = torch.randn(1, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    fn = lambda *a: deltanet_chunked(*a[:4], chunk_size=4, initial_state=a[4], return_state=True)
    assert torch.autograd.gradcheck(fn, (*tensors, s0))


def test_causality():
    q, k, v, beta = (t.detach() for t in inputs(length=24))
    base = deltanet_chunked(q, k, v, beta, chunk_size=5)
    t = 13
    for i in range(4):
        args = [q, k, v, beta]
        args[i] = args[i].clone()
        args[i][:, :, t] = args[i][:, :, t] * 0.5 + 0.1
        out = deltanet_chunked(*args, chunk_size=5)
        torch.testing.assert_close(out[:, :, :t], base[:, :, :t], atol=1e-12, rtol=0)
        assert not torch.allclose(out[:, :, t:], base[:, :, t:])


def test_errors():
    q, k, v, beta = (t.detach() for t in inputs())
    with pytest.raises(ValueError, match="beta must be"):
        deltanet_chunked(q, k, v, beta[..., :3])
    with pytest.raises(ValueError, match="initial_state"):
        deltanet_chunked(q, k, v, beta, initial_state=torch.zeros(2, 3, 4, 4, dtype=q.dtype))


@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 2),
    heads=st.integers(1, 3),
    length=st.integers(1, 40),
    d_k=st.integers(1, 6),
    d_v=st.integers(1, 5),
    chunk_size=st.integers(1, 48),
)
def test_property_chunked_equals_recurrent(batch, heads, length, d_k, d_v, chunk_size):
    tensors = inputs(batch, heads, length, d_k, d_v, seed=length * 5 + d_k)
    assert_same(deltanet_chunked(*tensors, chunk_size=chunk_size), deltanet_naive(*tensors), tensors, 1e-9)
