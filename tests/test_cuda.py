"""The accelerator paths: kernels on CUDA (and MPS) tensors, autocast float16 + GradScaler with
clipping after unscaling, bfloat16, ``samovar train --device cuda``, DDP over NCCL, checkpoints
moving between CUDA and CPU.

Every test here is marked ``cuda`` (or ``mps``) and skipped, with the reason, where the device is
missing (``tests/devices.py``): ``pytest -m cuda`` runs them on a GPU machine (``make gpu-check``).
The kernel comparisons are those of the CPU tests (``test_ops_*.py``), with their input helpers
and tolerances: float64 and 1e-10 on CUDA, float32 and 1e-4 on MPS (no float64 there).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from compare import assert_same
from conftest import EvenSubset
from devices import ACCELERATORS, precision, requires_cuda

import test_ops_decay
import test_ops_delta
import test_ops_linear_attention
import test_ops_minrnn
import test_ops_ssm
import test_ops_softmax
import test_ops_attention
from samovar.ops.attention import attention, attention_naive
from samovar.ops.decay import gla_chunked, gla_naive, retention_chunked, retention_naive
from samovar.ops.delta import deltanet_chunked, deltanet_naive
from samovar.ops.dropout import keep_mask
from samovar.ops.linear_attention import linear_attention_chunked, linear_attention_materialized, linear_attention_naive
from samovar.ops.minrnn import mingru_naive, mingru_parallel, minlstm_naive, minlstm_parallel
from samovar.ops.softmax import softmax_attention, softmax_attention_naive
from samovar.ops.ssm import s4d_fft, s4d_naive, selective_scan_chunked, selective_scan_naive

# --------------------------------------------------------------------------- kernels vs references


def on_device(tensors, device: str, dtype: torch.dtype):
    """Fresh leaves on `device` (real floating tensors in `dtype`, complex ones as they are)."""
    return [t.detach().to(device=device, dtype=dtype if t.is_floating_point() else t.dtype).requires_grad_()
            for t in tensors]


def _la_state_split(q, k, v):
    """The first 11 positions chunked with chunk 4, the rest continued from their state with chunk 8."""
    first, state = linear_attention_chunked(q[:, :, :11], k[:, :, :11], v[:, :, :11], chunk_size=4, return_state=True)
    second = linear_attention_chunked(q[:, :, 11:], k[:, :, 11:], v[:, :, 11:], chunk_size=8, initial_state=state)
    return torch.cat([first, second], 2)


# name: (inputs on the CPU from the CPU tests' helpers, fast form, reference, tolerance factor); the
# tolerance is precision(device)'s times the factor (S4D's CPU test uses 1e-9, ten times the rest).
KERNELS = {
    **{f"linear_attention_chunk{c}{'_normalize' if n else ''}": (
        lambda n=n: test_ops_linear_attention.qkv(length=19, positive=n),
        lambda q, k, v, c=c, n=n: linear_attention_chunked(q, k, v, chunk_size=c, normalize=n),
        lambda q, k, v, n=n: linear_attention_naive(q, k, v, normalize=n), 1)
       for c in (1, 7, 64) for n in (False, True)},  # 64: the one-chunk path (length 19)
    "linear_attention_wide_heads": (  # blocked scan of 480-wide states, 23 chunks with padding
        lambda: test_ops_linear_attention.qkv(batch=1, heads=2, length=45, d_k=20, d_v=24),
        lambda q, k, v: linear_attention_chunked(q, k, v, chunk_size=2), linear_attention_naive, 1),
    "linear_attention_state_continuation": (
        lambda: test_ops_linear_attention.qkv(length=29), _la_state_split, linear_attention_naive, 1),
    "linear_attention_materialized": (
        lambda: test_ops_linear_attention.qkv(length=23), linear_attention_materialized, linear_attention_naive, 1),
    "retention": (
        lambda: [t for i, t in enumerate(test_ops_decay.inputs()) if i != 3],
        lambda q, k, v, lam: retention_chunked(q, k, v, lam, chunk_size=7), retention_naive, 1),
    "gla": (
        lambda: test_ops_decay.inputs(length=37)[:4],
        lambda q, k, v, g: gla_chunked(q, k, v, g, chunk_size=16, sub_chunk=4), gla_naive, 1),
    "deltanet": (
        lambda: test_ops_delta.inputs(),
        lambda *a: deltanet_chunked(*a, chunk_size=8), deltanet_naive, 1),
    "selective_scan": (
        lambda: test_ops_ssm.selective_inputs(length=19),
        lambda *a: selective_scan_chunked(*a, chunk_size=8), selective_scan_naive, 1),
    "s4d_fft": (lambda: test_ops_ssm.s4d_inputs(length=23), s4d_fft, s4d_naive, 10),
    "mingru": (
        lambda: [test_ops_minrnn.rand(3, 19, 4, seed=s, scale=2.0) for s in range(2)],
        lambda k, hp: mingru_parallel(k, hp, chunk_size=4), mingru_naive, 1),
    "minlstm": (
        lambda: [test_ops_minrnn.rand(3, 19, 4, seed=s, scale=2.0) for s in range(3)],
        lambda kf, ki, hp: minlstm_parallel(kf, ki, hp, chunk_size=4), minlstm_naive, 1),
    "softmax_sdpa": (lambda: test_ops_softmax.qkv(length=21), softmax_attention, softmax_attention_naive, 1),
    "attention_fused": (
        lambda: list(test_ops_attention.qkv(1, 2, 33, 29, 3, 6)),
        lambda q, k, v: attention(q, k, v, scale=0.37), lambda q, k, v: attention_naive(q, k, v, scale=0.37)[0], 1),
}


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_matches_reference_on_device(device, name):
    """Each fast kernel on the device equals its naive reference on the device, values and gradients
    (under one random output weighting), at the CPU tests' tolerance (float64: 1e-10, S4D 1e-9)."""
    make, fast, ref, factor = KERNELS[name]
    dtype, tol = precision(device)
    cpu_inputs = make()
    if device == "mps" and any(t.is_complex() for t in cpu_inputs):
        pytest.skip("MPS has no complex128/complex64 autograd for S4D")
    inputs = on_device(cpu_inputs, device, dtype)
    out = fast(*inputs)
    assert out.device.type == device and out.dtype == dtype
    assert_same(out, ref(*inputs), inputs, atol=tol * factor)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_attention_with_dropout_mask_drawn_on_device(device):
    """keep_mask draws on the device (torch.rand there); the blocked dropout attention equals the
    reference with that mask, and about 1 - p of the mask is kept."""
    dtype, tol = precision(device)
    torch.manual_seed(0)
    q, k, v = on_device(test_ops_attention.qkv(2, 3, 7, 11, 5, 4), device, dtype)
    keep = keep_mask((2, 3, 7, 11), 0.3, device=device)
    assert keep.device.type == device and keep.dtype == torch.bool
    ref, _ = attention_naive(q, k, v, scale=0.37, keep=keep, keep_prob=0.7)
    assert_same(attention(q, k, v, scale=0.37, keep=keep, keep_prob=0.7), ref, (q, k, v), atol=tol)
    big = keep_mask((64, 1024), 0.3, device=device)
    assert abs(big.float().mean().item() - 0.7) < 0.01  # 65536 draws: 5 standard deviations ~ 0.009


