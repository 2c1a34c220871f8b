"""LinTrans and FixedVAR: shapes, causality across segments, kernel equivalence, the
streaming forecast, the next-segment loss; plus the per-head RMSNorm's hand-written backward."""

from __future__ import annotations

import pytest
import torch

import samovar.models as models
from samovar.layers.arx import RMSNorm, head_rms_norm, head_rms_norm_reference

NAMES = ["lintrans", "fixedvar"]


def make(name, lookback=50, horizon=12, channels=3, **hyper):
    torch.manual_seed(0)
    hyper = {"d_model": 16, "heads": 4, "layers": 2, **hyper}
    return models.get(name, lookback=lookback, horizon=horizon, channels=channels, **hyper)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_defaults(name):
    model = models.get(name, lookback=100, horizon=24, channels=7)
    assert model.dim == 64 and model.heads == 8 and model.layers == 3
    assert model(torch.randn(2, 100, 7)).shape == (2, 24, 7)
    assert type(model).default_lookback(720) == 4096


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("t", [0, 3])
def test_causal_across_segments(name, t):
    model = make(name).eval()
    seg = torch.randn(2, 3, 5, 12)
    pert = seg.clone()
    pert[:, :, t + 1 :] += torch.randn_like(pert[:, :, t + 1 :])
    base, moved = model.predict_segments(seg), model.predict_segments(pert)
    assert torch.allclose(base[:, :, : t + 1], moved[:, :, : t + 1], atol=1e-6)
    assert not torch.allclose(base[:, :, t + 1 :], moved[:, :, t + 1 :], atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lookback,horizon,chunk", [(50, 12, 64), (100, 7, 4)])
def test_chunked_equals_naive_and_materialized_float64(name, lookback, horizon, chunk):
    x, y = torch.randn(2, lookback, 3, dtype=torch.float64), torch.randn(2, horizon, 3, dtype=torch.float64)
    results = []
    for kernel in ("chunked", "naive", "materialized"):
        model = make(name, lookback, horizon, dropout=0.0, attention_kernel=kernel, chunk_size=chunk).double()
        xg = x.clone().requires_grad_(True)
        loss = model.training_loss(xg, y)
        results.append((loss, torch.autograd.grad(loss, [xg, *model.parameters()])))
    for loss, grads in results[1:]:
        assert torch.allclose(loss, results[0][0], rtol=1e-10, atol=1e-12)
        for g, g0 in zip(grads, results[0][1]):
            assert torch.allclose(g, g0, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lookback,horizon,channels", [(50, 12, 3), (30, 8, 1)])
def test_recurrent_forecast_equals_parallel(name, lookback, horizon, channels):
    model = make(name, lookback, horizon, channels).double().eval()
    x = torch.randn(2, lookback, channels, dtype=torch.float64)
    assert torch.allclose(model.forecast_recurrent(x), model(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_training_loss_uses_every_position_and_trains(name):
    model = make(name, lookback=37, horizon=10, channels=1)
    x, y = torch.randn(4, 37, 1), torch.randn(4, 10, 1)
    pred, segments, mean, std = model.segment_forecasts(x)
    pred = pred.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.next_segment_loss(pred, segments, mean, std, y), pred)
    assert torch.all(grad.abs().sum(dim=(0, 1, 3)) > 0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):  # fit one batch: the loss must fall
        loss = model.training_loss(x, y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


def test_fixedvar_queries_values_do_not_depend_on_data():
    model = make("fixedvar").eval()
    a, b = torch.randn(6, 10, 16), torch.randn(6, 10, 16)
    for (qa, va), (qb, vb) in zip(model.queries_values(a, 0), model.queries_values(b, 0)):
        assert torch.equal(qa, qb) and torch.equal(va, vb)
        assert qa.shape == (6, 4, 10, 4)  # (B·C, H, T, d)
        assert not torch.equal(qa[0], qa[1])  # one per channel (B·C rows cycle through C=3)
        assert torch.equal(qa[0], qa[3])  # same channel, next batch element


def test_head_rms_norm_matches_reference_float64():
    x = torch.randn(3, 5, 2, 4, 8, dtype=torch.float64, requires_grad=True)
    w = (1 + 0.1 * torch.randn(2, 4, 8, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, w: head_rms_norm(x, w), (x, w))
    g = torch.randn(3, 5, 2, 4, 8, dtype=torch.float64)
    fast = torch.autograd.grad((head_rms_norm(x, w) * g).sum(), (x, w))
    slow = torch.autograd.grad((head_rms_norm_reference(x, w) * g).sum(), (x, w))
    assert torch.allclose(head_rms_norm(x, w), head_rms_norm_reference(x, w), atol=1e-14)
    for a, b in zip(fast, slow):
        assert torch.allclose(a, b, atol=1e-12)
    with pytest.raises(ValueError, match="trailing axes"):
        head_rms_norm(x, torch.ones(3, 8, dtype=torch.float64))


def test_rms_norm_module_equals_torch_float64():
    """layers.arx.RMSNorm (hand-written backward) == nn.RMSNorm: values, gradients, state dict."""
    torch.manual_seed(0)
    ours, ref = RMSNorm(64, eps=1e-5).double(), torch.nn.RMSNorm(64, eps=1e-5).double()
    with torch.no_grad():
        ours.weight.normal_()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(5, 7, 64, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 7, 64, dtype=torch.float64)
    assert torch.allclose(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad((ours(x) * g).sum(), (x, ours.weight)), torch.autograd.grad((ref(x) * g).sum(), (x, ref.weight))):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
