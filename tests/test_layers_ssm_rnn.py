"""Layers "mamba", "s4d", "mingru", "minlstm", "softmax_attention": registry, step == forward,
gradients, causality, float32 stability, initialisations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import samovar.layers as layers

NAMES = ["mamba", "s4d", "mingru", "minlstm", "softmax_attention"]
F64 = torch.float64


def build(name, dim=16, heads=4, **kw):
    torch.manual_seed(0)
    return layers.get(name, dim=dim, heads=heads, **kw)


def run_steps(layer, x):
    state = layer.init_state(x.shape[0], dtype=x.dtype)
    outs = []
    for t in range(x.shape[1]):
        y_t, state = layer.step(x[:, t], state)
        outs.append(y_t)
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize("name", NAMES)
def test_registered_and_built_with_dim_and_heads(name):
    assert name in layers.available()
    layer = build(name, dim=32, heads=8)
    assert layer.name == name and layer.dim == 32
    assert layer(torch.randn(2, 5, 32)).shape == (2, 5, 32)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch,length", [(1, 1), (2, 21)])
def test_step_equals_forward_float64(name, batch, length):
    layer = build(name).double()
    x = torch.randn(batch, length, 16, dtype=F64, requires_grad=True)
    y = layer(x)
    y_steps = run_steps(layer, x)
    torch.testing.assert_close(y_steps, y, rtol=1e-10, atol=1e-10)
    grads = torch.autograd.grad(y.square().sum(), [x, *layer.parameters()])
    grads_steps = torch.autograd.grad(y_steps.square().sum(), [x, *layer.parameters()])
    for a, b in zip(grads_steps, grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_step_equals_forward_float32(name):
    layer = build(name)
    x = torch.randn(2, 40, 16)
    with torch.no_grad():
        torch.testing.assert_close(run_steps(layer, x), layer(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_gets_a_finite_gradient(name):
    layer = build(name)
    layer(torch.randn(2, 33, 16)).square().mean().backward()
    for pname, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", NAMES)
def test_layer_is_causal(name):
    layer = build(name).double()
    x = torch.randn(2, 25, 16, dtype=F64)
    with torch.no_grad():
        y = layer(x)
        x2 = x.clone()
        x2[:, 14] += 1.0
        y2 = layer(x2)
    torch.testing.assert_close(y2[:, :14], y[:, :14], rtol=0, atol=1e-12)
    assert not torch.allclose(y2[:, 14:], y[:, 14:])


@pytest.mark.parametrize("name", NAMES)
def test_long_float32_input_stays_finite(name):
    layer = build(name, dim=8, heads=2)
    x = torch.randn(1, 2000, 8) * 10
    y = layer(x)
    y.square().mean().backward()
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_wrong_input_shape_is_rejected(name):
    with pytest.raises(ValueError, match="expected x"):
        build(name)(torch.randn(2, 5, 15))


def test_mamba_initialisation_follows_the_paper():
    layer = build("mamba", dim=32, d_state=8, dt_min=1e-3, dt_max=1e-1)
    assert layer.d_inner == 64 and layer.dt_rank == 2
    dt = F.softplus(layer.dt_proj.bias)
    assert dt.min() >= 1e-3 * (1 - 1e-4) and dt.max() <= 1e-1 * (1 + 1e-4)
    torch.testing.assert_close(-torch.exp(layer.A_log), -torch.arange(1.0, 9.0).repeat(64, 1))
    assert layer.conv1d.kernel_size == (4,) and layer.conv1d.groups == 64


def test_mamba_chunk_size_does_not_change_the_output():
    layer = build("mamba").double()
    x = torch.randn(2, 37, 16, dtype=F64)
    with torch.no_grad():
        ref = layer(x)
        for chunk in (1, 5, 64):
            layer.chunk_size = chunk
            torch.testing.assert_close(layer(x), ref, rtol=1e-12, atol=1e-12)


def test_s4d_initialisation_is_s4d_lin():
    layer = build("s4d", dim=4, d_state=8)
    _, A, _ = layer._ssm()
    torch.testing.assert_close(A.real, torch.full((4, 4), -0.5))
    torch.testing.assert_close(A.imag, math.pi * torch.arange(4.0).repeat(4, 1))
    dt = torch.exp(layer.log_dt)
    assert (dt >= 1e-3 * 0.999).all() and (dt <= 1e-1 * 1.001).all()
    with pytest.raises(ValueError, match="even"):
        build("s4d", d_state=7)


def test_minrnn_expansion_and_softmax_heads():
    gru = build("mingru", dim=16, expand=2.0)
    assert gru.hidden == 32 and gru(torch.randn(1, 3, 16)).shape == (1, 3, 16)
    with pytest.raises(ValueError, match="divisible"):
        build("softmax_attention", dim=16, heads=5)