@pytest.mark.parametrize("device", ACCELERATORS)
def test_chunked_float32_at_a_realistic_size(device, monkeypatch):
    """float32 (TF32 off, torch's default) at a realistic size: output and gradients within 1e-4 of
    their scale from the float64 reference computed on the CPU (the CPU test's bound)."""
    if device == "cuda":
        monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cpu = test_ops_linear_attention.qkv(2, 4, 300, 32, 32, dtype=torch.float64)
    inputs = on_device(cpu, device, torch.float32)
    weight = torch.randn(2, 4, 300, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = linear_attention_naive(*cpu)
    ref_grads = torch.autograd.grad((ref * weight).sum(), cpu)
    out = linear_attention_chunked(*inputs, chunk_size=64)
    grads = torch.autograd.grad((out * weight.to(device, torch.float32)).sum(), inputs)
    for a, b in zip([out, *grads], [ref, *ref_grads]):
        assert (a.detach().cpu().double() - b.detach()).abs().max() <= 1e-4 * b.abs().max()


@requires_cuda
def test_gradcheck_chunked_with_state_on_cuda():
    """torch.autograd.gradcheck (float64 on CUDA) of the chunked kernel with an initial and a final state."""
    q, k, v = on_device(test_ops_linear_attention.qkv(1, 2, 9, 3, 2), "cuda", torch.float64)
    s0 = torch.randn(1, 2, 3, 2, dtype=torch.float64, device="cuda", requires_grad=True)
    fn = lambda q, k, v, s0: linear_attention_chunked(q, k, v, chunk_size=4, initial_state=s0, return_state=True)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (q, k, v, s0))


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("chunk_size", [4, 32])  # the chunked / the one-chunk path
def test_linear_attention_inside_autocast_stays_float32(device, chunk_size):
    """float32 inputs under the device's autocast (float16 on CUDA, bfloat16 on MPS), forward and
    backward inside the region: float32 outputs and gradients equal to those without autocast (1e-6)."""
    low = torch.float16 if device == "cuda" else torch.bfloat16
    inputs = on_device(test_ops_linear_attention.qkv(length=19), device, torch.float32)
    weight = torch.randn(2, 3, 19, 4, generator=torch.Generator().manual_seed(1)).to(device)
    ref = linear_attention_chunked(*inputs, chunk_size=chunk_size)
    ref_grads = torch.autograd.grad((ref * weight).sum(), inputs)
    with torch.autocast(device, dtype=low):
        out = linear_attention_chunked(*inputs, chunk_size=chunk_size)
        grads = torch.autograd.grad((out * weight).sum(), inputs)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-6)
    for g, r in zip(grads, ref_grads):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-6)


