"""Bidirectional (unmasked) softmax attention with dropout on the attention weights, as the
forecasting baselines use it (encoder Transformer, PatchTST, CATS, iTransformer).

``q: (batch, heads, Lq, E)``, ``k: (batch, heads, Lk, E)``, ``v: (batch, heads, Lk, Ev)``;
``scores = scale * q k^T (+ prev_scores)``, ``weights = softmax(scores)`` over the keys,
``out = (weights * keep / keep_prob) v: (batch, heads, Lq, Ev)``. ``keep`` is a boolean
(batch, heads, Lq, Lk) dropout mask (``ops.dropout.keep_mask``) or None for no dropout;
``scale`` defaults to ``E ** -0.5``.

Forms:
- ``attention_naive`` -- the reference, written out: materialises scores and weights.
- ``attention`` -- fast, for callers that do not need the scores. Without dropout it is
  PyTorch's fused ``scaled_dot_product_attention`` (no (Lq, Lk) tensor at all, forward or
  backward). With dropout it runs block by block over (batch*heads, query rows), each block's
  scores and weights small enough to stay in cache, and its backward recomputes them
  (flash-attention style); the only (Lq, Lk)-sized tensor kept is the 1-byte mask.
- ``attention_with_scores`` -- the residual-attention form (PatchTST, CATS) that must return
  the pre-softmax scores, so they are materialised; scale and ``prev_scores`` are fused into
  one ``baddbmm``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_BLOCK = 1 << 18  # score elements per block of the blocked form (1 MiB of float32)


def _check(q, k, v, keep, prev_scores=None) -> tuple[int, ...]:
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4 or k.shape[:2] != q.shape[:2] or v.shape[:3] != k.shape[:3] \
            or k.shape[3] != q.shape[3]:
        raise ValueError(
            "expected q: (batch, heads, Lq, E), k: (batch, heads, Lk, E), v: (batch, heads, Lk, Ev), "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if q.shape[2] == 0 or k.shape[2] == 0:
        raise ValueError(f"attention needs at least one query and one key, got Lq={q.shape[2]}, Lk={k.shape[2]}")
    score_shape = (*q.shape[:3], k.shape[2])
    if keep is not None and (keep.dtype != torch.bool or tuple(keep.shape) != score_shape):
        raise ValueError(f"keep must be a bool mask of shape {score_shape} (batch, heads, Lq, Lk), "
                         f"got {keep.dtype} {tuple(keep.shape)}")
    if prev_scores is not None and tuple(prev_scores.shape) != score_shape:
        raise ValueError(f"prev_scores must have shape {score_shape} (batch, heads, Lq, Lk), "
                         f"got {tuple(prev_scores.shape)}")
    return score_shape


def _keep_prob(keep, keep_prob: float) -> float:
    if keep is not None and not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
    return keep_prob


def attention_naive(q, k, v, *, scale: float | None = None, prev_scores: torch.Tensor | None = None,
                    keep: torch.Tensor | None = None, keep_prob: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: returns ``(out: (B, H, Lq, Ev), scores: (B, H, Lq, Lk))``, everything materialised."""
    _check(q, k, v, keep, prev_scores)
    _keep_prob(keep, keep_prob)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.transpose(-1, -2)) * scale
    if prev_scores is not None:
        scores = scores + prev_scores
    weights = torch.softmax(scores, dim=-1)
    if keep is not None:
        weights = weights * keep / keep_prob
    return weights @ v, scores


