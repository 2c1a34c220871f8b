"""Decayed linear attention: RetNet (a fixed scalar decay per head) and GLA / GateLoop
(a data-dependent decay per key dimension).

    S_t = diag(a_t) S_{t-1} + k_t v_tᵀ,    o_t = q_t · S_t,    a_t = exp(g_t) ∈ (0, 1]

Shapes: ``q, k: (batch, heads, length, d_k)``, ``v: (batch, heads, length, d_v)``, output
``(batch, heads, length, d_v)``, state ``S: (batch, heads, d_k, d_v)``. Decays are given as
logs (``g ≤ 0``): RetNet ``log_decay: (heads,)``; GLA ``log_decay: (batch, heads, length, d_k)``.
Unrolled, o_t = Σ_{s≤t} (q_t ⊙ exp(b_t − b_s)) · k_s v_s with b_t = Σ_{i≤t} g_i.

Numerics. Inside a chunk only exponents that are ≤ 0 are ever exponentiated: q_t exp(b_t − b_start),
k_s exp(b_end − b_s), and for GLA's intra-chunk scores a reference point between the two
sub-chunks (off-diagonal sub-chunks: exp(b_t − r)·exp(r − b_s), both ≤ 1) or the pairwise
difference itself (diagonal sub-chunks, in log space). Strong decays therefore underflow to
exact zeros instead of overflowing, at any chunk size, in float32.

Forms (for each of ``retention_*`` and ``gla_*``): ``*_naive`` (masked quadratic product with
the pairwise decays), ``*_chunked`` (chunkwise-parallel: matmuls inside a chunk, a state
carried across chunks) and ``*_step`` (one position from the state).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import positive_int
from .linear_attention import check_qkv, empty_output, start_state

# --------------------------------------------------------------------------- checks


def _check_retention_decay(q: Tensor, log_decay: Tensor) -> Tensor:
    if log_decay.shape != (q.shape[1],):
        raise ValueError(f"RetNet log_decay must be (heads,) = ({q.shape[1]},), got {tuple(log_decay.shape)}")
    if (log_decay > 0).any():
        raise ValueError("log_decay must be ≤ 0 (a decay factor in (0, 1]); got positive entries")
    return log_decay.to(q.dtype)


def _check_gla_decay(q: Tensor, log_decay: Tensor) -> None:
    if log_decay.shape != q.shape:
        raise ValueError(
            f"GLA log_decay must be (batch, heads, length, d_k) = {tuple(q.shape)} like q, got {tuple(log_decay.shape)}"
        )
    if (log_decay > 0).any():
        raise ValueError("GLA log_decay must be ≤ 0 (decays in (0, 1]), e.g. F.logsigmoid(gate_logits); got positive entries")


def _chunked(x: Tensor, chunk: int) -> Tensor:
    """(B, H, L, d) -> (B, H, N, C, d), zero-padding L up to a multiple of C (zero log decay = no decay)."""
    batch, heads, length, dim = x.shape
    pad = (-length) % chunk
    if pad:
        x = F.pad(x, (0, 0, 0, pad))
    return x.reshape(batch, heads, (length + pad) // chunk, chunk, dim)


def default_decay_chunk_size(d_k: int) -> int:
    """Chunk size for RetNet and GLA on CPU (measured fwd+bwd at d_k = 8 and 32: 16 is fastest;
    GLA's elementwise intra-chunk work grows with C·d_k)."""
    return 16 if d_k <= 32 else 32


class _DecayedStateScan(torch.autograd.Function):
    """Chunk-start states of S_{n+1} = decay_n ⊙ S_n + U_n with S_0 = s0.

    decay: (B, H, N, d_k, 1) or broadcastable (entries in [0, 1]), updates U: (B, H, N, d_k, d_v),
    s0: (B, H, d_k, d_v) -> (starts: (B, H, N, d_k, d_v), final: (B, H, d_k, d_v)).
    A loop over the N chunks (each step one elementwise multiply-add on a d_k×d_v state), run
    without autograd bookkeeping; the backward is the same scan run in reverse.
    """

    @staticmethod
    def forward(ctx, decay: Tensor, updates: Tensor, s0: Tensor):
        decay_full = decay.expand(*updates.shape[:3], decay.shape[-2], 1)
        starts = torch.empty_like(updates)
        state = s0
        for n in range(updates.shape[2]):
            starts[:, :, n] = state
            state = torch.addcmul(updates[:, :, n], decay_full[:, :, n], state)
        ctx.save_for_backward(decay, starts, state)
        return starts, state

    @staticmethod
    def backward(ctx, d_starts: Tensor, d_final: Tensor):
        decay, starts, final = ctx.saved_tensors
        decay_full = decay.expand(*starts.shape[:3], decay.shape[-2], 1)
        d_updates = torch.empty_like(starts)
        grad = d_final  # gradient wrt S_{n+1}
        for n in range(starts.shape[2] - 1, -1, -1):
            d_updates[:, :, n] = grad
            grad = torch.addcmul(d_starts[:, :, n], decay_full[:, :, n], grad)  # wrt S_n
        d_s0 = grad
        # d decay_n = Σ_{d_v} dS_{n+1} ⊙ S_n
        d_decay = (d_updates * starts).sum(-1, keepdim=True)
        if d_decay.shape != decay.shape:
            d_decay = d_decay.sum_to_size(decay.shape)
        return d_decay, d_updates, d_s0


def _decay_chunk_size(q: Tensor, chunk_size: int | None) -> int:
    """``chunk_size`` checked positive; None picks ``default_decay_chunk_size(d_k)``."""
    chunk_size = default_decay_chunk_size(q.shape[-1]) if chunk_size is None else chunk_size
    return positive_int("chunk_size", chunk_size)


def _decayed_chunks(qc, kc, vc, b, scores, s0, length, return_state):
    """Shared chunked skeleton. qc, kc: (B, H, N, C, d_k), vc: (B, H, N, C, d_v);
    b: cumulative log decay inside each chunk (≤ 0, non-increasing), broadcastable to qc;
    scores: intra-chunk decayed causal scores (B, H, N, C, C) or broadcastable; s0: (B, H, d_k, d_v).
    Returns o: (B, H, length, d_v) (the padding cut off), and the final state with ``return_state``."""
    b_end = b[..., -1:, :]  # decay over the whole chunk
    q_dec = qc * torch.exp(b)  # exp(b_t − b_start), b_start = 0
    k_dec = kc * torch.exp(b_end - b)  # exp(b_end − b_s) ≤ 1
    updates = k_dec.transpose(-1, -2) @ vc  # (B, H, N, d_k, d_v)
    chunk_decay = torch.exp(b_end).transpose(-1, -2)  # (…, d_k, 1)
    starts, final = _DecayedStateScan.apply(chunk_decay, updates, s0)
    out = scores @ vc + q_dec @ starts
    out = out.reshape(*qc.shape[:2], -1, vc.shape[-1])[:, :, :length]
    return (out, final) if return_state else out


# --------------------------------------------------------------------------- RetNet (scalar decay per head)


def retention_naive(q: Tensor, k: Tensor, v: Tensor, log_decay: Tensor) -> Tensor:
    """Reference: o = (q kᵀ ⊙ D) v with D_ts = exp((t − s)·log_decay_h) for s ≤ t, else 0.

    q, k: (B, H, L, d_k), v: (B, H, L, d_v), log_decay: (H,) ≤ 0 -> (B, H, L, d_v).
    """
    check_qkv(q, k, v)
    log_decay = _check_retention_decay(q, log_decay)
    pos = torch.arange(q.shape[2], device=q.device, dtype=q.dtype)
    lag = pos[:, None] - pos[None, :]
    exponent = (lag * log_decay[:, None, None]).masked_fill(lag < 0, float("-inf"))
    return ((q @ k.transpose(-1, -2)) * torch.exp(exponent)) @ v


def retention_step(q_t: Tensor, k_t: Tensor, v_t: Tensor, state: Tensor, log_decay: Tensor) -> tuple[Tensor, Tensor]:
    """One position: S ← γ_h S + k_t v_tᵀ, o_t = q_t · S.

    q_t, k_t: (B, H, d_k), v_t: (B, H, d_v), state: (B, H, d_k, d_v), log_decay: (H,)
    -> (o_t: (B, H, d_v), state).
    """
    decay = torch.exp(log_decay.to(state.dtype))[:, None, None]
    state = torch.addcmul(decay * state, k_t.unsqueeze(-1), v_t.unsqueeze(-2))
    return (q_t.unsqueeze(-2) @ state).squeeze(-2), state


def retention_chunked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    log_decay: Tensor,
    *,
    chunk_size: int | None = None,
    initial_state: Tensor | None = None,
    return_state: bool = False,
):
    """Chunkwise-parallel RetNet retention (same numbers as ``retention_naive``).

    q, k: (B, H, L, d_k), v: (B, H, L, d_v), log_decay: (H,) ≤ 0 -> o: (B, H, L, d_v)
    (and the final state (B, H, d_k, d_v) with ``return_state``); ``chunk_size=None`` picks
    ``default_decay_chunk_size(d_k)``. Inside a chunk: (q kᵀ ⊙ D) v with the fixed (H, C, C) decay mask; across chunks the
    state decays by γ^C per chunk.
    """
    check_qkv(q, k, v)
    log_decay = _check_retention_decay(q, log_decay)
    chunk_size = _decay_chunk_size(q, chunk_size)
    heads, length = q.shape[1:3]
    s0 = start_state(q, v, initial_state)
    if length == 0:
        return empty_output(v, s0, return_state)
    chunk = min(chunk_size, length)
    pos = torch.arange(chunk, device=q.device, dtype=q.dtype)
    lag = pos[:, None] - pos[None, :]
    exponent = (lag * log_decay[:, None, None]).masked_fill(lag < 0, float("-inf"))
    mask = torch.exp(exponent)[:, None]  # (H, 1, C, C) -> broadcast over (B, H, N, C, C)
    qc, kc, vc = _chunked(q, chunk), _chunked(k, chunk), _chunked(v, chunk)
    # b_t = cumulative log decay inside the chunk; padded positions (past the end) decay nothing
    steps = log_decay[:, None].expand(heads, length)
    b = torch.cumsum(_chunked(steps[None, :, :, None], chunk), dim=-2)  # (1, H, N, C, 1)
    scores = (qc @ kc.transpose(-1, -2)) * mask
    return _decayed_chunks(qc, kc, vc, b, scores, s0, length, return_state)


