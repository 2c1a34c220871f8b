"""The benchmark scripts' one timer: warm-up, interleaved repeats, medians and ratios.

    from _timing import measure, ratios, timed_call       # scripts in benchmarks/ import it by name
    t = measure({"fast": fast, "ref": ref}, repeats=5)    # name -> Timing
    t["fast"].median("cpu"), ratios(t, "ref")             # seconds; median / the reference's median
    data, t = timed_call(load)                            # one untimed-warm-up-free call and its result

Every form (a callable) first runs `warmup` times; then come `repeats` rounds in which each form
runs once, in turn, so a change in the machine's load hits every form alike. Each pass is timed
on two clocks: "wall" (``time.perf_counter``) and "cpu" (``time.process_time``: this process's CPU
time on every thread, which other jobs on a shared machine disturb less, but which misses time
spent waiting, e.g. for a GPU). `sync` runs before each clock read (``torch.cuda.synchronize``
for CUDA work, so queued kernels count where they ran).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

CLOCKS = ("wall", "cpu")
T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """Seconds of each timed pass of one form, on both clocks (the same passes)."""

    wall: tuple[float, ...]
    cpu: tuple[float, ...]

    def _times(self, clock: str) -> tuple[float, ...]:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, got {clock!r}")
        return getattr(self, clock)

    def median(self, clock: str = "wall") -> float:
        return statistics.median(self._times(clock))

    def min(self, clock: str = "wall") -> float:
        return min(self._times(clock))

    def max(self, clock: str = "wall") -> float:
        return max(self._times(clock))

    @property
    def repeats(self) -> int:
        return len(self.wall)


def _timed(fn: Callable[[], object], sync: Callable[[], None] | None) -> tuple[float, float]:
    """(wall, cpu) seconds of one call of fn."""
    if sync is not None:
        sync()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if sync is not None:
        sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def timed_call(fn: Callable[[], T], sync: Callable[[], None] | None = None) -> tuple[T, Timing]:
    """One call of fn, no warm-up (a pass too long to repeat, or one whose result is needed): its result
    and its Timing."""
    result = []
    timing = measure({"call": lambda: result.append(fn())}, repeats=1, warmup=0, sync=sync)["call"]
    return result[0], timing


def measure(forms: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 1,
            sync: Callable[[], None] | None = None, slow: float | None = None) -> dict[str, Timing]:
    """Time every form of `forms` (name -> callable): `warmup` untimed passes each, then `repeats`
    interleaved rounds. `slow` (wall seconds): a form whose first warm-up pass took longer is not run
    again, and that pass is its one timing (for cells that would take too long to repeat)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    passes: dict[str, list[tuple[float, float]]] = {name: [] for name in forms}
    done: dict[str, tuple[float, float]] = {}
    for name, fn in forms.items():
        for i in range(warmup):
            first = _timed(fn, sync)
            if i == 0 and slow is not None and first[0] > slow:
                done[name] = first
                break
    for _ in range(repeats):
        for name, fn in forms.items():
            if name not in done:
                passes[name].append(_timed(fn, sync))
    passes.update({name: [first] for name, first in done.items()})
    return {name: Timing(tuple(w for w, _ in p), tuple(c for _, c in p)) for name, p in passes.items()}


def ratios(timings: dict[str, Timing], reference: str, clock: str = "wall") -> dict[str, float]:
    """Each form's median divided by the `reference` form's median."""
    base = timings[reference].median(clock)
    return {name: t.median(clock) / base for name, t in timings.items()}
