"""Dropout with cheaper random draws than ``bernoulli_``.

``dropout(x, p, training)`` computes what ``torch.nn.functional.dropout`` computes -- every
element kept independently with probability ``1 - p`` and the kept ones scaled by
``1 / (1 - p)``; the gradient is the same mask -- but draws the mask as ``u < 1 - p`` from
uniform draws ``u``. Same distribution (up to the 2^-24 resolution of a float32 uniform draw);
only the random stream differs from ``F.dropout`` for a given seed. The draws stay
reproducible under ``torch.manual_seed``: float32 CPU draws come from a PCG64 stream seeded by
one draw from the torch generator (``generator``, default: torch's global one); other dtypes
and devices use ``torch.rand``.

``keep_mask(shape, p)`` draws a boolean keep mask (1 byte per element) without allocating a
float tensor of ``shape`` (the attention-weight masks are (B, heads, L, L)).

How the CPU masks are drawn. NumPy's float32 draw from PCG64 is ``(w >> 8) * 2^-24`` for the
next 32-bit word ``w``, and the words are the low then the high half of each 64-bit output. So
``u < keep`` (compared in float32, as torch compares a float32 tensor with a Python float) is
the integer test ``w < ceil(float32(keep) * 2^24) * 2^8`` on the raw words: no float is made.
PCG64 can jump ahead (``advance``), so the raw words of a long mask are drawn in contiguous
pieces on several threads. The mask is bit for bit the one ``keep_mask_reference`` (float
draws, one thread) gives; for a (32, 8, 1232, 1232) mask here it took 3.0 against 6.5 ns per
element on one thread and 1.6 against 4.3 on two (``benchmarks/dropout_masks.py``, a one-off
diagnostic removed after commit 5d0f8ce: ``git show 5d0f8ce:benchmarks/dropout_masks.py``).
References: ``keep_mask_reference``, ``dropout_reference``.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

_MASK_BLOCK = 1 << 18  # draws per block: 1 MiB of float32 (reference) or of 32-bit words, stays in cache
_PARALLEL_MIN = 1 << 22  # masks smaller than this are drawn on one thread (thread start-up costs more)


def _check_p(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")


def _stream_seed(generator: torch.Generator | None) -> int:
    """One 63-bit draw from the torch generator: the seed of the PCG64 stream of one call."""
    return int(torch.randint(0, 2**63 - 1, (), generator=generator))


def _numpy_stream(generator: torch.Generator | None) -> np.random.Generator:
    """A PCG64 stream seeded by one 63-bit draw from the torch generator."""
    return np.random.Generator(np.random.PCG64(_stream_seed(generator)))


def uniform(shape, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Independent U[0, 1) draws of `shape` (as torch.rand, from a faster stream for float32 CPU)."""
    device = torch.device("cpu") if device is None else torch.device(device)
    if dtype != torch.float32 or device.type != "cpu":
        return torch.rand(shape, dtype=dtype, device=device, generator=generator)
    return torch.from_numpy(_numpy_stream(generator).random(tuple(shape), dtype=np.float32))


def dropout(x: torch.Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """x (any shape) with each element zeroed with probability p, the rest scaled by 1 / (1 - p).

    Identity when not training or p == 0. Differentiable in x (the gradient is the same mask)."""
    _check_p(p)
    if not training or p == 0.0:
        return x
    if x.dtype != torch.float32 or x.device.type != "cpu":  # torch.rand draws: nothing faster here
        return dropout_reference(x, p, training, generator)
    keep = 1.0 - p
    # the 0/1 that `u < keep` gives (from the uint8 view: converting bool costs ~8x more)
    noise = keep_mask(x.shape, p, generator=generator).view(torch.uint8).to(x.dtype)
    return x * noise.div_(keep)  # {0, 1/keep}, as F.dropout's scaled bernoulli noise


def dropout_reference(x: torch.Tensor, p: float, training: bool = True,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Reference for ``dropout``: the mask from float draws, ``uniform(x.shape) < 1 - p``."""
    _check_p(p)
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    noise = uniform(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    return x * noise.lt_(keep).div_(keep)


def keep_mask(shape: tuple[int, ...] | torch.Size, p: float, *, generator: torch.Generator | None = None,
              device: torch.device | str | None = None, threads: int | None = None) -> torch.Tensor:
    """Boolean tensor of `shape`, each element True (kept) with probability 1 - p, independently.

    On the CPU the words are drawn on ``threads`` threads (default ``torch.get_num_threads()``);
    the mask does not depend on it."""
    _check_p(p)
    device = torch.device("cpu") if device is None else torch.device(device)
    if device.type != "cpu":
        return keep_mask_reference(shape, p, generator=generator, device=device)
    mask = torch.empty(shape, dtype=torch.bool)
    flat = mask.view(-1).numpy()
    seed = _stream_seed(generator)
    # u = (w >> 8) * 2^-24 < float32(1 - p)  <=>  (w >> 8) < cut  <=>  w < cut * 2^8
    cut = math.ceil(float(np.float32(1.0 - p)) * 2**24)
    if cut >= 2**24:  # every draw is below 1 - p
        flat.fill(True)
        return mask
    threads = torch.get_num_threads() if threads is None else threads
    pieces = max(1, min(threads, flat.size // _PARALLEL_MIN))
    # contiguous pieces that start at even elements, i.e. at whole 64-bit outputs of the stream
    bounds = [2 * (flat.size * i // (2 * pieces)) for i in range(pieces)] + [flat.size]
    jobs = [(flat[a:b], seed, a // 2, np.uint32(cut << 8)) for a, b in zip(bounds[:-1], bounds[1:])]
    if pieces == 1:
        _fill_keep(*jobs[0])
    else:
        with ThreadPoolExecutor(pieces) as pool:  # PCG64 and np.less release the GIL
            list(pool.map(lambda job: _fill_keep(*job), jobs))
    return mask


def _fill_keep(out: np.ndarray, seed: int, first_output: int, below: np.uint32) -> None:
    """out[i] = (32-bit word first_output * 2 + i of PCG64(seed)) < below, block by block."""
    bitgen = np.random.PCG64(seed)
    bitgen.advance(first_output)
    for start in range(0, out.size, _MASK_BLOCK):
        stop = min(start + _MASK_BLOCK, out.size)
        words = bitgen.random_raw((stop - start + 1) // 2).view(np.uint32)  # low half, then high half
        np.less(words[: stop - start], below, out=out[start:stop])


def keep_mask_reference(shape: tuple[int, ...] | torch.Size, p: float, *, generator: torch.Generator | None = None,
                        device: torch.device | str | None = None) -> torch.Tensor:
    """Reference for ``keep_mask``: float32 draws ``u`` (NumPy's on the CPU, ``torch.rand``
    elsewhere), block by block on one thread, and ``u < 1 - p``."""
    _check_p(p)
    device = torch.device("cpu") if device is None else torch.device(device)
    mask = torch.empty(shape, dtype=torch.bool, device=device)
    flat = mask.view(-1)
    n = flat.numel()
    buf = torch.empty(min(n, _MASK_BLOCK), device=device)
    stream = _numpy_stream(generator) if device.type == "cpu" else None
    for start in range(0, n, _MASK_BLOCK):
        stop = min(start + _MASK_BLOCK, n)
        draws = buf[: stop - start]
        if stream is not None:
            stream.random(out=draws.numpy(), dtype=np.float32)
        else:
            torch.rand(draws.shape, out=draws, generator=generator)
        torch.lt(draws, 1.0 - p, out=flat[start:stop])
    return mask
