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

from .._checks import positive_int


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

    All chunks at once: ``a*_t`` = cumulative ``log_a`` from the chunk start and
    ``c_t = logcumsumexp(log_b_s - a*_s)`` over the chunk (stable: logcumsumexp subtracts its
    running maximum), so the state reached from zero is ``a*_t + c_t``. Then a loop over the
    chunks carries the log state at chunk ends (``(B, H)`` per chunk), and
    ``log h_t = a*_t + logaddexp(log h_start, c_t)``. Restarting ``a*`` every chunk keeps float32
    precision on long sequences (the rounding of ``a*_t - a*_s`` grows with ``|a*|``).
    FLOPs ~ 12 * B * L * H (cumsum, logcumsumexp, logaddexp, exp). Memory O(B L H).
    """
    if log_a.shape != log_b.shape or log_a.dim() != 3:
        raise ValueError(f"log_a and log_b must both be (batch, length, hidden), got {tuple(log_a.shape)} and {tuple(log_b.shape)}")
    chunk_size = positive_int("chunk_size", chunk_size)
    batch, length, hidden = log_a.shape
    if length == 0:
        return log_a.new_zeros(log_a.shape)
    chunk = min(int(chunk_size), length)
    n_chunks = -(-length // chunk)
    pad = n_chunks * chunk - length  # padded positions come last, so they affect no real output
    if pad:
        log_a, log_b = (F.pad(t, (0, 0, 0, pad)) for t in (log_a, log_b))
    log_a = log_a.view(batch, n_chunks, chunk, hidden)
    log_b = log_b.view(batch, n_chunks, chunk, hidden)
    a_star = torch.cumsum(log_a, dim=2)
    c = torch.logcumsumexp(log_b - a_star, dim=2)
    chunk_decay = a_star[:, :, -1].unbind(1)  # total log-decay of each chunk, (B, H) each
    local_end = (a_star[:, :, -1] + c[:, :, -1]).unbind(1)  # log state at chunk end from zero
    starts = []
    log_h = log_h0
    for k in range(n_chunks):
        starts.append(log_h)
        log_h = local_end[k] if log_h is None else torch.logaddexp(log_h + chunk_decay[k], local_end[k])
    if log_h0 is None:  # the first chunk starts from zero: no start term
        first = a_star[:, :1] + c[:, :1]
        if n_chunks == 1:
            log_h_all = first
        else:
            start = torch.stack(starts[1:], dim=1).unsqueeze(2)
            rest = a_star[:, 1:] + torch.logaddexp(start, c[:, 1:])
            log_h_all = torch.cat([first, rest], dim=1)
    else:
        log_h_all = a_star + torch.logaddexp(torch.stack(starts, dim=1).unsqueeze(2), c)
    return torch.exp(log_h_all).reshape(batch, n_chunks * chunk, hidden)[:, :length]


def _as_log_h0(h0: torch.Tensor | None) -> torch.Tensor | None:
    if h0 is None:
        return None
    if (h0 < 0).any():
        raise ValueError("the log-space scan needs a non-negative initial state h0 (minGRU/minLSTM states are positive)")
    return torch.log(h0)


# ---- minGRU --------------------------------------------------------------------------------


def mingru_parallel(k: torch.Tensor, hpre: torch.Tensor, h0: torch.Tensor | None = None,
                    chunk_size: int = 64) -> torch.Tensor:
    """minGRU over a sequence (the fast entry point): ``k, hpre: (B, L, H)`` -> ``h: (B, L, H)``;
    log-space scan with ``log(1 - z) = -softplus(k)``, ``log z = -softplus(-k)``.
    FLOPs ~ 20 * B * L * H (gates + scan); the linear layers around it cost more."""
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
    """minLSTM over a sequence (the fast entry point): ``kf, ki, hpre: (B, L, H)`` -> ``h: (B, L, H)``;
    log-space scan, FLOPs ~ 25 * B * L * H.
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
