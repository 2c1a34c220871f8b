"""benchmarks/_timing.py, the benchmark scripts' one timer: warm-up, interleaved rounds, medians, ratios."""

from __future__ import annotations

import sys
import time

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))  # as the scripts import it
import _timing as timing  # noqa: E402


def test_forms_warm_up_then_run_interleaved_rounds_timed_on_both_clocks():
    calls, syncs = [], []
    forms = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    result = timing.measure(forms, repeats=3, warmup=2, sync=lambda: syncs.append(1))
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3
    assert len(syncs) == 2 * len(calls)  # before and after every pass
    for t in result.values():
        assert t.repeats == 3 and len(t.cpu) == 3 and t.min() <= t.median() <= t.max()
        assert t.min("cpu") <= t.median("cpu") <= t.max("cpu")
    with pytest.raises(ValueError, match="clock must be one of"):
        result["a"].median("gpu")
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        timing.measure(forms, repeats=0)


def test_median_ratios_and_the_cpu_clock():
    t = timing.measure({"sleep": lambda: time.sleep(0.02), "spin": lambda: sum(range(200_000))}, repeats=3)
    assert t["sleep"].median() >= 0.02 > t["sleep"].median("cpu")  # sleeping costs wall time, not CPU time
    r = timing.ratios(t, "sleep")
    assert r["sleep"] == 1.0 and r["spin"] == t["spin"].median() / t["sleep"].median()


def test_a_slow_warm_up_pass_is_the_only_timing_and_timed_call_returns_the_result():
    calls = []
    t = timing.measure({"slow": lambda: (calls.append(1), time.sleep(0.02))}, repeats=5, warmup=1, slow=0.01)["slow"]
    assert len(calls) == 1 and t.repeats == 1 and t.median() >= 0.02
    value, t = timing.timed_call(lambda: 42)
    assert value == 42 and t.repeats == 1
