"""samovar.utils: atomic writes keep the old file on failure and get normal permissions;
deadlines given as a time of day are the next such time; once glibc is asked to keep freed
memory, large tensors come from its heap and stay there after they are freed."""

import os
import platform
import stat
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from samovar.utils import atomic_path, next_time_of_day, resolve_device, usable_device, write_json_atomic


def test_atomic_write_replaces_and_failure_keeps_old(tmp_path):
    target = tmp_path / "a.json"
    write_json_atomic(target, {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text().strip().startswith("{")
    assert '"x": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left behind


def test_atomic_write_uses_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "b.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o644


@pytest.mark.parametrize("now, hhmm, expected", [
    ((2026, 11, 24, 23, 0, 0), "00:30", (2026, 11, 25, 0, 30)),   # past midnight: tomorrow
    ((2026, 11, 24, 21, 0, 0), "23:58", (2026, 11, 24, 23, 58)),  # later today
    ((2026, 11, 24, 10, 0, 30), "10:00", (2026, 11, 24, 10, 0)),  # this very minute: now, already reached
    ((2026, 11, 24, 10, 1, 0), "10:00", (2026, 11, 25, 10, 0)),   # a minute gone: tomorrow's
    ((2026, 12, 31, 23, 59, 0), "00:00", (2027, 1, 1, 0, 0)),     # across a year end
])
def test_next_time_of_day(now, hhmm, expected):
    now = datetime(*now, tzinfo=timezone.utc)
    assert next_time_of_day(hhmm, now) == datetime(*expected, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad", ["2:30", " 2:30", "24:00", "10:60", "noon", "10-30", "1030"])
def test_next_time_of_day_refuses_what_is_not_hh_mm(bad):
    with pytest.raises(ValueError, match="HH:MM on the 24-hour clock"):
        next_time_of_day(bad, datetime(2026, 11, 24, tzinfo=timezone.utc))


# A child process allocates a 256 MiB tensor, frees it, and reports glibc's own accounting
# (mallinfo2): bytes in mmapped blocks while the tensor lives, and bytes the heap keeps after
# the free. By default such a block is mmapped and unmapped on free (nothing kept); after
# keep_freed_memory() it comes from the heap and stays there for the next tensor.
_MALLINFO = """
import ctypes, sys, torch
from samovar.utils import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
mallinfo2.restype = Info
t = torch.empty(64 << 20)  # 256 MiB of float32
t.fill_(1.0)
mmapped = mallinfo2().hblkhd
del t
print(mmapped >> 20, mallinfo2().fordblks >> 20)
"""


def _glibc_with_mallinfo2() -> bool:
    name, version = platform.libc_ver()
    return platform.system() == "Linux" and name == "glibc" and tuple(map(int, version.split(".")[:2])) >= (2, 33)


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="needs glibc >= 2.33 (mallinfo2)")
def test_keep_freed_memory_serves_large_tensors_from_the_heap_and_keeps_them():
    mib = {}
    for mode in ("default", "keep"):
        out = subprocess.run([sys.executable, "-c", _MALLINFO, mode], capture_output=True, text=True, check=True)
        mib[mode] = tuple(int(v) for v in out.stdout.split())
    mmapped_default, kept_default = mib["default"]
    mmapped_keep, kept_keep = mib["keep"]
    assert mmapped_default >= 256 and kept_default < 64  # an mmapped block, unmapped on free
    assert mmapped_keep < 64 and kept_keep >= 256  # a heap block, kept for reuse


def test_an_unknown_or_missing_device_is_a_value_error_naming_the_choices():
    """torch.device('tpu') raises a RuntimeError listing twenty device types; the CLIs catch ValueError."""
    with pytest.raises(ValueError, match=r"^unknown device 'tpu'; use auto, cpu, cuda \(cuda:1 for the second GPU\) or mps$"):
        resolve_device("tpu")
    assert usable_device("cpu").type == "cpu" and resolve_device("cuda:1").index == 1  # parsing needs no GPU
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available on this machine; use device='auto' or 'cpu'"):
            usable_device("cuda")
