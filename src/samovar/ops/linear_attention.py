"""Causal linear attention: o_t = q_t · S_t with S_t = Σ_{s≤t} k_s v_sᵀ.

Shapes: ``q, k: (batch, heads, length, d_k)``, ``v: (batch, heads, length, d_v)``,
output ``(batch, heads, length, d_v)``; the recurrent state is ``S: (batch, heads, d_k, d_v)``.
No feature map is applied here (``phi`` is the identity); a layer applies one to q and k
before calling these functions (see ``FEATURE_MAPS``).

Normalization (``normalize=True``) divides by the running denominator
``z_t = q_t · Σ_{s≤t} k_s``:  o_t = (q_t · S_t) / (z_t + eps). It is meant for non-negative
feature maps (elu+1, relu), where z_t ≥ 0; with raw q, k the denominator can change sign.

Four forms compute the same numbers:

* ``linear_attention_naive``         masked quadratic product (q kᵀ ⊙ causal mask) v; O(L²).
* ``linear_attention_materialized``  the SAMoVAR paper's code: the outer product k_s v_sᵀ at
  every position, a cumulative sum over length, a contraction with q; memory B·H·L·d_k·d_v.
* ``linear_attention_chunked``       chunkwise-parallel: masked matmul inside chunks of size C,
  chunk states kᵀv summed with an exclusive cumsum across chunks (no loop over chunks);
  O(L·C·d + L·d²) time, never a d×d state per position. Hand-written backward.
* ``linear_attention_step``          one position from a state, for streaming inference.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import positive_int

# Feature maps phi applied to q and k by the layers (identity when None).
FEATURE_MAPS: dict[str, Callable[[Tensor], Tensor]] = {
    "identity": lambda x: x,
    "elu+1": lambda x: F.elu(x) + 1.0,
    "relu": F.relu,
    "softmax": lambda x: torch.softmax(x, dim=-1),
}


def feature_map(name: str | None) -> Callable[[Tensor], Tensor]:
    """The feature map called `name` (None means identity); raises with the choices."""
    if name is None:
        return FEATURE_MAPS["identity"]
    if name not in FEATURE_MAPS:
        raise ValueError(f"unknown feature map {name!r}; choose one of {sorted(FEATURE_MAPS)} or None")
    return FEATURE_MAPS[name]


def check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Raise a clear error unless q, k: (B, H, L, d_k) and v: (B, H, L, d_v) agree."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            "expected q, k: (batch, heads, length, d_k) and v: (batch, heads, length, d_v); "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}")
    if v.shape[:3] != q.shape[:3]:
        raise ValueError(
            f"v must share (batch, heads, length) with q: got v {tuple(v.shape)} and q {tuple(q.shape)}"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must have one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")


def start_state(q: Tensor, v: Tensor, initial_state: Tensor | None) -> Tensor:
    """The state S: (B, H, d_k, d_v) a scan starts from: zeros, or ``initial_state`` checked and cast to q's dtype."""
    shape = (q.shape[0], q.shape[1], q.shape[-1], v.shape[-1])
    if initial_state is None:
        return q.new_zeros(shape)
    if initial_state.shape != shape:
        raise ValueError(f"initial_state must be (B, H, d_k, d_v) = {shape}, got {tuple(initial_state.shape)}")
    return initial_state.to(q.dtype)


def empty_output(v: Tensor, s0: Tensor, return_state: bool):
    """What a chunked form returns for a length-0 sequence: o: (B, H, 0, d_v), and the unchanged state with ``return_state``."""
    out = v.new_zeros(v.shape[0], v.shape[1], 0, v.shape[-1])
    return (out, s0) if return_state else out


