"""SAMoVAR: shapes, causality across segments, the structural matrix, kernel equivalence,
the streaming forecast, padding, the next-segment loss, and a short real-data training."""

from __future__ import annotations

import math
import time

import pytest
import torch

import samovar.models as models
from samovar.data import prepare_data
from samovar.layers.arx import ARXTokenizer, StructuralMatrix, segment_series
from samovar.models.samovar import PAPER_LOOKBACK, SAMoVAR
from samovar.training.config import TrainConfig

from conftest import SHARED_DATA, naive_forecasts, require_file


def make(lookback=50, horizon=12, channels=3, **hyper):
    torch.manual_seed(0)
    hyper = {"d_model": 16, "heads": 4, "layers": 2, **hyper}
    return SAMoVAR(lookback, horizon, channels, **hyper)


def test_registered_shapes_and_defaults():
    assert {"samovar", "fixedvar", "lintrans"} <= set(models.available())
    model = models.get("samovar", lookback=100, horizon=24, channels=7)
    assert model.dim == 64 and model.heads == 8 and model.layers == 3  # floor(sqrt(7)) * 32, paper defaults
    assert model.num_segments == 5 and model.num_tokens == 10  # 100 -> padded to 120
    x = torch.randn(4, 100, 7)
    assert model(x).shape == (4, 24, 7)
    assert {h: SAMoVAR.default_lookback(h) for h in PAPER_LOOKBACK} == {96: 1024, 192: 2048, 336: 2048, 720: 4096}
    assert SAMoVAR.default_lookback(48) is None


def test_paper_training_config_builds_a_train_config():
    cfg = SAMoVAR.paper_training_config("ETTh1")
    assert cfg["lr"] == 6e-4 and cfg["weight_decay"] == 0.1 and cfg["patience"] == 12 and cfg["batch_size"] == 32
    ecl = SAMoVAR.paper_training_config("ECL")
    assert ecl["batch_size"] == 8 and ecl["accumulate"] == 4
    assert SAMoVAR.paper_training_config("etth2") == SAMoVAR.paper_training_config("ETTh2")
    TrainConfig(**cfg)  # every key is a TrainConfig option


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="divisible"):
        SAMoVAR(50, 12, 3, d_model=18, heads=4)
    with pytest.raises(ValueError, match="attention_kernel"):
        SAMoVAR(50, 12, 3, attention_kernel="flash")
    with pytest.raises(ValueError, match="lookback >= 2"):
        SAMoVAR(1, 12, 3)
    model = make()
    with pytest.raises(ValueError, match="lookback=50"):
        model(torch.randn(2, 49, 3))
    with pytest.raises(ValueError, match="y must be"):
        model.training_loss(torch.randn(2, 50, 3), torch.randn(2, 11, 3))


def test_segments_are_left_padded_with_zeros():
    z = torch.arange(1.0, 51.0).view(1, 50, 1).expand(2, 50, 3)
    seg = segment_series(z, 12)  # 50 -> 60: 10 zeros at the start
    assert seg.shape == (2, 3, 5, 12)
    assert torch.all(seg[:, :, 0, :10] == 0) and torch.equal(seg[0, 0, 0, 10:], torch.tensor([1.0, 2.0]))
    assert torch.equal(seg[0, 1].flatten()[10:], torch.arange(1.0, 51.0))


@pytest.mark.parametrize("segment,dim", [(12, 16), (40, 8), (5, 6)])
def test_tokenizer_projects_then_mixes_as_the_definition_float64(segment, dim):
    """The tokenizer's fast form (time projection, then channel mixing) equals the definition
    (channel mixing, then time projection): values and gradients, non-zero biases."""
    torch.manual_seed(0)
    tok = ARXTokenizer(segment, 3, dim).double()
    with torch.no_grad():
        for p in (tok.channel_mix.bias, tok.time_bias, tok.norm_weight):
            p.normal_()
    segments = torch.randn(2, 3, 4, segment, dtype=torch.float64, requires_grad=True)
    fast, ref = tok(segments), tok.forward_reference(segments)
    assert fast.shape == (2, 3, 4, 2, dim)
    assert torch.allclose(fast, ref, rtol=1e-12, atol=1e-12)
    weight = torch.randn(fast.shape, dtype=torch.float64)
    inputs = [segments, *tok.parameters()]
    for a, b in zip(torch.autograd.grad((fast * weight).sum(), inputs), torch.autograd.grad((ref * weight).sum(), inputs)):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_instance_normalization_statistics():
    """mean of the last horizon, unbiased std of the whole window (+1e-8), also far from zero."""
    model = make()
    x = 1000.0 + torch.randn(4, 50, 3, dtype=torch.float64)
    z, mean, std = model.normalize(x)
    assert torch.allclose(mean, x[:, -12:].mean(dim=1, keepdim=True), rtol=1e-14)
    assert torch.allclose(std, x.std(dim=1, keepdim=True) + 1e-8, rtol=1e-12)
    assert torch.allclose(z, (x - mean) / std, rtol=1e-12)


