"""The linear-attention family of mixer layers: shapes, step == forward, gradients, errors."""

from __future__ import annotations

import pytest
import torch

from samovar import layers

NAMES = ["linear_attention", "retnet", "gla", "deltanet"]


def test_registered():
    assert set(NAMES) <= set(layers.available())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("heads,length,chunk", [(3, 21, None), (1, 9, 4), (4, 17, 1)])
def test_step_equals_forward(name, heads, length, chunk):
    torch.manual_seed(0)
    mixer = layers.get(name, dim=24, heads=heads, chunk_size=chunk).double()
    x = torch.randn(2, length, 24, dtype=torch.float64)
    y = mixer(x)
    assert y.shape == x.shape
    state = mixer.init_state(2)
    steps = []
    for t in range(length):
        y_t, state = mixer.step(x[:, t], state)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_forward_float32_backward_and_causal(name):
    torch.manual_seed(0)
    mixer = layers.get(name, dim=32, heads=4)
    x = torch.randn(1, 70, 32, requires_grad=True)
    y = mixer(x)
    y[:, 40].sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[:, 41:].abs().max() == 0  # output 40 depends on no later input
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in mixer.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input(name):
    mixer = layers.get(name, dim=16, heads=2)
    with pytest.raises(ValueError, match="expected x"):
        mixer(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="divisible"):
        layers.get(name, dim=10, heads=3)


def test_feature_maps():
    x = torch.randn(2, 11, 16, dtype=torch.float64)
    for fmap, normalize in [(None, False), ("relu", True), ("softmax", True)]:
        mixer = layers.get("linear_attention", dim=16, heads=2, feature_map=fmap, normalize=normalize).double()
        y = mixer(x)
        state, steps = mixer.init_state(2), []
        for t in range(11):
            y_t, state = mixer.step(x[:, t], state)
            steps.append(y_t)
        torch.testing.assert_close(torch.stack(steps, 1), y, atol=1e-9, rtol=1e-9)
    with pytest.raises(ValueError, match="unknown feature map"):
        layers.get("linear_attention", dim=16, heads=2, feature_map="tanh")
