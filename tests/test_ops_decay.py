"""RetNet retention and GLA: chunked, recurrent and naive forms agree; strong decays stay exact."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from samovar.ops.decay import (
    gla_chunked,
    gla_naive,
    gla_recurrent,
    gla_step,
    retention_chunked,
    retention_naive,
    retention_step,
)

from compare import assert_same


def inputs(batch=2, heads=3, length=19, d_k=5, d_v=4, dtype=torch.float64, seed=0, strength=1.0):
    """q, k, v, GLA log decays (B, H, L, d_k) and RetNet log decays (H,), all requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(batch, heads, length, d_k, generator=gen, dtype=dtype) for _ in range(2))
    v = torch.randn(batch, heads, length, d_v, generator=gen, dtype=dtype)
    g = -strength * torch.rand(batch, heads, length, d_k, generator=gen, dtype=dtype)
    lam = -strength * torch.rand(heads, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (q, k, v, g, lam)]


# --------------------------------------------------------------------------- RetNet


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 19, 64])
def test_retention_chunked_matches_naive(chunk_size):
    q, k, v, _, lam = inputs()
    assert_same(retention_chunked(q, k, v, lam, chunk_size=chunk_size), retention_naive(q, k, v, lam), [q, k, v, lam], 1e-10)


@pytest.mark.parametrize("shape", [(1, 1, 33, 8, 8), (1, 8, 20, 3, 5)])
def test_retention_shapes(shape):
    q, k, v, _, lam = inputs(*shape)
    assert_same(retention_chunked(q, k, v, lam, chunk_size=8), retention_naive(q, k, v, lam), [q, k, v, lam], 1e-10)


def test_retention_step_and_state():
    q, k, v, _, lam = inputs(length=23)
    ref = retention_naive(q, k, v, lam)
    first, state = retention_chunked(q[:, :, :10], k[:, :, :10], v[:, :, :10], lam, chunk_size=4, return_state=True)
    second, final = retention_chunked(q[:, :, 10:], k[:, :, 10:], v[:, :, 10:], lam, chunk_size=8, initial_state=state, return_state=True)
    torch.testing.assert_close(torch.cat([first, second], 2), ref, atol=1e-10, rtol=1e-10)
    s = torch.zeros(2, 3, 5, 4, dtype=torch.float64)
    outs = []
    for t in range(23):
        o_t, s = retention_step(q[:, :, t], k[:, :, t], v[:, :, t], s, lam)
        outs.append(o_t)
    assert_same(torch.stack(outs, 2), ref, [q, k, v, lam], 1e-10)
    torch.testing.assert_close(s, final, atol=1e-10, rtol=1e-10)


