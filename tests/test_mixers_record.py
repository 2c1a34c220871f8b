"""benchmarks/mixers.py: the JSON record of a run -> docs/results/mixers.md and the README block."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import REPO
from test_committed_records import ABSOLUTE

sys.path.insert(0, str(REPO / "benchmarks"))
import mixers  # noqa: E402

GIB = 1024**3


def _cell(name, d, L, cpu, mem_gib, flops=None):
    return {"mixer": name, "level": "op", "head_dim": d, "length": L, "predicted_bytes": 1.0, "flops": flops,
            "status": "measured", "wall": [c * 1.5 for c in cpu], "cpu": cpu, "peak_bytes": mem_gib * GIB}


def _record(load=(3.2, 2.5, 2.0)):
    B, H = 8, 8
    la = lambda d, L: mixers.linear_flops(B, H, L, d)  # noqa: E731
    cells = [
        _cell("materialized", 8, 4096, [0.50, 0.56, 0.60], 0.25, la(8, 4096)),
        _cell("linear_attention", 8, 4096, [0.06, 0.05, 0.07], 0.05, la(8, 4096)),
        _cell("linear_attention", 8, 16384, [0.24, 0.25, 0.26], 0.20, la(8, 16384)),
        _cell("sdpa", 8, 4096, [1.40, 1.50, 1.60], 0.10, mixers.sdpa_flops(B, H, 4096, 8)),
        {"mixer": "sdpa", "level": "op", "head_dim": 8, "length": 16384, "predicted_bytes": 1.0, "flops": None,
         "status": "skipped", "reason": "skipped (~24 s/pass predicted)"},
    ]
    return {"benchmark": "mixers.py", "format": 1, "command": "python benchmarks/mixers.py run --batch 8", "code_version": "0.1.0+gabc",
            "note": "Two training jobs shared the cores.",
            "conditions": {"torch": "2.13.0+cpu", "python": "3.11.7", "cpu_model": "Test CPU", "logical_cpus": 2, "threads": 1,
                           "nice": 15, "started_utc": "2026-12-06T13:20:00Z", "minutes": 14.6, "load_average_start": list(load),
                           "load_average_end": list(load), "matmul_gflops_start": [100.0] * 5, "matmul_gflops_end": [80.0] * 5,
                           "batch": B, "heads": H, "dtype": "float32", "warmup": 1, "repeats": 3, "slow_seconds": 30.0,
                           "max_seconds": 60.0, "max_gib": 6.0, "main_length": 4096, "clock": "cpu"},
            "cells": cells,
            "steps": {"batch": 1, "heads": 8, "dim": 256, "threads": 1, "window": 3, "positions": [1024, 16384],
                      "mixers": {"linear_attention": {"1024": {"wall": [1e-4] * 3, "cpu": [1e-4] * 3},
                                                      "16384": {"wall": [1e-4] * 3, "cpu": [1.1e-4] * 3}},
                                 "softmax_attention": {"1024": {"wall": [2e-4] * 3, "cpu": [2e-4] * 3},
                                                       "16384": {"wall": [2e-3] * 3, "cpu": [2e-3] * 3}}}}}


def test_the_doc_shows_medians_spreads_ratios_and_the_loaded_machine():
    text = mixers.render(_record(), "benchmarks/results/mixers/x.json")
    assert "do not edit by hand" in text and not ABSOLUTE.search(text)
    assert "**the machine was loaded**" in text and "Two training jobs shared the cores." in text
    assert "3.2/2.5/2.0 at the start" in text and "nice 15" in text
    # medians of the CPU clock with min–max; the rate against the larger roofline median (100)
    rate = mixers.linear_flops(8, 8, 4096, 8) / 0.06 / 1e9
    assert f"| linear_attention | 0.06 s (0.05–0.07) · 0.05 GiB · {rate:.1f} GF/s ({rate:.0f}%) |" in text
    assert "skipped (~24 s/pass predicted)" in text
    assert "- PASS: d=8, L=4096: chunked ≥ 3× faster and ≥ 5× less memory than materializing — 9.3× faster, 5.0× less memory" in text
    assert "- PASS: d=8: linear scaling, time(16384) ≤ 4.4 × time(4096) — 4.17×" in text
    assert "linear_attention faster than causal SDPA — 0.06 s vs 1.5 s (25.0×)" in text
    assert "| softmax_attention | 0.200 ms | 2.000 ms | 10.00 |" in text
    quiet = mixers.render(_record(load=(0.2, 0.3, 0.3)), "x.json")
    assert "loaded" not in quiet.split("## Head dim")[0]


def test_wall_clock_records_show_the_wall_times():
    rec = _record()
    rec["conditions"]["clock"] = "wall"
    assert "| linear_attention | 0.09 s (0.075–0.105)" in mixers.render(rec, "x.json")


def test_table_rewrites_only_the_readme_block(tmp_path):
    record = tmp_path / "rec.json"
    record.write_text(json.dumps(_record()))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{mixers.README_BEGIN}\nold 15.2 s\n{mixers.README_END}\noutro\n")
    out = tmp_path / "mixers.md"
    mixers.main(["table", str(record), "--output", str(out), "--readme", str(readme)])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "15.2" not in text
    assert "| linear attention (chunked) | 0.06 s · 0.05 GiB (25.0×) |" in text
    assert "| causal softmax SDPA | 1.5 s · 0.10 GiB |" in text
    assert out.read_text().startswith("# Mixer benchmark")
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="no block markers"):
        mixers.main(["table", str(record), "--output", str(out), "--readme", str(readme)])


def test_the_recorded_command_reads_back_as_the_same_arguments():
    import shlex

    argv = ["run", "--note", "two jobs (nice 0) and other nice'd work; batch 8", "--x", 'a "b" $c', "--lengths", "256"]
    line = " ".join(mixers._quote(a) for a in argv)
    assert shlex.split(line) == argv
    assert '--note "two jobs (nice 0) and other nice\'d work; batch 8"' in line