# --------------------------------------------------------------------------- SAMoVAR: fp16 + GradScaler, bf16

LOOKBACK, HORIZON = 48, 12
TINY = {"d_model": 16, "heads": 2, "layers": 1, "dropout": 0.0}  # no dropout: a step can be replayed exactly


def tiny_samovar(seed: int = 0, **kw):
    from samovar.training.runs import build_model

    return build_model("samovar", LOOKBACK, HORIZON, 2, {**TINY, **kw}, seed=seed)


def small_data(train_windows: int | None = None):
    from samovar.data import prepare_data

    data = prepare_data("synthetic:length=600,channels=2,seed=1", lookback=LOOKBACK, horizon=HORIZON)
    if train_windows is not None:
        data = copy.copy(data)
        data.train = EvenSubset(data.train, train_windows)
    return data


@requires_cuda
def test_samovar_fp16_gradscaler_clips_after_unscaling(monkeypatch):
    """The trainer's CUDA step (autocast float16, GradScaler, grad_clip): the norm clipped is that of
    the *unscaled* gradients. For every step whose gradients are finite (GradScaler skips the others):
    the norm clip_grad_norm_ sees equals the float32 gradient norm of the same batch and weights
    (replayed without autocast) within 5% (float16 noise; scaled gradients would be ~65536x larger),
    and after clipping the norm is the clip value (1e-3, below every gradient norm here) within 1e-3."""
    from samovar.training import TrainConfig, train

    clip = 1e-3
    model = tiny_samovar()
    seen: list[dict] = []  # per micro-batch: x, y and the weights it was computed with
    steps: list[dict] = []  # per optimizer step: grad norms before/after clipping
    original_loss, original_clip = model.training_loss, torch.nn.utils.clip_grad_norm_

    def loss_spy(x, y):
        assert torch.is_autocast_enabled("cuda") and torch.get_autocast_dtype("cuda") == torch.float16
        seen.append({"x": x.clone(), "y": y.clone(), "state": copy.deepcopy(model.state_dict())})
        return original_loss(x, y)

    def clip_spy(parameters, max_norm, *args, **kwargs):
        params = [p for p in parameters if p.grad is not None]
        before = torch.linalg.vector_norm(torch.stack([p.grad.double().norm() for p in params])).item()
        total = original_clip(params, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([p.grad.double().norm() for p in params])).item()
        steps.append({"before": before, "returned": float(total), "after": after})
        return total

    monkeypatch.setattr(model, "training_loss", loss_spy)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip_spy)
    start = copy.deepcopy(model.state_dict())
    config = TrainConfig(epochs=2, batch_size=8, lr=1e-3, grad_clip=clip, amp=True, device="cuda", quiet=True,
                         patience=0, schedule="constant")
    train(model, small_data(train_windows=48), config)
    assert len(steps) == len(seen) == 12  # 6 steps of 8 windows, 2 epochs, accumulate 1
    replay = tiny_samovar().cuda()
    finite = 0
    for step, batch in zip(steps, seen):
        if not math.isfinite(step["before"]):
            continue  # GradScaler's overflow: this step is skipped and the scale lowered
        finite += 1
        replay.load_state_dict(batch["state"])
        replay.zero_grad(set_to_none=True)
        replay.training_loss(batch["x"], batch["y"]).backward()
        ref = torch.linalg.vector_norm(torch.stack([p.grad.double().norm() for p in replay.parameters()
                                                    if p.grad is not None])).item()
        assert ref > 10 * clip
        assert step["returned"] == pytest.approx(step["before"], rel=1e-3)
        assert step["before"] == pytest.approx(ref, rel=5e-2)
        assert step["after"] == pytest.approx(clip, rel=1e-3)
    assert finite >= 6
    moved = [not torch.equal(a.cpu(), b.cpu()) for a, b in zip(start.values(), model.state_dict().values())]
    assert any(moved)  # the optimizer stepped