def _causal_mask(length: int, device: torch.device) -> Tensor:
    """(length, length) bool, True on and below the diagonal (s ≤ t)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


# --------------------------------------------------------------------------- references


def linear_attention_naive(q: Tensor, k: Tensor, v: Tensor, *, normalize: bool = False, eps: float = 1e-6) -> Tensor:
    """Reference: o = (q kᵀ ⊙ causal mask) v, optionally divided by z_t = q_t · Σ_{s≤t} k_s.

    q, k: (B, H, L, d_k), v: (B, H, L, d_v) -> (B, H, L, d_v). O(L²) time and memory.
    """
    check_qkv(q, k, v)
    scores = (q @ k.transpose(-1, -2)).masked_fill(~_causal_mask(q.shape[2], q.device), 0.0)
    out = scores @ v
    if normalize:
        out = out / (scores.sum(-1, keepdim=True) + eps)
    return out


def linear_attention_materialized(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """The SAMoVAR paper's form: S_t = cumsum_s(k_s ⊗ v_s), o_t = q_t · S_t.

    q, k: (B, H, L, d_k), v: (B, H, L, d_v) -> (B, H, L, d_v). Holds a (d_k, d_v) state per
    position: memory B·H·L·d_k·d_v (plus the same again for autograd). A baseline, not a kernel.
    """
    check_qkv(q, k, v)
    states = torch.cumsum(k.unsqueeze(-1) * v.unsqueeze(-2), dim=2)  # (B, H, L, d_k, d_v)
    return (q.unsqueeze(-2) @ states).squeeze(-2)


def linear_attention_recurrent(
    q: Tensor, k: Tensor, v: Tensor, *, normalize: bool = False, eps: float = 1e-6, initial_state=None
) -> tuple[Tensor, object]:
    """Reference loop over positions with ``linear_attention_step``; returns (output, final state)."""
    check_qkv(q, k, v)
    state = initial_state if initial_state is not None else init_state(q, v, normalize=normalize)
    outs = []
    for t in range(q.shape[2]):
        o_t, state = linear_attention_step(q[:, :, t], k[:, :, t], v[:, :, t], state, normalize=normalize, eps=eps)
        outs.append(o_t)
    return torch.stack(outs, dim=2), state


# --------------------------------------------------------------------------- recurrent step


def init_state(q: Tensor, v: Tensor, *, normalize: bool = False):
    """Zero state for inputs like q: (B, H, ·, d_k), v: (B, H, ·, d_v).

    S: (B, H, d_k, d_v); with ``normalize`` the pair (S, z) with z: (B, H, d_k) = Σ k_s.
    """
    batch, heads, d_k, d_v = q.shape[0], q.shape[1], q.shape[-1], v.shape[-1]
    state = q.new_zeros(batch, heads, d_k, d_v)
    if normalize:
        return state, q.new_zeros(batch, heads, d_k)
    return state


def linear_attention_step(
    q_t: Tensor, k_t: Tensor, v_t: Tensor, state, *, normalize: bool = False, eps: float = 1e-6
) -> tuple[Tensor, object]:
    """One position: S ← S + k_t v_tᵀ, o_t = q_t · S (÷ (q_t · z + eps) with ``normalize``).

    q_t, k_t: (B, H, d_k), v_t: (B, H, d_v), state S: (B, H, d_k, d_v) (or (S, z) when
    normalizing) -> (o_t: (B, H, d_v), new state). The cost does not depend on t.
    """
    if normalize:
        if not isinstance(state, tuple):
            raise TypeError("with normalize=True the state is the pair (S, z); build it with init_state(..., normalize=True)")
        S, z = state
    else:
        if isinstance(state, tuple):
            raise TypeError("with normalize=False the state is one tensor S: (B, H, d_k, d_v)")
        S = state
    S = S + k_t.unsqueeze(-1) * v_t.unsqueeze(-2)
    o_t = (q_t.unsqueeze(-2) @ S).squeeze(-2)
    if normalize:
        z = z + k_t
        o_t = o_t / ((q_t * z).sum(-1, keepdim=True) + eps)
        return o_t, (S, z)
    return o_t, S


# --------------------------------------------------------------------------- chunkwise-parallel


def _to_chunks(x: Tensor, chunk: int) -> Tensor:
    """(B, H, L, d) -> (B·H, N, C, d) contiguous, zero-padding L up to a multiple of C."""
    batch, heads, length, dim = x.shape
    pad = (-length) % chunk
    if pad:
        x = F.pad(x, (0, 0, 0, pad))
    return x.reshape(batch * heads, (length + pad) // chunk, chunk, dim).contiguous()


def _without_autocast(backward):
    """Run an autograd.Function's backward with autocast off, so its products stay in the dtype of
    the saved inputs, as in the forward (``loss.backward()`` called inside an autocast region, or
    torch.compile tracing the backward under one, would otherwise cast some of them)."""

    @functools.wraps(backward)
    def wrapped(ctx, *grads):
        with torch.autocast(grads[0].device.type, enabled=False):
            return backward(ctx, *grads)

    return wrapped


# Work on the chunks of a few batch·head rows at a time, about this many floats of each input
# (positions × head width, 512 KB in float32): the intermediates of one slice (score blocks, chunk
# states) stay cache-sized, and nothing but q, k, v is kept for the backward, so the memory beyond
# inputs, output and gradients is one slice's intermediates whatever the batch and length.
_SLICE_FLOATS = 1 << 17
# Head widths up to this are "narrow": products with that many columns are computed transposed
# (measured fwd+bwd: faster at widths 8 and 9 — d = 8 with normalize — equal at 12, slower at 16).
_NARROW = 12


def _slices(G: int, N: int, C: int, width: int):
    """Ranges over the batch·heads axis covering about _SLICE_FLOATS / width positions each."""
    step = max(1, _SLICE_FLOATS // max(1, N * C * width))
    return [slice(i, min(i + step, G)) for i in range(0, G, step)]


_SCAN_BLOCK = 16


def _exclusive_scan(x: Tensor, reverse: bool = False, out: Tensor | None = None) -> Tensor:
    """x: (R, N, D) -> y: (R, N, D) (written into ``out`` when given) with y_n = Σ_{m<n} x_m
    (Σ_{m>n} x_m with ``reverse``).

    torch.cumsum along a non-last axis runs far below memory speed, so for wide rows (D ≥ 256,
    e.g. 32×32 states) the scan is blocked: a (b, b) strictly triangular matmul inside blocks of
    b = _SCAN_BLOCK entries, the same scan (recursively) over the block totals, one broadcast add.
    """
    R, N, D = x.shape
    if out is None:
        out = torch.empty_like(x)
    if D < 256:
        torch.cumsum(x, dim=1, out=out)
        if reverse:
            return out.neg_().add_(x.sum(1, keepdim=True))  # total − Σ_{m≤n}
        return out.sub_(x)
    b = min(N, _SCAN_BLOCK)
    blocks = -(-N // b)
    if blocks * b != N:  # pad to whole blocks (a copy; only when N is not a multiple of b)
        return out.copy_(_exclusive_scan(F.pad(x, (0, 0, 0, blocks * b - N)), reverse)[:, :N])
    tri = torch.ones(b, b, dtype=x.dtype, device=x.device).tril_(-1)
    grouped, within = x.view(R, blocks, b, D), out.view(R, blocks, b, D)
    torch.matmul(tri.t() if reverse else tri, grouped, out=within)
    if blocks > 1:
        within += _exclusive_scan(grouped.sum(2), reverse).unsqueeze(2)
    return out


class _Workspace:
    """Scratch tensors for one slice, allocated once per call and reused by every slice (a fresh
    allocation per slice costs page faults: measured up to ~30% of the time at d = 32).
    ``take(name, n, *shape)`` returns the first n entries of an (n_max, *shape) tensor."""

    def __init__(self, like: Tensor, n_max: int):
        self.like, self.n_max, self.tensors = like, n_max, {}

    def take(self, name: str, n: int, *shape: int) -> Tensor:
        if name not in self.tensors:
            self.tensors[name] = self.like.new_empty(self.n_max, *shape)
        return self.tensors[name][:n]


def _chunk_start_states(k3: Tensor, v3: Tensor, s0: Tensor, ws: _Workspace) -> tuple[Tensor, Tensor]:
    """k3: (R·N, C, d_k), v3: (R·N, C, d_v), s0: (R, d_k, d_v) -> (S: (R·N, d_k, d_v) with
    S_n = s0 + Σ_{m<n} k_mᵀ v_m, the state at the start of chunk n; final state (R, d_k, d_v))."""
    n, d_k, d_v = k3.shape[0], k3.shape[-1], v3.shape[-1]
    chunk_states = torch.bmm(k3.transpose(1, 2), v3, out=ws.take("U", n, d_k, d_v)).view(s0.shape[0], -1, d_k * d_v)
    starts = _exclusive_scan(chunk_states, out=ws.take("S", n, d_k, d_v).view_as(chunk_states))
    starts.add_(s0.view(-1, 1, d_k * d_v))
    final = (starts[:, -1] + chunk_states[:, -1]).view_as(s0)
    return starts.view(-1, d_k, d_v), final


def _bmm_add(a: Tensor, b: Tensor, c: Tensor, d: Tensor, out: Tensor, buf: Tensor | None) -> None:
    """out = a b + c d for batches of (C, w) results, w a head width.

    With ``buf`` (an (n, w, C) scratch tensor) the product is computed transposed, as
    bᵀ aᵀ + dᵀ cᵀ into buf, and copied into out: the batched GEMM runs a product with only w
    (e.g. 8) columns at a fraction of the speed of the same product with w rows.
    """
    if buf is None:
        torch.bmm(a, b, out=out).baddbmm_(c, d)
    else:
        torch.bmm(b.transpose(1, 2), a.transpose(1, 2), out=buf).baddbmm_(d.transpose(1, 2), c.transpose(1, 2))
        out.copy_(buf.transpose(1, 2))


class _ChunkedLinearAttention(torch.autograd.Function):
    """Chunked causal linear attention on chunked inputs with a hand-written backward.

    Inputs qc, kc: (G, N, C, d_k), vc: (G, N, C, d_v) with G = batch·heads, s0: (G, d_k, d_v),
    mask: (C, C) lower-triangular ones. Outputs o: (G, N, C, d_v) and the final state (G, d_k, d_v).

    Forward:  A = q kᵀ ⊙ M per chunk;  U_n = k_nᵀ v_n;  S_n = s0 + Σ_{m<n} U_m (exclusive
    prefix sum, no loop over chunks);  o = A v + q S_n.  Every product is a batched matmul over
    the chunks of a slice of the G rows, one slice at a time, into scratch tensors reused by every
    slice. Saved for the backward: q, k, v only; chunk states and score blocks are recomputed
    slice by slice, so the memory beyond inputs, output and gradients is one slice's scratch.
    Products with a narrow head width (≤ _NARROW) as their column count are computed transposed
    (see ``_bmm_add``).
    """

    @staticmethod
    def forward(ctx, qc: Tensor, kc: Tensor, vc: Tensor, s0: Tensor, mask: Tensor):
        G, N, C, d_k = qc.shape
        d_v = vc.shape[-1]
        out, final = torch.empty_like(vc), torch.empty_like(s0)
        slices = _slices(G, N, C, max(d_k, d_v))
        ws = _Workspace(qc, (slices[0].stop - slices[0].start) * N)
        for sl in slices:
            q3, k3, v3 = (x[sl].view(-1, C, x.shape[-1]) for x in (qc, kc, vc))
            n = q3.shape[0]
            starts, final[sl] = _chunk_start_states(k3, v3, s0[sl], ws)
            scores = torch.bmm(q3, k3.transpose(1, 2), out=ws.take("A", n, C, C)).mul_(mask)
            _bmm_add(q3, starts, scores, v3, out[sl].view(-1, C, d_v), ws.take("Tv", n, d_v, C) if d_v <= _NARROW else None)
        ctx.save_for_backward(qc, kc, vc, s0, mask)
        return out, final

    @staticmethod
    @_without_autocast
    def backward(ctx, d_out: Tensor, d_final: Tensor):
        qc, kc, vc, s0, mask = ctx.saved_tensors
        G, N, C, d_k = qc.shape
        d_v = vc.shape[-1]
        d_out = d_out.contiguous()
        dq, dk, dv, d_s0 = torch.empty_like(qc), torch.empty_like(kc), torch.empty_like(vc), torch.empty_like(s0)
        slices = _slices(G, N, C, max(d_k, d_v))
        ws = _Workspace(qc, (slices[0].stop - slices[0].start) * N)
        for sl in slices:
            q3, k3, v3, do3 = (x[sl].view(-1, C, x.shape[-1]) for x in (qc, kc, vc, d_out))
            n = q3.shape[0]
            buf_k = ws.take("Tk", n, d_k, C) if d_k <= _NARROW else None
            buf_v = ws.take("Tv", n, d_v, C) if d_v <= _NARROW else None
            starts, _ = _chunk_start_states(k3, v3, s0[sl], ws)
            # g_n = q_nᵀ dO_n is the gradient wrt the state at the start of chunk n; that state
            # sums all earlier chunk states, so dU_m = Σ_{n>m} g_n + dS_final, and dS0 = dU_0 + g_0.
            g = torch.bmm(q3.transpose(1, 2), do3, out=ws.take("g", n, d_k, d_v)).view(-1, N, d_k * d_v)
            du = _exclusive_scan(g, reverse=True, out=ws.take("dU", n, d_k, d_v).view_as(g))
            du.add_(d_final[sl].reshape(-1, 1, d_k * d_v))
            d_s0[sl] = (du[:, 0] + g[:, 0]).view(-1, d_k, d_v)
            du3 = du.view(-1, d_k, d_v)
            # dq = (dO vᵀ ⊙ M) k + dO Sᵀ ;  dk = (dO vᵀ ⊙ M)ᵀ q + v dUᵀ ;  dv = (q kᵀ ⊙ M)ᵀ dO + k dU
            dq3, dk3, dv3 = dq[sl].view(-1, C, d_k), dk[sl].view(-1, C, d_k), dv[sl].view(-1, C, d_v)
            d_scores = torch.bmm(do3, v3.transpose(1, 2), out=ws.take("dA", n, C, C)).mul_(mask)
            _bmm_add(do3, starts.transpose(1, 2), d_scores, k3, dq3, buf_k)
            _bmm_add(v3, du3.transpose(1, 2), d_scores.transpose(1, 2), q3, dk3, buf_k)
            scores = torch.bmm(q3, k3.transpose(1, 2), out=ws.take("A", n, C, C)).mul_(mask)
            _bmm_add(k3, du3, scores.transpose(1, 2), do3, dv3, buf_v)
        return dq, dk, dv, d_s0, None


class _OneChunkLinearAttention(torch.autograd.Function):
    """Causal linear attention of a sequence that fits in one chunk, with nothing carried in or out:
    o = (q kᵀ ⊙ M) v, the chunked kernel's intra-chunk part alone (no state products).

    Inputs q, k: (G, L, d_k), v: (G, L, d_v), mask: (L, L) lower-triangular ones -> o: (G, L, d_v).
    Products whose result has only d (a head width, e.g. 8) columns run at a fraction of the speed
    of the same product transposed in the batched GEMM here, so o, dq, dk and dv are computed as
    their transposes (vᵀ Aᵀ etc.: d rows, L columns); o is made contiguous, the gradients are
    returned as transposed views. The score
    block A = q kᵀ ⊙ M is saved when it is no larger than q, k and v together, else recomputed.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
        scores = torch.bmm(q, k.transpose(1, 2)).mul_(mask)  # (G, L, L)
        keep = q.shape[1] <= 2 * q.shape[2] + v.shape[2]
        ctx.save_for_backward(q, k, v, mask, scores if keep else None)
        return torch.bmm(v.transpose(1, 2), scores.transpose(1, 2)).transpose(1, 2).contiguous()  # (vᵀ Aᵀ)ᵀ = A v

    @staticmethod
    @_without_autocast
    def backward(ctx, d_out: Tensor):
        q, k, v, mask, scores = ctx.saved_tensors
        if scores is None:
            scores = torch.bmm(q, k.transpose(1, 2)).mul_(mask)
        # dA = dO vᵀ ⊙ M;  dq = dA k;  dk = dAᵀ q;  dv = Aᵀ dO  (each computed transposed)
        d_scores = torch.bmm(d_out, v.transpose(1, 2)).mul_(mask)
        dq = torch.bmm(k.transpose(1, 2), d_scores.transpose(1, 2)).transpose(1, 2)
        dk = torch.bmm(q.transpose(1, 2), d_scores).transpose(1, 2)
        dv = torch.bmm(d_out.transpose(1, 2), scores).transpose(1, 2)
        return dq, dk, dv, None


