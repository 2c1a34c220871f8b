"""benchmarks/gpu_check.py (make gpu-check's timings) on the CPU: a dry run with tiny sizes writes its
table as JSON, and without a CUDA device the default run exits 2 with one line."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import load_benchmark


def test_dry_run_on_cpu_writes_every_row(tmp_path, capsys):
    gpu_check = load_benchmark("gpu_check")
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--device", "cpu", "--quick", "--lengths", "64", "--repeats", "1", "--warmup", "0",
                           "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["settings"]["lengths"] == [64]
    assert [r["variant"] for r in result["samovar_step"]] == [
        "float32", "float16 autocast + GradScaler", "bf16=True model + float16 autocast"]
    assert [(r["form"], r["length"]) for r in result["attention"]] == [("linear_attention_chunked", 64), ("sdpa causal", 64)]
    assert all(r["median_ms"] > 0 for r in result["samovar_step"] + result["attention"])
    assert "SAMoVAR training step" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_exits_2_with_one_line(tmp_path, capsys):
    gpu_check = load_benchmark("gpu_check")
    assert gpu_check.main(["--output", str(tmp_path / "never.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA device" in err
    assert not (tmp_path / "never.json").exists()
