"""Accelerator devices for the tests: one shared skip condition per device, and the pytest
params that mark a device-parametrised test ``cuda`` / ``mps`` and skip it (with the reason)
where the device is missing. ``pytest -m cuda`` selects the CUDA tests (``make gpu-check``)."""

from __future__ import annotations

import pytest
import torch


def mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


NO_CUDA = "no CUDA device"
NO_MPS = "no MPS device"

# the shared skip conditions (decorate a test with both the marker and the skip: `@requires_cuda`)
skip_without_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
skip_without_mps = pytest.mark.skipif(not mps_available(), reason=NO_MPS)


def requires_cuda(test):
    """Mark `test` as a CUDA test and skip it, saying so, when there is no CUDA device."""
    return pytest.mark.cuda(skip_without_cuda(test))


CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, skip_without_cuda], id="cuda")
MPS = pytest.param("mps", marks=[pytest.mark.mps, skip_without_mps], id="mps")
ACCELERATORS = [CUDA, MPS]  # parametrize("device", ACCELERATORS)


def precision(device: str) -> tuple[torch.dtype, float]:
    """(dtype, tolerance) of a kernel-vs-reference comparison on `device`: float64 and the CPU
    tests' 1e-10 on CUDA; float32 and 1e-4 on MPS (which has no float64)."""
    return (torch.float32, 1e-4) if device == "mps" else (torch.float64, 1e-10)
