"""minGRU / minLSTM: the log-space parallel scan against the linear-space recurrence."""

from __future__ import annotations

import pytest
import torch

from samovar.ops.minrnn import (
    g_activation,
    log_g_activation,
    log_space_scan,
    mingru_naive,
    mingru_parallel,
    mingru_step,
    minlstm_naive,
    minlstm_parallel,
    minlstm_step,
)

F64 = torch.float64


def rand(*shape, seed=0, dtype=F64, scale=1.0):
    return (torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64) * scale).to(dtype).requires_grad_()


def values_and_grads(fn, inputs, seed=1):
    out = fn(*inputs)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=F64).to(out.dtype)
    return out, torch.autograd.grad((out * weight).sum(), inputs)


def assert_same(a, b, tol):
    torch.testing.assert_close(a[0], b[0], rtol=tol, atol=tol)
    for ga, gb in zip(a[1], b[1]):
        torch.testing.assert_close(ga, gb, rtol=tol, atol=tol)


def test_g_activation_is_positive_continuous_and_log_matches():
    x = torch.linspace(-30, 30, 1001, dtype=F64)
    g = g_activation(x)
    assert (g > 0).all()
    torch.testing.assert_close(g_activation(torch.tensor([0.0, -1e-12], dtype=F64)), torch.tensor([0.5, 0.5], dtype=F64))
    torch.testing.assert_close(log_g_activation(x), torch.log(g))
    x.requires_grad_()
    log_g_activation(x).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("chunk_size", [1, 5, 100])
@pytest.mark.parametrize("with_h0", [False, True])
def test_log_space_scan_matches_linear_recurrence(chunk_size, with_h0):
    log_a = -torch.rand(2, 17, 3, generator=torch.Generator().manual_seed(0), dtype=F64) * 3
    log_b = rand(2, 17, 3, seed=1)
    h0 = torch.rand(2, 3, dtype=F64) + 0.1 if with_h0 else None
    h = log_space_scan(log_a, log_b, None if h0 is None else torch.log(h0), chunk_size=chunk_size)
    ref = torch.zeros(2, 3, dtype=F64) if h0 is None else h0
    for t in range(17):
        ref = torch.exp(log_a[:, t]) * ref + torch.exp(log_b[:, t])
        torch.testing.assert_close(h[:, t], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk_size", [1, 4, 64])
@pytest.mark.parametrize("batch", [1, 3])
def test_mingru_parallel_matches_naive(chunk_size, batch):
    inputs = [rand(batch, 19, 4, seed=0, scale=2.0), rand(batch, 19, 4, seed=1, scale=2.0)]
    fast = values_and_grads(lambda k, hp: mingru_parallel(k, hp, chunk_size=chunk_size), inputs)
    assert_same(fast, values_and_grads(mingru_naive, inputs), 1e-10)


@pytest.mark.parametrize("chunk_size", [1, 4, 64])
@pytest.mark.parametrize("batch", [1, 3])
def test_minlstm_parallel_matches_naive(chunk_size, batch):
    inputs = [rand(batch, 19, 4, seed=s, scale=2.0) for s in range(3)]
    fast = values_and_grads(lambda kf, ki, hp: minlstm_parallel(kf, ki, hp, chunk_size=chunk_size), inputs)
    assert_same(fast, values_and_grads(minlstm_naive, inputs), 1e-10)


def test_initial_state_and_step():
    k, hp = rand(2, 11, 4, seed=0).detach(), rand(2, 11, 4, seed=1).detach()
    kf = rand(2, 11, 4, seed=2).detach()
    h0 = torch.rand(2, 4, dtype=F64) + 0.5
    gru = mingru_parallel(k, hp, h0=h0, chunk_size=3)
    lstm = minlstm_parallel(kf, k, hp, h0=h0, chunk_size=3)
    h_gru = h_lstm = h0
    for t in range(11):
        h_gru = mingru_step(k[:, t], hp[:, t], h_gru)
        h_lstm = minlstm_step(kf[:, t], k[:, t], hp[:, t], h_lstm)
        torch.testing.assert_close(gru[:, t], h_gru, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(lstm[:, t], h_lstm, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="non-negative"):
        mingru_parallel(k, hp, h0=-h0)


def test_float32_matches_float64():
    """Stated float32 tolerance: relative 1e-4 (rounding grows with the chunk's cumulative log-decay)."""
    inputs64 = [rand(2, 300, 8, seed=s, scale=3.0) for s in range(3)]
    inputs32 = [t.detach().float().requires_grad_() for t in inputs64]
    for fn in (mingru_parallel, minlstm_parallel):
        n = 2 if fn is mingru_parallel else 3
        out64, g64 = values_and_grads(fn, inputs64[:n])
        out32, g32 = values_and_grads(fn, inputs32[:n])
        torch.testing.assert_close(out32.double(), out64, rtol=1e-4, atol=1e-5)
        for a, b in zip(g32, g64):
            torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4 * b.abs().max().item())


def test_long_sequence_float32_precision_needs_chunks():
    """Slow decay over 20k steps: the cumulative log-decay reaches ~-1e4; restarting it every
    chunk keeps float32 accurate, one long cumsum does not."""
    length = 20000
    k = torch.full((1, length, 2), -6.0, dtype=F64)  # z ~ 2.5e-3: log(1 - z) ~ -2.5e-3 ... per step
    k[..., 1] = -1.0  # ... and a faster-decaying channel: cumulative log-decay ~ -6e3
    hp = torch.randn(1, length, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    ref = mingru_parallel(k, hp, chunk_size=256)
    chunked = mingru_parallel(k.float(), hp.float(), chunk_size=256)
    assert torch.isfinite(chunked).all()
    torch.testing.assert_close(chunked.double(), ref, rtol=1e-4, atol=1e-5)
    one_chunk = mingru_parallel(k.float(), hp.float(), chunk_size=length)
    assert (one_chunk.double() - ref).abs().max() > (chunked.double() - ref).abs().max()


def test_mingru_and_minlstm_are_causal():
    k, hp, kf = (rand(2, 15, 3, seed=s).detach() for s in range(3))
    for fn, args in ((mingru_parallel, (k, hp)), (minlstm_parallel, (kf, k, hp))):
        y = fn(*args, chunk_size=4)
        for i in range(len(args)):
            bumped = list(args)
            bumped[i] = args[i].clone()
            bumped[i][:, 8] += 1.0
            y2 = fn(*bumped, chunk_size=4)
            torch.testing.assert_close(y2[:, :8], y[:, :8], rtol=0, atol=0)
            assert not torch.allclose(y2[:, 8:], y[:, 8:])


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="log_a and log_b"):
        log_space_scan(torch.zeros(1, 3, 2), torch.zeros(1, 4, 2))
    with pytest.raises(ValueError, match="chunk_size"):
        log_space_scan(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), chunk_size=0)