def attention_with_scores(q, k, v, *, scale: float | None = None, prev_scores: torch.Tensor | None = None,
                          keep: torch.Tensor | None = None, keep_prob: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual-attention form: ``(out: (B, H, Lq, Ev), scores: (B, H, Lq, Lk))`` with the scores
    (``prev_scores`` included) returned for the next layer."""
    score_shape = _check(q, k, v, keep, prev_scores)
    _keep_prob(keep, keep_prob)
    b, h, lq, e = q.shape
    lk = k.shape[2]
    scale = e ** -0.5 if scale is None else scale
    q3, k3, v3 = q.reshape(b * h, lq, e), k.reshape(b * h, lk, e), v.reshape(b * h, lk, -1)
    if prev_scores is None:
        scores = torch.bmm(q3, k3.transpose(1, 2)).mul_(scale)
    else:
        scores = torch.baddbmm(prev_scores.reshape(b * h, lq, lk), q3, k3.transpose(1, 2), alpha=scale)
    weights = torch.softmax(scores, dim=-1)
    if keep is not None:
        weights = weights * keep.reshape(b * h, lq, lk) / keep_prob
    return torch.bmm(weights, v3).view(b, h, lq, -1), scores.view(score_shape)


def attention(q, k, v, *, scale: float | None = None, keep: torch.Tensor | None = None,
              keep_prob: float = 1.0) -> torch.Tensor:
    """Fast attention without returned scores: ``out: (B, H, Lq, Ev)``."""
    _check(q, k, v, keep)
    _keep_prob(keep, keep_prob)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    if keep is None:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    b, h, lq, e = q.shape
    lk = k.shape[2]
    out = _BlockedDropoutAttention.apply(
        q.reshape(b * h, lq, e).contiguous(), k.reshape(b * h, lk, e).contiguous(),
        v.reshape(b * h, lk, -1).contiguous(), keep.reshape(b * h, lq, lk).contiguous(), float(keep_prob), float(scale),
    )
    return out.view(b, h, lq, -1)


def _blocks(groups: int, lq: int, lk: int):
    """(g0, g1, i0, i1): ranges of (batch*heads) rows and query rows with about _BLOCK scores each."""
    per_row = max(1, _BLOCK // lk)  # query rows per block
    if per_row >= lq:
        step = max(1, _BLOCK // (lq * lk))
        for g0 in range(0, groups, step):
            yield g0, min(g0 + step, groups), 0, lq
    else:
        for g in range(groups):
            for i0 in range(0, lq, per_row):
                yield g, g + 1, i0, min(i0 + per_row, lq)


class _BlockedDropoutAttention(torch.autograd.Function):
    """q: (G, Lq, E), k: (G, Lk, E), v: (G, Lk, Ev), keep: (G, Lq, Lk) bool -> (G, Lq, Ev).

    Scores and weights live only in cache-sized block buffers; the backward recomputes them
    (keeping them would cost more in memory traffic than the recomputation)."""

    @staticmethod
    def forward(ctx, q, k, v, keep, keep_prob: float, scale: float):
        groups, lq, _ = q.shape
        out = q.new_empty(groups, lq, v.shape[2])
        blocks = _Buffers(q, k.shape[1])
        keep8 = keep.view(torch.uint8)
        q_scaled = q * scale
        for g0, g1, i0, i1 in _blocks(groups, lq, k.shape[1]):
            w = blocks.weights(q_scaled, k, g0, g1, i0, i1)
            w.mul_(blocks.mask(keep8, g0, g1, i0, i1))  # the dropped weights (times keep_prob)
            torch.bmm(w, v[g0:g1], out=out[g0:g1, i0:i1])
        out.div_(keep_prob)  # (w * keep / keep_prob) v == ((w * keep) v) / keep_prob
        ctx.save_for_backward(q, k, v, keep, out)
        ctx.keep_prob, ctx.scale = keep_prob, scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, keep, out = ctx.saved_tensors
        keep_prob, scale = ctx.keep_prob, ctx.scale
        groups, lq, _ = q.shape
        grad_out = grad_out.contiguous()
        # d scores = scale * w * (dL/dw - row_term), dL/dw = (dout v^T) * keep / keep_prob, and
        # row_term_i = sum_j dL/dw_ij w_ij = dout_i . out_i; both scaled by scale / keep_prob up front
        dout_scaled = grad_out * (scale / keep_prob)
        row = (grad_out * out).sum(-1, keepdim=True).mul_(scale)  # (G, Lq, 1)
        dq, dk, dv = q.new_empty(q.shape), k.new_zeros(k.shape), v.new_zeros(v.shape)
        vt = v.transpose(1, 2)
        blocks = _Buffers(q, k.shape[1])
        keep8 = keep.view(torch.uint8)
        q_scaled = q * scale
        for g0, g1, i0, i1 in _blocks(groups, lq, k.shape[1]):
            w, ds = blocks.weights(q_scaled, k, g0, g1, i0, i1), blocks.second(g1 - g0, i1 - i0)
            mask = blocks.mask(keep8, g0, g1, i0, i1)
            ds.copy_(w).mul_(mask)  # dropped weights (times keep_prob)
            dv[g0:g1].baddbmm_(ds.transpose(1, 2), grad_out[g0:g1, i0:i1])  # / keep_prob once at the end
            torch.bmm(dout_scaled[g0:g1, i0:i1], vt[g0:g1], out=ds)
            ds.mul_(mask).sub_(row[g0:g1, i0:i1]).mul_(w)
            torch.bmm(ds, k[g0:g1], out=dq[g0:g1, i0:i1])
            dk[g0:g1].baddbmm_(ds.transpose(1, 2), q[g0:g1, i0:i1])
        dv.div_(keep_prob)
        return dq, dk, dv, None, None, None


class _Buffers:
    """Three reused (rows, queries, Lk) buffers for the blocks of _BlockedDropoutAttention: the
    weights, a second block (dropped weights, then their gradient) and the block's mask as 0/1
    floats (converting the uint8 mask once and multiplying in place costs about half of what
    multiplying by the uint8 view does, which converts it into a fresh tensor every time)."""

    def __init__(self, q: torch.Tensor, lk: int) -> None:
        self.like, self.lk, self.shape = q, lk, None

    def _ensure(self, rows: int, queries: int) -> None:
        if self.shape != (rows, queries):
            self.shape = (rows, queries)
            self.a = self.like.new_empty(rows, queries, self.lk)
            self.b = self.like.new_empty(rows, queries, self.lk)
            self.m = self.like.new_empty(rows, queries, self.lk)

    def mask(self, keep8: torch.Tensor, g0: int, g1: int, i0: int, i1: int) -> torch.Tensor:
        """The block of the uint8 keep mask as 0/1 in the weights' dtype, in the third buffer."""
        self._ensure(g1 - g0, i1 - i0)
        return self.m.copy_(keep8[g0:g1, i0:i1])

    def weights(self, q_scaled, k, g0: int, g1: int, i0: int, i1: int) -> torch.Tensor:
        """softmax((scale * q) k^T) of the block, in the first buffer."""
        self._ensure(g1 - g0, i1 - i0)
        torch.bmm(q_scaled[g0:g1, i0:i1], k[g0:g1].transpose(1, 2), out=self.b)
        return torch.softmax(self.b, dim=-1, out=self.a)

    def second(self, rows: int, queries: int) -> torch.Tensor:
        self._ensure(rows, queries)
        return self.b