@pytest.mark.parametrize("device", ACCELERATORS)
def test_samovar_bf16_autocast(device, monkeypatch):
    """bf16=True on the device: the forward runs under bfloat16 autocast but the linear attention
    gets float32 inputs with autocast off; forecast and loss within 2% (of the forecast's scale)
    of the float32 model with the same weights, float32 gradients within 5% in norm of the float32
    ones; a short trainer run with it (inside the trainer's own float16 autocast on CUDA) stays finite."""
    import samovar.models.samovar as samovar_module
    from samovar.training import TrainConfig, train

    if device == "cuda" and not torch.cuda.is_bf16_supported():
        pytest.skip("this CUDA device has no bfloat16 support")
    calls = []
    original = samovar_module.linear_attention_chunked

    def spy(q, k, v, **kw):
        calls.append((q.dtype, k.dtype, v.dtype, torch.is_autocast_enabled(q.device.type)))
        return original(q, k, v, **kw)

    monkeypatch.setattr(samovar_module, "linear_attention_chunked", spy)
    fp32, bf16 = tiny_samovar().to(device), tiny_samovar(bf16=True).to(device)
    bf16.load_state_dict(fp32.state_dict())
    data = small_data()
    x, y = data.train.batch(torch.arange(16))
    x, y = x.to(device), y.to(device)
    out32, out16 = fp32(x), bf16(x)
    assert out16.dtype == torch.float32 and calls and all(c == (torch.float32,) * 3 + (False,) for c in calls)
    assert (out16 - out32).abs().max() <= 2e-2 * out32.abs().max()
    loss32, loss16 = fp32.training_loss(x, y), bf16.training_loss(x, y)
    assert loss16.item() == pytest.approx(loss32.item(), rel=2e-2)
    g32 = torch.autograd.grad(loss32, list(fp32.parameters()))
    g16 = torch.autograd.grad(loss16, list(bf16.parameters()))
    assert all(g.dtype == torch.float32 for g in g16)
    flat32, flat16 = torch.cat([g.flatten() for g in g32]), torch.cat([g.flatten() for g in g16])
    assert (flat16 - flat32).norm() <= 5e-2 * flat32.norm()
    result = train(tiny_samovar(bf16=True), small_data(train_windows=32),
                   TrainConfig(epochs=2, batch_size=8, lr=1e-3, device=device, quiet=True, grad_clip=1.0))
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_mse"]) for r in result.history)
    assert math.isfinite(result.test_metrics["mse"])