@pytest.mark.parametrize("t", [0, 2, 3])
def test_causal_across_segments(t):
    """Perturbing segments after t (any channel) cannot change the predictions made at 0..t."""
    model = make().eval()
    seg = torch.randn(2, 3, 5, 12)
    pert = seg.clone()
    pert[:, :, t + 1 :] += torch.randn_like(pert[:, :, t + 1 :])
    base, moved = model.predict_segments(seg), model.predict_segments(pert)
    assert torch.allclose(base[:, :, : t + 1], moved[:, :, : t + 1], atol=1e-6)
    if t + 1 < 5:
        assert not torch.allclose(base[:, :, t + 1 :], moved[:, :, t + 1 :], atol=1e-4)


def test_structural_matrix_invertible_and_structured_after_training():
    torch.manual_seed(1)
    sm = StructuralMatrix(heads=3, dim=5).double()
    opt = torch.optim.AdamW(sm.parameters(), lr=0.2, weight_decay=0.1)
    for _ in range(10):  # large steps in random directions, pushing the raw diagonal negative too
        loss = (sm() * torch.randn(3, 5, 5, dtype=torch.float64)).sum() + torch.diagonal(sm.free, dim1=-2, dim2=-1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    lower, upper = sm.factors()
    eye = torch.eye(5, dtype=torch.float64).expand(3, -1, -1)
    assert torch.equal(torch.diagonal(lower, dim1=-2, dim2=-1), torch.ones(3, 5, dtype=torch.float64))
    assert torch.all(lower.triu(1) == 0) and torch.all(upper.tril(-1) == 0)
    assert torch.all(torch.diagonal(upper, dim1=-2, dim2=-1) > 0)
    assert torch.diagonal(sm.free, dim1=-2, dim2=-1).min() < 0  # the raw diagonal did go negative
    s = sm()
    det = torch.linalg.det(s)
    assert torch.allclose(det, torch.diagonal(upper, dim1=-2, dim2=-1).prod(-1)) and torch.all(det > 0)
    assert torch.allclose(s @ sm.inverse(), eye, atol=1e-8)


def test_structural_matrix_inside_model_keeps_structure():
    model = make()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    x, y = torch.randn(4, 50, 3), torch.randn(4, 12, 3)
    for _ in range(5):
        loss = model.training_loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    lower, upper = model.structure.factors()
    assert torch.all(torch.diagonal(lower, dim1=-2, dim2=-1) == 1) and torch.all(torch.diagonal(upper, dim1=-2, dim2=-1) > 0)
    assert torch.all(torch.linalg.det(model.structure().double()) > 0)


@pytest.mark.parametrize("lookback,horizon,chunk", [(50, 12, 64), (100, 7, 4), (24, 24, 3)])
def test_chunked_equals_naive_and_materialized_float64(lookback, horizon, chunk):
    """Same parameters, three kernels: identical training loss and gradients (float64, dropout off)."""
    x, y = torch.randn(3, lookback, 3, dtype=torch.float64), torch.randn(3, horizon, 3, dtype=torch.float64)
    results = []
    for kernel in ("chunked", "naive", "materialized"):
        model = make(lookback, horizon, dropout=0.0, attention_kernel=kernel, chunk_size=chunk).double()
        xg = x.clone().requires_grad_(True)
        loss = model.training_loss(xg, y)
        grads = torch.autograd.grad(loss, [xg, *model.parameters()])
        results.append((loss, grads))
    for loss, grads in results[1:]:
        assert torch.allclose(loss, results[0][0], rtol=1e-10, atol=1e-12)
        for g, g0 in zip(grads, results[0][1]):
            assert torch.allclose(g, g0, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("lookback,horizon,channels", [(50, 12, 3), (48, 12, 3), (30, 8, 1), (12, 12, 2)])
def test_recurrent_forecast_equals_parallel(lookback, horizon, channels):
    model = make(lookback, horizon, channels).double().eval()
    x = torch.randn(2, lookback, channels, dtype=torch.float64)
    assert torch.allclose(model.forecast_recurrent(x), model(x), rtol=1e-10, atol=1e-10)


def test_one_channel_and_lookback_not_a_multiple():
    model = make(lookback=37, horizon=10, channels=1)
    x, y = torch.randn(5, 37, 1), torch.randn(5, 10, 1)
    assert model(x).shape == (5, 10, 1)
    loss = model.training_loss(x, y)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_instance_normalization_undone_on_output():
    """Shifting and scaling the input window moves the forecast the same way."""
    model = make().eval()
    x = torch.randn(2, 50, 3)
    assert torch.allclose(model(3.0 * x + 5.0), 3.0 * model(x) + 5.0, atol=1e-4)


def test_training_loss_uses_every_position():
    model = make().eval()
    x, y = torch.randn(2, 50, 3), torch.randn(2, 12, 3)
    pred, segments, mean, std = model.segment_forecasts(x)
    pred = pred.detach().requires_grad_(True)
    loss = model.next_segment_loss(pred, segments, mean, std, y)
    (grad,) = torch.autograd.grad(loss, pred)
    assert torch.all(grad.abs().sum(dim=(0, 1, 3)) > 0)  # every position n = 0..N-1 gets a gradient
    # The formula: forecast MSE on the data scale + in-lookback next-segment MSE (normalized scale).
    forecast = pred[:, :, -1].transpose(1, 2) * std + mean
    expected = ((forecast - y) ** 2).mean() + ((pred[:, :, :-1] - segments[:, :, 1:]) ** 2).mean()
    assert torch.allclose(loss, expected)
    # Changing a middle segment's target (not the input) changes the loss.
    moved = segments.clone()
    moved[:, :, 2] += 1.0
    assert not torch.allclose(model.next_segment_loss(pred, moved, mean, std, y), loss)
    assert torch.allclose(model.training_loss(x, y), loss)


def test_forward_is_the_last_position():
    model = make().eval()
    x = torch.randn(2, 50, 3)
    pred, _, mean, std = model.segment_forecasts(x)
    assert torch.allclose(model(x), pred[:, :, -1].transpose(1, 2) * std + mean)


@pytest.mark.slow
def test_short_etth1_training_beats_seasonal_naive():
    """336/48 on ETTh1, 120 AdamW steps of batch 32 (about 10 s of CPU, one thread), scored on every
    4th validation window (709). Measured there: trained 0.529 (seeds 1 and 2 for the weights and
    the batches: 0.540, 0.529); seasonal naive (period 24) 0.638; last value 1.356; the freshly
    built model 0.951 (0.952 with seeds 0, 1, 2; its instance normalisation alone, the mean of the
    last 48 lookback steps repeated, gives 0.932); after 30 / 60 / 90 steps 0.576 / 0.544 / 0.538.
    The bar, 0.9 x seasonal naive (0.574), is cleared by 6-8 % after 120 steps and missed by the
    untrained model (asserted) and after 30 steps."""
    require_file("ETTh1.csv.gz")

    data = prepare_data("ETTh1", lookback=336, horizon=48, data_dir=SHARED_DATA)
    idx = torch.arange(0, len(data.val), 4)
    x, y = data.val.batch(idx)

    def val_mse(forecast) -> float:
        with torch.no_grad():
            return torch.mean((forecast(x) - y) ** 2).item()

    floors = {name: val_mse(model) for name, model in naive_forecasts(data, 336, 48).items()}
    bar = 0.9 * floors["seasonal_naive"]
    torch.manual_seed(2024)
    model = SAMoVAR(336, 48, data.channels, layers=2)
    untrained = val_mse(model.eval())
    assert untrained > bar, (untrained, floors)  # the bar needs training: the instance norm alone does not pass it
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(0)
    start = time.process_time()
    model.train()
    for _ in range(120):
        xb, yb = data.train.batch(torch.randint(len(data.train), (32,), generator=gen))
        loss = model.training_loss(xb, yb)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    mse = val_mse(model.eval())
    print(f"ETTh1 336/48 val MSE {mse:.4f} (untrained {untrained:.4f}) vs seasonal naive {floors['seasonal_naive']:.4f}, "
          f"last value {floors['naive']:.4f} ({time.process_time() - start:.1f} s CPU)")
    assert math.isfinite(mse) and mse < bar, (mse, floors)


@pytest.mark.parametrize("name", ["samovar", "lintrans"])
def test_bf16_autocast_option_close_to_float32(name):
    torch.manual_seed(0)
    x = torch.randn(3, 50, 3)
    exact = models.get(name, lookback=50, horizon=12, channels=3, d_model=16, heads=4, layers=2).eval()
    fast = models.get(name, lookback=50, horizon=12, channels=3, d_model=16, heads=4, layers=2, bf16=True).eval()
    fast.load_state_dict(exact.state_dict())
    out = fast(x)
    assert out.dtype == torch.float32
    assert torch.allclose(out, exact(x), atol=0.05, rtol=0.05) and not torch.equal(out, exact(x))
    assert torch.allclose(fast.forecast_recurrent(x), out, atol=0.05, rtol=0.05)
    loss = fast.training_loss(x, torch.randn(3, 12, 3))
    loss.backward()
    assert torch.isfinite(loss)