def test_retention_strong_decay_float32():
    q, k, v, _, _ = (t.detach().float() for t in inputs(1, 2, 300, 16, 16))
    lam = torch.tensor([-30.0, -0.01])
    out = retention_chunked(q, k, v, lam, chunk_size=128)
    ref = retention_naive(q.double(), k.double(), v.double(), lam.double())
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_retention_gradcheck():
    q, k, v, _, lam = inputs(1, 2, 9, 3, 2)
    s0 = torch.randn(1, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    fn = lambda *a: retention_chunked(*a[:4], chunk_size=4, initial_state=a[4], return_state=True)
    assert torch.autograd.gradcheck(fn, (q, k, v, lam, s0))


# --------------------------------------------------------------------------- GLA


@pytest.mark.parametrize("chunk_size,sub_chunk", [(1, None), (4, 2), (7, None), (16, 4), (16, 8), (64, 8), (64, 64)])
def test_gla_chunked_matches_naive(chunk_size, sub_chunk):
    q, k, v, g, _ = inputs(length=37)
    fast = gla_chunked(q, k, v, g, chunk_size=chunk_size, sub_chunk=sub_chunk)
    assert_same(fast, gla_naive(q, k, v, g), [q, k, v, g], 1e-10)


@pytest.mark.parametrize("shape", [(1, 1, 33, 8, 8), (1, 8, 20, 3, 5), (2, 1, 1, 2, 2)])
def test_gla_shapes(shape):
    q, k, v, g, _ = inputs(*shape)
    assert_same(gla_chunked(q, k, v, g, chunk_size=16), gla_naive(q, k, v, g), [q, k, v, g], 1e-10)


def test_gla_recurrent_and_state():
    q, k, v, g, _ = inputs(length=26)
    ref = gla_naive(q, k, v, g)
    rec, rec_state = gla_recurrent(q, k, v, g)
    assert_same(rec, ref, [q, k, v, g], 1e-10)
    first, state = gla_chunked(q[:, :, :9], k[:, :, :9], v[:, :, :9], g[:, :, :9], chunk_size=8, return_state=True)
    second, final = gla_chunked(q[:, :, 9:], k[:, :, 9:], v[:, :, 9:], g[:, :, 9:], chunk_size=16, initial_state=state, return_state=True)
    torch.testing.assert_close(torch.cat([first, second], 2), ref, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(final, rec_state, atol=1e-10, rtol=1e-10)
    o_t, _ = gla_step(q[:, :, 9], k[:, :, 9], v[:, :, 9], g[:, :, 9], state)
    torch.testing.assert_close(o_t, ref[:, :, 9], atol=1e-10, rtol=1e-10)


def test_gla_strong_decay_long_chunks_float32():
    """log decays down to −20 per step over chunks of 128: float32 stays finite and accurate."""
    q, k, v, _, _ = (t.detach().float() for t in inputs(1, 2, 300, 16, 16))
    g = -20.0 * torch.rand(1, 2, 300, 16, generator=torch.Generator().manual_seed(3))
    g[:, :, :, :4] = -1e-3  # and some nearly-undecayed dimensions beside them
    ref = gla_naive(q.double(), k.double(), v.double(), g.double())
    for chunk, sub in [(128, 8), (128, 128), (64, 16)]:
        inputs32 = [t.clone().requires_grad_() for t in (q, k, v, g)]
        out = gla_chunked(*inputs32, chunk_size=chunk, sub_chunk=sub)
        assert torch.isfinite(out).all()
        # the cumulative log decay reaches −2500 inside a chunk: float32 keeps ~|b|·2⁻²⁴ of it
        assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()
        out.sum().backward()
        assert all(torch.isfinite(t.grad).all() for t in inputs32)


def test_gla_gradcheck():
    q, k, v, g, _ = inputs(1, 2, 12, 3, 2)
    s0 = torch.randn(1, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    fn = lambda *a: gla_chunked(*a[:4], chunk_size=8, sub_chunk=4, initial_state=a[4], return_state=True)
    assert torch.autograd.gradcheck(fn, (q, k, v, g, s0))


@pytest.mark.parametrize("form", ["retention", "gla"])
def test_causality(form):
    q, k, v, g, lam = (t.detach() for t in inputs(length=24))
    run = (lambda q, k, v, g: retention_chunked(q, k, v, lam, chunk_size=5)) if form == "retention" else (
        lambda q, k, v, g: gla_chunked(q, k, v, g, chunk_size=8, sub_chunk=4))
    base = run(q, k, v, g)
    t = 13
    for i in range(4 if form == "gla" else 3):
        args = [q, k, v, g]
        args[i] = args[i].clone()
        args[i][:, :, t] -= 3.0
        out = run(*args)
        torch.testing.assert_close(out[:, :, :t], base[:, :, :t], atol=1e-12, rtol=0)
        assert not torch.allclose(out[:, :, t:], base[:, :, t:])


def test_errors():
    q, k, v, g, lam = (t.detach() for t in inputs())
    with pytest.raises(ValueError, match="log_decay must be \\(heads,\\)"):
        retention_chunked(q, k, v, g)
    with pytest.raises(ValueError, match="≤ 0"):
        retention_chunked(q, k, v, -lam)
    with pytest.raises(ValueError, match="like q"):
        gla_chunked(q, k, v, lam)
    with pytest.raises(ValueError, match="GLA log_decay must be ≤ 0"):
        gla_chunked(q, k, v, -g)
    with pytest.raises(ValueError, match="sub_chunk"):
        gla_chunked(q, k, v, g, chunk_size=12, sub_chunk=5)


@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 2),
    heads=st.integers(1, 3),
    length=st.integers(1, 40),
    d_k=st.integers(1, 5),
    d_v=st.integers(1, 5),
    chunk_pow=st.integers(0, 5),
    strength=st.sampled_from([0.01, 1.0, 10.0]),
)
def test_property_decayed_forms_equal_naive(batch, heads, length, d_k, d_v, chunk_pow, strength):
    q, k, v, g, lam = inputs(batch, heads, length, d_k, d_v, seed=length + 3 * d_k, strength=strength)
    chunk = 2**chunk_pow
    assert_same(gla_chunked(q, k, v, g, chunk_size=chunk), gla_naive(q, k, v, g), [q, k, v, g], 1e-9)
    assert_same(retention_chunked(q, k, v, lam, chunk_size=chunk), retention_naive(q, k, v, lam), [q, k, v, lam], 1e-9)