# --------------------------------------------------------------------------- samovar train --device cuda

SOURCE = "synthetic:length=800,channels=3,seed=2"
TRAIN = ["train", "--model", "dlinear", "--dataset", SOURCE, "--lookback", "48", "--horizon", "12",
         "--epochs", "3", "--lr", "0.005", "--batch-size", "64", "--quiet"]


def _cli_run(runs: Path, device: str) -> Path:
    from samovar.cli import app

    result = CliRunner().invoke(app, [*TRAIN, "--device", device, "--runs-dir", str(runs)], catch_exceptions=False,
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    (run,) = list(runs.iterdir())
    return run


@pytest.mark.parametrize("device", ACCELERATORS)
def test_cli_train_on_device_matches_cpu(device, tmp_path):
    """`samovar train --device cuda` (float16 autocast + GradScaler, the trainer's CUDA default) end to
    end on a small synthetic dataset: the run directory is complete, records the device, and its
    per-epoch validation MSE and test metrics are within 2% of the same run on the CPU (float32);
    the run's weights evaluated on the CPU give its test metrics (within 1e-4)."""
    from samovar.training import rundir as rd
    from samovar.training.runs import evaluate_run

    gpu, cpu = _cli_run(tmp_path / f"on-{device}", device), _cli_run(tmp_path / "reference-cpu", "cpu")
    for name in (rd.CONFIG, rd.METRICS, rd.TEST_METRICS, rd.BEST, rd.CHECKPOINT, rd.SCALER):
        assert (gpu / name).exists(), name
    assert json.loads((gpu / rd.CONFIG).read_text())["device"].startswith(device)
    rows_gpu, rows_cpu = rd.read_jsonl(gpu / rd.METRICS), rd.read_jsonl(cpu / rd.METRICS)
    assert len(rows_gpu) == len(rows_cpu) == 3
    for a, b in zip(rows_gpu, rows_cpu):
        assert a["val_mse"] == pytest.approx(b["val_mse"], rel=2e-2)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=2e-2)
    test_gpu, test_cpu = rd.read_json(gpu / rd.TEST_METRICS), rd.read_json(cpu / rd.TEST_METRICS)
    for key in ("mse", "mae", "mse_raw", "mae_raw"):
        assert test_gpu[key] == pytest.approx(test_cpu[key], rel=2e-2), key
    on_cpu = evaluate_run(gpu, device="cpu")
    for key in ("mse", "mae"):
        assert on_cpu[key] == pytest.approx(test_gpu[key], rel=1e-4), key


# --------------------------------------------------------------------------- checkpoints across devices


