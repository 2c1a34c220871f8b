"""minGRU and minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We
Needed?"): gates that depend on x_t only, so the recurrence is a linear scan.

Both are ``h_t = a_t * h_{t-1} + b_t`` with elementwise ``a_t in (0, 1)``, ``b_t > 0``:

* minGRU:  ``z_t = sigmoid(k_t)``, ``a_t = 1 - z_t``, ``b_t = z_t * g(hpre_t)``;
* minLSTM: ``f_t = sigmoid(kf_t)``, ``i_t = sigmoid(ki_t)``, normalized
  ``f'_t = f_t / (f_t + i_t)``, ``i'_t = i_t / (f_t + i_t)``; ``a_t = f'_t``, ``b_t = i'_t * g(hpre_t)``;

with ``g(x) = x + 0.5`` for ``x >= 0`` and ``sigmoid(x)`` otherwise (positive, continuous), and
a positive initial state (default: zero, i.e. no initial term).

Pre-activations ``k, kf, ki, hpre: (batch, length, hidden)``; outputs ``h: (batch, length, hidden)``.

Forms: ``*_naive`` (a loop in linear space), ``*_parallel`` (the log-space scan of Heinsen 2023:
``log h_t = a*_t + logcumsumexp_{s<=t}(log b_s - a*_s)``, ``a*_t = sum_{s<=t} log a_s``,
chunked so that the cumulative log-decay ``a*`` restarts every ``chunk_size`` positions and
float32 keeps its precision on long sequences), ``*_step`` (one position).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def g_activation(x: torch.Tensor) -> torch.Tensor:
    """``g(x) = x + 0.5`` for ``x >= 0``, ``sigmoid(x)`` for ``x < 0`` (positive everywhere)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g_activation(x: torch.Tensor) -> torch.Tensor:
    """``log(g(x))`` computed stably (``log sigmoid(x) = -softplus(-x)`` for negative x)."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor, log_h0: torch.Tensor | None = None,
                   chunk_size: int = 64) -> torch.Tensor:
    """``h_t = exp(log_a_t) h_{t-1} + exp(log_b_t)`` for ``log_a, log_b: (B, L, H)``,
    ``log_h0: (B, H)`` or None (h_0 = 0). Returns ``h: (B, L, H)`` (positive).

    Within a chunk: ``log h_t = a*_t + logcumsumexp([log h_start, log b_s - a*_s])`` (stable:
    the logcumsumexp subtracts its running maximum). Across chunks the log state is carried.
    FLOPs ~ 10 * B * L * H (cumsum, logcumsumexp, one exp). Memory O(B L H).
    """
    if log_a.shape != log_b.shape or log_a.dim() != 3:
        raise ValueError(f"log_a and log_b must both be (batch, length, hidden), got {tuple(log_a.shape)} and {tuple(log_b.shape)}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    outs = []
    log_h = log_h0
    for start in range(0, log_a.shape[1], chunk_size):
        a_star = torch.cumsum(log_a[:, start:start + chunk_size], dim=1)
        terms = log_b[:, start:start + chunk_size] - a_star
        if log_h is not None:
            terms = torch.cat([log_h.unsqueeze(1), terms], dim=1)
            log_h_chunk = a_star + torch.logcumsumexp(terms, dim=1)[:, 1:]
        else:
            log_h_chunk = a_star + torch.logcumsumexp(terms, dim=1)
        outs.append(log_h_chunk)
        log_h = log_h_chunk[:, -1]
    if not outs:
        return log_a.new_zeros(log_a.shape)
    return torch.exp(torch.cat(outs, dim=1))


def _as_log_h0(h0: torch.Tensor | None) -> torch.Tensor | None:
    if h0 is None:
        return None
    if (h0 < 0).any():
        raise ValueError("the log-space scan needs a non-negative initial state h0 (minGRU/minLSTM states are positive)")
    return torch.log(h0)


# ---- minGRU --------------------------------------------------------------------------------


def mingru_parallel(k: torch.Tensor, hpre: torch.Tensor, h0: torch.Tensor | None = None,
                    chunk_size: int = 64) -> torch.Tensor:
    """minGRU over a sequence: ``k, hpre: (B, L, H)`` -> ``h: (B, L, H)``; log-space scan.
    ``log(1 - z) = -softplus(k)``, ``log z = -softplus(-k)``."""
    log_a = -F.softplus(k)
    log_b = -F.softplus(-k) + log_g_activation(hpre)
    return log_space_scan(log_a, log_b, _as_log_h0(h0), chunk_size)


def mingru_step(k_t: torch.Tensor, hpre_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One position: ``k_t, hpre_t, h: (B, H)`` -> new ``h``. O(H)."""
    z = torch.sigmoid(k_t)
    return (1 - z) * h + z * g_activation(hpre_t)


def mingru_naive(k: torch.Tensor, hpre: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Reference: the minGRU recurrence in linear space, one position at a time."""
    h = k.new_zeros(k.shape[0], k.shape[2]) if h0 is None else h0
    hs = []
    for t in range(k.shape[1]):
        h = mingru_step(k[:, t], hpre[:, t], h)
        hs.append(h)
    return torch.stack(hs, dim=1)


# ---- minLSTM -------------------------------------------------------------------------------


def minlstm_parallel(kf: torch.Tensor, ki: torch.Tensor, hpre: torch.Tensor,
                     h0: torch.Tensor | None = None, chunk_size: int = 64) -> torch.Tensor:
    """minLSTM over a sequence: ``kf, ki, hpre: (B, L, H)`` -> ``h: (B, L, H)``; log-space scan.
    With ``d = log i - log f = softplus(-kf) - softplus(-ki)``: ``log f' = -softplus(d)``,
    ``log i' = -softplus(-d)``."""
    diff = F.softplus(-kf) - F.softplus(-ki)
    log_a = -F.softplus(diff)
    log_b = -F.softplus(-diff) + log_g_activation(hpre)
    return log_space_scan(log_a, log_b, _as_log_h0(h0), chunk_size)


def minlstm_step(kf_t: torch.Tensor, ki_t: torch.Tensor, hpre_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One position: ``kf_t, ki_t, hpre_t, h: (B, H)`` -> new ``h``. O(H)."""
    f = torch.sigmoid(kf_t)
    i = torch.sigmoid(ki_t)
    return (f * h + i * g_activation(hpre_t)) / (f + i)


def minlstm_naive(kf: torch.Tensor, ki: torch.Tensor, hpre: torch.Tensor,
                  h0: torch.Tensor | None = None) -> torch.Tensor:
    """Reference: the minLSTM recurrence in linear space, one position at a time."""
    h = kf.new_zeros(kf.shape[0], kf.shape[2]) if h0 is None else h0
    hs = []
    for t in range(kf.shape[1]):
        h = minlstm_step(kf[:, t], ki[:, t], hpre[:, t], h)
        hs.append(h)
    return torch.stack(hs, dim=1)


__all__ = [
    "g_activation",
    "log_g_activation",
    "log_space_scan",
    "mingru_naive",
    "mingru_parallel",
    "mingru_step",
    "minlstm_naive",
    "minlstm_parallel",
    "minlstm_step",
]
