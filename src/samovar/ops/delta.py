"""Delta-rule linear attention (DeltaNet; Schlag et al. 2021, chunked as in Yang et al. 2024).

With the state stored key-major, ``S: (d_k, d_v)`` and o_t = q_t · S_t::

    S_t = S_{t-1} + β_t k_t (v_t − k_tᵀ S_{t-1})          (= (I − β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ)

which is the paper's S_t = S_{t-1} + β_t (v_t − S_{t-1} k_t) k_tᵀ with S stored value-major.
Shapes: ``q, k: (batch, heads, length, d_k)``, ``v: (batch, heads, length, d_v)``,
``beta: (batch, heads, length)`` -> ``(batch, heads, length, d_v)``; state ``(batch, heads, d_k, d_v)``.
Keys should be L2-normalised and β ∈ [0, 1] (the layer does both): then every step is a
contraction and the chunked triangular solve is well conditioned.

Chunked form (WY / UT representation). In a chunk with start state S₀, write the update as
S_t = S₀ + Σ_{s≤t} k_s u_sᵀ. The "pseudo-values" u solve a unit lower-triangular system

    (I + tril(diag(β) K Kᵀ, −1)) U = diag(β) (V − K S₀)      ⇒   U = Ũ − W S₀,
    Ũ = T diag(β) V,   W = T diag(β) K,   T = (I + tril(diag(β) K Kᵀ, −1))⁻¹,

so that  O = tril(Q Kᵀ) Ũ + (Q − tril(Q Kᵀ) W) S₀  and  S_end = (I − Kᵀ W) S₀ + Kᵀ Ũ.
Everything but the last line is batched over all chunks at once; the state recursion
across chunks is a loop of one (d_k×d_k)·(d_k×d_v) matmul per chunk.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import positive_int
from .linear_attention import check_qkv, empty_output, start_state


def _check_beta(q: Tensor, beta: Tensor) -> None:
    if beta.shape != q.shape[:3]:
        raise ValueError(f"beta must be (batch, heads, length) = {tuple(q.shape[:3])}, got {tuple(beta.shape)}")


def deltanet_step(q_t: Tensor, k_t: Tensor, v_t: Tensor, beta_t: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """One position. q_t, k_t: (B, H, d_k), v_t: (B, H, d_v), beta_t: (B, H), state (B, H, d_k, d_v)
    -> (o_t: (B, H, d_v), state)."""
    predicted = (k_t.unsqueeze(-2) @ state).squeeze(-2)  # k_tᵀ S: (B, H, d_v)
    delta = beta_t.unsqueeze(-1) * (v_t - predicted)
    state = state + k_t.unsqueeze(-1) * delta.unsqueeze(-2)
    return (q_t.unsqueeze(-2) @ state).squeeze(-2), state


def deltanet_recurrent(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, initial_state: Tensor | None = None):
    """Reference: ``deltanet_step`` over every position. Returns (o: (B, H, L, d_v), final state)."""
    check_qkv(q, k, v)
    _check_beta(q, beta)
    state = start_state(q, v, initial_state)
    outs = []
    for t in range(q.shape[2]):
        o_t, state = deltanet_step(q[:, :, t], k[:, :, t], v[:, :, t], beta[:, :, t], state)
        outs.append(o_t)
    out = torch.stack(outs, 2) if outs else v.new_zeros(v.shape)
    return out, state


def deltanet_naive(q: Tensor, k: Tensor, v: Tensor, beta: Tensor) -> Tensor:
    """Reference output (the step-by-step recurrence), (B, H, L, d_v)."""
    return deltanet_recurrent(q, k, v, beta)[0]


class _DeltaStateScan(torch.autograd.Function):
    """Chunk-start states of S_{n+1} = S_n − M_n S_n + H_n with S_0 = s0, chunk axis first.

    M: (N, G, d_k, d_k), Hs: (N, G, d_k, d_v), s0: (G, d_k, d_v) -> (starts: (N, G, d_k, d_v),
    final: (G, d_k, d_v)). A loop of one batched matmul per chunk on contiguous slices, without
    autograd bookkeeping; the backward runs the transposed scan in reverse.
    """

    @staticmethod
    def forward(ctx, M: Tensor, Hs: Tensor, s0: Tensor):
        starts = torch.empty_like(Hs)
        state = s0
        for n in range(Hs.shape[0]):
            starts[n] = state
            state = torch.baddbmm(Hs[n] + state, M[n], state, alpha=-1.0)
        ctx.save_for_backward(M, starts)
        return starts, state

    @staticmethod
    def backward(ctx, d_starts: Tensor, d_final: Tensor):
        M, starts = ctx.saved_tensors
        d_H = torch.empty_like(starts)
        grad = d_final  # wrt S_{n+1}
        for n in range(starts.shape[0] - 1, -1, -1):
            d_H[n] = grad
            grad = torch.baddbmm(d_starts[n] + grad, M[n].transpose(1, 2), grad, alpha=-1.0)
        d_M = torch.matmul(d_H, starts.transpose(-1, -2)).neg_()
        return d_M, d_H, grad


def default_delta_chunk_size(d_k: int) -> int:
    """Chunk size for DeltaNet: the triangular solve costs C·(d_k + d_v) per position and runs
    slowly for large systems on CPU, so small chunks win (measured: 16 beats 32 and 64 at d_k = 8, 32)."""
    return 16 if d_k <= 64 else 32


def deltanet_chunked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    beta: Tensor,
    *,
    chunk_size: int | None = None,
    initial_state: Tensor | None = None,
    return_state: bool = False,
):
    """Chunkwise-parallel DeltaNet (same numbers as ``deltanet_recurrent``).

    q, k: (B, H, L, d_k), v: (B, H, L, d_v), beta: (B, H, L) -> o: (B, H, L, d_v) (and the
    final state (B, H, d_k, d_v) with ``return_state``). Padded positions get β = 0 (no update).
    """
    check_qkv(q, k, v)
    _check_beta(q, beta)
    batch, heads, length, d_k = q.shape
    d_v = v.shape[-1]
    if chunk_size is None:
        chunk_size = default_delta_chunk_size(d_k)
    chunk_size = positive_int("chunk_size", chunk_size)
    s0 = start_state(q, v, initial_state)
    if length == 0:
        return empty_output(v, s0, return_state)
    chunk = min(chunk_size, length)
    pad = (-length) % chunk
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        beta = F.pad(beta, (0, pad))
    n_chunks = (length + pad) // chunk
    G = batch * heads
    # chunk axis first, (N, G, C, d): the scan across chunks then reads contiguous slices
    qc, kc, vc = (x.reshape(G, n_chunks, chunk, x.shape[-1]).transpose(0, 1).contiguous() for x in (q, k, v))
    bc = beta.to(q.dtype).reshape(G, n_chunks, chunk, 1).transpose(0, 1).contiguous()

    k_beta = kc * bc
    strict = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril(-1)
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    system = (k_beta @ kc.transpose(-1, -2)).masked_fill(~strict, 0.0) + torch.eye(chunk, dtype=q.dtype, device=q.device)
    rhs = torch.cat([k_beta, vc * bc], dim=-1)
    solved = torch.linalg.solve_triangular(system, rhs, upper=False, unitriangular=True)
    W, U = solved.split([d_k, d_v], dim=-1)  # W = T diag(β) K, Ũ = T diag(β) V

    scores = (qc @ kc.transpose(-1, -2)).masked_fill(~causal, 0.0)
    k_t = kc.transpose(-1, -2)
    starts, final = _DeltaStateScan.apply(k_t @ W, k_t @ U, s0.reshape(G, d_k, d_v))
    out = scores @ U + (qc - scores @ W) @ starts  # (N, G, C, d_v)
    out = out.transpose(0, 1).reshape(batch, heads, -1, d_v)[:, :, :length]
    final = final.view(batch, heads, d_k, d_v)
    return (out, final) if return_state else out