@pytest.mark.parametrize("device", ACCELERATORS)
def test_checkpoint_saved_on_device_resumes_on_cpu(device, tmp_path):
    """A run killed after epoch 2 of 4 on the device (CUDA: with the float16 GradScaler state in its
    checkpoint) resumes on the CPU: the checkpoint loads without the device, holds only CPU tensors,
    the resumed run keeps the first two epochs' rows, ends with CPU weights, and its test metrics are
    within 2% of an uninterrupted run on the device."""
    from test_training import L, H, Linear, _Killed, kill_after_two, quiet, strip_time, toy_data
    from samovar.training import train
    from samovar.training import rundir as rd

    data = toy_data()
    cfg = lambda dev: quiet(lr=3e-3, epochs=4, batch_size=16, patience=10, seed=3, grad_clip=1.0, device=dev)  # noqa: E731
    torch.manual_seed(3)
    full = train(Linear(L, H, 2), data, cfg(device), tmp_path / "full")
    torch.manual_seed(3)
    with pytest.raises(_Killed):
        train(Linear(L, H, 2), data, cfg(device), tmp_path / "part", on_epoch_end=kill_after_two)
    ckpt = rd.load_checkpoint(tmp_path / "part" / rd.CHECKPOINT)
    tensors = [t for t in _leaves(ckpt) if isinstance(t, torch.Tensor)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    if device == "cuda":
        assert ckpt["grad_scaler"]["scale"] > 0  # the enabled float16 scaler's state
    torch.manual_seed(12345)
    resumed = train(Linear(L, H, 2), data, cfg("cpu"), tmp_path / "part", resume=True)
    assert resumed.epochs_run == 4 and all(p.device.type == "cpu" for p in resumed.model.parameters())
    assert strip_time(resumed.history[:2]) == strip_time(full.history[:2])
    for key in ("mse", "mae"):
        assert resumed.test_metrics[key] == pytest.approx(full.test_metrics[key], rel=2e-2), key


@requires_cuda
def test_checkpoint_saved_on_cpu_resumes_on_cuda(tmp_path):
    """The other way: a CPU run's checkpoint (a disabled GradScaler's empty state) resumes on CUDA,
    where the trainer's float16 GradScaler is enabled, and finishes on the GPU within 2% of the
    uninterrupted CPU run's test metrics."""
    from test_training import L, H, Linear, _Killed, kill_after_two, quiet, toy_data
    from samovar.training import train

    data = toy_data()
    cfg = lambda dev: quiet(lr=3e-3, epochs=4, batch_size=16, patience=10, seed=3, grad_clip=1.0, device=dev)  # noqa: E731
    torch.manual_seed(3)
    full = train(Linear(L, H, 2), data, cfg("cpu"), tmp_path / "full")
    torch.manual_seed(3)
    with pytest.raises(_Killed):
        train(Linear(L, H, 2), data, cfg("cpu"), tmp_path / "part", on_epoch_end=kill_after_two)
    resumed = train(Linear(L, H, 2), data, cfg("cuda"), tmp_path / "part", resume=True)
    assert resumed.epochs_run == 4 and all(p.device.type == "cuda" for p in resumed.model.parameters())
    for key in ("mse", "mae"):
        assert resumed.test_metrics[key] == pytest.approx(full.test_metrics[key], rel=2e-2), key


def _leaves(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj


# --------------------------------------------------------------------------- DDP over NCCL


@requires_cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2,
                    reason=f"DDP over NCCL needs 2 CUDA devices, found {torch.cuda.device_count()}")
@pytest.mark.parametrize("amp, rel", [(False, 1e-4), (True, 2e-2)])
def test_ddp_nccl_two_gpus_match_one(tmp_path, amp, rel):
    """bench/ddp.py's launcher, backend nccl, 2 processes on 2 GPUs: the run matches the same run in
    one process on one GPU (float32: within 1e-4, summation order; float16 autocast + GradScaler,
    the trainer's default: within 2%), rank 0 writes the run directory, which records a CUDA device."""
    from samovar.bench.ddp import DDPSpec, launch
    from samovar.bench.runner import EpochSubset
    from samovar.data import prepare_data
    from samovar.training import TrainConfig, train
    from samovar.training import rundir as rd
    from samovar.training.runs import build_model

    spec = DDPSpec(model="dlinear", dataset="synthetic", horizon=24, lookback=48, epochs=2, batch_size=16, lr=1e-2,
                   seed=3, max_steps_per_epoch=30, run_dir=str(tmp_path / "run"), backend="nccl",
                   train_options={"amp": amp})
    ddp = launch(spec, nproc=2)
    assert ddp["world_size"] == 2
    data = prepare_data("synthetic", lookback=48, horizon=24)
    view = copy.copy(data)
    view.train = EpochSubset(data.train, 30 * 16)
    net = build_model("dlinear", 48, 24, data.channels, {}, seed=3)
    one = train(net, view, TrainConfig(epochs=2, batch_size=16, lr=1e-2, seed=3, quiet=True, device="cuda", amp=amp),
                on_epoch_end=lambda row: setattr(view.train, "epoch", row["epoch"]))
    assert ddp["epochs"] == one.epochs_run
    for key in ("mse", "mae", "mse_raw", "mae_raw"):
        assert ddp[key] == pytest.approx(one.test_metrics[key], rel=rel), key
    assert ddp["best_val_mse"] == pytest.approx(one.best_val_mse, rel=rel)
    assert (tmp_path / "run" / rd.BEST).exists()
    assert json.loads((tmp_path / "run" / rd.CONFIG).read_text())["device"].startswith("cuda")
