"""Selective scan (Mamba) and S4D: fast forms against the step-by-step references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from samovar.ops.ssm import (
    auto_chunk_size,
    direct_causal_conv,
    fft_causal_conv,
    s4d_fft,
    s4d_kernel,
    s4d_kernel_naive,
    s4d_lin_init,
    s4d_naive,
    selective_scan_chunked,
    selective_scan_naive,
    selective_scan_step,
)

F64 = torch.float64


def selective_inputs(batch=2, length=19, d_inner=5, d_state=4, dtype=F64, seed=0, delta_scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, length, d_inner, generator=gen, dtype=dtype)
    delta = F.softplus(torch.randn(batch, length, d_inner, generator=gen, dtype=dtype)) * delta_scale
    A = -torch.exp(torch.randn(d_inner, d_state, generator=gen, dtype=dtype))
    Bm = torch.randn(batch, length, d_state, generator=gen, dtype=dtype)
    Cm = torch.randn(batch, length, d_state, generator=gen, dtype=dtype)
    D = torch.randn(d_inner, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (u, delta, A, Bm, Cm, D)]


def values_and_grads(fn, inputs, seed=1):
    out = fn(*inputs)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=F64).to(out.dtype)
    grads = torch.autograd.grad((out * weight).sum(), inputs)
    return out, grads


def assert_same(a, b, tol):
    out_a, grads_a = a
    out_b, grads_b = b
    torch.testing.assert_close(out_a, out_b, rtol=tol, atol=tol)
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, rtol=tol, atol=tol)


# ---- selective scan ---------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("batch", [1, 2])
def test_chunked_matches_naive_float64(chunk_size, batch):
    """Chunks 1, 2, 3 also give segments of several chunks (states saved every 3-4 positions)."""
    inputs = selective_inputs(batch=batch, length=19)  # 19: not a multiple of any chunk > 1
    ref = values_and_grads(selective_scan_naive, inputs)
    fast = values_and_grads(lambda *a: selective_scan_chunked(*a, chunk_size=chunk_size), inputs)
    assert_same(fast, ref, 1e-10)


def test_chunked_float32_matches_float64_reference():
    inputs64 = selective_inputs(length=50, d_inner=8, d_state=16)
    inputs32 = [t.detach().float().requires_grad_() for t in inputs64]
    ref = values_and_grads(selective_scan_naive, inputs64)
    fast = values_and_grads(lambda *a: selective_scan_chunked(*a, chunk_size=16), inputs32)
    torch.testing.assert_close(fast[0].double(), ref[0], rtol=1e-4, atol=1e-4)
    for g32, g64 in zip(fast[1], ref[1]):
        torch.testing.assert_close(g32.double(), g64, rtol=1e-4, atol=1e-4)


def test_no_grad_path_equals_checkpointed_path():
    inputs = selective_inputs()
    with torch.no_grad():
        y_plain = selective_scan_chunked(*inputs, chunk_size=4)
    y_ckpt = selective_scan_chunked(*inputs, chunk_size=4)
    torch.testing.assert_close(y_plain, y_ckpt.detach(), rtol=0, atol=0)


def test_carried_state_splits_the_sequence():
    u, delta, A, Bm, Cm, D = selective_inputs(length=21)
    y_full, h_full = selective_scan_chunked(u, delta, A, Bm, Cm, D, chunk_size=4, return_state=True)
    y1, h1 = selective_scan_chunked(u[:, :9], delta[:, :9], A, Bm[:, :9], Cm[:, :9], D, chunk_size=4, return_state=True)
    y2, h2 = selective_scan_chunked(u[:, 9:], delta[:, 9:], A, Bm[:, 9:], Cm[:, 9:], D, chunk_size=5, h0=h1, return_state=True)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y_full, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h2, h_full, rtol=1e-12, atol=1e-12)
    _, h_naive = selective_scan_naive(u, delta, A, Bm, Cm, D, return_state=True)
    torch.testing.assert_close(h_naive, h_full, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk_size", [1, 4, 32])
def test_gradients_through_initial_and_final_state(chunk_size):
    inputs = selective_inputs(length=13)
    h0 = torch.randn(2, 5, 4, dtype=F64, requires_grad=True)

    def run(scan, **kw):
        def fn(*args):
            y, h = scan(*args[:-1], h0=args[-1], return_state=True, **kw)
            return torch.cat([y.flatten(1), h.flatten(1)], dim=1)
        return fn

    ref = values_and_grads(run(selective_scan_naive), [*inputs, h0])
    fast = values_and_grads(run(selective_scan_chunked, chunk_size=chunk_size), [*inputs, h0])
    assert_same(fast, ref, 1e-10)


def test_gradients_when_only_some_inputs_require_them():
    u, delta, A, Bm, Cm, D = [t.detach() for t in selective_inputs()]
    u.requires_grad_()
    delta.requires_grad_()
    grads = torch.autograd.grad(selective_scan_chunked(u, delta, A, Bm, Cm, D, chunk_size=4).square().sum(), (u, delta))
    ref = torch.autograd.grad(selective_scan_naive(u, delta, A, Bm, Cm, D).square().sum(), (u, delta))
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_step_matches_chunked():
    u, delta, A, Bm, Cm, D = selective_inputs(length=13)
    y = selective_scan_chunked(u, delta, A, Bm, Cm, D, chunk_size=8)
    h = u.new_zeros(2, 5, 4)
    for t in range(13):
        y_t, h = selective_scan_step(u[:, t], delta[:, t], A, Bm[:, t], Cm[:, t], D, h)
        torch.testing.assert_close(y_t, y[:, t], rtol=1e-12, atol=1e-12)


def test_selective_scan_is_causal():
    u, delta, A, Bm, Cm, D = [t.detach() for t in selective_inputs(length=17)]
    y = selective_scan_chunked(u, delta, A, Bm, Cm, D, chunk_size=4)
    t = 9
    for tensor in (u, delta, Bm, Cm):
        bumped = tensor.clone()
        bumped[:, t] += 1.0
        args = [bumped if x is tensor else x for x in (u, delta, A, Bm, Cm, D)]
        y2 = selective_scan_chunked(*args, chunk_size=4)
        torch.testing.assert_close(y2[:, :t], y[:, :t], rtol=0, atol=0)
        assert not torch.allclose(y2[:, t:], y[:, t:])


def test_strong_decay_long_sequence_float32_is_finite_and_accurate():
    """3000 positions, float32 fast kernel against the step-by-step reference in float64 (0.16 s
    forward, 1.7 s with its backward on one thread), values and gradients. Measured (benchmarks/results/mixers_numerics): the largest
    error is 1.4e-7 of the largest |y| (1.9e-4 at 1362) and at most 2.5e-7 of each input's
    largest gradient (float32's eps is 1.2e-7); the bounds, 1e-6 and 2e-6 of those scales,
    leave a factor of about 7. The fast kernel in float64 is within 1.7e-16 of that |y| (2.3e-13)."""
    u, delta, A, Bm, Cm, D = [t.detach() for t in selective_inputs(length=3000, d_inner=4, d_state=8)]
    delta = delta * 30.0  # delta * A down to about -1e3 per step: exp(-delta A) would overflow
    A = A * 20.0
    args32 = [t.float().requires_grad_() for t in (u, delta, A, Bm, Cm, D)]
    y = selective_scan_chunked(*args32, chunk_size=64)
    y.square().mean().backward()
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(t.grad).all() for t in args32)
    args64 = [t.clone().requires_grad_() for t in (u, delta, A, Bm, Cm, D)]
    ref = selective_scan_naive(*args64)
    ref.square().mean().backward()
    scale = ref.abs().max().item()
    torch.testing.assert_close(y.detach().double(), ref.detach(), rtol=0, atol=1e-6 * scale)
    for fast, exact in zip(args32, args64):
        torch.testing.assert_close(fast.grad.double(), exact.grad, rtol=0, atol=2e-6 * exact.grad.abs().max().item())
    fast64 = selective_scan_chunked(u, delta, A, Bm, Cm, D, chunk_size=64)
    torch.testing.assert_close(fast64, ref.detach(), rtol=0, atol=1e-14 * scale)


def test_memory_is_bounded_by_the_chunk():
    """Autograd keeps the inputs and O(sqrt(L)) states, not the (B, L, D, N) states, even with chunk 2."""
    batch, length, d_inner, d_state = 2, 512, 32, 64
    inputs = selective_inputs(batch=batch, length=length, d_inner=d_inner, d_state=d_state, dtype=torch.float32)
    saved = {}  # storage address -> bytes (slices of one input share a storage)

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = selective_scan_chunked(*inputs, chunk_size=2)
    full_states_bytes = batch * length * d_inner * d_state * 4
    assert sum(saved.values()) < full_states_bytes / 4, (sum(saved.values()), full_states_bytes)
    y.sum().backward()  # and the recomputed backward still works
    assert torch.isfinite(inputs[0].grad).all()


def test_auto_chunk_size_is_a_cache_sized_power_of_two():
    assert auto_chunk_size(56, 512, 16) == 2 and auto_chunk_size(8, 128, 16) == 8
    assert auto_chunk_size(1, 4, 4) == 64  # capped
    inputs = selective_inputs(length=19)
    torch.testing.assert_close(selective_scan_chunked(*inputs), selective_scan_naive(*inputs), rtol=1e-12, atol=1e-12)


def test_thread_setting_is_restored_and_does_not_change_results():
    inputs = selective_inputs(length=11)
    before = torch.get_num_threads()
    y_auto = selective_scan_chunked(*inputs, chunk_size=4)
    y_auto.sum().backward()
    assert torch.get_num_threads() == before
    y_kept = selective_scan_chunked(*[t.detach() for t in inputs], chunk_size=4, threads=before)
    torch.testing.assert_close(y_kept, y_auto.detach(), rtol=0, atol=0)


def test_selective_scan_rejects_bad_shapes():
    u, delta, A, Bm, Cm, D = [t.detach() for t in selective_inputs()]
    with pytest.raises(ValueError, match="delta"):
        selective_scan_chunked(u, delta[:, :-1], A, Bm, Cm, D)
    with pytest.raises(ValueError, match="A must be"):
        selective_scan_chunked(u, delta, A[:-1], Bm, Cm, D)
    with pytest.raises(ValueError, match="Cm"):
        selective_scan_chunked(u, delta, A, Bm, Cm[..., :-1], D)
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan_chunked(u, delta, A, Bm, Cm, D, chunk_size=0)


# ---- S4D ------------------------------------------------------------------------------------


def s4d_inputs(batch=2, length=23, channels=3, d_state=8, dtype=F64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    cdtype = torch.complex128 if dtype == F64 else torch.complex64
    log_neg_re, imag = s4d_lin_init(channels, d_state)
    log_dt = (torch.rand(channels, generator=gen) * 4 - 7).to(dtype)  # dt in [1e-3, 5e-2]
    A = torch.complex(-torch.exp(log_neg_re), imag).to(cdtype)
    C = torch.randn(channels, d_state // 2, generator=gen, dtype=cdtype)
    u = torch.randn(batch, length, channels, generator=gen, dtype=dtype)
    D = torch.randn(channels, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (u, log_dt, A, C, D)]


def test_fft_conv_matches_direct_conv():
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(2, 31, 3, generator=gen, dtype=F64, requires_grad=True)
    K = torch.randn(3, 31, generator=gen, dtype=F64, requires_grad=True)
    assert_same(values_and_grads(fft_causal_conv, [u, K]), values_and_grads(direct_causal_conv, [u, K]), 1e-10)


@pytest.mark.parametrize("batch,length", [(1, 1), (2, 23), (1, 64)])
def test_s4d_fft_matches_recurrence(batch, length):
    inputs = s4d_inputs(batch=batch, length=length)
    assert_same(values_and_grads(s4d_fft, inputs), values_and_grads(s4d_naive, inputs), 1e-9)


@pytest.mark.parametrize("length", [1, 2, 17, 64, 100])
def test_blocked_kernel_matches_full_vandermonde(length):
    _, log_dt, A, C, _ = s4d_inputs(length=length)
    fast = values_and_grads(lambda *a: s4d_kernel(*a, length), [log_dt, A, C])
    ref = values_and_grads(lambda *a: s4d_kernel_naive(*a, length), [log_dt, A, C])
    assert_same(fast, ref, 1e-10)


def test_s4d_kernel_is_the_impulse_response():
    u, log_dt, A, C, _ = [t.detach() for t in s4d_inputs(batch=1, length=40)]
    impulse = torch.zeros(1, 40, 3, dtype=F64)
    impulse[:, 0] = 1.0
    response = s4d_naive(impulse, log_dt, A, C)
    torch.testing.assert_close(response[0].T, s4d_kernel(log_dt, A, C, 40), rtol=1e-12, atol=1e-12)


def test_s4d_float32_long_sequence():
    """4096 positions: the float32 FFT form against the complex recurrence in float64 (0.4 s on one
    thread). Measured: largest error 3.0e-6 at a largest |y| of 5.2 (5.8e-7 of it); the bound, 4e-6
    of the largest |y|, leaves a factor of about 7. The FFT form in float64 is within 3e-15 of it."""
    u, log_dt, A, C, D = [t.detach() for t in s4d_inputs(batch=1, length=4096)]
    ref = s4d_naive(u, log_dt, A, C, D)
    scale = ref.abs().max().item()
    y32 = s4d_fft(u.float(), log_dt.float(), A.to(torch.complex64), C.to(torch.complex64), D.float())
    assert torch.isfinite(y32).all()
    torch.testing.assert_close(y32.double(), ref, rtol=0, atol=4e-6 * scale)
    torch.testing.assert_close(s4d_fft(u, log_dt, A, C, D), ref, rtol=0, atol=1e-13 * scale)


def test_s4d_is_causal():
    u, log_dt, A, C, D = [t.detach() for t in s4d_inputs(length=30)]
    y = s4d_fft(u, log_dt, A, C, D)
    u2 = u.clone()
    u2[:, 17] += 1.0
    y2 = s4d_fft(u2, log_dt, A, C, D)
    torch.testing.assert_close(y2[:, :17], y[:, :17], rtol=0, atol=1e-12)
    assert not torch.allclose(y2[:, 17:], y[:, 17:])


def test_s4d_lin_init_values_and_odd_state():
    log_neg_re, imag = s4d_lin_init(2, 6)
    torch.testing.assert_close(-torch.exp(log_neg_re), torch.full((2, 3), -0.5))
    torch.testing.assert_close(imag[1], torch.pi * torch.arange(3.0))
    with pytest.raises(ValueError, match="even"):
        s4d_lin_init(2, 5)