# --------------------------------------------------------------------------- GLA (data-dependent decay per key dim)


def gla_naive(q: Tensor, k: Tensor, v: Tensor, log_decay: Tensor) -> Tensor:
    """Reference: A_ts = Σ_j q_tj k_sj exp(b_tj − b_sj) for s ≤ t (b = cumsum of log_decay), o = A v.

    q, k, log_decay: (B, H, L, d_k), v: (B, H, L, d_v) -> (B, H, L, d_v). Memory O(L²·d_k).
    """
    check_qkv(q, k, v)
    _check_gla_decay(q, log_decay)
    b = torch.cumsum(log_decay, dim=2)
    length = q.shape[2]
    future = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)[..., None]
    exponent = (b[:, :, :, None, :] - b[:, :, None, :, :]).masked_fill(future, float("-inf"))
    scores = (q[:, :, :, None, :] * k[:, :, None, :, :] * torch.exp(exponent)).sum(-1)
    return scores @ v


def gla_step(q_t: Tensor, k_t: Tensor, v_t: Tensor, log_decay_t: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """One position: S ← diag(exp(g_t)) S + k_t v_tᵀ, o_t = q_t · S.

    q_t, k_t, log_decay_t: (B, H, d_k), v_t: (B, H, d_v), state: (B, H, d_k, d_v) -> (o_t, state).
    """
    state = torch.addcmul(torch.exp(log_decay_t).unsqueeze(-1) * state, k_t.unsqueeze(-1), v_t.unsqueeze(-2))
    return (q_t.unsqueeze(-2) @ state).squeeze(-2), state


def gla_recurrent(q, k, v, log_decay, initial_state=None):
    """Reference loop of ``gla_step`` over positions; returns (o, final state)."""
    check_qkv(q, k, v)
    _check_gla_decay(q, log_decay)
    state = start_state(q, v, initial_state)
    outs = []
    for t in range(q.shape[2]):
        o_t, state = gla_step(q[:, :, t], k[:, :, t], v[:, :, t], log_decay[:, :, t], state)
        outs.append(o_t)
    out = torch.stack(outs, 2) if outs else v.new_zeros(*v.shape)
    return out, state


class _GLAScores(torch.autograd.Function):
    """Intra-chunk decayed causal scores A_ts = Σ_j q_tj k_sj exp(b_tj − b_sj) (s ≤ t), stably.

    q, k, b: (M, C, d) with b the within-chunk cumulative log decay -> A: (M, C, C).
    The chunk is split into sub-chunks of ``sub`` positions. An off-diagonal block (rows in
    sub-chunk i, columns before it) factorises through r = b at the end of sub-chunk i − 1:
    (q_t exp(b_t − r)) · (k_s exp(r − b_s)), both exponents ≤ 0, one matmul. Diagonal blocks
    use the pairwise differences b_t − b_s ≤ 0 in log space, one lag at a time. Nothing is
    saved but q, k, b; the backward recomputes the factors.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, b: Tensor, sub: int):
        ctx.sub = sub
        ctx.save_for_backward(q, k, b)
        M, C, d = q.shape
        n = C // sub
        scores = q.new_zeros(M, C, C)
        for i in range(1, n):
            lo, hi = i * sub, (i + 1) * sub
            ref = b[:, lo - 1 : lo]
            q_hat = q[:, lo:hi] * torch.exp(b[:, lo:hi] - ref)
            k_hat = k[:, :lo] * torch.exp(ref - b[:, :lo])
            scores[:, lo:hi, :lo] = q_hat @ k_hat.transpose(1, 2)
        blocks = scores.view(M, n, sub, n, sub).diagonal(dim1=1, dim2=3)  # (M, sub, sub, n) view
        qs, ks, bs = (x.view(M, n, sub, d) for x in (q, k, b))
        for lag in range(sub):
            t = slice(lag, sub)
            s = slice(0, sub - lag)
            val = (qs[:, :, t] * ks[:, :, s] * torch.exp(bs[:, :, t] - bs[:, :, s])).sum(-1)  # (M, n, sub − lag)
            blocks.diagonal(offset=-lag, dim1=1, dim2=2).copy_(val)
        return scores

    @staticmethod
    def backward(ctx, d_scores: Tensor):
        q, k, b = ctx.saved_tensors
        sub = ctx.sub
        M, C, d = q.shape
        n = C // sub
        dq = torch.zeros_like(q)
        dk = torch.zeros_like(k)
        for i in range(1, n):
            lo, hi = i * sub, (i + 1) * sub
            ref = b[:, lo - 1 : lo]
            q_fac = torch.exp(b[:, lo:hi] - ref)
            k_fac = torch.exp(ref - b[:, :lo])
            q_hat = q[:, lo:hi] * q_fac
            k_hat = k[:, :lo] * k_fac
            d_block = d_scores[:, lo:hi, :lo]
            dq[:, lo:hi] += (d_block @ k_hat) * q_fac
            dk[:, :lo] += (d_block.transpose(1, 2) @ q_hat) * k_fac
        d_blocks = d_scores.reshape(M, n, sub, n, sub).diagonal(dim1=1, dim2=3)  # (M, sub, sub, n)
        qs, ks, bs = (x.view(M, n, sub, d) for x in (q, k, b))
        dqs, dks = dq.view(M, n, sub, d), dk.view(M, n, sub, d)
        for lag in range(sub):
            t = slice(lag, sub)
            s = slice(0, sub - lag)
            w = d_blocks.diagonal(offset=-lag, dim1=1, dim2=2).unsqueeze(-1)  # (M, n, sub − lag, 1)
            e = torch.exp(bs[:, :, t] - bs[:, :, s]) * w
            dqs[:, :, t] += ks[:, :, s] * e
            dks[:, :, s] += qs[:, :, t] * e
        db = q * dq - k * dk
        return dq, dk, db, None


def default_gla_sub_chunk(chunk: int) -> int:
    """Sub-chunk size for GLA's intra-chunk scores: 8 when it divides the chunk, else the whole chunk."""
    return 8 if chunk % 8 == 0 else chunk


def gla_chunked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    log_decay: Tensor,
    *,
    chunk_size: int | None = None,
    sub_chunk: int | None = None,
    initial_state: Tensor | None = None,
    return_state: bool = False,
):
    """Chunkwise-parallel gated linear attention (same numbers as ``gla_naive``).

    q, k, log_decay: (B, H, L, d_k) (log_decay ≤ 0), v: (B, H, L, d_v) -> o: (B, H, L, d_v)
    (and the final state (B, H, d_k, d_v) with ``return_state``); ``chunk_size=None`` picks
    ``default_decay_chunk_size(d_k)``. ``sub_chunk`` (must divide ``chunk_size``) sets the size
    of the log-space diagonal blocks (default 8 when it divides the chunk, else the whole chunk).
    """
    check_qkv(q, k, v)
    _check_gla_decay(q, log_decay)
    chunk_size = _decay_chunk_size(q, chunk_size)
    length, d_k = q.shape[2:]
    s0 = start_state(q, v, initial_state)
    if length == 0:
        return empty_output(v, s0, return_state)
    sub = default_gla_sub_chunk(chunk_size) if sub_chunk is None else sub_chunk
    if sub < 1 or chunk_size % sub:
        raise ValueError(f"sub_chunk ({sub}) must be a positive divisor of chunk_size ({chunk_size})")
    chunk = min(chunk_size, -(-length // sub) * sub)  # no longer than the sequence (in whole sub-chunks)
    qc, kc, vc = _chunked(q, chunk), _chunked(k, chunk), _chunked(v, chunk)
    b = torch.cumsum(_chunked(log_decay.to(q.dtype), chunk), dim=-2)
    M = qc.shape[0] * qc.shape[1] * qc.shape[2]
    scores = _GLAScores.apply(qc.reshape(M, chunk, d_k), kc.reshape(M, chunk, d_k), b.reshape(M, chunk, d_k), sub)
    scores = scores.view(*qc.shape[:3], chunk, chunk)
    return _decayed_chunks(qc, kc, vc, b, scores, s0, length, return_state)
