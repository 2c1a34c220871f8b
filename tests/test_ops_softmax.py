"""Causal softmax attention: SDPA against the masked quadratic product and the KV-cache step."""

from __future__ import annotations

import pytest
import torch

from samovar.ops.softmax import KVCache, softmax_attention, softmax_attention_naive, softmax_attention_step

F64 = torch.float64


def qkv(batch=2, heads=3, length=21, d_k=4, d_v=5, dtype=F64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(batch, heads, length, d_k), (batch, heads, length, d_k), (batch, heads, length, d_v)]
    return [torch.randn(s, generator=gen, dtype=F64).to(dtype).requires_grad_() for s in shapes]


def values_and_grads(fn, inputs, seed=1):
    out = fn(*inputs)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=F64).to(out.dtype)
    return out, torch.autograd.grad((out * weight).sum(), inputs)


@pytest.mark.parametrize("batch,length", [(1, 1), (2, 21), (1, 70)])
def test_sdpa_matches_naive_float64(batch, length):
    inputs = qkv(batch=batch, length=length)
    fast, ref = values_and_grads(softmax_attention, inputs), values_and_grads(softmax_attention_naive, inputs)
    torch.testing.assert_close(fast[0], ref[0], rtol=1e-10, atol=1e-10)
    for a, b in zip(fast[1], ref[1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_sdpa_float32_matches_float64():
    inputs64 = qkv(length=200, d_k=8, d_v=8)
    inputs32 = [t.detach().float().requires_grad_() for t in inputs64]
    fast, ref = values_and_grads(softmax_attention, inputs32), values_and_grads(softmax_attention_naive, inputs64)
    torch.testing.assert_close(fast[0].double(), ref[0], rtol=1e-5, atol=1e-5)
    for a, b in zip(fast[1], ref[1]):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4)


def test_kv_cache_step_matches_parallel_and_grows():
    q, k, v = qkv(length=70)  # more than the initial cache capacity
    out = softmax_attention(q, k, v)
    cache = KVCache.empty(2, 3, 4, 5, capacity=4, dtype=F64)
    steps = []
    for t in range(70):
        o_t, cache = softmax_attention_step(q[:, :, t], k[:, :, t], v[:, :, t], cache)
        steps.append(o_t)
    assert cache.length == 70 and cache.keys.shape[2] >= 70
    stepped = torch.stack(steps, dim=2)
    torch.testing.assert_close(stepped, out, rtol=1e-10, atol=1e-10)
    # gradients flow through the cache too
    grads_step = torch.autograd.grad(stepped.square().sum(), (q, k, v))
    grads_par = torch.autograd.grad(out.square().sum(), (q, k, v))
    for a, b in zip(grads_step, grads_par):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_kv_cache_step_without_grad():
    q, k, v = (t.detach() for t in qkv(length=9))
    cache = KVCache.empty(2, 3, 4, 5, capacity=2, dtype=F64)
    with torch.no_grad():
        outs = []
        for t in range(9):
            o_t, cache = softmax_attention_step(q[:, :, t], k[:, :, t], v[:, :, t], cache)
            outs.append(o_t)
    torch.testing.assert_close(torch.stack(outs, 2), softmax_attention(q, k, v), rtol=1e-12, atol=1e-12)


def test_causal():
    q, k, v = (t.detach() for t in qkv())
    out = softmax_attention(q, k, v)
    for tensor in (q, k, v):
        bumped = tensor.clone()
        bumped[:, :, 12] += 1.0
        args = [bumped if x is tensor else x for x in (q, k, v)]
        out2 = softmax_attention(*args)
        torch.testing.assert_close(out2[:, :, :12], out[:, :, :12], rtol=0, atol=0)
        assert not torch.allclose(out2[:, :, 12:], out[:, :, 12:])


def test_large_logits_float32_are_finite():
    q, k, v = (t.detach().float() * 30 for t in qkv(length=500, d_k=8, d_v=8))
    out = softmax_attention(q, k, v)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), softmax_attention_naive(q.double(), k.double(), v.double()), rtol=1e-3, atol=1e-3)


def test_bad_shapes_are_rejected():
    q, k, v = (t.detach() for t in qkv())
    with pytest.raises(ValueError, match="expected q, k"):
        softmax_attention(q, k[:, :, :-1], v)
    with pytest.raises(ValueError, match="expected q, k"):
        softmax_attention_naive(q[0], k[0], v[0])