def default_chunk_size(d_k: int) -> int:
    """Chunk size for CPU: intra-chunk work grows with C·d, inter-chunk work with d², and tiny
    matmuls run far below peak. Measured fwd+bwd (float32, 1 thread): at d_k = 8, 16 ≈ 32;
    at 16, 16 ≈ 32 < 64; at 32, 32 is ~10% faster than 64 and 128 is ~40% slower; at 64, 64."""
    if d_k <= 16:
        return 16
    if d_k <= 32:
        return 32
    if d_k <= 64:
        return 64
    return 128


def linear_attention_chunked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    chunk_size: int | None = 64,
    normalize: bool = False,
    eps: float = 1e-6,
    initial_state=None,
    return_state: bool = False,
):
    """Chunkwise-parallel causal linear attention (same numbers as ``linear_attention_naive``).

    q, k: (B, H, L, d_k), v: (B, H, L, d_v) -> o: (B, H, L, d_v), and with ``return_state``
    also the final state (S: (B, H, d_k, d_v), or (S, z) with ``normalize``), which
    ``linear_attention_step`` continues from. ``initial_state`` has the same form.
    ``chunk_size=None`` picks ``default_chunk_size(d_k)``. Any length works (zero padding).
    A sequence that fits in one chunk, with no state passed in or asked for, takes the one-chunk
    path: the masked product (q kᵀ ⊙ M) v alone (the same numbers, about half the work).
    """
    check_qkv(q, k, v)
    batch, heads, length, d_k = q.shape
    d_v = v.shape[-1]
    if chunk_size is None:
        chunk_size = default_chunk_size(d_k)
    chunk_size = positive_int("chunk_size", chunk_size)
    chunk = min(chunk_size, max(length, 1))
    if normalize:
        # The denominator q_t · Σ k_s is the numerator of a value column of ones.
        v = torch.cat([v, v.new_ones(batch, heads, length, 1)], dim=-1)
        if initial_state is not None:
            if not isinstance(initial_state, tuple):
                raise TypeError("with normalize=True initial_state is the pair (S, z)")
            initial_state = torch.cat([initial_state[0], initial_state[1].unsqueeze(-1)], dim=-1)
    elif isinstance(initial_state, tuple):
        raise TypeError("with normalize=False initial_state is one tensor S: (B, H, d_k, d_v)")
    width = v.shape[-1]
    if initial_state is None:
        s0 = q.new_zeros(batch, heads, d_k, width)
    else:
        if initial_state.shape != (batch, heads, d_k, width):
            raise ValueError(
                f"initial_state must be S: (B, H, d_k, d_v) = {(batch, heads, d_k, d_v)}"
                f"{' with z: (B, H, d_k)' if normalize else ''}; got {tuple(initial_state.shape)}"
            )
        s0 = initial_state.to(q.dtype)
    if length == 0:
        out, final = v.new_zeros(batch, heads, 0, width), s0
    elif length <= chunk_size and initial_state is None and not return_state:
        mask = torch.ones(length, length, dtype=q.dtype, device=q.device).tril_()
        flat = (x.reshape(batch * heads, length, x.shape[-1]) for x in (q, k, v))
        # autocast off: the products stay in the inputs' dtype, as the chunked path's (and both
        # backwards') do; under autocast the forward would otherwise run in float16/bfloat16 and
        # the backward fail on mixed dtypes
        with torch.autocast(q.device.type, enabled=False):
            out = _OneChunkLinearAttention.apply(*flat, mask).reshape(batch, heads, length, width)
        final = None  # not asked for
    else:
        mask = torch.ones(chunk, chunk, dtype=q.dtype, device=q.device).tril_()
        with torch.autocast(q.device.type, enabled=False):
            out, final = _ChunkedLinearAttention.apply(
                _to_chunks(q, chunk), _to_chunks(k, chunk), _to_chunks(v, chunk), s0.reshape(batch * heads, d_k, width), mask
            )
        out = out.view(batch, heads, -1, width)
        if out.shape[2] != length:
            out = out[:, :, :length]
        final = final.view(batch, heads, d_k, width)
    if normalize:
        out = out[..., :d_v] / (out[..., d_v:] + eps)
        if return_state:
            final = (final[..., :d_v], final[..., d_v])
    if return_state:
        return out, final
    return out
